/*
 * server_pull.c - POST /v1/pull: one page of the versions after the node's.
 *
 * The first page fixes the target version; every page is the compressed
 * changes of (after, target] positioned after the cursor, with current
 * rows, bounded in operations and bytes (docs/protocol.md, Pull).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "message.h"
#include "server.h"

/* Collects one page. Row values are copied: the store's are short-lived. */
struct page {
	dbsync_server *s;
	dbsync__store *store;
	const dbsync__store_table *tables;
	size_t ntables;
	dbsync__pull_resp *resp;
	size_t ops_cap, vers_cap;
	size_t max_ops, max_bytes, bytes;
	dbsync__error *err;
};

static size_t table_index(const struct page *pg, int64_t tid)
{
	size_t k;

	for (k = 0; k < pg->ntables; k++)
		if (pg->tables[k].tid == tid)
			return k;
	return pg->ntables;
}

static int add_change(void *payload, const dbsync__store_change *c)
{
	struct page *pg = payload;
	dbsync__pull_resp *r = pg->resp;
	size_t t = table_index(pg, c->tid), k, bytes;
	const dbsync__value *row = NULL;
	dbsync__msg_op *op;
	char kind = c->op;
	int rc;

	if (t == pg->ntables)
		return 0; /* a table no longer tracked */
	if (r->nops >= pg->max_ops || (r->nops && pg->bytes >= pg->max_bytes)) {
		return 1; /* stop: the page is full */
	}
	if (kind != 'd') {
		rc = pg->s->ops->row(pg->store, &pg->tables[t], &c->pk, &row,
				     pg->err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			kind = 'd'; /* deleted by a later version */
	}
	if (r->nops == pg->ops_cap) {
		size_t cap = pg->ops_cap ? pg->ops_cap * 2 : 64;
		dbsync__msg_op *p = realloc(r->ops, cap * sizeof(*p));
		if (!p)
			return dbsync__error_set(pg->err, DBSYNC_NOMEM,
						 "out of memory");
		r->ops = p;
		pg->ops_cap = cap;
	}
	op = &r->ops[r->nops];
	memset(op, 0, sizeof(*op));
	op->table = t;
	op->op = kind;
	rc = dbsync__value_copy(&op->pk, &c->pk);
	bytes = 40 + dbsync__value_json_size(&c->pk);
	if (!rc && kind != 'd') {
		op->row = calloc(pg->tables[t].ncolumns, sizeof(*op->row));
		rc = op->row ? 0 : DBSYNC_NOMEM;
		for (k = 0; !rc && k < pg->tables[t].ncolumns; k++) {
			rc = dbsync__value_copy(&op->row[k], &row[k]);
			op->nrow = k + 1;
			bytes += dbsync__value_json_size(&row[k]);
		}
	}
	r->nops++; /* counted even half-built, so clear() frees it */
	if (rc)
		return dbsync__error_set(pg->err, DBSYNC_NOMEM, "out of memory");
	pg->bytes += bytes;
	return 0;
}

/* A parent row to send: its table and key. */
struct parent_key {
	size_t table;
	dbsync__value pk; /* points into the page's own rows */
};

static int parent_cmp(const void *x, const void *y)
{
	const struct parent_key *a = x, *b = y;

	if (a->table != b->table)
		return a->table < b->table ? -1 : 1;
	return dbsync__value_compare(&a->pk, &b->pk);
}

/* Append the foreign-key values of `rows` (tracked parents only) to
 * *keys. The keys borrow the rows' values. */
static int collect_refs(struct page *pg, const dbsync__msg_op *rows,
			size_t nrows, struct parent_key **keys, size_t *n,
			size_t *cap)
{
	size_t i, k, pt;

	for (i = 0; i < nrows; i++) {
		const dbsync__msg_op *op = &rows[i];
		const dbsync__store_table *t = &pg->tables[op->table];

		if (!op->nrow)
			continue;
		for (k = 0; k < t->nrefs; k++) {
			const dbsync__value *v = &op->row[t->refs[k].column];

			if (v->type == DBSYNC_TYPE_NULL)
				continue;
			for (pt = 0; pt < pg->ntables; pt++)
				if (strcasecmp(pg->tables[pt].name,
					       t->refs[k].table) == 0)
					break;
			if (pt == pg->ntables)
				continue; /* parent not tracked */
			if (*n == *cap) {
				struct parent_key *p;
				*cap = *cap ? *cap * 2 : 64;
				p = realloc(*keys, *cap * sizeof(*p));
				if (!p)
					return dbsync__error_set(
						pg->err, DBSYNC_NOMEM,
						"out of memory");
				*keys = p;
			}
			(*keys)[*n].table = pt;
			(*keys)[(*n)++].pk = *v;
		}
	}
	return 0;
}

/* Read one parent row into the page (0 also when it is gone). */
static int send_parent(struct page *pg, const struct parent_key *key)
{
	dbsync__pull_resp *r = pg->resp;
	const dbsync__store_table *pt = &pg->tables[key->table];
	const dbsync__value *row = NULL;
	dbsync__msg_op *op;
	size_t j;
	int rc = pg->s->ops->row(pg->store, pt, &key->pk, &row, pg->err);

	if (rc <= 0)
		return rc; /* gone, or an error */
	op = realloc(r->parents, (r->nparents + 1) * sizeof(*op));
	if (!op)
		return dbsync__error_set(pg->err, DBSYNC_NOMEM, "out of memory");
	r->parents = op;
	op = &r->parents[r->nparents++];
	memset(op, 0, sizeof(*op));
	op->table = key->table;
	op->op = 'p';
	op->row = calloc(pt->ncolumns, sizeof(*op->row));
	rc = op->row ? 0 : DBSYNC_NOMEM;
	for (j = 0; j < pt->ncolumns && !rc; j++) {
		rc = dbsync__value_copy(&op->row[j], &row[j]);
		op->nrow = j + 1;
	}
	if (!rc)
		rc = dbsync__value_copy(&op->pk, &row[pt->pk_index]);
	if (rc)
		return dbsync__error_set(pg->err, DBSYNC_NOMEM, "out of memory");
	return 0;
}

/* How many generations of ancestors a page carries at most. */
#define ANCESTOR_GENERATIONS 64

/*
 * The rows the page's rows refer to by foreign key, and their own
 * parents up the chain (a tree's ancestors, a grandparent table), read in
 * the page's snapshot: with them a client can restore parents it deleted
 * while the server's side gave them new children (docs/conflicts.md).
 */
static int add_parents(struct page *pg)
{
	dbsync__pull_resp *r = pg->resp;
	struct parent_key *keys = NULL, *sent = NULL;
	size_t n = 0, cap = 0, nsent = 0, i, from, round;
	int rc = collect_refs(pg, r->ops, r->nops, &keys, &n, &cap);

	for (round = 0; !rc && n && round < ANCESTOR_GENERATIONS; round++) {
		qsort(keys, n, sizeof(*keys), parent_cmp);
		from = r->nparents;
		for (i = 0; i < n && !rc; i++) {
			if (i && parent_cmp(&keys[i - 1], &keys[i]) == 0)
				continue;
			if (nsent && bsearch(&keys[i], sent, nsent,
					     sizeof(*sent), parent_cmp))
				continue;
			rc = send_parent(pg, &keys[i]);
		}
		/* The rows just sent are known; their parents come next. */
		if (!rc && r->nparents > from) {
			struct parent_key *p = realloc(
				sent, r->nparents * sizeof(*sent));
			if (!p) {
				rc = dbsync__error_set(pg->err, DBSYNC_NOMEM,
						       "out of memory");
				break;
			}
			sent = p;
			for (i = from; i < r->nparents; i++) {
				sent[nsent].table = r->parents[i].table;
				sent[nsent++].pk = r->parents[i].pk;
			}
			qsort(sent, nsent, sizeof(*sent), parent_cmp);
		}
		n = 0;
		if (!rc)
			rc = collect_refs(pg, r->parents + from,
					  r->nparents - from, &keys, &n, &cap);
	}
	free(keys);
	free(sent);
	return rc;
}

static int add_version(void *payload, const dbsync__store_version *v)
{
	struct page *pg = payload;
	dbsync__pull_resp *r = pg->resp;
	dbsync__msg_version *mv;

	if (r->nversions == pg->vers_cap) {
		size_t cap = pg->vers_cap ? pg->vers_cap * 2 : 16;
		dbsync__msg_version *p = realloc(r->versions, cap * sizeof(*p));
		if (!p)
			return dbsync__error_set(pg->err, DBSYNC_NOMEM,
						 "out of memory");
		r->versions = p;
		pg->vers_cap = cap;
	}
	mv = &r->versions[r->nversions++];
	memset(mv, 0, sizeof(*mv));
	mv->id = v->id;
	mv->has_node = v->has_node;
	mv->node_id = v->node_id;
	memcpy(mv->push_id, v->push_id, sizeof(mv->push_id));
	mv->created = v->created;
	return 0;
}

static int64_t parse_cursor(const char *cursor)
{
	char *end;
	long long v;

	if (!cursor)
		return 0;
	errno = 0;
	v = strtoll(cursor, &end, 10);
	if (*cursor < '0' || *cursor > '9' || *end || v <= 0 || errno)
		return -1;
	return (int64_t)v;
}

static size_t bound(int64_t asked, size_t dflt, size_t max)
{
	if (asked <= 0)
		return dflt;
	return (uint64_t)asked < max ? (size_t)asked : max;
}

static int pull_tx(dbsync_server *s, dbsync__store *store,
		   const dbsync__pull_req *q, dbsync__pull_resp *r,
		   size_t *sent, dbsync__error *err)
{
	dbsync__store_table *t = NULL;
	struct page pg;
	int64_t latest = 0, after, cursor = parse_cursor(q->cursor), next = 0;
	size_t nt = 0;
	int rc, more = 0;

	if (cursor < 0)
		return dbsync__error_set(err, DBSYNC_PROTOCOL,
					 "cursor: not one this server issued");
	/* Direct writes become a version before anyone reads. */
	rc = s->ops->begin(store, 1, err);
	if (!rc)
		rc = s->ops->fold_direct_writes(store, (int64_t)time(NULL), err);
	if (!rc)
		rc = s->ops->commit(store, err);
	if (rc) {
		s->ops->rollback(store);
		return rc;
	}
	/* The rest reads one snapshot. */
	rc = s->ops->begin(store, 0, err);
	if (!rc)
		rc = s->ops->latest_version(store, &latest, err);
	after = q->has_after ? q->after_version : 0;
	r->target_version = q->has_target ? q->target_version : latest;
	if (!rc && after > latest)
		rc = dbsync__error_set(err, DBSYNC_REPAIR_REQUIRED,
				       "the node is ahead of the server "
				       "(version %lld > %lld); repair",
				       (long long)after, (long long)latest);
	if (!rc && after < latest) {
		int64_t trimmed = 0;
		rc = s->ops->trimmed(store, &trimmed, err);
		if (!rc && after < trimmed)
			rc = dbsync__error_set(err, DBSYNC_REPAIR_REQUIRED,
					       "the history after version %lld "
					       "was trimmed; repair",
					       (long long)after);
	}
	if (!rc && (r->target_version > latest || r->target_version < after))
		rc = dbsync__error_set(err, DBSYNC_PROTOCOL,
				       "target_version: must be between "
				       "after_version and %lld",
				       (long long)latest);
	if (!rc)
		rc = s->ops->tables(store, &t, &nt, err);
	if (!rc && dbsync__server_describe_tables(t, nt, r))
		rc = dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	memset(&pg, 0, sizeof(pg));
	pg.s = s;
	pg.store = store;
	pg.tables = t;
	pg.ntables = nt;
	pg.resp = r;
	pg.max_ops = bound(q->max_operations, s->page_ops_default,
			   s->page_ops_max);
	pg.max_bytes = bound(q->max_bytes, s->page_bytes_default,
			     s->page_bytes_max);
	pg.err = err;
	/* Versions travel with the first page: the node looks for its own. */
	if (!rc && !q->cursor)
		rc = s->ops->versions(store, after, r->target_version,
				      add_version, &pg, err);
	if (!rc) {
		rc = s->ops->changes(store, after, r->target_version, cursor,
				     pg.max_ops, add_change, &pg, &more, &next,
				     err);
	}
	if (!rc)
		rc = add_parents(&pg);
	s->ops->rollback(store);
	if (!rc && more) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%lld", (long long)next);
		r->cursor = strdup(buf);
		if (!r->cursor)
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
	}
	*sent = r->nops;
	dbsync__store_tables_free(t, nt);
	return rc;
}

