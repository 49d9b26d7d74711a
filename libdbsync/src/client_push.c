/*
 * client_push.c - dbsync_client_push: send the pending operations once.
 *
 * 1. In a short write transaction: mark every pending log entry as in flight
 *    (version -1) under a fresh push id kept in dbsync_meta, or reuse the
 *    push already in flight, and build the message from the live rows.
 * 2. Send it with no lock held, so the application keeps writing.
 * 3. Record the answer: accepted -> the in-flight entries are done and the
 *    version is the node's; refused -> they are pending again; no answer
 *    -> they stay in flight and the next push resends the same push id,
 *    which the server recognizes if the first attempt was applied.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_tables.h"
#include "crypto.h"
#include "message.h"
#include "meta.h"
#include "oplog.h"
#include "sqlutil.h"

struct build {
	dbsync_client *c;
	dbsync__ctables tables;
	dbsync__push_req *req;
	size_t *msg_table; /* ctable index -> message table index + 1 */
	size_t ops_cap;
};

/* The message's entry for table `t`, added on first use. */
static int message_table(struct build *b, size_t t, size_t *index)
{
	dbsync__push_req *r = b->req;
	dbsync__ctable *ct = &b->tables.t[t];
	dbsync__msg_table *m, *p;
	size_t k;

	if (b->msg_table[t]) {
		*index = b->msg_table[t] - 1;
		return 0;
	}
	p = realloc(r->tables, (r->ntables + 1) * sizeof(*p));
	if (!p)
		return DBSYNC_NOMEM;
	r->tables = p;
	m = &r->tables[r->ntables++];
	memset(m, 0, sizeof(*m));
	m->name = strdup(ct->name);
	m->columns = calloc(ct->ncolumns, sizeof(char *));
	if (!m->name || !m->columns)
		return DBSYNC_NOMEM;
	for (k = 0; k < ct->ncolumns; k++) {
		m->columns[k] = strdup(ct->columns[k]);
		if (!m->columns[k])
			return DBSYNC_NOMEM;
		m->ncolumns = k + 1;
	}
	*index = r->ntables - 1;
	b->msg_table[t] = *index + 1;
	return 0;
}

/* One folded row of the in-flight log becomes one operation (or none). */
static int add_op(void *payload, int64_t tid, char op, const dbsync__value *pk,
		  int64_t pos)
{
	struct build *b = payload;
	dbsync__push_req *r = b->req;
	dbsync__ctable *ct = dbsync__ctables_by_tid(&b->tables, tid);
	sqlite3_stmt *sel;
	dbsync__msg_op *o;
	size_t t, mt, k;
	int rc, exists;

	(void)pos;
	if (!ct || ct->direction == DBSYNC_DIRECTION_PULL)
		return 0; /* untracked or pull-only since */
	t = (size_t)(ct - b->tables.t);
	sel = ct->sql.select;
	dbsync__sql_bind_value(sel, 1, pk);
	rc = sqlite3_step(sel);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		sqlite3_reset(sel);
		return dbsync__error_sqlite(&b->c->err, b->c->db, rc,
					    "cannot read a pending row");
	}
	exists = rc == SQLITE_ROW;
	/* The log says what may have changed, the table what is now. */
	if (op == '-')
		op = exists ? 0 : 't';
	else if (op == 'i' && !exists)
		op = 't';
	else if (op == 'u' && !exists)
		op = 'd';
	if (!op) {
		sqlite3_reset(sel);
		return 0;
	}
	rc = message_table(b, t, &mt);
	if (!rc && r->nops == b->ops_cap) {
		size_t cap = b->ops_cap ? b->ops_cap * 2 : 64;
		dbsync__msg_op *p = realloc(r->ops, cap * sizeof(*p));
		if (p) {
			r->ops = p;
			b->ops_cap = cap;
		} else {
			rc = DBSYNC_NOMEM;
		}
	}
	if (rc) {
		sqlite3_reset(sel);
		return dbsync__error_set(&b->c->err, DBSYNC_NOMEM,
					 "out of memory");
	}
	o = &r->ops[r->nops++];
	memset(o, 0, sizeof(*o));
	o->table = mt;
	o->op = op;
	rc = dbsync__value_copy(&o->pk, pk);
	if (!rc && (op == 'i' || op == 'u')) {
		o->row = calloc(ct->ncolumns, sizeof(*o->row));
		rc = o->row ? 0 : DBSYNC_NOMEM;
		for (k = 0; !rc && k < ct->ncolumns; k++) {
			dbsync__value v;
			dbsync__sql_column_value(sel, (int)k, &v);
			rc = dbsync__value_copy(&o->row[k], &v);
			o->nrow = k + 1;
		}
	}
	sqlite3_reset(sel);
	if (rc)
		return dbsync__error_set(&b->c->err, DBSYNC_NOMEM,
					 "out of memory");
	return 0;
}

