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

/* 1 if both values are the same SQLite value (type and bytes). */
int dbsync__value_equal(const dbsync__value *a, const dbsync__value *b);

#endif
