/*
 * server_push.c - POST /v1/push: apply a node's operations as one version.
 *
 * In one write transaction (the store serializes them, so of two pushes on
 * the same base exactly one is accepted): fold pending direct writes into a
 * version, answer a retried push with its version, refuse a stale base,
 * apply inserts/updates parents-first and deletes children-first, and make
 * one version of what actually changed.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "message.h"
#include "server.h"

/* A message table matched to the store's, with its column mapping. */
struct bound_table {
	const dbsync__store_table *t;
	size_t *store_col; /* message column k -> store column */
};

/* Names are echoed in errors only when they are plain identifiers: a
 * hostile name is the client's own text, but logs and UIs show messages. */
static const char *shown(const char *name)
{
	size_t k;

	for (k = 0; name[k]; k++)
		if (!((name[k] >= 'a' && name[k] <= 'z') ||
		      (name[k] >= 'A' && name[k] <= 'Z') ||
		      (name[k] >= '0' && name[k] <= '9') || name[k] == '_') ||
		    k >= 64)
			return "(a name with unusual characters)";
	return name;
}

static const dbsync__store_table *find_table(const dbsync__store_table *t,
					     size_t n, const char *name)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (strcasecmp(t[k].name, name) == 0)
			return &t[k];
	return NULL;
}

/* Match every message table to a tracked table with the same columns. */
static int bind_tables(const dbsync__push_req *p, const dbsync__store_table *t,
		       size_t nt, struct bound_table *out, dbsync__error *err)
{
	size_t k, c, j;

	for (k = 0; k < p->ntables; k++) {
		const dbsync__msg_table *m = &p->tables[k];
		const dbsync__store_table *st = find_table(t, nt, m->name);

		if (!st)
			return dbsync__error_set(err, DBSYNC_SCHEMA,
						 "table %s is not tracked by "
						 "the server",
						 shown(m->name));
		if (m->ncolumns != st->ncolumns)
			return dbsync__error_set(err, DBSYNC_SCHEMA,
						 "table %s has %zu columns on "
						 "the server, %zu in the push",
						 shown(st->name), st->ncolumns,
						 m->ncolumns);
		out[k].t = st;
		out[k].store_col = malloc(m->ncolumns * sizeof(size_t) + 1);
		if (!out[k].store_col)
			return dbsync__error_set(err, DBSYNC_NOMEM,
						 "out of memory");
		for (c = 0; c < m->ncolumns; c++) {
			for (j = 0; j < st->ncolumns; j++)
				if (strcasecmp(st->columns[j], m->columns[c]) ==
				    0)
					break;
			if (j == st->ncolumns)
				return dbsync__error_set(
					err, DBSYNC_SCHEMA,
					"table %s has no column %s",
					shown(st->name), shown(m->columns[c]));
			out[k].store_col[c] = j;
		}
	}
	return 0;
}

/* The store-ordered row of an insert/update, checked against its key. */
static int store_row(const struct bound_table *b, const dbsync__msg_op *op,
		     dbsync__value *row, dbsync__error *err)
{
	size_t c;

	for (c = 0; c < op->nrow; c++)
		row[b->store_col[c]] = op->row[c];
	if (!dbsync__value_equal(&row[b->t->pk_index], &op->pk))
		return dbsync__error_set(err, DBSYNC_PROTOCOL,
					 "operation on %s: the row's "
					 "primary key differs from \"pk\"",
					 shown(b->t->name));
	return 0;
}

/*
 * Upsert operation `i`; a refusal on a unique constraint is remembered in
 * `deferred` instead of failing the push: the values may be held by a row
 * the same push rewrites or deletes later.
 */
static int upsert_or_defer(dbsync_server *s, dbsync__store *store,
			   const dbsync__push_req *p,
			   const struct bound_table *b, size_t i,
			   dbsync__value *row, size_t *deferred, size_t *ndeferred,
			   dbsync__error *err)
{
	const dbsync__msg_op *op = &p->ops[i];
	int rc = store_row(&b[op->table], op, row, err);

	if (!rc)
		rc = s->ops->apply(store, b[op->table].t, op->op, &op->pk, row,
				   err);
	if (rc == DBSYNC_UNIQUE_CONFLICT && deferred) {
		deferred[(*ndeferred)++] = i;
		rc = 0;
	}
	return rc;
}

