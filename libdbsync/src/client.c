/* client.c - the public client handle: open, track, pending. */
#include "client.h"

#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "client_conflict.h"
#include "client_schema.h"
#include "oplog.h"
#include "meta.h"
#include "registry.h"
#include "sqlutil.h"

/* How long a write waits for another connection's write lock. */
#define BUSY_TIMEOUT_MS 10000

sqlite3 *dbsync__client_db(dbsync_client *client)
{
	return client->db;
}

/* Every fallible public call starts here: a usable handle, a clean error. */
/* Every method here starts and ends with these (client.h); the short names
 * keep the many error returns on one line. */
#define enter dbsync__client_enter
#define leave dbsync__client_leave

int dbsync__client_enter(dbsync_client *client)
{
	if (!client || !client->db)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "client handle is NULL or closed");
	dbsync__error_clear(&client->err);
	return 0;
}

/* Keep the thread's last error in step with the handle's. */
int dbsync__client_leave(dbsync_client *client, int rc)
{
	if (rc)
		dbsync__error_copy(NULL, &client->err);
	return rc;
}

int dbsync_client_open(dbsync_client **out, const char *path)
{
	dbsync_client *client;
	int rc;

	if (!out)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "output pointer is NULL");
	*out = NULL;
	if (!path || !*path)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "database path is NULL or empty");
	client = calloc(1, sizeof(*client));
	if (!client || !(client->path = strdup(path))) {
		free(client);
		return dbsync__error_set(NULL, DBSYNC_NOMEM, "out of memory");
	}
	rc = sqlite3_open_v2(path, &client->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc == SQLITE_OK) {
		sqlite3_extended_result_codes(client->db, 1);
		sqlite3_busy_timeout(client->db, BUSY_TIMEOUT_MS);
		rc = dbsync__client_schema_ensure(client->db, &client->err);
		if (!rc)
			rc = dbsync__capture_refresh(client->db, &client->err);
	} else {
		rc = dbsync__error_sqlite(&client->err, client->db, rc,
					  "cannot open the database");
	}
	if (rc) {
		/* Name the file: the caller may be opening several. */
		dbsync__error_prefix(&client->err, path);
		dbsync_client_free(client);
		return rc;
	}
	*out = client;
	return 0;
}

void dbsync_client_free(dbsync_client *client)
{
	size_t k;

	if (!client)
		return;
	sqlite3_close_v2(client->db);
	if (client->http_ready)
		dbsync__http_global_cleanup();
	for (k = 0; k < client->nheaders; k++) {
		free((char *)client->headers[k].name);
		free((char *)client->headers[k].value);
	}
	free(client->headers);
	dbsync_oplist_free(client->conflicts);
	dbsync__client_policies_free(client);
	free(client->server_url);
	free(client->ca_file);
	free(client->path);
	free(client);
}

static int check_table_arg(dbsync_client *client, const char *table)
{
	if (!table || !*table)
		return dbsync__error_set(&client->err, DBSYNC_INVALID,
					 "table name is NULL or empty");
	return 0;
}

int dbsync_client_track(dbsync_client *client, const char *table,
			dbsync_direction direction)
{
	dbsync__table t;
	int64_t tid;
	int rc;

	if ((rc = enter(client)))
		return rc;
	if ((rc = check_table_arg(client, table)))
		return leave(client, rc);
	if (!dbsync__direction_name(direction))
		return leave(client, dbsync__error_set(
					     &client->err, DBSYNC_INVALID,
					     "unknown direction %d (expected "
					     "both, push or pull)",
					     (int)direction));
	rc = dbsync__sql_begin_write(client->db, &client->err);
	if (rc)
		return leave(client, rc);
	rc = dbsync__table_describe(client->db, table, &t, &client->err);
	if (!rc) {
		rc = dbsync__registry_save(client->db, &t, direction, &tid,
					   &client->err);
		/* A pull-only table logs nothing: its local writes are never
		 * pushed, so capturing them would only cost. */
		if (!rc && direction == DBSYNC_DIRECTION_PULL)
			rc = dbsync__capture_remove(client->db, tid,
						    &client->err);
		else if (!rc)
			rc = dbsync__capture_install(client->db, &t, tid,
						     &client->err);
		if (!rc && direction == DBSYNC_DIRECTION_PULL)
			rc = dbsync__registry_forget_pending(client->db, tid,
							     &client->err);
		dbsync__table_clear(&t);
	}
	if (!rc)
		rc = dbsync__sql_commit(client->db, &client->err);
	if (rc)
		dbsync__sql_rollback(client->db);
	return leave(client, rc);
}

