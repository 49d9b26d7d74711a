/*
 * value.h - a SQLite value that can cross module boundaries (store,
 * messages, server) without tying them to sqlite3_value or to JSON.
 */
#ifndef DBSYNC_VALUE_H
#define DBSYNC_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "dbsync/oplist.h" /* dbsync_type */

typedef struct dbsync__value {
	dbsync_type type; /* 0 (unset) only in zeroed structs */
	int64_t i;
	double f;
	/* TEXT (UTF-8, NUL-terminated, len excludes the NUL) or BLOB bytes.
	 * Ownership is the container's: see who produced the value. */
	const char *p;
	size_t len;
} dbsync__value;

/* Make `to` own a copy of `from` (TEXT/BLOB bytes malloc'd, with a NUL
 * after them). 0 or DBSYNC_NOMEM (then `to` is zeroed). */
int dbsync__value_copy(dbsync__value *to, const dbsync__value *from);

/* Free what dbsync__value_copy allocated; zero the value. */
void dbsync__value_clear(dbsync__value *v);

/* About how many bytes the value takes in a JSON message (text as is,
 * blobs grown by base64), for bounding pages. */
size_t dbsync__value_json_size(const dbsync__value *v);

/* 1 if both values are the same SQLite value (type and bytes). */
int dbsync__value_equal(const dbsync__value *a, const dbsync__value *b);

/* A total order on values (type first, then value; bytes as memcmp), for
 * sorting and searching keys. */
int dbsync__value_compare(const dbsync__value *a, const dbsync__value *b);

#endif