/*
 * The upserts a unique constraint refused at first: once the rest of the
 * push is applied, again while that makes progress (a value moved along
 * a chain of rows); then, for a cycle (a swap), every such row is moved
 * aside and written once more. What still fails collides with a row the
 * push does not touch: the push fails with DBSYNC_UNIQUE_CONFLICT.
 */
static int apply_deferred(dbsync_server *s, dbsync__store *store,
			  const dbsync__push_req *p,
			  const struct bound_table *b, dbsync__value *row,
			  size_t *deferred, size_t ndeferred,
			  dbsync__error *err)
{
	size_t k, left = ndeferred, before;
	int rc = 0;

	do {
		/* Still refused ones are compacted to the front: slot
		 * `left` is never ahead of the one being read. */
		before = left;
		for (k = 0, left = 0; k < before && !rc; k++)
			rc = upsert_or_defer(s, store, p, b, deferred[k], row,
					     deferred, &left, err);
	} while (!rc && left && left < before);
	for (k = 0; k < left && !rc; k++) {
		const dbsync__msg_op *op = &p->ops[deferred[k]];
		rc = s->ops->unique_free(store, b[op->table].t, &op->pk, err);
	}
	for (k = 0; k < left && !rc; k++)
		rc = upsert_or_defer(s, store, p, b, deferred[k], row, NULL,
				     NULL, err);
	return rc;
}

/* ---- order inside a self-referencing table --------------------------- */

/* The column of `t` that refers to `t` itself (the first), or -1. */
static long self_ref(const dbsync__store_table *t)
{
	size_t k;

	for (k = 0; k < t->nrefs; k++)
		if (strcasecmp(t->refs[k].table, t->name) == 0)
			return (long)t->refs[k].column;
	return -1;
}

/* One row of a self-referencing table being written: its key, the key of
 * the row it refers to, and the push operation. */
struct link {
	dbsync__value pk, parent;
	size_t op;
	int done;
};

static int link_cmp(const void *x, const void *y)
{
	return dbsync__value_compare(&((const struct link *)x)->pk,
				     &((const struct link *)y)->pk);
}

/*
 * Rewrite ops[0..n) (indexes into the push) so that a row comes after the
 * row it refers to when both are in the set: parents first. Each row walks
 * up its chain of parents in the set; the walk is output top-down. Rows in
 * a cycle keep their relative order. Sorting by key makes it n log n.
 */
static int parents_first(struct link *l, size_t n, size_t *ops)
{
	size_t *chain = malloc((n ? n : 1) * sizeof(*chain)), k, out = 0;

	if (!chain)
		return DBSYNC_NOMEM;
	qsort(l, n, sizeof(*l), link_cmp);
	for (k = 0; k < n; k++) {
		size_t len = 0, at = k;
		/* Collect the not yet placed ancestors, nearest first. */
		while (!l[at].done) {
			struct link *p;
			l[at].done = 1;
			chain[len++] = at;
			if (l[at].parent.type == DBSYNC_TYPE_NULL)
				break;
			p = bsearch(&l[at].parent, l, n, sizeof(*l),
				    link_cmp);
			if (!p)
				break;
			at = (size_t)(p - l);
		}
		while (len)
			ops[out++] = l[chain[--len]].op;
	}
	free(chain);
	return 0;
}

/*
 * Order the push's operations on self-referencing table `t` (indexes in
 * `ops`, `n` of them): upserts parents first by the rows they write,
 * deletes children first by the rows the store holds. SQLite checks these
 * foreign keys at commit; PostgreSQL checks the usual NOT DEFERRABLE ones
 * row by row, so the order must be right by itself.
 */
