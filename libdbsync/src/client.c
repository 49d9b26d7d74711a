/* client.c - the public client handle: open, track, pending. */
#include "client.h"

#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "client_schema.h"
#include "oplog.h"
#include "registry.h"
#include "sqlutil.h"

/* How long a write waits for another connection's write lock. */
#define BUSY_TIMEOUT_MS 10000

sqlite3 *dbsync__client_db(dbsync_client *client)
{
	return client->db;
}

/* Every fallible public call starts here: a usable handle, a clean error. */
static int enter(dbsync_client *client)
{
	if (!client || !client->db)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "client handle is NULL or closed");
	dbsync__error_clear(&client->err);
	return 0;
}

/* Keep the thread's last error in step with the handle's. */
static int leave(dbsync_client *client, int rc)
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
	if (!client)
		return;
	sqlite3_close_v2(client->db);
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
