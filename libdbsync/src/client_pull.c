/*
 * client_pull.c - dbsync_client_pull: fetch the versions after the node's
 * and merge them, one page per write transaction.
 *
 * Each page is applied with capture suppressed (the library's own writes
 * are not pending work) and, in the same transaction, the pull's progress
 * (target version and cursor) is saved: after a crash the next pull resumes
 * after the last page applied. Remote changes that meet pending local
 * operations on the same row are resolved in apply_op (docs/conflicts.md).
 */
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "client.h"
#include "client_renumber.h"
#include "client_tables.h"
#include "message.h"
#include "meta.h"
#include "oplog.h"
#include "sqlutil.h"

/* The pull request for the next page, from the saved progress. */
static int next_request(dbsync_client *c, char **body, size_t *len,
			int *first_page)
{
	dbsync__pull_req q;
	int rc;

	memset(&q, 0, sizeof(q));
	rc = dbsync__meta_get_int(c->db, DBSYNC__META_LATEST, &q.after_version,
				  &c->err);
	q.has_after = rc == 1;
	if (rc >= 0)
		rc = dbsync__meta_get_int(c->db, DBSYNC__META_PULL_TARGET,
					  &q.target_version, &c->err);
	q.has_target = rc == 1;
	if (rc >= 0)
		rc = dbsync__meta_get_bytes(c->db, DBSYNC__META_PULL_CURSOR,
					    &q.cursor, NULL, &c->err);
	*first_page = q.cursor == NULL;
	q.max_operations = c->page_ops;
	if (rc >= 0 && dbsync__msg_encode_pull(&q, body, len))
		rc = dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	dbsync__pull_req_clear(&q);
	return rc < 0 ? rc : 0;
}

/* If a version is this node's push still marked in flight, the push was
 * applied and only its answer was lost: settle it now. */
static int recognize_own_push(dbsync_client *c, const dbsync__pull_resp *p)
{
	char *push_id = NULL;
	int64_t node = 0;
	size_t k;
	int rc;

	rc = dbsync__meta_get_bytes(c->db, DBSYNC__META_PUSH_ID, &push_id, NULL,
				    &c->err);
	if (rc == 1)
		rc = dbsync__meta_get_int(c->db, DBSYNC__META_NODE_ID, &node,
					  &c->err);
	for (k = 0; rc == 1 && k < p->nversions; k++) {
		const dbsync__msg_version *v = &p->versions[k];
		if (v->has_node && v->node_id == node &&
		    strcmp(v->push_id, push_id) == 0) {
			rc = dbsync__sql_exec(c->db,
					      "DELETE FROM dbsync_log"
					      " WHERE version = -1",
					      &c->err, "cannot record the push");
			if (!rc)
				rc = dbsync__meta_delete(c->db,
							 DBSYNC__META_PUSH_ID,
							 &c->err);
			break;
		}
	}
	free(push_id);
	return rc < 0 ? rc : 0;
}

/* Forget the local operations on one row that no push has carried yet:
 * the merge resolved them. */
static int drop_local(dbsync_client *c, int64_t tid, const dbsync__value *pk)
{
	sqlite3_stmt *st;
	int rc = dbsync__sql_prepare(c->db,
				     "DELETE FROM dbsync_log WHERE tid = ?1"
				     " AND pk = ?2 AND version IS NULL",
				     &st, &c->err, "cannot merge the pull");

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tid);
	dbsync__sql_bind_value(st, 2, pk);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(&c->err, c->db, rc,
					    "cannot merge the pull");
	return 0;
}

/*
 * Apply one remote operation, meeting the row's pending local state
 * (docs/conflicts.md), local wins:
 * - nothing pending, or the row was inserted and deleted here: apply;
 * - remote insert, local insert of the same INTEGER key: two different
 *   rows; the local one moves to a fresh key (client_renumber.c), then
 *   the remote one is applied;
 * - remote update, local update/insert: keep the local row (it is pushed);
 * - remote update, local delete: the row comes back from the remote copy
 *   and the local delete is dropped;
 * - remote delete, local update/insert: the row stays (the push re-creates
 *   it: the server applies an update of a missing row as an upsert);
 * - remote delete, local delete: nothing left to do on either side.
 */
