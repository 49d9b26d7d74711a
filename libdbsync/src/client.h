/* client.h - the client handle, for modules that work on its database. */
#ifndef DBSYNC_CLIENT_INTERNAL_H
#define DBSYNC_CLIENT_INTERNAL_H

#include <sqlite3.h>

#include "dbsync/client.h"
#include "dbsync/conflict.h"
#include "error.h"
#include "http.h"
#include "oplist.h"

struct dbsync_client {
	sqlite3 *db;
	char *path;
	dbsync__error err;

	/* how to reach the server (not stored in the database) */
	char *server_url; /* without a trailing slash */
	char *ca_file;
	long connect_ms, request_ms;
	int64_t page_ops; /* pull page size asked for; 0: server default */
	int no_auto_repair; /* sync does not repair on REPAIR_REQUIRED */
	dbsync_oplist *conflicts; /* met by pulls, until handed over */
	dbsync__header *headers; /* extra headers; strings owned */
	size_t nheaders;
	dbsync_progress_fn progress;
	void *progress_payload;
	/* how pulls decide conflicts (client_conflict.c) */
	dbsync_policy default_policy;
	struct dbsync__table_policy *policies;
	size_t npolicies;
	dbsync_conflict_fn on_conflict;
	void *on_conflict_payload;
	int http_ready; /* holds a reference on the HTTP global state */
};

/* Start and end a public method: clear the handle's error (DBSYNC_INVALID
 * for a NULL or closed handle); copy a failure to the thread's error. */
int dbsync__client_enter(dbsync_client *client);
int dbsync__client_leave(dbsync_client *client, int rc);

/* The client's own connection (tests and internal modules only). */
sqlite3 *dbsync__client_db(dbsync_client *client);

/*
 * POST `body` to the server's `path`, signed with the node's secret when
 * `sign`. 0 with `resp` filled on a 2xx answer; otherwise the error the
 * server's JSON error body names (DBSYNC_PULL_REQUIRED, DBSYNC_AUTH, ...)
 * with its message, DBSYNC_HTTP for an answer without one, or the transport
 * error. `resp` is cleared first; free it with dbsync__http_response_clear.
 */
int dbsync__client_post(dbsync_client *c, const char *path, const void *body,
			size_t len, int sign, dbsync__http_response *resp);

/* The procedures behind the public calls (errors on c->err). */
int dbsync__client_do_register(dbsync_client *c, const char *token);
/* *retried: the push resent one already in flight, whose version may be
 * older than the server's latest (the server moved on meanwhile). */
int dbsync__client_do_push(dbsync_client *c, int *retried);
int dbsync__client_do_pull(dbsync_client *c);
int dbsync__client_do_repair(dbsync_client *c);

#endif
