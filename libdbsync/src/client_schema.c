/* client_schema.c - creates and versions the client's internal tables. */
#include "client_schema.h"

#include "sqlutil.h"

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define SCHEMA_VERSION_SQL STRINGIFY(DBSYNC__CLIENT_SCHEMA_VERSION)

/*
 * dbsync_log deliberately carries no NOT NULL, CHECK or UNIQUE constraint:
 * a constraint that may abort makes SQLite open a statement journal for
 * every UPDATE and DELETE on a tracked table (the capture trigger writes
 * here), which costs ~30% per write. The triggers are the only writers.
 */
static const char create_sql[] =
	"CREATE TABLE IF NOT EXISTS dbsync_meta("
	" key TEXT PRIMARY KEY,"
	" value);"
	"CREATE TABLE IF NOT EXISTS dbsync_tracked("
	" tid INTEGER PRIMARY KEY AUTOINCREMENT,"
	" name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
	" direction TEXT NOT NULL CHECK (direction IN ('both','push','pull')),"
	" pk TEXT NOT NULL,"
	" pk_type TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS dbsync_log("
	" seq INTEGER PRIMARY KEY,"
	" tid INTEGER,"
	" pk,"
	" op TEXT,"
	" version INTEGER);"
	/* Rows a pull moved aside on a unique column until a later page
	 * rewrites them (client_moved.c); usually empty. */
	"CREATE TABLE IF NOT EXISTS dbsync_moved("
	" tid INTEGER NOT NULL,"
	" pk NOT NULL,"
	" col TEXT NOT NULL,"
	" original,"
	" temporary,"
	" PRIMARY KEY (tid, pk, col)) WITHOUT ROWID;";

/* Reads the stored version: 0 when the database has no dbsync tables. */
static int read_version(sqlite3 *db, int *version, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, exists;

	/* Also the first read of the file: a non-database fails here. */
	rc = dbsync__sql_prepare(
		db,
		"SELECT count(*) FROM sqlite_schema"
		" WHERE type = 'table' AND name = 'dbsync_meta'",
		&st, err, "cannot read the database");
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	exists = rc == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the database");
	*version = 0;
	if (!exists)
		return 0;

	rc = dbsync__sql_prepare(db,
				 "SELECT value FROM dbsync_meta"
				 " WHERE key = 'schema_version'",
				 &st, err, "cannot read the dbsync schema");
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the dbsync schema");
	return 0;
}

static int check_version(int version, dbsync__error *err)
{
	if (version > DBSYNC__CLIENT_SCHEMA_VERSION)
		return dbsync__error_set(
			err, DBSYNC_SCHEMA,
			"database has dbsync schema version %d, newer than "
			"this library supports (%d); upgrade dbsync",
			version, DBSYNC__CLIENT_SCHEMA_VERSION);
	return 0;
}

int dbsync__client_schema_ensure(sqlite3 *db, dbsync__error *err)
{
	int version, rc;

	rc = read_version(db, &version, err);
	if (rc)
		return rc;
	if (version == DBSYNC__CLIENT_SCHEMA_VERSION)
		return 0;
	rc = check_version(version, err);
	if (rc)
		return rc;

	rc = dbsync__sql_begin_write(db, err);
	if (rc)
		return rc;
	/* Another process may have created or upgraded it meanwhile. */
	rc = read_version(db, &version, err);
	if (!rc)
		rc = check_version(version, err);
	if (!rc && version < DBSYNC__CLIENT_SCHEMA_VERSION) {
		rc = dbsync__sql_exec(db, create_sql, err,
				      "cannot create the dbsync tables");
		if (!rc)
			rc = dbsync__sql_exec(
				db,
				"INSERT INTO dbsync_meta(key, value)"
				" VALUES ('schema_version', " SCHEMA_VERSION_SQL ")"
				" ON CONFLICT(key) DO UPDATE SET value = excluded.value",
				err, "cannot record the dbsync schema");
	}
	if (!rc)
		rc = dbsync__sql_commit(db, err);
	if (rc)
		dbsync__sql_rollback(db);
	return rc;
}
