/*
 * dbsync/oplist.h - a list of operations (table, primary key, command).
 *
 * Returned by dbsync_client_pending. Immutable once returned; every string
 * and blob it hands out is borrowed and lives until dbsync_oplist_free.
 * Indexes run from 0 to count-1; an index out of range gives 0/NULL.
 */
#ifndef DBSYNC_OPLIST_H
#define DBSYNC_OPLIST_H

#include "common.h"

DBSYNC_BEGIN_DECL

typedef struct dbsync_oplist dbsync_oplist;

/* Storage class of a value, numbered as SQLite numbers them. */
typedef enum {
	DBSYNC_TYPE_INTEGER = 1,
	DBSYNC_TYPE_FLOAT = 2,
	DBSYNC_TYPE_TEXT = 3,
	DBSYNC_TYPE_BLOB = 4,
	DBSYNC_TYPE_NULL = 5
} dbsync_type;

/* What a pull met when a remote change found a pending local one on the
 * same row (docs/conflicts.md). 0 in lists that are not conflict reports. */
typedef enum {
	DBSYNC_CONFLICT_UPDATE_UPDATE = 1, /* remote update, local update */
	DBSYNC_CONFLICT_UPDATE_DELETE = 2, /* remote update, local delete */
	DBSYNC_CONFLICT_DELETE_UPDATE = 3, /* remote delete, local update */
	DBSYNC_CONFLICT_DELETE_DELETE = 4,
	DBSYNC_CONFLICT_DEPENDENCY = 5,	   /* remote delete of a parent of
					      local rows */
	DBSYNC_CONFLICT_REVERSED_DEPENDENCY = 6, /* remote row, local delete
						    of its parent */
	DBSYNC_CONFLICT_INSERT_INSERT = 7,
	DBSYNC_CONFLICT_UNIQUE = 8
} dbsync_kind_of_conflict;

/* How it was resolved. */
typedef enum {
	DBSYNC_RESOLUTION_KEEP_LOCAL = 1,  /* the local row stays, is pushed */
	DBSYNC_RESOLUTION_TAKE_REMOTE = 2, /* the remote state won here */
	DBSYNC_RESOLUTION_KEEP_BOTH = 3,   /* the local row moved to a new key */
	DBSYNC_RESOLUTION_MERGED = 4	   /* the conflict callback's merged row
					      replaced it, and is pushed */
} dbsync_resolution;

/* DESTRUCTOR. Accepts NULL. */
DBSYNC_EXTERN(void) dbsync_oplist_free(dbsync_oplist *list);

/* Number of operations (0 for NULL). */
DBSYNC_EXTERN(size_t) dbsync_oplist_count(const dbsync_oplist *list);

/* Name of the table of operation `i`. Borrowed. */
DBSYNC_EXTERN(const char *) dbsync_oplist_table(const dbsync_oplist *list,
						size_t i);

/* Command of operation `i`: 'i' insert, 'u' update, 'd' delete (0 if out of
 * range). */
DBSYNC_EXTERN(char) dbsync_oplist_command(const dbsync_oplist *list,
					  size_t i);

/* Type of the primary key value of operation `i`. */
DBSYNC_EXTERN(dbsync_type) dbsync_oplist_pk_type(const dbsync_oplist *list,
						 size_t i);

/* The primary key as an integer (valid when its type is INTEGER). */
DBSYNC_EXTERN(int64_t) dbsync_oplist_pk_int(const dbsync_oplist *list,
					    size_t i);

/* The primary key as a float (valid when its type is FLOAT). */
DBSYNC_EXTERN(double) dbsync_oplist_pk_float(const dbsync_oplist *list,
					     size_t i);

/*
 * The primary key's bytes: UTF-8 text (NUL-terminated) or blob contents;
 * `*size` (may be NULL) receives the byte count. NULL for INTEGER/FLOAT keys.
 * Borrowed.
 */
DBSYNC_EXTERN(const void *) dbsync_oplist_pk_bytes(const dbsync_oplist *list,
						   size_t i, size_t *size);

/* In a conflict report (dbsync_client_conflicts): the kind of conflict and
 * its resolution for entry `i` (whose command is the remote operation);
 * 0 otherwise. */
DBSYNC_EXTERN(int) dbsync_oplist_conflict_kind(const dbsync_oplist *list,
					       size_t i);
DBSYNC_EXTERN(int) dbsync_oplist_resolution(const dbsync_oplist *list,
					    size_t i);

/* In a conflict report, for an entry of kind DBSYNC_CONFLICT_UNIQUE: the
 * columns of the unique constraint or index the pulled rows need (0 and
 * NULL otherwise). Such an entry names the LOCAL row that holds the
 * colliding values (its table and key) and has resolution 0: the pull
 * stopped before changing anything. Borrowed. */
DBSYNC_EXTERN(size_t) dbsync_oplist_conflict_column_count(
	const dbsync_oplist *list, size_t i);
DBSYNC_EXTERN(const char *) dbsync_oplist_conflict_column(
	const dbsync_oplist *list, size_t i, size_t column);

/* The sequence number of operation `i` in the operations log (its push
 * position). */
DBSYNC_EXTERN(int64_t) dbsync_oplist_seq(const dbsync_oplist *list, size_t i);

DBSYNC_END_DECL

#endif