/*
 * A push carries at most PUSH_BATCH log entries, so its body stays far
 * below a server's body limit (about 150 bytes a row): the oldest entries
 * go first and the rest follow in further pushes. A row whose entries
 * straddle two batches is sent twice; each time the live row is read, so
 * the server ends with what the client has.
 */
#define PUSH_BATCH 20000

static int mark_batch(dbsync_client *c)
{
	sqlite3_stmt *st;
	int rc = dbsync__sql_prepare(
		c->db,
		"UPDATE dbsync_log SET version = -1 WHERE version IS NULL"
		" AND seq <= coalesce((SELECT seq FROM dbsync_log"
		" WHERE version IS NULL ORDER BY seq LIMIT 1 OFFSET ?1),"
		" 9223372036854775807)",
		&st, &c->err, "cannot mark the push");

	if (rc)
		return rc;
	sqlite3_bind_int(st, 1, PUSH_BATCH - 1);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(&c->err, c->db, rc,
					    "cannot mark the push");
	return 0;
}

/* Whether entries up to `upto` remain that no push has carried yet. */
static int more_pending(dbsync_client *c, int64_t upto, int *more)
{
	sqlite3_stmt *st;
	int rc = dbsync__sql_prepare(c->db,
				     "SELECT EXISTS (SELECT 1 FROM dbsync_log"
				     " WHERE version IS NULL AND seq <= ?1)",
				     &st, &c->err, "cannot read the log");

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, upto);
	rc = sqlite3_step(st);
	*more = rc == SQLITE_ROW && sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return dbsync__error_sqlite(&c->err, c->db, rc,
					    "cannot read the log");
	return 0;
}

/* The newest log entry now: what a push call must carry at least. */
static int newest_entry(dbsync_client *c, int64_t *seq)
{
	sqlite3_stmt *st;
	int rc = dbsync__sql_prepare(c->db,
				     "SELECT coalesce(max(seq), 0) FROM dbsync_log",
				     &st, &c->err, "cannot read the log");

	if (rc)
		return rc;
	rc = sqlite3_step(st);
	*seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return dbsync__error_sqlite(&c->err, c->db, rc,
					    "cannot read the log");
	return 0;
}

/* Step 1: mark (or reuse) the push in flight and build its message. */
static int prepare(dbsync_client *c, char **body, size_t *len, int *retry)
{
	dbsync__push_req req;
	struct build b;
	char *push_id = NULL;
	int64_t latest = 0;
	int rc;

	memset(&req, 0, sizeof(req));
	memset(&b, 0, sizeof(b));
	rc = dbsync__sql_begin_write(c->db, &c->err);
	if (rc)
		return rc;
	rc = dbsync__meta_get_bytes(c->db, DBSYNC__META_PUSH_ID, &push_id, NULL,
				    &c->err);
	if (rc == 0) {
		unsigned char raw[DBSYNC__PUSH_ID_HEX / 2];
		char hex[DBSYNC__PUSH_ID_HEX + 1];

		rc = dbsync__crypto_random(raw, sizeof(raw));
		if (rc)
			rc = dbsync__error_set(&c->err, DBSYNC_ERROR,
					       "no randomness for a push id");
		if (!rc) {
			dbsync__hex_encode(raw, sizeof(raw), hex);
			push_id = strdup(hex);
			rc = push_id ? 0
				     : dbsync__error_set(&c->err, DBSYNC_NOMEM,
							 "out of memory");
		}
		if (!rc)
			rc = mark_batch(c);
		if (!rc)
			rc = dbsync__meta_set_bytes(c->db, DBSYNC__META_PUSH_ID,
						    push_id, strlen(push_id), 0,
						    &c->err);
	} else if (rc == 1) {
		*retry = 1;
		rc = 0;
	}
	if (!rc && strlen(push_id) != DBSYNC__PUSH_ID_HEX)
		rc = dbsync__error_set(&c->err, DBSYNC_ERROR,
				       "the recorded push in flight is corrupt");
	if (!rc)
		memcpy(req.push_id, push_id, DBSYNC__PUSH_ID_HEX + 1);
	if (!rc) {
		rc = dbsync__meta_get_int(c->db, DBSYNC__META_LATEST, &latest,
					  &c->err);
		req.has_base = rc == 1;
		req.base_version = latest;
		rc = rc < 0 ? rc : 0;
	}
	if (!rc)
		rc = dbsync__ctables_load(c->db, &b.tables, &c->err);
	if (!rc) {
		b.c = c;
		b.req = &req;
		b.msg_table = calloc(b.tables.n + 1, sizeof(size_t));
		rc = b.msg_table ? dbsync__oplog_fold_in_flight(c->db, add_op,
								 &b, &c->err)
				 : dbsync__error_set(&c->err, DBSYNC_NOMEM,
						     "out of memory");
	}
	if (!rc && dbsync__msg_encode_push(&req, body, len))
		rc = dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	if (!rc)
		rc = dbsync__sql_commit(c->db, &c->err);
	if (rc)
		dbsync__sql_rollback(c->db);
	free(b.msg_table);
	dbsync__ctables_free(&b.tables);
	dbsync__push_req_clear(&req);
	free(push_id);
	return rc;
}

