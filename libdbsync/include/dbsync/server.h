/*
 * dbsync/server.h - the server: the central copy, its versions, its nodes.
 *
 * The server is transport-agnostic: dbsync_server_handle takes a request
 * (method, path, headers, body) and produces a response, so any web
 * framework can host it; `dbsyncd` is one such host. Unlike a client, a
 * server handle may be used from several threads at once (each request is
 * answered in its own store transaction).
 */
#ifndef DBSYNC_SERVER_H
#define DBSYNC_SERVER_H

#include "common.h"

DBSYNC_BEGIN_DECL

typedef struct dbsync_server dbsync_server;

/* An HTTP response produced by dbsync_server_handle. */
typedef struct dbsync_response dbsync_response;

/*
 * CONSTRUCTOR. Open the store named by `store`: "sqlite:PATH" (created if
 * missing). Creates the server's internal dbsync_* tables on first use.
 * Errors: DBSYNC_INVALID (unknown store kind, empty path), DBSYNC_DB,
 * DBSYNC_SCHEMA (internal schema newer than the library).
 */
DBSYNC_EXTERN(int) dbsync_server_open(dbsync_server **out, const char *store);

/* DESTRUCTOR. Accepts NULL. No request may be in flight. */
DBSYNC_EXTERN(void) dbsync_server_free(dbsync_server *server);

/* METHOD. Run `sql` (DDL, several statements allowed) against the store,
 * in one transaction: for `dbsyncd --schema`. */
DBSYNC_EXTERN(int) dbsync_server_exec(dbsync_server *server, const char *sql);

/*
 * METHOD. Track `table`: it is synchronized, and writes made to it directly
 * in the server database are versioned. Same rules as the client (declared
 * single-column primary key). Errors: DBSYNC_NOT_FOUND, DBSYNC_SCHEMA,
 * DBSYNC_INVALID.
 */
DBSYNC_EXTERN(int) dbsync_server_track(dbsync_server *server,
				       const char *table);

/* METHOD. Track every user table that has a single-column primary key;
 * `*count` (may be NULL) receives how many are tracked afterwards. */
DBSYNC_EXTERN(int) dbsync_server_track_all(dbsync_server *server,
					   int *count);

/*
 * Registration policy callback: `token` is what the node sent (NULL if
 * none). Return 0 to accept, a negative code to refuse (the node gets 403).
 */
typedef int (*dbsync_register_fn)(const char *token, void *payload);

/*
 * METHOD. Who may register: "open" (anyone), "token:SECRET" (nodes that
 * send SECRET), "closed" (nobody). Default "closed". A callback set with
 * dbsync_server_on_register is asked after the policy accepts.
 */
DBSYNC_EXTERN(int) dbsync_server_set_registration(dbsync_server *server,
						  const char *policy);
DBSYNC_EXTERN(int) dbsync_server_on_register(dbsync_server *server,
					     dbsync_register_fn fn,
					     void *payload);

/*
 * Push hooks. `before` runs inside the push's transaction, after the base
 * check and before any row is written: return 0 to let it through, or a
 * negative code to veto it with a one-line reason written into `reason`
 * (`reason_size` bytes; the node gets 422 PUSH_REJECTED with it). `after`
 * runs once the push is committed, with its version (0 if it changed
 * nothing); its return value is ignored. Either may be NULL. Hooks may run
 * on several threads at once.
 */
typedef int (*dbsync_push_hook)(int64_t node_id, int64_t version,
				size_t operations, char *reason,
				size_t reason_size, void *payload);
DBSYNC_EXTERN(int) dbsync_server_on_push(dbsync_server *server,
					 dbsync_push_hook before,
					 dbsync_push_hook after,
					 void *payload);

/*
 * METHOD. Forget the operations of versions up to `through_version` (the
 * newest are never needed by a node that is up to date). A node whose
 * latest version is older then gets 410 REPAIR_REQUIRED on pull and must
 * repair. Trimming by version, not by the slowest node, keeps dead nodes
 * from holding history forever: pick the retention window.
 */
DBSYNC_EXTERN(int) dbsync_server_trim(dbsync_server *server,
				      int64_t through_version);

/*
 * METHOD. Answer one HTTP request: `method` and `path` as received (query
 * string ignored), `nheaders` header name/value pairs (names
 * case-insensitive), and the exact body bytes. Every request gets a response,
 * errors included (a JSON error body with the status of docs/protocol.md):
 * the return value is 0 and `*out` is set unless the arguments themselves
 * are unusable (DBSYNC_INVALID) or memory runs out (DBSYNC_NOMEM).
 */
DBSYNC_EXTERN(int) dbsync_server_handle(dbsync_response **out,
					dbsync_server *server,
					const char *method, const char *path,
					const char *const *header_names,
					const char *const *header_values,
					size_t nheaders, const void *body,
					size_t body_len);

/* The HTTP status of a response. */
DBSYNC_EXTERN(int) dbsync_response_status(const dbsync_response *response);

/* The body; `*len` (may be NULL) receives its length. Borrowed, lives with
 * the response; NUL-terminated for convenience. */
DBSYNC_EXTERN(const char *) dbsync_response_body(
	const dbsync_response *response, size_t *len);

/* The Content-Type of the body. Static string. */
DBSYNC_EXTERN(const char *) dbsync_response_content_type(
	const dbsync_response *response);

/* Extra response headers (besides Content-Type), e.g. `Allow` on a 405:
 * how many, and the name/value of header `i` (NULL out of range).
 * Borrowed, live with the response. */
DBSYNC_EXTERN(size_t) dbsync_response_header_count(
	const dbsync_response *response);
DBSYNC_EXTERN(const char *) dbsync_response_header_name(
	const dbsync_response *response, size_t i);
DBSYNC_EXTERN(const char *) dbsync_response_header_value(
	const dbsync_response *response, size_t i);

/* DESTRUCTOR. Accepts NULL. */
DBSYNC_EXTERN(void) dbsync_response_free(dbsync_response *response);

/* Last error of the most recent fallible call on this handle from the
 * calling thread's point of view: see docs/c-api.md. */
DBSYNC_EXTERN(const char *) dbsync_server_error_message(
	const dbsync_server *server);
DBSYNC_EXTERN(int) dbsync_server_error_code(const dbsync_server *server);

DBSYNC_END_DECL

#endif