void dbsync__server_pull(dbsync_server *s, dbsync__request *req,
			 dbsync_response *resp)
{
	dbsync__pull_req q;
	dbsync__pull_resp r;
	dbsync__error err = {0};
	dbsync__store *store;
	size_t sent = 0, len = 0;
	char *body = NULL;
	int rc;

	memset(&q, 0, sizeof(q));
	memset(&r, 0, sizeof(r));
	rc = dbsync__server_authenticate(s, req, &err);
	if (!rc)
		rc = dbsync__msg_decode_pull(req->body, req->body_len, &q, &err);
	if (!rc)
		rc = dbsync__server_store_get(s, &store, &err);
	if (!rc) {
		rc = pull_tx(s, store, &q, &r, &sent, &err);
		dbsync__server_store_put(s, store);
	}
	if (!rc && (rc = dbsync__msg_encode_pull_resp(&r, &body, &len)))
		dbsync__error_set(&err, rc, "cannot encode the pull page");
	dbsync__pull_req_clear(&q);
	dbsync__pull_resp_clear(&r);
	if (rc) {
		dbsync__respond_failure(resp, &err);
		return;
	}
	atomic_fetch_add(&s->metrics.pulls, 1);
	atomic_fetch_add(&s->metrics.ops_sent, sent);
	dbsync__respond_json(resp, 200, body, len);
}
