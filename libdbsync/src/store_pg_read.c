/*
 * store_pg_read.c - the PostgreSQL store's reading side: current rows,
 * a pull's compressed changes and versions, a repair's table scan. It runs
 * in the REPEATABLE READ snapshot the pull or repair began (store_pg.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oplog.h"
#include "rowsql.h"
#include "store_pg.h"

/* Row `i` of `res`, whose columns are a table's, as `n` values. 0 or
 * DBSYNC_NOMEM. */
static int row_values(dbsync__store *s, const PGresult *res, int i, size_t n,
		      dbsync__value *values)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (dbsync__pg_value(s, res, i, (int)k, PQftype(res, (int)k),
				     &values[k]))
			return DBSYNC_NOMEM;
	return 0;
}

int dbsync__pg_row(dbsync__store *s, const dbsync__store_table *t,
		  const dbsync__value *pk, const dbsync__value **values,
		  dbsync__error *err)
{
	struct dbsync__pg_table *c;
	const char *params[1];
	char *key;
	int rc = dbsync__pg_table_stmts(s, t, &c, err), nomem = 0;

	if (rc)
		return rc;
	dbsync__pg_release_row(s);
	if (t->ncolumns > s->row_cap) {
		dbsync__value *p = realloc(s->row_values,
					   t->ncolumns * sizeof(*p));
		if (!p)
			return dbsync__error_set(err, DBSYNC_NOMEM,
						 "out of memory");
		s->row_values = p;
		s->row_cap = t->ncolumns;
	}
	key = dbsync__pg_param(pk, &nomem);
	if (nomem)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	params[0] = key;
	rc = dbsync__pg_exec(s, c->select, 1, params, &s->row_res, err,
			     "cannot read a row");
	free(key);
	if (rc)
		return rc;
	if (PQntuples(s->row_res) == 0) {
		dbsync__pg_release_row(s);
		return 0;
	}
	if (row_values(s, s->row_res, 0, t->ncolumns, s->row_values))
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	*values = s->row_values;
	return 1;
}

/* ---- pull: changes and versions ---------------------------------------- */

/* last_seq of the newest version at or below `version` (0 if none). */
int dbsync__pg_seq_of_version(dbsync__store *s, int64_t version, int64_t *seq,
			  dbsync__error *err)
{
	char v[24];
	const char *params[1] = {v};

	*seq = 0;
	dbsync__pg_int_text(v, sizeof(v), version);
	return dbsync__pg_query_int(s,
			 "SELECT last_seq FROM dbsync_versions WHERE id <= $1::int8"
			 " ORDER BY id DESC LIMIT 1",
			 1, params, seq, NULL, err, "cannot read the versions");
}

/* The in-memory SQLite table a page of log entries is copied into, so the
 * one compression of oplog.c folds it (SQLite is the library's working
 * substrate, SPEC §2). */
static int fold_db(dbsync__store *s, dbsync__error *err)
{
	int rc;

	if (!s->fold) {
		rc = sqlite3_open_v2(":memory:", &s->fold,
				     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
					     SQLITE_OPEN_NOMUTEX,
				     NULL);
		if (rc != SQLITE_OK) {
			rc = dbsync__error_sqlite(err, s->fold, rc,
						  "cannot fold the log");
			sqlite3_close_v2(s->fold);
			s->fold = NULL;
			return rc;
		}
		rc = dbsync__sql_exec(s->fold,
				      "CREATE TABLE dbsync_log(seq INTEGER"
				      " PRIMARY KEY, tid INTEGER, pk, op TEXT,"
				      " version INTEGER)",
				      err, "cannot fold the log");
		if (rc)
			return rc;
	}
	return dbsync__sql_exec(s->fold, "DELETE FROM dbsync_log", err,
				"cannot fold the log");
}

/* Copy the next `max` entries of (lo, hi] into the fold table, each key
 * turned back into the value of its column's type. */
