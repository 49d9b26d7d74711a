/* server.h - the server handle's internals shared by its modules. */
#ifndef DBSYNC_SERVER_INTERNAL_H
#define DBSYNC_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "dbsync/server.h"
#include "error.h"
#include "store.h"

/* Counters for /metrics, updated without locks. */
typedef struct dbsync__metrics {
	atomic_ullong requests;
	atomic_ullong by_class[6]; /* 1xx..5xx by status / 100 */
	atomic_ullong registers, pushes, pulls, repairs;
	atomic_ullong ops_applied, ops_sent;
	atomic_ullong conflicts, auth_failures;
	atomic_ullong latency_bucket[12]; /* cumulative, see server.c */
	atomic_ullong latency_count;
	atomic_ullong latency_sum_us;
} dbsync__metrics;

struct dbsync_server {
	const dbsync__store_ops *ops;
	char *location;
	pthread_mutex_t pool_lock;
	dbsync__store **idle; /* stores not in use by a request */
	size_t nidle, idle_cap;

	char *policy;	/* "open", "closed", or "token" */
	char *token;	/* the token of "token:SECRET" */
	dbsync_register_fn register_fn;
	void *register_payload;
	dbsync_push_hook before_push, after_push;
	void *push_payload;

	long auth_window_s;	    /* accepted clock skew */
	size_t page_ops_default;    /* pull page bounds */
	size_t page_ops_max;
	size_t page_bytes_default;
	size_t page_bytes_max;

	dbsync__metrics metrics;
	dbsync__error err; /* of setup calls (open, track, ...) */
};

struct dbsync_response {
	int status;
	char *body;
	size_t len;
	const char *content_type;
	const char *header_names[2];
	const char *header_values[2];
	size_t nheaders;
};

/* One request, borrowed from dbsync_server_handle's arguments. */
typedef struct dbsync__request {
	const char *method;
	const char *path;
	const char *const *header_names;
	const char *const *header_values;
	size_t nheaders;
	const void *body;
	size_t body_len;
	int64_t node_id; /* set by authentication */
} dbsync__request;

/* A header's value (names compare case-insensitively), or NULL. */
const char *dbsync__request_header(const dbsync__request *r,
				   const char *name);

/* Answer with a JSON error body (docs/protocol.md) built from `code` and a
 * one-line message. */
void dbsync__respond_error(dbsync_response *resp, int status, int code,
			   const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Answer an error recorded in `err`, with the status its code maps to. */
void dbsync__respond_failure(dbsync_response *resp, const dbsync__error *err);
/* Answer `status` with a malloc'd JSON body (taken over). */
void dbsync__respond_json(dbsync_response *resp, int status, char *body,
			  size_t len);

/* Check the request's HMAC signature (docs/protocol.md); sets
 * req->node_id. DBSYNC_AUTH for every kind of rejection. */
int dbsync__server_authenticate(dbsync_server *s, dbsync__request *req,
				dbsync__error *err);

/* The procedures: each answers `resp` whatever happens. */
void dbsync__server_register(dbsync_server *s, dbsync__request *req,
			     dbsync_response *resp);
void dbsync__server_push(dbsync_server *s, dbsync__request *req,
			 dbsync_response *resp);
void dbsync__server_pull(dbsync_server *s, dbsync__request *req,
			 dbsync_response *resp);
void dbsync__server_repair(dbsync_server *s, dbsync__request *req,
			   dbsync_response *resp);

/* Fill a pull-shaped answer's table list from the store's tables, in the
 * same order (message ops index it). 0 or DBSYNC_NOMEM. */
struct dbsync__pull_resp;
int dbsync__server_describe_tables(const dbsync__store_table *t, size_t n,
				   struct dbsync__pull_resp *r);

/* Borrow a store connection for one request; give it back after. */
int dbsync__server_store_get(dbsync_server *s, dbsync__store **out,
			     dbsync__error *err);
void dbsync__server_store_put(dbsync_server *s, dbsync__store *store);

#endif
