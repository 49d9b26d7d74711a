/*
 * client_repair.c - dbsync_client_repair: replace the tracked tables with
 * the server's copy.
 *
 * Pages are staged in TEMP tables (connection-local, no lock on the
 * database), then swapped in with one write transaction, so an interrupted
 * repair leaves the old data untouched. Rows with pending local operations
 * keep their local state (local wins, as in a pull) and their operations
 * stay pending; every other row becomes the server's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "client.h"
#include "client_tables.h"
#include "message.h"
#include "meta.h"
#include "rowsql.h"
#include "sqlutil.h"

/* A staging table per pulled table, named by tid. */
struct stage {
	dbsync__ctables tables;
	dbsync__rowsql *sql; /* per table: statements on its stage */
};

static void stage_name(char *buf, size_t n, int64_t tid)
{
	snprintf(buf, n, "dbsync_stage_%" PRId64, tid);
}

static int pulled(const dbsync__ctable *t)
{
	return t->direction != DBSYNC_DIRECTION_PUSH;
}

static void stage_free(dbsync_client *c, struct stage *st)
{
	size_t k;

	for (k = 0; st->sql && k < st->tables.n; k++) {
		char name[48], sql[80];
		dbsync__rowsql_finalize(&st->sql[k]);
		stage_name(name, sizeof(name), st->tables.t[k].tid);
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS temp.%s", name);
		sqlite3_exec(c->db, sql, NULL, NULL, NULL);
	}
	free(st->sql);
	dbsync__ctables_free(&st->tables);
}

/* Untyped columns keep every value exactly as the server sent it. */
static int stage_create(dbsync_client *c, struct stage *st)
{
	size_t k, j;
	int rc = dbsync__ctables_load(c->db, &st->tables, &c->err);

	if (rc)
		return rc;
	st->sql = calloc(st->tables.n + 1, sizeof(*st->sql));
	if (!st->sql)
		return dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	for (k = 0; k < st->tables.n && !rc; k++) {
		dbsync__ctable *t = &st->tables.t[k];
		dbsync__rowsql_table rt;
		char name[48];
		dbsync__buf b;

		if (!pulled(t))
			continue;
		stage_name(name, sizeof(name), t->tid);
		dbsync__buf_init(&b);
		dbsync__buf_printf(&b, "DROP TABLE IF EXISTS temp.%s;"
				       "CREATE TEMP TABLE %s(", name, name);
		for (j = 0; j < t->ncolumns; j++) {
			if (j)
				dbsync__buf_append(&b, ", ");
			dbsync__buf_ident(&b, t->columns[j]);
		}
		dbsync__buf_append(&b, ", PRIMARY KEY(");
		dbsync__buf_ident(&b, t->columns[0]);
		dbsync__buf_append(&b, "))");
		rc = b.failed ? dbsync__error_set(&c->err, DBSYNC_NOMEM,
						  "out of memory")
			      : dbsync__sql_exec(c->db, b.data, &c->err,
						 "cannot stage the repair");
		dbsync__buf_free(&b);
		rt.name = name;
		rt.pk = t->columns[0];
		rt.columns = t->columns;
		rt.ncolumns = t->ncolumns;
		rt.pk_index = 0;
		if (!rc)
			rc = dbsync__rowsql_prepare(c->db, &rt, &st->sql[k],
						    &c->err);
	}
	return rc;
}

/* Put one page's rows into the stages, matching columns by name. */
static int stage_page(dbsync_client *c, struct stage *st,
		      const dbsync__pull_resp *p)
{
	dbsync__value *row = NULL;
	size_t i, k, width = 1;
	int rc = 0;

	for (k = 0; k < st->tables.n; k++)
		if (st->tables.t[k].ncolumns > width)
			width = st->tables.t[k].ncolumns;
	row = calloc(width, sizeof(*row));
	if (!row)
		return dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	for (i = 0; i < p->nops && !rc; i++) {
		const dbsync__msg_op *op = &p->ops[i];
		const dbsync__msg_table *mt = &p->tables[op->table];
		dbsync__ctable *t = dbsync__ctables_by_name(&st->tables,
							    mt->name);
		sqlite3_stmt *ins;

		if (!t || !pulled(t) || op->op != 'i')
			continue;
		rc = dbsync__ctable_local_row(t, mt, op->row, row, &c->err);
		if (rc)
			break;
		ins = st->sql[t - st->tables.t].upsert;
		for (k = 0; k < t->ncolumns; k++)
			dbsync__sql_bind_value(ins, (int)k + 1, &row[k]);
		if (sqlite3_step(ins) != SQLITE_DONE)
			rc = dbsync__error_sqlite(&c->err, c->db,
						  sqlite3_reset(ins),
						  "cannot stage the repair");
		sqlite3_reset(ins);
	}
	free(row);
	return rc;
}

/* The swap: every pulled table becomes its stage, but for rows with
 * pending local operations. */
