/* store.c - picks the store implementation named by a store URL, and the
 * helpers every store shares. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "oplog.h"
#include "store.h"

const dbsync__store_ops *dbsync__store_find(const char *url,
					    const char **location)
{
	/* `whole`: libpq reads the URL itself, scheme included. */
	static const struct {
		const char *prefix;
		int whole;
		const dbsync__store_ops *ops;
	} kinds[] = {
		{"sqlite:", 0, &dbsync__store_sqlite},
		{"postgresql://", 1, &dbsync__store_pg},
		{"postgres://", 1, &dbsync__store_pg},
	};
	size_t k;

	for (k = 0; url && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t n = strlen(kinds[k].prefix);
		if (strncmp(url, kinds[k].prefix, n) == 0) {
			*location = kinds[k].whole ? url : url + n;
			return kinds[k].ops;
		}
	}
	return NULL;
}

void dbsync__store_tables_free(dbsync__store_table *t, size_t n)
{
	size_t k, j;

	for (k = 0; k < n; k++) {
		free(t[k].name);
		free(t[k].pk);
		for (j = 0; j < t[k].ncolumns; j++)
			free(t[k].columns[j]);
		free(t[k].columns);
		for (j = 0; j < t[k].nparents; j++)
			free(t[k].parents[j]);
		free(t[k].parents);
		for (j = 0; j < t[k].nrefs; j++)
			free(t[k].refs[j].table);
		free(t[k].refs);
	}
	free(t);
}

static int references(const dbsync__store_table *child, const char *parent)
{
	size_t k;

	for (k = 0; k < child->nparents; k++)
		if (strcasecmp(child->parents[k], parent) == 0)
			return 1;
	return 0;
}

void dbsync__store_tables_order(dbsync__store_table *t, size_t n)
{
	size_t done = 0, k, j;

	/* Kahn: take the first table no remaining table is a parent of. */
	while (done < n) {
		size_t pick = n;
		for (k = done; k < n && pick == n; k++) {
			int blocked = 0;
			for (j = done; j < n && !blocked; j++)
				blocked = j != k && references(&t[k], t[j].name);
			if (!blocked)
				pick = k;
		}
		if (pick == n)
			pick = done; /* a cycle: take the oldest */
		if (pick != done) {
			dbsync__store_table tmp = t[pick];
			memmove(&t[done + 1], &t[done],
				(pick - done) * sizeof(*t));
			t[done] = tmp;
		}
		done++;
	}
}

int dbsync__store_push_string(char ***list, size_t *n, const char *s)
{
	char **p = realloc(*list, (*n + 1) * sizeof(*p));

	if (!p)
		return DBSYNC_NOMEM;
	*list = p;
	p[*n] = strdup(s ? s : "");
	if (!p[*n])
		return DBSYNC_NOMEM;
	(*n)++;
	return 0;
}

void dbsync__store_strings_clear(char ***list, size_t *n)
{
	size_t k;

	for (k = 0; k < *n; k++)
		free((*list)[k]);
	free(*list);
	*list = NULL;
	*n = 0;
}

int dbsync__store_add_ref(dbsync__store_table *t, const char *column,
			  const char *parent,
			  int (*cmp)(const char *a, const char *b))
{
	dbsync__store_ref *p;
	size_t c;

	for (c = 0; c < t->ncolumns; c++)
		if (cmp(t->columns[c], column) == 0)
			break;
	if (c == t->ncolumns)
		return 0;
	p = realloc(t->refs, (t->nrefs + 1) * sizeof(*p));
	if (!p)
		return DBSYNC_NOMEM;
	t->refs = p;
	p[t->nrefs].column = c;
	p[t->nrefs].table = strdup(parent);
	return p[t->nrefs++].table ? 0 : DBSYNC_NOMEM;
}

struct changes_ctx {
	int (*fn)(void *payload, const dbsync__store_change *c);
	void *payload;
};

static int forward_change(void *payload, int64_t tid, char op,
			  const dbsync__value *pk, int64_t pos)
{
	struct changes_ctx *ctx = payload;
	dbsync__store_change c = {tid, op, *pk, pos};

	return ctx->fn(ctx->payload, &c);
}

int dbsync__store_fold_changes(sqlite3 *fold_db, int64_t lo, int64_t hi,
			       size_t max,
			       int (*fn)(void *payload,
					 const dbsync__store_change *c),
			       void *payload, int *more, int64_t *next,
			       dbsync__error *err)
{
	struct changes_ctx ctx = {fn, payload};

	return dbsync__oplog_fold_range(fold_db, lo, hi, max, forward_change,
					&ctx, more, next, err);
}
