/*
 * rowsql.c - the statements that write and read rows of one user table,
 * generated from its column list (identifiers quoted, values bound). Used
 * by the SQLite store to apply pushes and by the client to apply pulls.
 */
#include "rowsql.h"

#include <string.h>

#include "sqlutil.h"

void dbsync__sql_bind_value(sqlite3_stmt *st, int idx, const dbsync__value *v)
{
	switch (v->type) {
	case DBSYNC_TYPE_INTEGER:
		sqlite3_bind_int64(st, idx, v->i);
		break;
	case DBSYNC_TYPE_FLOAT:
		sqlite3_bind_double(st, idx, v->f);
		break;
	case DBSYNC_TYPE_TEXT:
		sqlite3_bind_text(st, idx, v->p, (int)v->len, SQLITE_STATIC);
		break;
	case DBSYNC_TYPE_BLOB:
		sqlite3_bind_blob(st, idx, v->p, (int)v->len, SQLITE_STATIC);
		break;
	default:
		sqlite3_bind_null(st, idx);
	}
}

void dbsync__sql_column_value(sqlite3_stmt *st, int col, dbsync__value *v)
{
	memset(v, 0, sizeof(*v));
	v->type = (dbsync_type)sqlite3_column_type(st, col);
	switch (v->type) {
	case DBSYNC_TYPE_INTEGER:
		v->i = sqlite3_column_int64(st, col);
		break;
	case DBSYNC_TYPE_FLOAT:
		v->f = sqlite3_column_double(st, col);
		break;
	case DBSYNC_TYPE_TEXT:
		v->p = (const char *)sqlite3_column_text(st, col);
		v->len = (size_t)sqlite3_column_bytes(st, col);
		break;
	case DBSYNC_TYPE_BLOB:
		v->p = sqlite3_column_blob(st, col);
		v->len = (size_t)sqlite3_column_bytes(st, col);
		break;
	default:
		break;
	}
}

int dbsync__rowsql_prepare(sqlite3 *db, const dbsync__rowsql_table *t,
			   dbsync__rowsql *ts, dbsync__error *err)
{
	dbsync__buf b;
	size_t k;
	int rc;

	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "INSERT INTO ");
	dbsync__buf_ident(&b, t->name);
	dbsync__buf_append(&b, "(");
	for (k = 0; k < t->ncolumns; k++) {
		if (k)
			dbsync__buf_append(&b, ", ");
		dbsync__buf_ident(&b, t->columns[k]);
	}
	dbsync__buf_append(&b, ") VALUES (");
	for (k = 0; k < t->ncolumns; k++)
		dbsync__buf_printf(&b, k ? ", ?%zu" : "?%zu", k + 1);
	dbsync__buf_append(&b, ") ON CONFLICT(");
	dbsync__buf_ident(&b, t->pk);
	if (t->ncolumns == 1) {
		dbsync__buf_append(&b, ") DO NOTHING");
	} else {
		int first = 1;
		dbsync__buf_append(&b, ") DO UPDATE SET ");
		for (k = 0; k < t->ncolumns; k++) {
			if (k == t->pk_index)
				continue;
			if (!first)
				dbsync__buf_append(&b, ", ");
			first = 0;
			dbsync__buf_ident(&b, t->columns[k]);
			dbsync__buf_append(&b, " = excluded.");
			dbsync__buf_ident(&b, t->columns[k]);
		}
	}
	rc = b.failed ? dbsync__error_set(err, DBSYNC_NOMEM, "out of memory")
		      : dbsync__sql_prepare(db, b.data, &ts->upsert, err,
					    "cannot prepare statements for a table");
	dbsync__buf_free(&b);
	if (rc)
		return rc;

	dbsync__buf_append(&b, "DELETE FROM ");
	dbsync__buf_ident(&b, t->name);
	dbsync__buf_append(&b, " WHERE ");
	dbsync__buf_ident(&b, t->pk);
	dbsync__buf_append(&b, " = ?1");
	rc = b.failed ? dbsync__error_set(err, DBSYNC_NOMEM, "out of memory")
		      : dbsync__sql_prepare(db, b.data, &ts->del, err,
					    "cannot prepare statements for a table");
	dbsync__buf_free(&b);
	if (rc)
		return rc;

	dbsync__buf_append(&b, "SELECT ");
	for (k = 0; k < t->ncolumns; k++) {
		if (k)
			dbsync__buf_append(&b, ", ");
		dbsync__buf_ident(&b, t->columns[k]);
	}
	dbsync__buf_append(&b, " FROM ");
	dbsync__buf_ident(&b, t->name);
	dbsync__buf_append(&b, " WHERE ");
	dbsync__buf_ident(&b, t->pk);
	dbsync__buf_append(&b, " = ?1");
	rc = b.failed ? dbsync__error_set(err, DBSYNC_NOMEM, "out of memory")
		      : dbsync__sql_prepare(db, b.data, &ts->select, err,
					    "cannot prepare statements for a table");
	dbsync__buf_free(&b);
	return rc;
}

void dbsync__rowsql_finalize(dbsync__rowsql *ts)
{
	sqlite3_finalize(ts->upsert);
	sqlite3_finalize(ts->del);
	sqlite3_finalize(ts->select);
	memset(ts, 0, sizeof(*ts));
}