int dbsync_client_untrack(dbsync_client *client, const char *table)
{
	dbsync__tracked tracked;
	int rc;

	if ((rc = enter(client)))
		return rc;
	if ((rc = check_table_arg(client, table)))
		return leave(client, rc);
	rc = dbsync__sql_begin_write(client->db, &client->err);
	if (rc)
		return leave(client, rc);
	rc = dbsync__registry_find(client->db, table, &tracked, &client->err);
	if (rc == 0)
		rc = dbsync__error_set(&client->err, DBSYNC_NOT_FOUND,
				       "table \"%s\" is not tracked", table);
	else if (rc > 0) {
		rc = dbsync__capture_remove(client->db, tracked.tid,
					    &client->err);
		if (!rc)
			rc = dbsync__registry_remove(client->db, tracked.tid,
						     &client->err);
		dbsync__tracked_clear(&tracked);
	}
	if (!rc)
		rc = dbsync__sql_commit(client->db, &client->err);
	if (rc)
		dbsync__sql_rollback(client->db);
	return leave(client, rc);
}

int dbsync_client_is_tracked(dbsync_client *client, const char *table,
			     dbsync_direction *direction)
{
	dbsync__tracked tracked;
	int rc;

	if ((rc = enter(client)))
		return rc;
	if ((rc = check_table_arg(client, table)))
		return leave(client, rc);
	rc = dbsync__registry_find(client->db, table, &tracked, &client->err);
	if (rc > 0 && direction)
		*direction = tracked.direction;
	dbsync__tracked_clear(&tracked);
	return rc < 0 ? leave(client, rc) : rc;
}

int dbsync_client_pending(dbsync_oplist **out, dbsync_client *client)
{
	int rc;

	if (out)
		*out = NULL;
	if ((rc = enter(client)))
		return rc;
	if (!out)
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_INVALID,
						       "output pointer is NULL"));
	return leave(client,
		     dbsync__oplog_pending(client->db, out, &client->err));
}

int dbsync_client_compact(dbsync_client *client)
{
	int rc;

	if ((rc = enter(client)))
		return rc;
	return leave(client, dbsync__oplog_compact(client->db, &client->err));
}

/* ---- talking to a server ------------------------------------------- */

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int dbsync_client_set_server(dbsync_client *client, const char *url)
{
	char *copy;
	size_t n;
	int rc;

	if ((rc = enter(client)))
		return rc;
	if (!url || !(starts_with(url, "http://") || starts_with(url, "https://")) ||
	    strpbrk(url, " \t\r\n?#"))
		return leave(client, dbsync__error_set(
					     &client->err, DBSYNC_INVALID,
					     "server URL must be http:// or "
					     "https:// with no spaces, query "
					     "or fragment"));
	copy = strdup(url);
	if (!copy)
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_NOMEM,
						       "out of memory"));
	n = strlen(copy);
	while (n > 0 && copy[n - 1] == '/')
		copy[--n] = '\0';
	free(client->server_url);
	client->server_url = copy;
	return 0;
}

int dbsync_client_set_ca_file(dbsync_client *client, const char *path)
{
	char *copy = NULL;
	int rc;

	if ((rc = enter(client)))
		return rc;
	if (path && !(copy = strdup(path)))
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_NOMEM,
						       "out of memory"));
	free(client->ca_file);
	client->ca_file = copy;
	return 0;
}

int dbsync_client_set_timeouts(dbsync_client *client, long connect_ms,
			       long request_ms)
{
	int rc;

	if ((rc = enter(client)))
		return rc;
	if (connect_ms < 0 || request_ms < 0)
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_INVALID,
						       "timeouts cannot be "
						       "negative"));
	client->connect_ms = connect_ms;
	client->request_ms = request_ms;
	return 0;
}

int dbsync_client_set_page_size(dbsync_client *client, int64_t max_operations)
{
	int rc;

	if ((rc = enter(client)))
		return rc;
	if (max_operations < 0)
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_INVALID,
						       "page size cannot be "
						       "negative"));
	client->page_ops = max_operations;
	return 0;
}

/* A header name is a token (RFC 9110); values have no line breaks. */
static int header_ok(const char *name, const char *value)
{
	const char *p;

	if (!name || !*name || !value)
		return 0;
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~", *p)))
			return 0;
	return strpbrk(value, "\r\n") == NULL;
}

int dbsync_client_add_header(dbsync_client *client, const char *name,
			     const char *value)
{
	dbsync__header *p;
	int rc;

	if ((rc = enter(client)))
		return rc;
	if (!header_ok(name, value))
		return leave(client, dbsync__error_set(
					     &client->err, DBSYNC_INVALID,
					     "header name must be a token and "
					     "its value one line"));
	if (sqlite3_strnicmp(name, "X-Dbsync-", 9) == 0 ||
	    sqlite3_stricmp(name, "Content-Type") == 0 ||
	    sqlite3_stricmp(name, "Content-Length") == 0 ||
	    sqlite3_stricmp(name, "Host") == 0)
		return leave(client, dbsync__error_set(
					     &client->err, DBSYNC_INVALID,
					     "header %s is set by dbsync itself",
					     name));
	if (client->nheaders >= 16)
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_TOO_LARGE,
						       "at most 16 extra "
						       "headers"));
	p = realloc(client->headers, (client->nheaders + 1) * sizeof(*p));
	if (!p)
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_NOMEM,
						       "out of memory"));
	client->headers = p;
	p[client->nheaders].name = strdup(name);
	p[client->nheaders].value = strdup(value);
	if (!p[client->nheaders].name || !p[client->nheaders].value) {
		free((char *)p[client->nheaders].name);
		free((char *)p[client->nheaders].value);
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_NOMEM,
						       "out of memory"));
	}
	client->nheaders++;
	return 0;
}

