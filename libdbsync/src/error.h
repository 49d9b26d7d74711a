/* error.h - error state shared by every handle, and the thread's last error. */
#ifndef DBSYNC_ERROR_INTERNAL_H
#define DBSYNC_ERROR_INTERNAL_H

#include "dbsync/errors.h"

typedef struct sqlite3 sqlite3;

/* Messages are one line; longer ones are cut, never allocated. */
#define DBSYNC__ERRMSG_MAX 320

typedef struct dbsync__error {
	int code;	 /* DBSYNC_* code, 0 when the last call succeeded */
	int sqlite_code; /* extended SQLite result code, 0 if not from SQLite */
	char message[DBSYNC__ERRMSG_MAX];
} dbsync__error;

/* Forget the previous error: called at the start of every public call. */
void dbsync__error_clear(dbsync__error *err);

/* Record an error (printf-style message) on `err` and on the thread; returns
 * `code` so callers can `return dbsync__error_set(...)`. `err` may be NULL. */
int dbsync__error_set(dbsync__error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Record a failure of SQLite call result `rc` on `db`: BUSY/LOCKED become
 * DBSYNC_BUSY, NOMEM becomes DBSYNC_NOMEM, NOTADB gets a message of its own,
 * anything else DBSYNC_DB with "<context>: <sqlite message>". Returns the code.
 */
int dbsync__error_sqlite(dbsync__error *err, sqlite3 *db, int rc,
			 const char *context);

/* Prefix the message with "\"<what>\": " (keeping code and SQLite code),
 * on `err` and on the thread. */
void dbsync__error_prefix(dbsync__error *err, const char *what);

/* Copy `from` into `to` (both may be the same) and onto the thread. */
void dbsync__error_copy(dbsync__error *to, const dbsync__error *from);

#endif
