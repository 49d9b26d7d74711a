/*
 * client_moved.c - remembering rows moved aside across pages, and giving
 * them their value back when the merge keeps them (client_moved.h).
 *
 * The record lives in dbsync_moved, in the page's transaction: a page that
 * rolls back takes its records back with it, and a pull interrupted between
 * the page that moved a row and the one that rewrites it resumes with the
 * record in place.
 */
#include <stdlib.h>
#include <string.h>

#include "client_moved.h"
#include "rowsql.h"
#include "sqlutil.h"

int dbsync__moved_any(sqlite3 *db, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc = dbsync__sql_prepare(db,
				     "SELECT EXISTS (SELECT 1 FROM dbsync_moved)",
				     &st, err, "cannot read moved rows");

	if (rc)
		return rc;
	rc = sqlite3_step(st);
	rc = rc == SQLITE_ROW ? sqlite3_column_int(st, 0)
			      : dbsync__error_sqlite(err, db, rc,
						     "cannot read moved rows");
	sqlite3_finalize(st);
	return rc;
}

/* Run `sql` (built in b, freed here) with tid, key and column bound. */
static int run(sqlite3 *db, dbsync__buf *b, int64_t tid,
	       const dbsync__value *key, const char *column,
	       dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc = b->failed ? dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory")
			   : dbsync__sql_prepare(db, b->data, &st, err,
						 "cannot record a moved row");

	dbsync__buf_free(b);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tid);
	dbsync__sql_bind_value(st, 2, key);
	sqlite3_bind_text(st, 3, column, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot record a moved row");
	return 0;
}

/* "SELECT <column> FROM main.<table> WHERE <key> = ?2" */
static void select_value(dbsync__buf *b, const dbsync__table_shape *t,
			 const char *column)
{
	dbsync__buf_append(b, "(SELECT ");
	dbsync__buf_ident(b, column);
	dbsync__buf_append(b, " FROM main.");
	dbsync__buf_ident(b, t->name);
	dbsync__buf_append(b, " WHERE ");
	dbsync__buf_ident(b, t->columns[t->pk]);
	dbsync__buf_append(b, " = ?2)");
}

int dbsync__moved_move_aside(sqlite3 *db, const dbsync__table_shape *t,
			     int64_t tid, const dbsync__unique_index *which,
			     const dbsync__value *key, dbsync__error *err)
{
	const char *column = t->columns[which->cols[0]];
	dbsync__buf b;
	int rc;

	/* The first value it held is the one to give back. */
	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "INSERT OR IGNORE INTO dbsync_moved(tid, pk,"
			       " col, original) VALUES (?1, ?2, ?3, ");
	select_value(&b, t, column);
	dbsync__buf_append(&b, ")");
	rc = run(db, &b, tid, key, column, err);
	if (!rc)
		rc = dbsync__unique_move_aside(db, t, which, key, err);
	if (rc)
		return rc;
	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "UPDATE dbsync_moved SET temporary = ");
	select_value(&b, t, column);
	dbsync__buf_append(&b, " WHERE tid = ?1 AND pk = ?2 AND col = ?3");
	return run(db, &b, tid, key, column, err);
}

void dbsync__moved_free(dbsync__moved *m, size_t n)
{
	size_t k;

	for (k = 0; m && k < n; k++) {
		free(m[k].column);
		dbsync__value_clear(&m[k].original);
		dbsync__value_clear(&m[k].temporary);
	}
	free(m);
}

int dbsync__moved_take(sqlite3 *db, int64_t tid, const dbsync__value *key,
		       dbsync__moved **out, size_t *n, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, step;

	*out = NULL;
	*n = 0;
	rc = dbsync__sql_prepare(db,
				 "DELETE FROM dbsync_moved WHERE tid = ?1 AND"
				 " pk = ?2 RETURNING col, original, temporary",
				 &st, err, "cannot read moved rows");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tid);
	dbsync__sql_bind_value(st, 2, key);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		dbsync__moved *p = realloc(*out, (*n + 1) * sizeof(*p));
		dbsync__value v;

		if (!p) {
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
			break;
		}
		*out = p;
		p = &p[(*n)++];
		memset(p, 0, sizeof(*p));
		p->column = strdup((const char *)sqlite3_column_text(st, 0));
		dbsync__sql_column_value(st, 1, &v);
		if (!p->column || dbsync__value_copy(&p->original, &v))
			rc = DBSYNC_NOMEM;
		dbsync__sql_column_value(st, 2, &v);
		if (!rc && dbsync__value_copy(&p->temporary, &v))
			rc = DBSYNC_NOMEM;
		if (rc)
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
	}
	if (!rc && step != SQLITE_DONE)
		rc = dbsync__error_sqlite(err, db, step,
					  "cannot read moved rows");
	sqlite3_finalize(st);
	if (rc) {
		dbsync__moved_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int dbsync__moved_restore(sqlite3 *db, const dbsync__table_shape *t,
			  const dbsync__value *key, const dbsync__moved *m,
			  dbsync__error *err)
{
	sqlite3_stmt *st;
	dbsync__buf b;
	int rc;

	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "UPDATE main.");
	dbsync__buf_ident(&b, t->name);
	dbsync__buf_append(&b, " SET ");
	dbsync__buf_ident(&b, m->column);
	dbsync__buf_append(&b, " = ?1 WHERE ");
	dbsync__buf_ident(&b, t->columns[t->pk]);
	dbsync__buf_append(&b, " = ?2 AND ");
	dbsync__buf_ident(&b, m->column);
	dbsync__buf_append(&b, " IS ?3");
	rc = b.failed ? dbsync__error_set(err, DBSYNC_NOMEM, "out of memory")
		      : dbsync__sql_prepare(db, b.data, &st, err,
					    "cannot restore a moved row");
	dbsync__buf_free(&b);
	if (rc)
		return rc;
	dbsync__sql_bind_value(st, 1, &m->original);
	dbsync__sql_bind_value(st, 2, key);
	dbsync__sql_bind_value(st, 3, &m->temporary);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE)
		return 1;
	return dbsync__error_sqlite(err, db, rc, "cannot restore a moved row");
}
