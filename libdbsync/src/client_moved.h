/*
 * client_moved.h - rows a pull moved aside on a unique column until a later
 * page rewrites them (a swap cut by a page boundary, client_merge.c).
 *
 * Such a row holds a made-up value between pages, and maybe between pulls.
 * Its later operation normally rewrites or deletes it; when the merge keeps
 * it instead (a parent kept for local children, a local change that wins),
 * the value it held comes back, so that no made-up value is ever pushed.
 */
#ifndef DBSYNC_CLIENT_MOVED_H
#define DBSYNC_CLIENT_MOVED_H

#include <sqlite3.h>

#include "error.h"
#include "unique.h"
#include "value.h"

/* One moved column of a row. */
typedef struct dbsync__moved {
	char *column;
	dbsync__value original, temporary; /* owned */
} dbsync__moved;

/* 1 if any row is moved aside (dbsync_moved is not empty), 0, or <0. */
int dbsync__moved_any(sqlite3 *db, dbsync__error *err);

/* Move row `key` of table `tid` aside on `which` (unique.c), remembering
 * the value it held (the first one, if it moves again) and the one it
 * holds now. */
int dbsync__moved_move_aside(sqlite3 *db, const dbsync__table_shape *t,
			     int64_t tid, const dbsync__unique_index *which,
			     const dbsync__value *key, dbsync__error *err);

/* A page operation on the row decides its values: take (read and forget)
 * its moved columns. *out (owned, *n entries) is NULL when none. */
int dbsync__moved_take(sqlite3 *db, int64_t tid, const dbsync__value *key,
		       dbsync__moved **out, size_t *n, dbsync__error *err);
void dbsync__moved_free(dbsync__moved *m, size_t n);

/* After the operation: if the row still holds the temporary value, it gets
 * its original one back. 0; 1 when another row holds that value now (the
 * caller reports a unique collision); or a negative code. */
int dbsync__moved_restore(sqlite3 *db, const dbsync__table_shape *t,
			  const dbsync__value *key, const dbsync__moved *m,
			  dbsync__error *err);

#endif