static int order_self(dbsync_server *s, dbsync__store *store,
		      const dbsync__push_req *p, const struct bound_table *b,
		      const dbsync__store_table *t, long col, int deletes,
		      size_t *ops, size_t n, dbsync__error *err)
{
	struct link *l = calloc(n ? n : 1, sizeof(*l));
	size_t k, c;
	int rc = l ? 0 : DBSYNC_NOMEM;

	for (k = 0; k < n && !rc; k++) {
		const dbsync__msg_op *op = &p->ops[ops[k]];
		const struct bound_table *bt = &b[op->table];

		l[k].op = ops[k];
		l[k].pk = op->pk; /* borrowed from the push */
		l[k].parent.type = DBSYNC_TYPE_NULL;
		if (!deletes) {
			for (c = 0; c < op->nrow; c++)
				if (bt->store_col[c] == (size_t)col)
					l[k].parent = op->row[c];
		} else {
			const dbsync__value *row = NULL;
			rc = s->ops->row(store, t, &op->pk, &row, err);
			/* Its values live until the next store call. */
			if (rc == 1)
				rc = dbsync__value_copy(&l[k].parent,
							&row[col])
					     ? DBSYNC_NOMEM
					     : 0;
			else if (rc == 0)
				l[k].parent.type = DBSYNC_TYPE_NULL;
		}
	}
	if (!rc)
		rc = parents_first(l, n, ops);
	if (!rc && deletes)
		for (k = 0; k < n / 2; k++) {
			size_t tmp = ops[k];
			ops[k] = ops[n - 1 - k];
			ops[n - 1 - k] = tmp;
		}
	for (k = 0; deletes && l && k < n; k++)
		dbsync__value_clear(&l[k].parent);
	free(l);
	if (rc == DBSYNC_NOMEM)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	return rc;
}

/* The push's operations on table `t` of one kind, in the order to apply
 * them (push order, reversed for deletes, then by self-reference). */
static int ops_of_table(dbsync_server *s, dbsync__store *store,
			const dbsync__push_req *p, const struct bound_table *b,
			const dbsync__store_table *t, int deletes, size_t *ops,
			size_t *n, dbsync__error *err)
{
	long col = self_ref(t);
	size_t i;

	*n = 0;
	for (i = 0; i < p->nops; i++) {
		const dbsync__msg_op *op =
			&p->ops[deletes ? p->nops - 1 - i : i];
		int del = op->op == 'd' || op->op == 't';
		if (b[op->table].t == t && (del ? deletes
						: !deletes && (op->op == 'i' ||
							       op->op == 'u')))
			ops[(*n)++] = deletes ? p->nops - 1 - i : i;
	}
	if (col < 0 || *n < 2)
		return 0;
	return order_self(s, store, p, b, t, col, deletes, ops, *n, err);
}

