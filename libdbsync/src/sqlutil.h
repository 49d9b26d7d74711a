/* sqlutil.h - small helpers every module that speaks SQL shares. */
#ifndef DBSYNC_SQLUTIL_H
#define DBSYNC_SQLUTIL_H

#include <sqlite3.h>
#include <stddef.h>

#include "error.h"

/* A growable NUL-terminated string. `failed` latches on allocation failure
 * so callers check once at the end. */
typedef struct dbsync__buf {
	char *data;
	size_t len, cap;
	int failed;
} dbsync__buf;

void dbsync__buf_init(dbsync__buf *b);
void dbsync__buf_free(dbsync__buf *b);
void dbsync__buf_append(dbsync__buf *b, const char *s);
void dbsync__buf_printf(dbsync__buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append `name` as a double-quoted SQL identifier (embedded quotes
 * doubled). The only way identifiers enter generated SQL. */
void dbsync__buf_ident(dbsync__buf *b, const char *name);

/* Run SQL without results; errors are recorded with `context`. */
int dbsync__sql_exec(sqlite3 *db, const char *sql, dbsync__error *err,
		     const char *context);

/* Write transactions start IMMEDIATE so a reader never has to upgrade its
 * lock (the cause of SQLITE_BUSY deadlocks between writers). */
int dbsync__sql_begin_write(sqlite3 *db, dbsync__error *err);
int dbsync__sql_begin_read(sqlite3 *db, dbsync__error *err);
int dbsync__sql_commit(sqlite3 *db, dbsync__error *err);
/* Roll back if a transaction is open; never fails (keeps the first error). */
void dbsync__sql_rollback(sqlite3 *db);

/* Prepare `sql`; on failure record the error and return its code. */
int dbsync__sql_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out,
			dbsync__error *err, const char *context);

#endif