/* Step 3: the server's answer is final; record it in one transaction. */
static int settle(dbsync_client *c, int accepted, int64_t version)
{
	dbsync__error err = {0};
	int64_t latest = 0;
	int rc = dbsync__sql_begin_write(c->db, &err);

	if (!rc && accepted) {
		/* Pushed entries leave the log: it holds pending work only. */
		rc = dbsync__sql_exec(c->db,
				      "DELETE FROM dbsync_log WHERE version = -1",
				      &err, "cannot record the push");
		if (!rc && version > 0)
			rc = dbsync__meta_get_int(c->db, DBSYNC__META_LATEST,
						  &latest, &err);
		/* A retried push may answer a version already merged. */
		if (rc >= 0 && version > latest)
			rc = dbsync__meta_set_int(c->db, DBSYNC__META_LATEST,
						  version, &err);
		else if (rc > 0)
			rc = 0;
	} else if (!rc) {
		rc = dbsync__sql_exec(c->db,
				      "UPDATE dbsync_log SET version = NULL"
				      " WHERE version = -1",
				      &err, "cannot record the push");
	}
	if (!rc)
		rc = dbsync__meta_delete(c->db, DBSYNC__META_PUSH_ID, &err);
	if (!rc)
		rc = dbsync__sql_commit(c->db, &err);
	if (rc) {
		dbsync__sql_rollback(c->db);
		dbsync__error_copy(&c->err, &err);
	}
	return rc;
}

/* Answers after which the server has certainly not applied the push. */
static int refused(int rc)
{
	switch (rc) {
	case DBSYNC_PULL_REQUIRED:
	case DBSYNC_PUSH_REJECTED:
	case DBSYNC_SCHEMA:
	case DBSYNC_CONFLICT:
	case DBSYNC_UNIQUE_CONFLICT:
	case DBSYNC_PROTOCOL:
	case DBSYNC_AUTH:
	case DBSYNC_TOO_LARGE:
		return 1;
	default:
		return 0;
	}
}

/* One push: one batch, one version. */
static int push_once(dbsync_client *c, int *retried)
{
	dbsync__http_response resp;
	char *body = NULL;
	size_t len = 0;
	int64_t version = 0;
	int rc;

	rc = prepare(c, &body, &len, retried);
	if (rc)
		return rc;
	rc = dbsync__client_post(c, "/v1/push", body, len, 1, &resp);
	free(body);
	if (!rc)
		rc = dbsync__msg_decode_version_resp(resp.body, resp.body_len,
						     &version, &c->err);
	dbsync__http_response_clear(&resp);
	if (!rc)
		return settle(c, 1, version);
	if (refused(rc)) {
		dbsync__error saved = c->err;
		int settled = settle(c, 0, 0);
		dbsync__error_copy(&c->err, &saved);
		return settled ? settled : rc;
	}
	/* No answer: the push stays in flight for a retry. */
	return rc;
}

int dbsync__client_do_push(dbsync_client *c, int *retried)
{
	int64_t upto = 0;
	int rc, more = 1;

	*retried = 0;
	/* Batches until what was pending at the start is pushed; writes made
	 * meanwhile ride along in those batches, but never keep the call
	 * going: an application writing without pause would. */
	rc = newest_entry(c, &upto);
	while (!rc && more) {
		rc = push_once(c, retried);
		if (!rc)
			rc = more_pending(c, upto, &more);
	}
	return rc;
}
