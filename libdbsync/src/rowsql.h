/* rowsql.h - statements that upsert, delete and select rows of a table. */
#ifndef DBSYNC_ROWSQL_H
#define DBSYNC_ROWSQL_H

#include <sqlite3.h>
#include <stddef.h>

#include "error.h"
#include "value.h"

/* What the statements are built from (borrowed). */
typedef struct dbsync__rowsql_table {
	const char *name;
	const char *pk;
	char *const *columns; /* every column, the key included, in order */
	size_t ncolumns;
	size_t pk_index;
} dbsync__rowsql_table;

typedef struct dbsync__rowsql {
	/* INSERT ... ON CONFLICT(pk) DO UPDATE: binds ?1..?n in column order */
	sqlite3_stmt *upsert;
	sqlite3_stmt *del;    /* DELETE ... WHERE pk = ?1 */
	sqlite3_stmt *select; /* SELECT every column ... WHERE pk = ?1 */
} dbsync__rowsql;

int dbsync__rowsql_prepare(sqlite3 *db, const dbsync__rowsql_table *t,
			   dbsync__rowsql *out, dbsync__error *err);
/* Finalize all three (accepts a zeroed or half-built one). */
void dbsync__rowsql_finalize(dbsync__rowsql *r);

/* Bind a value; TEXT/BLOB bytes are bound SQLITE_STATIC (keep them alive
 * until the statement is reset). */
void dbsync__sql_bind_value(sqlite3_stmt *st, int idx, const dbsync__value *v);
/* A column of the current row; bytes valid until the statement moves. */
void dbsync__sql_column_value(sqlite3_stmt *st, int col, dbsync__value *v);

#endif