static int apply_all(dbsync_server *s, dbsync__store *store,
		     const dbsync__push_req *p, const struct bound_table *b,
		     const dbsync__store_table *t, size_t nt, size_t *applied,
		     dbsync__error *err)
{
	dbsync__value *row = NULL;
	size_t *deferred = NULL, *ops = NULL, ndeferred = 0, n, k, i,
	       width = 1;
	int rc = 0;

	for (k = 0; k < nt; k++)
		if (t[k].ncolumns > width)
			width = t[k].ncolumns;
	row = calloc(width, sizeof(*row));
	deferred = calloc(p->nops ? p->nops : 1, sizeof(*deferred));
	ops = calloc(p->nops ? p->nops : 1, sizeof(*ops));
	if (!row || !deferred || !ops) {
		free(row);
		free(deferred);
		free(ops);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	/* Inserts and updates parents-first, in the push's order within a
	 * table; then deletes children-first. */
	for (k = 0; k < nt && !rc; k++) {
		rc = ops_of_table(s, store, p, b, &t[k], 0, ops, &n, err);
		for (i = 0; i < n && !rc; i++) {
			rc = upsert_or_defer(s, store, p, b, ops[i], row,
					     deferred, &ndeferred, err);
			(*applied)++;
		}
	}
	for (k = nt; k-- > 0 && !rc;) {
		rc = ops_of_table(s, store, p, b, &t[k], 1, ops, &n, err);
		for (i = 0; i < n && !rc; i++) {
			const dbsync__msg_op *op = &p->ops[ops[i]];
			rc = s->ops->apply(store, &t[k], op->op, &op->pk,
					   NULL, err);
			(*applied)++;
		}
	}
	if (!rc && ndeferred)
		rc = apply_deferred(s, store, p, b, row, deferred, ndeferred,
				    err);
	free(ops);
	free(deferred);
	free(row);
	return rc;
}

/* Everything between authentication and the answer, in one transaction. */
static int push_tx(dbsync_server *s, dbsync__store *store,
		   const dbsync__request *req, const dbsync__push_req *p,
		   int64_t *version, size_t *applied, int *retry,
		   dbsync__error *err)
{
	dbsync__store_table *t = NULL;
	struct bound_table *b = NULL;
	int64_t latest = 0, mark = 0, now = (int64_t)time(NULL);
	size_t nt = 0, k;
	int rc;

	rc = s->ops->begin(store, 1, err);
	if (rc)
		return rc;
	rc = s->ops->fold_direct_writes(store, now, err);
	if (!rc) {
		rc = s->ops->find_push(store, req->node_id, p->push_id,
				       version, err);
		if (rc == 1) { /* a retry: the first attempt was applied */
			*retry = 1;
			s->ops->rollback(store);
			return 0;
		}
	}
	if (!rc)
		rc = s->ops->latest_version(store, &latest, err);
	if (!rc && (p->has_base ? p->base_version : 0) != latest)
		rc = dbsync__error_set(err, DBSYNC_PULL_REQUIRED,
				       "the server is at version %lld; pull "
				       "before pushing",
				       (long long)latest);
	if (!rc)
		rc = s->ops->tables(store, &t, &nt, err);
	if (!rc && p->ntables) {
		b = calloc(p->ntables, sizeof(*b));
		rc = b ? bind_tables(p, t, nt, b, err)
		       : dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	if (!rc && s->before_push) {
		char reason[DBSYNC__ERRMSG_MAX] = "";
		if (s->before_push(req->node_id, latest, p->nops, reason,
				   sizeof(reason), s->push_payload) != 0)
			rc = dbsync__error_set(err, DBSYNC_PUSH_REJECTED, "%s",
					       reason[0] ? reason
							 : "push rejected by "
							   "the server");
	}
	if (!rc)
		rc = s->ops->apply_begin(store, &mark, err);
	if (!rc)
		rc = apply_all(s, store, p, b, t, nt, applied, err);
	if (!rc)
		rc = s->ops->apply_end(store, mark, req->node_id, p->push_id,
				       now, version, err);
	/* Nothing changed (an empty push, or only no-ops): no version. */
	if (!rc && *version == 0)
		*version = latest;
	if (!rc)
		rc = s->ops->commit(store, err);
	if (rc)
		s->ops->rollback(store);
	for (k = 0; b && k < p->ntables; k++)
		free(b[k].store_col);
	free(b);
	dbsync__store_tables_free(t, nt);
	return rc;
}

void dbsync__server_push(dbsync_server *s, dbsync__request *req,
			 dbsync_response *resp)
{
	dbsync__push_req p;
	dbsync__error err = {0};
	dbsync__store *store;
	int64_t version = 0;
	size_t applied = 0, len = 0;
	char *body = NULL;
	int rc, retry = 0;

	memset(&p, 0, sizeof(p));
	rc = dbsync__server_authenticate(s, req, &err);
	if (!rc)
		rc = dbsync__msg_decode_push(req->body, req->body_len, &p, &err);
	if (!rc)
		rc = dbsync__server_store_get(s, &store, &err);
	if (!rc) {
		rc = push_tx(s, store, req, &p, &version, &applied, &retry,
			     &err);
		dbsync__server_store_put(s, store);
	}
	dbsync__push_req_clear(&p);
	if (!rc && dbsync__msg_encode_version_resp(version, &body, &len))
		rc = dbsync__error_set(&err, DBSYNC_NOMEM, "out of memory");
	if (rc) {
		dbsync__respond_failure(resp, &err);
		return;
	}
	if (s->after_push && !retry)
		s->after_push(req->node_id, version, applied, NULL, 0,
			      s->push_payload);
	atomic_fetch_add(&s->metrics.pushes, 1);
	atomic_fetch_add(&s->metrics.ops_applied, applied);
	dbsync__respond_json(resp, 200, body, len);
}
