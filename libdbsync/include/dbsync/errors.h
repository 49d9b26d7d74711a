/*
 * dbsync/errors.h - stable error codes and their text.
 *
 * Every fallible function returns 0 (DBSYNC_OK) or one of these negative
 * codes. The numbers are part of the ABI: once released a code never changes
 * value and is never reused; new codes are added at the end. A code that is
 * retired stays here as a reserved placeholder.
 */
#ifndef DBSYNC_ERRORS_H
#define DBSYNC_ERRORS_H

#include "common.h"

DBSYNC_BEGIN_DECL

typedef enum {
	DBSYNC_OK = 0,
	DBSYNC_ERROR = -1,	   /* unexpected internal failure */
	DBSYNC_NOMEM = -2,	   /* out of memory */
	DBSYNC_INVALID = -3,	   /* bad argument or state */
	DBSYNC_DB = -4,		   /* SQLite failed; see the SQLite code */
	DBSYNC_SCHEMA = -5,	   /* table or internal schema unusable */
	DBSYNC_NETWORK = -6,	   /* connection failed or timed out */
	DBSYNC_HTTP = -7,	   /* unexpected HTTP status */
	DBSYNC_PROTOCOL = -8,	   /* malformed or unexpected message */
	DBSYNC_AUTH = -9,	   /* signature missing, wrong or replayed */
	DBSYNC_NOT_REGISTERED = -10, /* the node has no credentials yet */
	DBSYNC_REGISTRATION_REFUSED = -11,
	DBSYNC_PULL_REQUIRED = -12, /* the server moved on: pull first */
	DBSYNC_PUSH_REJECTED = -13, /* a server hook vetoed the push */
	DBSYNC_UNIQUE_CONFLICT = -14,
	DBSYNC_CONFLICT = -15,
	DBSYNC_REPAIR_REQUIRED = -16,
	DBSYNC_BUSY = -17,	   /* the database is locked by another writer */
	DBSYNC_TLS = -18,
	DBSYNC_CALLBACK = -19,	   /* an application callback failed */
	DBSYNC_TOO_LARGE = -20,	   /* a size limit was exceeded */
	DBSYNC_NOT_FOUND = -21	   /* no such table, node, version... */
} dbsync_error_code;

/* The most negative code this library knows; codes below it are unknown. */
#define DBSYNC_ERROR_LAST DBSYNC_NOT_FOUND

/*
 * One-line English description of an error code. Accepts any int: unknown
 * values (including positive ones) give "unknown error". The returned string
 * is static and must not be freed.
 */
DBSYNC_EXTERN(const char *) dbsync_strerror(int code);

/*
 * The code's constant name without the prefix ("PULL_REQUIRED", "OK"), the
 * same name the HTTP error bodies and the bindings use. Unknown codes give
 * "UNKNOWN". Static string.
 */
DBSYNC_EXTERN(const char *) dbsync_error_name(int code);

/*
 * The message of the last error raised by any dbsync call on this thread,
 * or "" if none. Useful where no handle exists yet (dbsync_client_open
 * failing). Borrowed: valid until the next dbsync call on this thread.
 */
DBSYNC_EXTERN(const char *) dbsync_last_error_message(void);

/* The code of that last error on this thread (0 if none). */
DBSYNC_EXTERN(int) dbsync_last_error_code(void);

/* The SQLite extended result code behind that last error on this thread, or
 * 0 when it did not come from SQLite (SQLITE_NOTADB, 26, for a file that is
 * not a database). */
DBSYNC_EXTERN(int) dbsync_last_error_sqlite_code(void);

DBSYNC_END_DECL

#endif
