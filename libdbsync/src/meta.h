/*
 * meta.h - the client's small persistent state in dbsync_meta: node id and
 * secret, latest merged version, the push in flight, a pull in progress.
 * Each setter runs inside the caller's transaction.
 */
#ifndef DBSYNC_META_H
#define DBSYNC_META_H

#include <sqlite3.h>
#include <stdint.h>

#include "error.h"

#define DBSYNC__META_NODE_ID "node_id"
#define DBSYNC__META_SECRET "secret"		 /* blob */
#define DBSYNC__META_LATEST "latest_version"
#define DBSYNC__META_PUSH_ID "push_in_flight"	 /* text */
#define DBSYNC__META_PULL_TARGET "pull_target"	 /* pull in progress */
#define DBSYNC__META_PULL_CURSOR "pull_cursor"	 /* text */

/* 1 and the value when set, 0 when not, or a negative code. */
int dbsync__meta_get_int(sqlite3 *db, const char *key, int64_t *value,
			 dbsync__error *err);
/* 1 and a malloc'd copy (NUL-terminated; *len its length, may be NULL). */
int dbsync__meta_get_bytes(sqlite3 *db, const char *key, char **value,
			   size_t *len, dbsync__error *err);

int dbsync__meta_set_int(sqlite3 *db, const char *key, int64_t value,
			 dbsync__error *err);
/* Text when `blob` is 0, a blob otherwise. */
int dbsync__meta_set_bytes(sqlite3 *db, const char *key, const void *value,
			   size_t len, int blob, dbsync__error *err);
int dbsync__meta_delete(sqlite3 *db, const char *key, dbsync__error *err);

#endif
