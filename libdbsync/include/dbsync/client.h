/*
 * dbsync/client.h - the client: a local SQLite database that synchronizes.
 *
 * Conventions (see docs/c-api.md):
 * - Fallible calls return 0 or a negative DBSYNC_* code; results come back
 *   through the FIRST parameter (`**out`) and belong to the caller.
 * - On failure a call changes nothing, leaves `*out` NULL, and records a
 *   one-line message on the handle (dbsync_client_error_message) and on the
 *   calling thread (dbsync_last_error_message).
 * - A handle is used by one thread at a time. Other connections and
 *   processes may read and write the same database file freely: capture is
 *   done by triggers inside the database.
 */
#ifndef DBSYNC_CLIENT_H
#define DBSYNC_CLIENT_H

#include "common.h"
#include "oplist.h"

DBSYNC_BEGIN_DECL

/* An open client database. Opaque. */
typedef struct dbsync_client dbsync_client;

/* Which way a tracked table synchronizes. */
typedef enum {
	DBSYNC_DIRECTION_BOTH = 0, /* local changes are pushed, remote pulled */
	DBSYNC_DIRECTION_PUSH = 1, /* local changes are pushed; never pulled */
	DBSYNC_DIRECTION_PULL = 2  /* remote changes pulled; local not logged */
} dbsync_direction;

/*
 * CONSTRUCTOR. Open (creating if missing) the SQLite database at `path` and
 * make it a dbsync client: the internal `dbsync_*` tables are created on
 * first use and upgraded when older (idempotent). Fails with DBSYNC_DB if the
 * file is not a SQLite database, DBSYNC_SCHEMA if its dbsync schema is newer
 * than this library, DBSYNC_INVALID for a NULL or empty path. The handle is
 * freed with dbsync_client_free.
 */
DBSYNC_EXTERN(int) dbsync_client_open(dbsync_client **out, const char *path);

/* DESTRUCTOR. Close the database and free the handle. Accepts NULL. */
DBSYNC_EXTERN(void) dbsync_client_free(dbsync_client *client);

/*
 * METHOD. Track `table` in `direction`: install the capture triggers so every
 * committed insert, update and delete on it, by any connection, is logged in
 * the same transaction. Tracking an already tracked table changes its
 * direction (and refreshes its triggers). `table` matches as SQLite matches
 * names (ASCII case-insensitively). Errors: DBSYNC_NOT_FOUND (no such table),
 * DBSYNC_SCHEMA (a view, a virtual table, an internal `sqlite_`/`dbsync_`
 * table, or no declared single-column primary key), DBSYNC_INVALID (NULL or
 * empty argument, unknown direction), DBSYNC_BUSY (another connection holds
 * the write lock past the busy timeout).
 */
DBSYNC_EXTERN(int) dbsync_client_track(dbsync_client *client,
				       const char *table,
				       dbsync_direction direction);

/*
 * METHOD. Stop tracking `table`: remove its triggers and its pending
 * operations. The table and its rows are untouched. DBSYNC_NOT_FOUND if the
 * table is not tracked.
 */
DBSYNC_EXTERN(int) dbsync_client_untrack(dbsync_client *client,
					 const char *table);

/*
 * METHOD. Whether `table` is tracked: 1 and its direction in `*direction`
 * (may be NULL), 0 if not tracked, or a negative error code.
 */
DBSYNC_EXTERN(int) dbsync_client_is_tracked(dbsync_client *client,
					    const char *table,
					    dbsync_direction *direction);

/*
 * METHOD. The pending (not yet acknowledged by the server: a push in flight
 * included) operations, compressed to at most one per row, in push order. `*out` belongs to the caller: free it with
 * dbsync_oplist_free. Reads only; the log itself is not rewritten.
 */
DBSYNC_EXTERN(int) dbsync_client_pending(dbsync_oplist **out,
					 dbsync_client *client);

/*
 * METHOD. Rewrite the pending log in its compressed form, so the log holds
 * at most one entry per touched row (a push in flight is left as sent).
 * Applications that write a lot between syncs may call it to bound the
 * log's size; a push drops what it sent once acknowledged.
 * Concurrent writers are safe: the rewrite is one write transaction.
 */
DBSYNC_EXTERN(int) dbsync_client_compact(dbsync_client *client);

/* ---- talking to a server --------------------------------------------- */

/*
 * METHOD. The server this client synchronizes with: an http:// or https://
 * base URL ("https://sync.example.com"). Kept for the handle's lifetime (not
 * stored in the database). DBSYNC_INVALID for anything else.
 */
DBSYNC_EXTERN(int) dbsync_client_set_server(dbsync_client *client,
					    const char *url);

/* METHOD. A PEM file of CA certificates to verify the server with (NULL:
 * the system's). Verification is always on. */
DBSYNC_EXTERN(int) dbsync_client_set_ca_file(dbsync_client *client,
					     const char *path);

/* METHOD. Timeouts in milliseconds for connecting and for each whole
 * request (0 keeps the default: 10 s and 60 s). */
DBSYNC_EXTERN(int) dbsync_client_set_timeouts(dbsync_client *client,
					      long connect_ms, long request_ms);

/* METHOD. At most `max_operations` per pull page (0: the server's default;
 * the server may cap it). Smaller pages mean shorter write transactions. */