static int load_entries(dbsync__store *s, int64_t lo, int64_t hi, size_t max,
			dbsync__error *err)
{
	char a[24], b[24], m[24];
	const char *params[4] = {a, b, m, s->ns_param};
	sqlite3_stmt *ins = NULL;
	PGresult *res;
	int rc, k, n;

	dbsync__pg_int_text(a, sizeof(a), lo);
	dbsync__pg_int_text(b, sizeof(b), hi);
	dbsync__pg_int_text(m, sizeof(m), (int64_t)(max ? max : 1));
	rc = dbsync__pg_exec(
		s,
		"SELECT l.seq, l.tid, l.pk, l.op, a.atttypid::int8"
		" FROM dbsync_log l"
		" LEFT JOIN dbsync_tracked t ON t.tid = l.tid"
		" LEFT JOIN pg_class c ON c.relname = t.name"
		" AND c.relnamespace = $4::int8::oid"
		" LEFT JOIN pg_attribute a ON a.attrelid = c.oid"
		" AND a.attname = t.pk AND NOT a.attisdropped"
		" WHERE l.seq > $1::int8 AND l.seq <= $2::int8"
		" ORDER BY l.seq LIMIT $3::int8",
		4, params, &res, err, "cannot read the operations log");
	if (rc)
		return rc;
	rc = fold_db(s, err);
	if (!rc)
		rc = dbsync__sql_prepare(s->fold,
					 "INSERT INTO dbsync_log(seq, tid, pk, op)"
					 " VALUES (?1, ?2, ?3, ?4)",
					 &ins, err, "cannot fold the log");
	n = PQntuples(res);
	for (k = 0; !rc && k < n; k++) {
		dbsync__value key;
		unsigned int type = PQgetisnull(res, k, 4)
					    ? 0
					    : (unsigned int)strtoul(
						      PQgetvalue(res, k, 4),
						      NULL, 10);

		if (dbsync__pg_value(s, res, k, 2, type, &key)) {
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
			break;
		}
		sqlite3_bind_int64(ins, 1, strtoll(PQgetvalue(res, k, 0), NULL,
						   10));
		sqlite3_bind_int64(ins, 2, strtoll(PQgetvalue(res, k, 1), NULL,
						   10));
		dbsync__sql_bind_value(ins, 3, &key);
		sqlite3_bind_text(ins, 4, PQgetvalue(res, k, 3), -1,
				  SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			rc = dbsync__error_sqlite(err, s->fold,
						  sqlite3_errcode(s->fold),
						  "cannot fold the log");
		sqlite3_reset(ins);
		dbsync__pg_blobs_release(s);
	}
	sqlite3_finalize(ins);
	PQclear(res);
	return rc;
}

int dbsync__pg_changes(dbsync__store *s, int64_t after, int64_t target,
		      int64_t cursor, size_t max,
		      int (*fn)(void *payload, const dbsync__store_change *c),
		      void *payload, int *more, int64_t *next,
		      dbsync__error *err)
{
	int64_t lo = 0, hi = 0;
	int rc = 0;

	*more = 0;
	*next = cursor;
	if (after > 0)
		rc = dbsync__pg_seq_of_version(s, after, &lo, err);
	if (!rc)
		rc = dbsync__pg_seq_of_version(s, target, &hi, err);
	if (rc)
		return rc;
	if (cursor > lo)
		lo = cursor;
	if (lo >= hi)
		return 0;
	rc = load_entries(s, lo, hi, max, err);
	if (rc)
		return rc;
	/* Only this page's entries are in the fold table, so the fold ends
	 * where they end: *more and *next come out as for the SQLite store. */
	return dbsync__store_fold_changes(s->fold, lo, hi, max, fn, payload, more,
					  next, err);
}

int dbsync__pg_versions(dbsync__store *s, int64_t after, int64_t target,
		       int (*fn)(void *payload, const dbsync__store_version *v),
		       void *payload, dbsync__error *err)
{
	char a[24], b[24];
	const char *params[2] = {a, b};
	PGresult *res;
	int rc, k, n, stop = 0;

	dbsync__pg_int_text(a, sizeof(a), after);
	dbsync__pg_int_text(b, sizeof(b), target);
	rc = dbsync__pg_exec(s,
			     "SELECT id, node_id, push_id, created"
			     " FROM dbsync_versions"
			     " WHERE id > $1::int8 AND id <= $2::int8 ORDER BY id",
			     2, params, &res, err, "cannot read the versions");
	if (rc)
		return rc;
	n = PQntuples(res);
	for (k = 0; k < n && !stop; k++) {
		dbsync__store_version v;

		memset(&v, 0, sizeof(v));
		v.id = strtoll(PQgetvalue(res, k, 0), NULL, 10);
		v.has_node = !PQgetisnull(res, k, 1);
		v.node_id = strtoll(PQgetvalue(res, k, 1), NULL, 10);
		if (!PQgetisnull(res, k, 2))
			snprintf(v.push_id, sizeof(v.push_id), "%s",
				 PQgetvalue(res, k, 2));
		v.created = strtoll(PQgetvalue(res, k, 3), NULL, 10);
		stop = fn(payload, &v);
	}
	PQclear(res);
	return stop;
}

/* ---- repair ------------------------------------------------------------ */

int dbsync__pg_scan(dbsync__store *s, const dbsync__store_table *t,
		    const dbsync__value *after, size_t max,
		    int (*fn)(void *payload, const dbsync__value *key,
			      const dbsync__value *row),
		    void *payload, int *more, dbsync__error *err)
{
	char m[24];
	const char *params[2];
	dbsync__value *row, key;
	PGresult *res;
	dbsync__buf b;
	char *last = NULL;
	int rc = 0, i, n, np = 0, nomem = 0;

	*more = 0;
	dbsync__pg_release_row(s);
	/* Key order from the last key sent, never by offset: rows deleted
	 * between two pages must not move the rows after them. The key goes
	 * back as its text form, an untyped parameter that takes the key
	 * column's type (and its ordering) from the comparison. One row past
	 * the page tells whether more remain. */
	if (after) {
		last = dbsync__pg_param(after, &nomem);
		if (nomem)
			return dbsync__error_set(err, DBSYNC_NOMEM,
						 "out of memory");
		params[np++] = last;
	}
	dbsync__pg_int_text(m, sizeof(m), (int64_t)max + 1);
	params[np++] = m;
	dbsync__buf_init(&b);
	dbsync__pg_select_all(&b, s, t);
	if (after) {
		dbsync__buf_append(&b, " WHERE ");
		dbsync__buf_ident(&b, t->pk);
		dbsync__buf_append(&b, " > $1");
	}
	dbsync__buf_append(&b, " ORDER BY ");
	dbsync__buf_ident(&b, t->pk);
	dbsync__buf_printf(&b, " LIMIT $%d::int8", np);
	if (b.failed) {
		dbsync__buf_free(&b);
		free(last);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	res = PQexecParams(s->conn, b.data, np, NULL, params, NULL, NULL, 0);
	dbsync__buf_free(&b);
	free(last);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		/* A data exception can only come from the cursor's key (one
		 * this server did not issue: not of the key's type). */
		if (after && strncmp(dbsync__pg_sqlstate(res), "22", 2) == 0)
			rc = dbsync__error_set(err, DBSYNC_PROTOCOL,
					       "cursor: not one this server "
					       "issued");
		else if (!res && PQstatus(s->conn) == CONNECTION_OK)
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
		else
			rc = dbsync__pg_error(err, s->conn, res,
					      "cannot read a table");
		PQclear(res);
		return rc;
	}
	row = calloc(t->ncolumns ? t->ncolumns : 1, sizeof(*row));
	if (!row) {
		PQclear(res);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	n = PQntuples(res);
	for (i = 0; i < n && !rc; i++) {
		if ((size_t)i == max) {
			*more = 1;
			break;
		}
		rc = row_values(s, res, i, t->ncolumns, row);
		if (rc)
			break;
		memset(&key, 0, sizeof(key));
		key.type = DBSYNC_TYPE_TEXT;
		key.p = PQgetvalue(res, i, (int)t->pk_index);
		key.len = (size_t)PQgetlength(res, i, (int)t->pk_index);
		rc = fn(payload, &key, row);
		dbsync__pg_blobs_release(s);
	}
	dbsync__pg_blobs_release(s);
	free(row);
	PQclear(res);
	if (rc == 1)
		return 1; /* the caller's page is full */
	if (rc == DBSYNC_NOMEM)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	return rc;
}
