/* oplist.c - an immutable list of (table, pk, command) handed to callers. */
#include "oplist.h"

#include "dbsync/errors.h"
#include "array.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	int table;
	char command;
	unsigned char kind, resolution; /* conflict reports only */
	dbsync_type type;
	int64_t seq;
	int64_t i;
	double f;
	size_t off, len; /* into `bytes`, for TEXT and BLOB keys */
	size_t col_off, ncols; /* unique conflicts: names in `bytes`, each
				  NUL-terminated, one after the other */
};

struct dbsync_oplist {
	struct entry *entries;
	size_t count, cap;
	char **tables;
	int ntables;
	char *bytes; /* key bytes of every entry, each NUL-terminated */
	size_t nbytes, bytes_cap;
};

dbsync_oplist *dbsync__oplist_new(void)
{
	return calloc(1, sizeof(dbsync_oplist));
}

void dbsync_oplist_free(dbsync_oplist *list)
{
	int t;

	if (!list)
		return;
	for (t = 0; t < list->ntables; t++)
		free(list->tables[t]);
	free(list->tables);
	free(list->entries);
	free(list->bytes);
	free(list);
}

int dbsync__oplist_table(dbsync_oplist *list, const char *name)
{
	char **p;
	int t;

	for (t = 0; t < list->ntables; t++)
		if (strcmp(list->tables[t], name) == 0)
			return t;
	p = realloc(list->tables, (size_t)(list->ntables + 1) * sizeof(*p));
	if (!p)
		return -1;
	list->tables = p;
	p[list->ntables] = strdup(name);
	if (!p[list->ntables])
		return -1;
	return list->ntables++;
}

int dbsync__oplist_add(dbsync_oplist *list, int table, char command,
		       int64_t seq, dbsync_type type, int64_t i, double f,
		       const void *bytes, size_t len)
{
	struct entry *e;

	if (dbsync__grow((void **)&list->entries, &list->cap, list->count + 1,
			 sizeof(*e)))
		return DBSYNC_NOMEM;
	e = &list->entries[list->count];
	memset(e, 0, sizeof(*e));
	e->table = table;
	e->command = command;
	e->seq = seq;
	e->type = type;
	e->i = i;
	e->f = f;
	if (type == DBSYNC_TYPE_TEXT || type == DBSYNC_TYPE_BLOB) {
		if (dbsync__grow((void **)&list->bytes, &list->bytes_cap,
				 list->nbytes + len + 1, 1))
			return DBSYNC_NOMEM;
		if (len)
			memcpy(list->bytes + list->nbytes, bytes, len);
		list->bytes[list->nbytes + len] = '\0';
		e->off = list->nbytes;
		e->len = len;
		list->nbytes += len + 1;
	}
	list->count++;
	return 0;
}

static const struct entry *at(const dbsync_oplist *list, size_t i)
{
	return list && i < list->count ? &list->entries[i] : NULL;
}

size_t dbsync_oplist_count(const dbsync_oplist *list)
{
	return list ? list->count : 0;
}

const char *dbsync_oplist_table(const dbsync_oplist *list, size_t i)
{
	const struct entry *e = at(list, i);
	return e ? list->tables[e->table] : NULL;
}

char dbsync_oplist_command(const dbsync_oplist *list, size_t i)
{
	const struct entry *e = at(list, i);
	return e ? e->command : 0;
}

dbsync_type dbsync_oplist_pk_type(const dbsync_oplist *list, size_t i)
{
	const struct entry *e = at(list, i);
	return e ? e->type : (dbsync_type)0;
}

int64_t dbsync_oplist_pk_int(const dbsync_oplist *list, size_t i)
{
	const struct entry *e = at(list, i);
	return e && e->type == DBSYNC_TYPE_INTEGER ? e->i : 0;
}

double dbsync_oplist_pk_float(const dbsync_oplist *list, size_t i)
{
	const struct entry *e = at(list, i);
	return e && e->type == DBSYNC_TYPE_FLOAT ? e->f : 0.0;
}