static int apply_op(dbsync_client *c, dbsync__ctables *tables,
		    dbsync__keyset *pending, const dbsync__pull_resp *p,
		    const dbsync__msg_op *op, dbsync__value *row, int64_t mark)
{
	const dbsync__msg_table *mt = &p->tables[op->table];
	dbsync__ctable *t = dbsync__ctables_by_name(tables, mt->name);
	sqlite3_stmt *st;
	size_t k;
	int rc;

	if (!t || t->direction == DBSYNC_DIRECTION_PUSH)
		return 0; /* not pulled here */
	switch (dbsync__keyset_state(pending, t->tid, &op->pk)) {
	case 'i':
		/* A remote 'u' here is the rest of a remote insert whose
		 * first part arrived in an earlier page. */
		if (t->integer_pk && op->pk.type == DBSYNC_TYPE_INTEGER &&
		    op->op != 'd') {
			rc = dbsync__client_renumber(c, tables, t, &op->pk, p,
						     mark, pending);
			if (rc)
				return rc;
			break;
		}
		return 0;
	case 'u':
		return 0;
	case 'd':
		rc = drop_local(c, t->tid, &op->pk);
		dbsync__keyset_forget(pending, t->tid, &op->pk);
		if (rc || op->op == 'd')
			return rc;
		break;
	default:
		break;
	}
	if (op->op == 'd') {
		st = t->sql.del;
		dbsync__sql_bind_value(st, 1, &op->pk);
	} else {
		rc = dbsync__ctable_local_row(t, mt, op->row, row, &c->err);
		if (rc)
			return rc;
		st = t->sql.upsert;
		for (k = 0; k < t->ncolumns; k++)
			dbsync__sql_bind_value(st, (int)k + 1, &row[k]);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(&c->err, c->db, rc,
					    "cannot apply a pulled change");
	return 0;
}

/* One page, one transaction: rows, then the progress that covers them. */
static int apply_page(dbsync_client *c, const dbsync__pull_resp *p,
		      int first_page)
{
	dbsync__ctables tables = {0};
	dbsync__keyset *pending = NULL;
	dbsync__value *row = NULL;
	int64_t mark = 0;
	size_t k, width = 1;
	int rc;

	rc = dbsync__sql_begin_write(c->db, &c->err);
	if (rc)
		return rc;
	if (first_page)
		rc = recognize_own_push(c, p);
	if (!rc)
		rc = dbsync__sql_exec(c->db, "PRAGMA defer_foreign_keys = ON",
				      &c->err, "cannot apply the pull");
	if (!rc)
		rc = dbsync__capture_suppress_begin(c->db, &mark, &c->err);
	if (!rc)
		rc = dbsync__ctables_load(c->db, &tables, &c->err);
	if (!rc)
		rc = dbsync__oplog_pending_keys(c->db, &pending, &c->err);
	for (k = 0; k < tables.n; k++)
		if (tables.t[k].ncolumns > width)
			width = tables.t[k].ncolumns;
	if (!rc) {
		row = calloc(width, sizeof(*row));
		if (!row)
			rc = dbsync__error_set(&c->err, DBSYNC_NOMEM,
					       "out of memory");
	}
	for (k = 0; !rc && k < p->nops; k++)
		rc = apply_op(c, &tables, pending, p, &p->ops[k], row, mark);
	if (!rc)
		rc = dbsync__capture_suppress_end(c->db, mark, &c->err);
	if (!rc && p->cursor) {
		rc = dbsync__meta_set_int(c->db, DBSYNC__META_PULL_TARGET,
					  p->target_version, &c->err);
		if (!rc)
			rc = dbsync__meta_set_bytes(c->db,
						    DBSYNC__META_PULL_CURSOR,
						    p->cursor, strlen(p->cursor),
						    0, &c->err);
	} else if (!rc) {
		rc = dbsync__meta_set_int(c->db, DBSYNC__META_LATEST,
					  p->target_version, &c->err);
		if (!rc)
			rc = dbsync__meta_delete(c->db, DBSYNC__META_PULL_TARGET,
						 &c->err);
		if (!rc)
			rc = dbsync__meta_delete(c->db, DBSYNC__META_PULL_CURSOR,
						 &c->err);
	}
	if (!rc)
		rc = dbsync__sql_commit(c->db, &c->err);
	if (rc)
		dbsync__sql_rollback(c->db);
	free(row);
	dbsync__keyset_free(pending);
	dbsync__ctables_free(&tables);
	return rc;
}

int dbsync__client_do_pull(dbsync_client *c)
{
	uint64_t done = 0;
	int rc, first_page, more = 1;

	while (more) {
		dbsync__http_response resp;
		dbsync__pull_resp p;
		char *body = NULL;
		size_t len = 0;

		memset(&p, 0, sizeof(p));
		rc = next_request(c, &body, &len, &first_page);
		if (rc)
			return rc;
		rc = dbsync__client_post(c, "/v1/pull", body, len, 1, &resp);
		free(body);
		if (!rc)
			rc = dbsync__msg_decode_pull_resp(resp.body,
							  resp.body_len, &p,
							  &c->err);
		dbsync__http_response_clear(&resp);
		if (!rc)
			rc = apply_page(c, &p, first_page);
		more = !rc && p.cursor != NULL;
		done += p.nops;
		dbsync__pull_resp_clear(&p);
		if (rc)
			return rc;
		if (c->progress &&
		    c->progress(0, 0, done, 0, c->progress_payload))
			return dbsync__error_set(&c->err, DBSYNC_CALLBACK,
						 "pull stopped by the progress "
						 "callback");
	}
	return 0;
}