int dbsync_client_on_progress(dbsync_client *client, dbsync_progress_fn fn,
			      void *payload)
{
	int rc;

	if ((rc = enter(client)))
		return rc;
	client->progress = fn;
	client->progress_payload = payload;
	return 0;
}

int dbsync_client_register(dbsync_client *client, const char *token)
{
	int rc;

	if ((rc = enter(client)))
		return rc;
	return leave(client, dbsync__client_do_register(client, token));
}

int dbsync_client_node_id(dbsync_client *client, int64_t *node_id)
{
	int64_t v = 0;
	int rc;

	if ((rc = enter(client)))
		return rc;
	rc = dbsync__meta_get_int(client->db, DBSYNC__META_NODE_ID, &v,
				  &client->err);
	if (rc == 1 && node_id)
		*node_id = v;
	return rc < 0 ? leave(client, rc) : rc;
}

int dbsync_client_latest_version(dbsync_client *client, int64_t *version)
{
	int64_t v = 0;
	int rc;

	if ((rc = enter(client)))
		return rc;
	rc = dbsync__meta_get_int(client->db, DBSYNC__META_LATEST, &v,
				  &client->err);
	if (rc == 1 && version)
		*version = v;
	return rc < 0 ? leave(client, rc) : rc;
}

int dbsync_client_push(dbsync_client *client)
{
	int rc, retried;

	if ((rc = enter(client)))
		return rc;
	return leave(client, dbsync__client_do_push(client, &retried));
}

int dbsync_client_pull(dbsync_client *client)
{
	int rc;

	if ((rc = enter(client)))
		return rc;
	return leave(client, dbsync__client_do_pull(client));
}

int dbsync_client_repair(dbsync_client *client)
{
	int rc;

	if ((rc = enter(client)))
		return rc;
	return leave(client, dbsync__client_do_repair(client));
}

int dbsync_client_conflicts(dbsync_oplist **out, dbsync_client *client)
{
	dbsync_oplist *fresh;
	int rc;

	if (out)
		*out = NULL;
	if ((rc = enter(client)))
		return rc;
	if (!out)
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_INVALID,
						       "output pointer is NULL"));
	fresh = client->conflicts ? client->conflicts : dbsync__oplist_new();
	if (!fresh)
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_NOMEM,
						       "out of memory"));
	client->conflicts = NULL;
	*out = fresh;
	return 0;
}

int dbsync_client_set_auto_repair(dbsync_client *client, int on)
{
	int rc;

	if ((rc = enter(client)))
		return rc;
	client->no_auto_repair = !on;
	return 0;
}

int dbsync_client_sync(dbsync_client *client, int max_rounds)
{
	int rc, round;

	if ((rc = enter(client)))
		return rc;
	if (max_rounds < 0)
		return leave(client, dbsync__error_set(&client->err,
						       DBSYNC_INVALID,
						       "max_rounds cannot be "
						       "negative"));
	if (max_rounds == 0)
		max_rounds = 5;
	/* Push; when the server has moved on, merge its versions and push
	 * again. Writes made meanwhile simply ride along. */
	for (round = 0; round < max_rounds; round++) {
		int retried = 0;
		rc = dbsync__client_do_push(client, &retried);
		/* A resent push is acknowledged with its old version: the
		 * server may have moved on since, so merge and push again. */
		if (rc == 0 && retried)
			rc = DBSYNC_PULL_REQUIRED;
		if (rc != DBSYNC_PULL_REQUIRED)
			break;
		dbsync__error_clear(&client->err);
		rc = dbsync__client_do_pull(client);
		if (rc == DBSYNC_REPAIR_REQUIRED && !client->no_auto_repair) {
			dbsync__error_clear(&client->err);
			rc = dbsync__client_do_repair(client);
		}
		if (rc)
			break;
		rc = DBSYNC_PULL_REQUIRED;
	}
	/* An accepted push (even an empty one) means the server had nothing
	 * this node lacked: no pull is owed. */
	return leave(client, rc);
}

const char *dbsync_client_error_message(const dbsync_client *client)
{
	return client ? client->err.message : "";
}

int dbsync_client_error_code(const dbsync_client *client)
{
	return client ? client->err.code : 0;
}

int dbsync_client_sqlite_code(const dbsync_client *client)
{
	return client ? client->err.sqlite_code : 0;
}

const char *dbsync_client_path(const dbsync_client *client)
{
	return client ? client->path : NULL;
}