const void *dbsync_oplist_pk_bytes(const dbsync_oplist *list, size_t i,
				   size_t *size)
{
	const struct entry *e = at(list, i);

	if (!e || (e->type != DBSYNC_TYPE_TEXT && e->type != DBSYNC_TYPE_BLOB)) {
		if (size)
			*size = 0;
		return NULL;
	}
	if (size)
		*size = e->len;
	return list->bytes + e->off;
}

void dbsync__oplist_set_conflict(dbsync_oplist *list, int kind,
				 int resolution)
{
	if (list->count) {
		list->entries[list->count - 1].kind = (unsigned char)kind;
		list->entries[list->count - 1].resolution =
			(unsigned char)resolution;
	}
}

int dbsync__oplist_set_columns(dbsync_oplist *list, char *const *names,
				size_t n)
{
	struct entry *e;
	size_t k, need = 0, off;

	if (!list->count)
		return 0;
	for (k = 0; k < n; k++)
		need += strlen(names[k]) + 1;
	if (dbsync__grow((void **)&list->bytes, &list->bytes_cap,
			 list->nbytes + need, 1))
		return DBSYNC_NOMEM;
	e = &list->entries[list->count - 1];
	e->col_off = off = list->nbytes;
	e->ncols = n;
	for (k = 0; k < n; k++) {
		size_t len = strlen(names[k]) + 1;
		memcpy(list->bytes + off, names[k], len);
		off += len;
	}
	list->nbytes = off;
	return 0;
}

size_t dbsync_oplist_conflict_column_count(const dbsync_oplist *list,
					   size_t i)
{
	const struct entry *e = at(list, i);
	return e ? e->ncols : 0;
}

const char *dbsync_oplist_conflict_column(const dbsync_oplist *list,
					  size_t i, size_t column)
{
	const struct entry *e = at(list, i);
	const char *p;
	size_t k;

	if (!e || column >= e->ncols)
		return NULL;
	p = list->bytes + e->col_off;
	for (k = 0; k < column; k++)
		p += strlen(p) + 1;
	return p;
}

int dbsync__oplist_append(dbsync_oplist **to, const dbsync_oplist *from)
{
	size_t i, k;

	if (!*to && !(*to = dbsync__oplist_new()))
		return DBSYNC_NOMEM;
	for (i = 0; i < from->count; i++) {
		const struct entry *e = &from->entries[i];
		const char *col = from->bytes + e->col_off;
		char **names = NULL;
		int table = dbsync__oplist_table(*to, from->tables[e->table]);
		int rc = table < 0 ? DBSYNC_NOMEM : 0;

		if (!rc)
			rc = dbsync__oplist_add(*to, table, e->command, e->seq,
						e->type, e->i, e->f,
						from->bytes + e->off, e->len);
		if (!rc && e->ncols) {
			names = calloc(e->ncols, sizeof(*names));
			for (k = 0; names && k < e->ncols; k++) {
				names[k] = (char *)col;
				col += strlen(col) + 1;
			}
			rc = names ? dbsync__oplist_set_columns(*to, names,
								e->ncols)
				   : DBSYNC_NOMEM;
			free(names);
		}
		if (rc)
			return rc;
		dbsync__oplist_set_conflict(*to, e->kind, e->resolution);
	}
	return 0;
}

void dbsync__oplist_truncate(dbsync_oplist *list, size_t n)
{
	if (n < list->count)
		list->count = n; /* their key bytes stay, unreferenced */
}

int dbsync_oplist_conflict_kind(const dbsync_oplist *list, size_t i)
{
	const struct entry *e = at(list, i);
	return e ? e->kind : 0;
}

int dbsync_oplist_resolution(const dbsync_oplist *list, size_t i)
{
	const struct entry *e = at(list, i);
	return e ? e->resolution : 0;
}

int64_t dbsync_oplist_seq(const dbsync_oplist *list, size_t i)
{
	const struct entry *e = at(list, i);
	return e ? e->seq : 0;
}
