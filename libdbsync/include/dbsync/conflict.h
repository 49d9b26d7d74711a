/*
 * dbsync/conflict.h - deciding conflicts: per-table policies and the
 * conflict callback (docs/conflicts.md).
 *
 * A pull merges remote changes with the pending local ones. Where both
 * touched the same row the table's policy decides:
 *   DBSYNC_POLICY_LOCAL_WINS   the default: the local row stays and is
 *                              pushed (a remote update of a row deleted here
 *                              still brings it back, as SPEC §5 says);
 *   DBSYNC_POLICY_SERVER_WINS  the remote row replaces the local one and the
 *                              local operation is dropped;
 *   DBSYNC_POLICY_CALLBACK     the conflict callback answers.
 * Policies decide the direct conflicts (update/update, update/delete,
 * delete/update, and insert/insert on a TEXT or BLOB key). The structural
 * ones (delete/delete, dependency, reversed dependency, insert/insert on an
 * INTEGER key) always resolve so that no row is orphaned and no insert
 * lost; the callback still sees them, and its answer is then ignored
 * unless it aborts.
 */
#ifndef DBSYNC_CONFLICT_H
#define DBSYNC_CONFLICT_H

#include "common.h"
#include "oplist.h"

DBSYNC_BEGIN_DECL

struct dbsync_client;

typedef enum {
	DBSYNC_POLICY_LOCAL_WINS = 0,
	DBSYNC_POLICY_SERVER_WINS = 1,
	DBSYNC_POLICY_CALLBACK = 2
} dbsync_policy;

/*
 * METHOD. The policy of `table` (matched as SQLite matches names), or with
 * `table` NULL the policy of every table that has none of its own. Kept
 * for the handle's lifetime (not stored in the database); the table need
 * not be tracked yet. A table under DBSYNC_POLICY_CALLBACK while no
 * callback is set is merged as under LOCAL_WINS. DBSYNC_INVALID for an
 * empty name or an unknown policy.
 */
DBSYNC_EXTERN(int) dbsync_client_set_policy(struct dbsync_client *client,
					    const char *table,
					    dbsync_policy policy);

/* A conflict as the callback sees it. Borrowed: valid during the call. */
typedef struct dbsync_conflict dbsync_conflict;

/* Which version of the row. */
typedef enum {
	DBSYNC_SIDE_LOCAL = 0,
	DBSYNC_SIDE_REMOTE = 1
} dbsync_side;

/*
 * The conflict callback: called inside the pull's write transaction (do
 * not use the client handle from it) for every conflict met in a table
 * whose policy is DBSYNC_POLICY_CALLBACK. It answers:
 *   0                             what LOCAL_WINS would do
 *                                 (dbsync_conflict_resolution);
 *   DBSYNC_RESOLUTION_KEEP_LOCAL  the local row stays and is pushed;
 *   DBSYNC_RESOLUTION_TAKE_REMOTE the remote row (or its deletion) wins;
 *   DBSYNC_RESOLUTION_MERGED      the row becomes the merged row (set with
 *                                 dbsync_conflict_set_*), and is pushed;
 *   a negative value              abort: the pull fails with
 *                                 DBSYNC_CALLBACK and its page changes
 *                                 nothing (the same conflict is met again
 *                                 by the next pull).
 * Any other value aborts too. A page that fails later is rolled back, so
 * the callback can meet the same conflict again.
 */
typedef int (*dbsync_conflict_fn)(dbsync_conflict *conflict, void *payload);

/* METHOD. Set the conflict callback (NULL: none). */
DBSYNC_EXTERN(int) dbsync_client_on_conflict(struct dbsync_client *client,
					     dbsync_conflict_fn fn,
					     void *payload);

/* The kind of the conflict (a DBSYNC_CONFLICT_* value). */
DBSYNC_EXTERN(int) dbsync_conflict_kind(const dbsync_conflict *conflict);

/* The table's name. Borrowed. */
DBSYNC_EXTERN(const char *) dbsync_conflict_table(
	const dbsync_conflict *conflict);

/* The remote operation: 'i', 'u' or 'd' ('p' for a parent row the pull
 * carried to undo a local delete). */
DBSYNC_EXTERN(char) dbsync_conflict_remote_command(
	const dbsync_conflict *conflict);

/* What happens when the callback answers 0 (the LOCAL_WINS resolution). */
DBSYNC_EXTERN(int) dbsync_conflict_resolution(const dbsync_conflict *conflict);

/* 1 if the callback's answer decides this conflict, 0 for the structural
 * kinds whose resolution is fixed. */
DBSYNC_EXTERN(int) dbsync_conflict_is_choice(const dbsync_conflict *conflict);

/* The table's columns: column 0 is the primary key, the others follow in
 * table order. Borrowed. */
DBSYNC_EXTERN(size_t) dbsync_conflict_column_count(
	const dbsync_conflict *conflict);
DBSYNC_EXTERN(const char *) dbsync_conflict_column(
	const dbsync_conflict *conflict, size_t column);

/* 1 if that side has the row, 0 if that side deleted it. Column 0 (the
 * key) reads the same on both sides, also on a side without the row. */
DBSYNC_EXTERN(int) dbsync_conflict_has_row(const dbsync_conflict *conflict,
					   dbsync_side side);

/* A value of one side's row; 0 / 0.0 / NULL when out of range, absent or
 * of another type (as dbsync_oplist's key accessors). Bytes are borrowed;
 * TEXT is NUL-terminated. */
DBSYNC_EXTERN(dbsync_type) dbsync_conflict_type(const dbsync_conflict *conflict,
						dbsync_side side, size_t column);
DBSYNC_EXTERN(int64_t) dbsync_conflict_int(const dbsync_conflict *conflict,
					   dbsync_side side, size_t column);
DBSYNC_EXTERN(double) dbsync_conflict_float(const dbsync_conflict *conflict,
					    dbsync_side side, size_t column);
DBSYNC_EXTERN(const void *) dbsync_conflict_bytes(
	const dbsync_conflict *conflict, dbsync_side side, size_t column,
	size_t *size);

/*
 * The merged row, used when the callback answers DBSYNC_RESOLUTION_MERGED.
 * It starts as a copy of the local row (of the remote row when the local
 * side deleted it); these replace one column's value. The key (column 0)
 * cannot change. DBSYNC_INVALID for a column out of range, the key, or a
 * NULL text; DBSYNC_NOMEM.
 */
DBSYNC_EXTERN(int) dbsync_conflict_set_int(dbsync_conflict *conflict,
					   size_t column, int64_t value);
DBSYNC_EXTERN(int) dbsync_conflict_set_float(dbsync_conflict *conflict,
					     size_t column, double value);
DBSYNC_EXTERN(int) dbsync_conflict_set_text(dbsync_conflict *conflict,
					    size_t column, const char *value);
DBSYNC_EXTERN(int) dbsync_conflict_set_blob(dbsync_conflict *conflict,
					    size_t column, const void *value,
					    size_t size);
DBSYNC_EXTERN(int) dbsync_conflict_set_null(dbsync_conflict *conflict,
					    size_t column);

DBSYNC_END_DECL

#endif