DBSYNC_EXTERN(int) dbsync_client_set_page_size(dbsync_client *client,
					       int64_t max_operations);

/* METHOD. An extra header sent with every request (e.g. for a proxy).
 * Names of the protocol's own headers are refused. */
DBSYNC_EXTERN(int) dbsync_client_add_header(dbsync_client *client,
					    const char *name,
					    const char *value);

/*
 * Progress of a long transfer: bytes moved so far and the total if known
 * (0 if not), operations applied so far and the total if known. Return 0 to
 * go on, non-zero to abort (the call then fails with DBSYNC_CALLBACK).
 */
typedef int (*dbsync_progress_fn)(uint64_t bytes_done, uint64_t bytes_total,
				  uint64_t ops_done, uint64_t ops_total,
				  void *payload);
DBSYNC_EXTERN(int) dbsync_client_on_progress(dbsync_client *client,
					     dbsync_progress_fn fn,
					     void *payload);

/* METHOD. Register with the server (with a token if its policy wants one;
 * NULL otherwise) and store the node id and secret in the database.
 * Registering again replaces them. Errors: DBSYNC_REGISTRATION_REFUSED,
 * DBSYNC_NETWORK, DBSYNC_TLS, DBSYNC_PROTOCOL, DBSYNC_INVALID (no server). */
DBSYNC_EXTERN(int) dbsync_client_register(dbsync_client *client,
					  const char *token);

/* METHOD. 1 and the node id in *node_id (may be NULL) when registered, 0
 * when not, or a negative code. */
DBSYNC_EXTERN(int) dbsync_client_node_id(dbsync_client *client,
					 int64_t *node_id);

/* METHOD. 1 and the latest server version this database has fully merged
 * in *version, 0 if none yet, or a negative code. */
DBSYNC_EXTERN(int) dbsync_client_latest_version(dbsync_client *client,
						int64_t *version);

/*
 * METHOD. Push the pending operations. Exactly once: the push carries an id
 * that is kept until the server's answer is recorded, so a retry after a
 * lost answer is recognized. No lock is held during the network exchange.
 * Returns once everything pending when it was called is acknowledged
 * (operations written meanwhile may ride along, or wait for the next
 * push), however fast other connections keep writing.
 * DBSYNC_PULL_REQUIRED when the server has versions this node has not
 * merged; DBSYNC_NOT_REGISTERED; transport errors.
 */
DBSYNC_EXTERN(int) dbsync_client_push(dbsync_client *client);

/*
 * METHOD. Fetch and merge every version after the node's, page by page,
 * each page in one transaction; an interrupted pull resumes where it
 * stopped. Remote changes to rows with pending local operations are left
 * to the local side for now (local wins).
 */
DBSYNC_EXTERN(int) dbsync_client_pull(dbsync_client *client);

/*
 * METHOD. Replace the tracked tables' contents with the server's copy (for
 * recovery, or when the server trimmed history this node still needed).
 * Rows with pending local operations keep their local state and stay
 * pending. Staged in temporary tables and swapped in one transaction: an
 * interrupted repair changes nothing.
 */
DBSYNC_EXTERN(int) dbsync_client_repair(dbsync_client *client);

/* METHOD. Whether sync repairs by itself when a pull answers
 * DBSYNC_REPAIR_REQUIRED (default 1). */
DBSYNC_EXTERN(int) dbsync_client_set_auto_repair(dbsync_client *client,
						 int on);

/*
 * METHOD. Hand over the conflicts the pulls of this handle met since the
 * last call (a pull or sync may meet several; a failed page's are not
 * kept): one entry per conflict with the table, the key, the remote
 * command, dbsync_oplist_conflict_kind and dbsync_oplist_resolution.
 * `*out` belongs to the caller (dbsync_oplist_free); the handle starts a
 * new, empty report.
 */
DBSYNC_EXTERN(int) dbsync_client_conflicts(dbsync_oplist **out,
					   dbsync_client *client);

/* METHOD. push; on DBSYNC_PULL_REQUIRED pull and push again (at most
 * `max_rounds` rounds; 0 means 5); a pull answered REPAIR_REQUIRED
 * repairs first unless auto-repair is off. */
DBSYNC_EXTERN(int) dbsync_client_sync(dbsync_client *client, int max_rounds);

/*
 * The message of the error of the most recent fallible call on this handle,
 * "" if that call succeeded. Borrowed: valid until the next call on the
 * handle. Never contains SQL or secrets. Accepts NULL (returns "").
 */
DBSYNC_EXTERN(const char *) dbsync_client_error_message(
	const dbsync_client *client);

/* The code of that error (0 if the most recent call succeeded; NULL gives
 * 0). */
DBSYNC_EXTERN(int) dbsync_client_error_code(const dbsync_client *client);

/*
 * The SQLite extended result code behind that error, or 0 when it did not
 * come from SQLite.
 */
DBSYNC_EXTERN(int) dbsync_client_sqlite_code(const dbsync_client *client);

/* The database path given to dbsync_client_open. Borrowed, lives with the
 * handle. */
DBSYNC_EXTERN(const char *) dbsync_client_path(const dbsync_client *client);

DBSYNC_END_DECL

#endif
