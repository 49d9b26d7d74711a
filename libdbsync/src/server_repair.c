/*
 * server_repair.c - POST /v1/repair: a full copy of every tracked table,
 * one page at a time (docs/protocol.md, Repair).
 *
 * The request and the answer have the shape of a pull: the first page
 * fixes `target_version` (the version the copy stands for); every
 * operation is an 'i' with its row; the cursor says which table and where
 * in it the next page starts. Pages are read in separate transactions, so
 * a row changed after the first page may arrive newer than that version:
 * the client's next pull after it converges such rows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "message.h"
#include "server.h"

struct copy {
	dbsync__pull_resp *resp;
	size_t table;	 /* index into the message's tables */
	size_t ncolumns, pk_index;
	size_t ops_cap, max_rows, max_bytes, bytes;
	int64_t last_position;
};

static int add_row(void *payload, int64_t position, const dbsync__value *row)
{
	struct copy *cp = payload;
	dbsync__pull_resp *r = cp->resp;
	dbsync__msg_op *op;
	size_t k;
	int rc = 0;

	if (r->nops && cp->bytes >= cp->max_bytes)
		return 1; /* full: the scan stops here */
	if (r->nops == cp->ops_cap) {
		size_t cap = cp->ops_cap ? cp->ops_cap * 2 : 64;
		dbsync__msg_op *p = realloc(r->ops, cap * sizeof(*p));
		if (!p)
			return DBSYNC_NOMEM;
		r->ops = p;
		cp->ops_cap = cap;
	}
	op = &r->ops[r->nops++];
	memset(op, 0, sizeof(*op));
	op->table = cp->table;
	op->op = 'i';
	op->row = calloc(cp->ncolumns, sizeof(*op->row));
	if (!op->row)
		return DBSYNC_NOMEM;
	for (k = 0; k < cp->ncolumns && !rc; k++) {
		rc = dbsync__value_copy(&op->row[k], &row[k]);
		op->nrow = k + 1;
		cp->bytes += dbsync__value_json_size(&row[k]);
	}
	if (!rc)
		rc = dbsync__value_copy(&op->pk, &row[cp->pk_index]);
	cp->last_position = position;
	return rc;
}

/* Cursor "TABLE:POSITION": the table's index in FK order, the scan
 * position inside it. */
static int parse_cursor(const char *c, size_t *table, int64_t *position)
{
	unsigned long long t;
	long long p;
	int used = 0;

	*table = 0;
	*position = 0;
	if (!c)
		return 0;
	if (sscanf(c, "%llu:%lld%n", &t, &p, &used) != 2 || c[used] ||
	    p < 0 || t > 100000)
		return -1;
	*table = (size_t)t;
	*position = (int64_t)p;
	return 0;
}

static int repair_tx(dbsync_server *s, dbsync__store *store,
		     const dbsync__pull_req *q, dbsync__pull_resp *r,
		     dbsync__error *err)
{
	dbsync__store_table *t = NULL;
	struct copy cp;
	size_t nt = 0, table;
	int64_t position, latest = 0;
	int rc, more = 0;

	if (parse_cursor(q->cursor, &table, &position) != 0 ||
	    (q->cursor && !q->has_target))
		return dbsync__error_set(err, DBSYNC_PROTOCOL,
					 "cursor: not one this server issued");
	rc = s->ops->begin(store, 1, err);
	if (!rc)
		rc = s->ops->fold_direct_writes(store, (int64_t)time(NULL), err);
	if (!rc)
		rc = s->ops->commit(store, err);
	if (rc) {
		s->ops->rollback(store);
		return rc;
	}
	rc = s->ops->begin(store, 0, err);
	if (!rc)
		rc = s->ops->latest_version(store, &latest, err);
	if (!rc && q->has_target && q->target_version > latest)
		rc = dbsync__error_set(err, DBSYNC_PROTOCOL,
				       "target_version: beyond the latest "
				       "version %lld",
				       (long long)latest);
	r->target_version = q->has_target ? q->target_version : latest;
	if (!rc)
		rc = s->ops->tables(store, &t, &nt, err);
	if (!rc && dbsync__server_describe_tables(t, nt, r))
		rc = dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	memset(&cp, 0, sizeof(cp));
	cp.resp = r;
	cp.max_rows = q->max_operations > 0 &&
				      (uint64_t)q->max_operations < s->page_ops_max
			      ? (size_t)q->max_operations
			      : (q->max_operations ? s->page_ops_max
						   : s->page_ops_default);
	cp.max_bytes = q->max_bytes > 0 &&
				       (uint64_t)q->max_bytes < s->page_bytes_max
			       ? (size_t)q->max_bytes
			       : (q->max_bytes ? s->page_bytes_max
					       : s->page_bytes_default);
	for (; !rc && table < nt; table++, position = 0) {
		cp.table = table;
		cp.ncolumns = t[table].ncolumns;
		cp.pk_index = t[table].pk_index;
		cp.last_position = position;
		rc = s->ops->scan(store, &t[table], position,
				  cp.max_rows - r->nops, add_row, &cp, &more,
				  err);
		if (rc == 1) { /* stopped by the byte bound */
			rc = 0;
			more = 1;
		}
		if (rc == DBSYNC_NOMEM)
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
		if (!rc && (more || r->nops >= cp.max_rows))
			break;
	}
	s->ops->rollback(store);
	if (!rc && table < nt) {
		char buf[48];
		/* Resume in this table after the last row sent, or at the
		 * start of the next one when this one is done. */
		if (more)
			snprintf(buf, sizeof(buf), "%zu:%lld", table,
				 (long long)cp.last_position);
		else
			snprintf(buf, sizeof(buf), "%zu:0", table + 1);
		if (more || table + 1 < nt) {
			r->cursor = strdup(buf);
			if (!r->cursor)
				rc = dbsync__error_set(err, DBSYNC_NOMEM,
						       "out of memory");
		}
	}
	dbsync__store_tables_free(t, nt);
	return rc;
}

void dbsync__server_repair(dbsync_server *s, dbsync__request *req,
			   dbsync_response *resp)
{
	dbsync__pull_req q;
	dbsync__pull_resp r;
	dbsync__error err = {0};
	dbsync__store *store;
	size_t len = 0;
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
		rc = repair_tx(s, store, &q, &r, &err);
		dbsync__server_store_put(s, store);
	}
	if (!rc && (rc = dbsync__msg_encode_pull_resp(&r, &body, &len)))
		dbsync__error_set(&err, rc, "cannot encode the repair page");
	if (!rc)
		atomic_fetch_add(&s->metrics.ops_sent, r.nops);
	dbsync__pull_req_clear(&q);
	dbsync__pull_resp_clear(&r);
	if (rc) {
		dbsync__respond_failure(resp, &err);
		return;
	}
	atomic_fetch_add(&s->metrics.repairs, 1);
	dbsync__respond_json(resp, 200, body, len);
}