static int swap_in(dbsync_client *c, struct stage *st, int64_t version)
{
	int64_t mark = 0;
	size_t k, j;
	int rc = dbsync__sql_begin_write(c->db, &c->err);

	if (!rc)
		rc = dbsync__sql_exec(c->db, "PRAGMA defer_foreign_keys = ON",
				      &c->err, "cannot apply the repair");
	/* Rows moved aside by an unfinished swap take the server's copy. */
	if (!rc)
		rc = dbsync__sql_exec(c->db, "DELETE FROM dbsync_moved", &c->err,
				      "cannot apply the repair");
	if (!rc)
		rc = dbsync__capture_suppress_begin(c->db, &mark, &c->err);
	for (k = 0; k < st->tables.n && !rc; k++) {
		dbsync__ctable *t = &st->tables.t[k];
		char name[48];
		dbsync__buf b;

		if (!pulled(t))
			continue;
		stage_name(name, sizeof(name), t->tid);
		dbsync__buf_init(&b);
		dbsync__buf_append(&b, "DELETE FROM main.");
		dbsync__buf_ident(&b, t->name);
		dbsync__buf_append(&b, " WHERE ");
		dbsync__buf_ident(&b, t->columns[0]);
		/* Pending means logged before the mark: the DELETE below
		 * logs too, and those entries are the library's own. */
		dbsync__buf_printf(&b, " NOT IN (SELECT pk FROM dbsync_log"
				       " WHERE tid = %" PRId64 " AND seq <= %"
				       PRId64 " AND (version IS NULL OR"
				       " version < 0));"
				       "INSERT INTO main.",
				   t->tid, mark);
		dbsync__buf_ident(&b, t->name);
		dbsync__buf_append(&b, "(");
		for (j = 0; j < t->ncolumns; j++) {
			if (j)
				dbsync__buf_append(&b, ", ");
			dbsync__buf_ident(&b, t->columns[j]);
		}
		dbsync__buf_append(&b, ") SELECT ");
		for (j = 0; j < t->ncolumns; j++) {
			if (j)
				dbsync__buf_append(&b, ", ");
			dbsync__buf_ident(&b, t->columns[j]);
		}
		dbsync__buf_printf(&b, " FROM temp.%s WHERE ", name);
		dbsync__buf_ident(&b, t->columns[0]);
		dbsync__buf_printf(&b, " NOT IN (SELECT pk FROM dbsync_log"
				       " WHERE tid = %" PRId64 " AND seq <= %"
				       PRId64 " AND (version IS NULL OR"
				       " version < 0))",
				   t->tid, mark);
		rc = b.failed ? dbsync__error_set(&c->err, DBSYNC_NOMEM,
						  "out of memory")
			      : dbsync__sql_exec(c->db, b.data, &c->err,
						 "cannot apply the repair");
		dbsync__buf_free(&b);
	}
	if (!rc)
		rc = dbsync__capture_suppress_end(c->db, mark, &c->err);
	if (!rc)
		rc = dbsync__meta_set_int(c->db, DBSYNC__META_LATEST, version,
					  &c->err);
	if (!rc)
		rc = dbsync__meta_delete(c->db, DBSYNC__META_PULL_TARGET,
					 &c->err);
	if (!rc)
		rc = dbsync__meta_delete(c->db, DBSYNC__META_PULL_CURSOR,
					 &c->err);
	if (!rc)
		rc = dbsync__sql_commit(c->db, &c->err);
	if (rc)
		dbsync__sql_rollback(c->db);
	return rc;
}

int dbsync__client_do_repair(dbsync_client *c)
{
	struct stage st;
	dbsync__pull_req q;
	int64_t version = 0;
	uint64_t done = 0;
	int rc, more = 1;

	memset(&st, 0, sizeof(st));
	memset(&q, 0, sizeof(q));
	q.max_operations = c->page_ops;
	rc = stage_create(c, &st);
	while (!rc && more) {
		dbsync__http_response resp;
		dbsync__pull_resp p;
		char *body = NULL;
		size_t len = 0;

		memset(&p, 0, sizeof(p));
		if (dbsync__msg_encode_pull(&q, &body, &len)) {
			rc = dbsync__error_set(&c->err, DBSYNC_NOMEM,
					       "out of memory");
			break;
		}
		rc = dbsync__client_post(c, "/v1/repair", body, len, 1, &resp);
		free(body);
		if (!rc)
			rc = dbsync__msg_decode_pull_resp(resp.body,
							  resp.body_len, &p,
							  &c->err);
		dbsync__http_response_clear(&resp);
		if (!rc)
			rc = stage_page(c, &st, &p);
		if (!rc) {
			version = p.target_version;
			q.has_target = 1;
			q.target_version = version;
			free(q.cursor);
			q.cursor = p.cursor ? strdup(p.cursor) : NULL;
			more = p.cursor != NULL;
			if (more && !q.cursor)
				rc = dbsync__error_set(&c->err, DBSYNC_NOMEM,
						       "out of memory");
			done += p.nops;
		}
		dbsync__pull_resp_clear(&p);
		if (!rc && c->progress &&
		    c->progress(0, 0, done, 0, c->progress_payload))
			rc = dbsync__error_set(&c->err, DBSYNC_CALLBACK,
					       "repair stopped by the progress "
					       "callback");
	}
	if (!rc)
		rc = swap_in(c, &st, version);
	dbsync__pull_req_clear(&q);
	stage_free(c, &st);
	return rc;
}
