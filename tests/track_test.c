/*
 * track_test.c - dbsync_client_track / untrack / is_tracked.
 */
#include "harness.h"

#include <string.h>

/* A client on a fresh database, and our own connection to it. */
static dbsync_client *setup(sqlite3 **db, const char *schema)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);

	*db = th_db_open(path);
	if (schema != NULL)
		th_exec(*db, schema);
	return c;
}

static int64_t trigger_count(sqlite3 *db, const char *table)
{
	char *sql = sqlite3_mprintf("SELECT count(*) FROM sqlite_schema WHERE "
				    "type = 'trigger' AND tbl_name = %Q",
				    table);
	char *copy = th_strdup(sql);

	sqlite3_free(sql);
	return th_query_int(db, copy);
}

static int64_t all_triggers(sqlite3 *db)
{
	return th_query_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
				"type = 'trigger'");
}

/* The internal schema as text, to show a failed call changed nothing. */
static char *internal_state(sqlite3 *db)
{
	char *s = th_query_text(
		db, "SELECT group_concat(type || ':' || name, ' ') FROM "
		    "(SELECT type, name FROM sqlite_schema ORDER BY 1, 2)");
	char *tables = th_query_text(
		db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM "
		    "sqlite_schema WHERE type = 'table' AND name LIKE "
		    "'dbsync\\_%' ESCAPE '\\' ORDER BY 1)");
	char *out = th_fmt("%s |", s ? s : "");
	char *save, *name;

	/* Row counts of every internal table too. */
	if (tables == NULL)
		return out;
	for (name = strtok_r(tables, " ", &save); name != NULL;
	     name = strtok_r(NULL, " ", &save)) {
		char *sql = sqlite3_mprintf("SELECT count(*) FROM %Q", name);
		char *copy = th_strdup(sql);
		sqlite3_free(sql);
		out = th_fmt("%s %s=%lld", out, name,
			     (long long)th_query_int(db, copy));
	}
	return out;
}

#define ASSERT_TRACK_FAILS(c, db, table, dir, code)                            \
	do {                                                                   \
		char *before_ = internal_state(db);                            \
		ASSERT_CODE(dbsync_client_track((c), (table), (dir)), (code)); \
		ASSERT_EQ_INT(dbsync_client_error_code(c), (code));            \
		ASSERT_GOOD_MESSAGE(dbsync_client_error_message(c));           \
		ASSERT_EQ_STR(internal_state(db), before_);                    \
	} while (0)

/* The same, and the handle's message is exactly `msg`. */
#define ASSERT_TRACK_FAILS_MSG(c, db, table, dir, code, msg)                   \
	do {                                                                   \
		ASSERT_TRACK_FAILS(c, db, table, dir, code);                   \
		ASSERT_EQ_STR(dbsync_client_error_message(c), (msg));          \
		ASSERT_EQ_STR(dbsync_last_error_message(), (msg));             \
	} while (0)

/* ---- success ---------------------------------------------------------- */

TEST(track_installs_triggers_and_captures)
{
	sqlite3 *db;
	dbsync_client *c =
		setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
	dbsync_direction dir = DBSYNC_DIRECTION_PULL;

	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", &dir), 0);
	ASSERT_EQ_INT(trigger_count(db, "t"), 0);
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_BOTH);
	/* Real triggers in the database file, not TEMP ones. */
	ASSERT_GT_INT(trigger_count(db, "t"), 0);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM "
				       "sqlite_temp_schema"),
		      0);

	th_exec(db, "INSERT INTO t VALUES (1, 'a')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:1");
}

TEST(track_existing_rows_are_not_pending)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY,"
				      " v); INSERT INTO t VALUES (1, 'a'), "
				      "(2, 'b'), (3, 'c');");

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	ASSERT_EQ_STR(th_pending_str(c), "");
	th_exec(db, "UPDATE t SET v = 'B' WHERE id = 2");
	ASSERT_EQ_STR(th_pending_str(c), "t:u:2");
}

TEST(is_tracked_null_direction)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY)");

	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", NULL), 0);
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_PUSH));
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", NULL), 1);
}

TEST(is_tracked_missing_table)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, NULL);

	/* A table that does not exist is simply not tracked. */
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "nope", NULL), 0);
}

TEST(track_twice_is_idempotent)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY,"
				      " v)");
	char *schema;
	dbsync_direction dir;

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO t VALUES (1, 'a')");
	schema = th_query_text(db, "SELECT group_concat(name || sql, ' ') "
				   "FROM (SELECT * FROM sqlite_schema ORDER "
				   "BY name)");
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	ASSERT_EQ_STR(th_query_text(db, "SELECT group_concat(name || sql, "
					"' ') FROM (SELECT * FROM "
					"sqlite_schema ORDER BY name)"),
		      schema);
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_BOTH);
	/* Pending operations survive re-tracking, and each write is logged
	 * once, not once per track call. */
	ASSERT_EQ_STR(th_pending_str(c), "t:i:1");
	th_exec(db, "INSERT INTO t VALUES (2, 'b')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:1 t:i:2");
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_log"), 2);
}

TEST(change_direction)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY,"
				      " v)");
	dbsync_direction dir;
	int64_t log_rows;
	size_t n;
	th_op *ops;

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_PUSH));
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_PUSH);
	th_exec(db, "INSERT INTO t VALUES (1, 'a')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:1");

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_PULL));
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_PULL);
	/* Pull-only: the table's pending operations are dropped too
	 * (docs/c-api.md), and it has no triggers. */
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(trigger_count(db, "t"), 0);
	log_rows = th_query_int(db, "SELECT count(*) FROM dbsync_log");
	th_exec(db, "INSERT INTO t VALUES (2, 'b'); UPDATE t SET v = 'c' "
		    "WHERE id = 2; DELETE FROM t WHERE id = 2;"
		    "INSERT INTO t VALUES (3, 'c')");
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_log"),
		      log_rows);

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_BOTH);
	th_exec(db, "INSERT INTO t VALUES (4, 'd')");
	ops = th_pending(c, &n);
	ASSERT_GE_INT(th_ops_find_int(ops, n, "t", 4), 0);
	ASSERT_EQ_INT(th_ops_find_int(ops, n, "t", 2), -1);
	ASSERT_EQ_INT(th_ops_find_int(ops, n, "t", 3), -1);
}

TEST(direction_pull_logs_nothing)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY,"
				      " v); INSERT INTO t VALUES (1, 'a'), "
				      "(2, 'b')");
	dbsync_direction dir;

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_PULL));
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_PULL);
	th_exec(db, "INSERT INTO t VALUES (3, 'c'); UPDATE t SET v = 'x' "
		    "WHERE id = 1; DELETE FROM t WHERE id = 2; UPDATE t SET "
		    "id = 30 WHERE id = 3");
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_log"), 0);
}

TEST(direction_push_logs)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY,"
				      " v); INSERT INTO t VALUES (1, 'a'), "
				      "(2, 'b')");

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_PUSH));
	th_exec(db, "INSERT INTO t VALUES (3, 'c'); UPDATE t SET v = 'x' "
		    "WHERE id = 1; DELETE FROM t WHERE id = 2");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:3 t:u:1 t:d:2");
}

TEST(tracking_survives_reopen)
{
	const char *path = th_path("app.db");
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE a(id INTEGER PRIMARY KEY);"
				      "CREATE TABLE b(id INTEGER PRIMARY KEY)");
	dbsync_direction dir;

	ASSERT_OK(dbsync_client_track(c, "a", DBSYNC_DIRECTION_PUSH));
	ASSERT_OK(dbsync_client_track(c, "b", DBSYNC_DIRECTION_PULL));
	th_client_free(c);
	/* Capture works with no client open at all. */
	th_exec(db, "INSERT INTO a VALUES (1); INSERT INTO b VALUES (1)");
	c = th_client_open(path);
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "a", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_PUSH);
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "b", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_PULL);
	ASSERT_EQ_STR(th_pending_str(c), "a:i:1");
}

TEST(untrack_removes_triggers_and_pending)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY,"
				      " v); CREATE TABLE u(id INTEGER PRIMARY"
				      " KEY, v)");

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(c, "u", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO t VALUES (1, 'a'), (2, 'b');"
		    "INSERT INTO u VALUES (1, 'a')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:1 t:i:2 u:i:1");

	ASSERT_OK(dbsync_client_untrack(c, "t"));
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", NULL), 0);
	ASSERT_EQ_INT(trigger_count(db, "t"), 0);
	ASSERT_GT_INT(trigger_count(db, "u"), 0);
	ASSERT_EQ_STR(th_pending_str(c), "u:i:1");
	/* The table and its rows are untouched. */
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM t"), 2);
	/* Later writes are not logged. */
	th_exec(db, "INSERT INTO t VALUES (3, 'c'); DELETE FROM t WHERE id "
		    "= 1");
	ASSERT_EQ_STR(th_pending_str(c), "u:i:1");
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_log"), 1);

	/* And it can be tracked again. */
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "UPDATE t SET v = 'z' WHERE id = 2");
	ASSERT_EQ_STR(th_pending_str(c), "u:i:1 t:u:2");
}

TEST(text_primary_key)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE person(uuid TEXT PRIMARY "
				      "KEY, name TEXT)");
	size_t n;
	th_op *ops;

	ASSERT_OK(dbsync_client_track(c, "person", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO person VALUES "
		    "('3f2504e0-4f89-11d3-9a0c-0305e82c3301', 'Ana')");
	ops = th_pending(c, &n);
	ASSERT_EQ_INT(n, 1);
	ASSERT_EQ_INT(ops[0].type, DBSYNC_TYPE_TEXT);
	ASSERT_EQ_STR((const char *)ops[0].bytes,
		      "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
	ASSERT_EQ_INT(ops[0].size, 36);
	th_exec(db, "UPDATE person SET name = 'Ana María' WHERE uuid = "
		    "'3f2504e0-4f89-11d3-9a0c-0305e82c3301';"
		    "INSERT INTO person VALUES ('b', 'Bo');"
		    "DELETE FROM person WHERE uuid = 'b'");
	ASSERT_EQ_STR(th_pending_str(c),
		      "person:i:'3f2504e0-4f89-11d3-9a0c-0305e82c3301'");
}

TEST(blob_primary_key)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE doc(id BLOB PRIMARY KEY, "
				      "body); INSERT INTO doc VALUES "
				      "(x'00ff00', 'old')");

	ASSERT_OK(dbsync_client_track(c, "doc", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO doc VALUES (x'0102000304', 'new');"
		    "UPDATE doc SET body = 'changed' WHERE id = x'00ff00'");
	ASSERT_EQ_STR(th_pending_str(c), "doc:i:x'0102000304' doc:u:x'00ff00'");
}

TEST(without_rowid_table)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE kv(k TEXT PRIMARY KEY, v)"
				      " WITHOUT ROWID; INSERT INTO kv VALUES "
				      "('old', 1)");

	ASSERT_OK(dbsync_client_track(c, "kv", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO kv VALUES ('a', 1); UPDATE kv SET v = 2 "
		    "WHERE k = 'old'; INSERT INTO kv VALUES ('b', 1); DELETE "
		    "FROM kv WHERE k = 'b'; UPDATE kv SET k = 'new' WHERE k = "
		    "'old'");
	ASSERT_EQ_STR(th_pending_str(c), "kv:i:'a' kv:d:'old' kv:i:'new'");
}

TEST(primary_key_as_table_constraint)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(a TEXT, id INTEGER, b, "
				      "PRIMARY KEY (id))");

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO t VALUES ('x', 5, 'y')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:5");
}

TEST(weird_table_names)
{
	static const char *const names[] = {
		"my table", "it's", "say \"hi\"", "\"; DROP TABLE x; --",
		"Ünïcødé 表", "select", "a.b", "x'y'z",
	};
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE x(id INTEGER PRIMARY KEY);"
				      "INSERT INTO x VALUES (1)");
	size_t k, n;
	th_op *ops;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		/* A weird key column name too. */
		char *sql = sqlite3_mprintf(
			"CREATE TABLE \"%w\"(\"key \"\"col\"\"\" INTEGER "
			"PRIMARY KEY, \"v'\" TEXT);"
			"INSERT INTO \"%w\" VALUES (100, 'pre')",
			names[k], names[k]);
		th_exec(db, th_strdup(sql));
		sqlite3_free(sql);
		ASSERT_OK(dbsync_client_track(c, names[k],
					      DBSYNC_DIRECTION_BOTH));
		ASSERT_EQ_INT(dbsync_client_is_tracked(c, names[k], NULL), 1);
	}
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		char *sql = sqlite3_mprintf(
			"INSERT INTO \"%w\" VALUES (%d, 'v'), (%d, 'v');"
			"UPDATE \"%w\" SET \"v'\" = 'w' WHERE rowid = 100;"
			"DELETE FROM \"%w\" WHERE rowid = %d",
			names[k], (int)k, (int)k + 1000, names[k], names[k],
			(int)k + 1000);
		th_exec(db, th_strdup(sql));
		sqlite3_free(sql);
	}
	/* The bobby-tables name did not drop x. */
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM x"), 1);

	ops = th_pending(c, &n);
	ASSERT_EQ_INT(n, 2 * (sizeof(names) / sizeof(names[0])));
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		ASSERT_EQ_STR(ops[2 * k].table, names[k]);
		ASSERT_EQ_INT(ops[2 * k].command, 'i');
		ASSERT_EQ_INT(ops[2 * k].i, (int64_t)k);
		ASSERT_EQ_STR(ops[2 * k + 1].table, names[k]);
		ASSERT_EQ_INT(ops[2 * k + 1].command, 'u');
		ASSERT_EQ_INT(ops[2 * k + 1].i, 100);
	}

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		ASSERT_OK(dbsync_client_untrack(c, names[k]));
		ASSERT_EQ_INT(dbsync_client_is_tracked(c, names[k], NULL), 0);
	}
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(all_triggers(db), 0);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM x"), 1);
}

TEST(names_containing_dbsync_are_fine)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE my_dbsync_t(id INTEGER "
				      "PRIMARY KEY); CREATE TABLE dbsyncx(id "
				      "INTEGER PRIMARY KEY)");

	/* Only the `dbsync_` prefix is reserved. */
	ASSERT_OK(dbsync_client_track(c, "my_dbsync_t", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(c, "dbsyncx", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO my_dbsync_t VALUES (1);"
		    "INSERT INTO dbsyncx VALUES (2)");
	ASSERT_EQ_STR(th_pending_str(c), "my_dbsync_t:i:1 dbsyncx:i:2");
}

TEST(names_match_case_insensitively)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE City(id INTEGER PRIMARY "
				      "KEY, name)");
	dbsync_direction dir;

	ASSERT_OK(dbsync_client_track(c, "CITY", DBSYNC_DIRECTION_PUSH));
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "city", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_PUSH);
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "City", NULL), 1);
	/* Same table, not a second registration. */
	ASSERT_OK(dbsync_client_track(c, "city", DBSYNC_DIRECTION_BOTH));
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "CITY", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_BOTH);
	th_exec(db, "INSERT INTO city VALUES (1, 'Lima')");
	/* Reported under its name as declared. */
	ASSERT_EQ_STR(th_pending_str(c), "City:i:1");
	ASSERT_OK(dbsync_client_untrack(c, "cItY"));
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "City", NULL), 0);
}

TEST(added_column_is_captured_after_reopen)
{
	const char *path = th_path("app.db");
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY,"
				      " a); INSERT INTO t VALUES (1, 'x')");

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	th_client_free(c);
	th_exec(db, "ALTER TABLE t ADD COLUMN b TEXT");
	/* Opening refreshes the stale update trigger (docs/capture.md). */
	c = th_client_open(path);
	th_exec(db, "UPDATE t SET b = 'new' WHERE id = 1");
	ASSERT_EQ_STR(th_pending_str(c), "t:u:1");
	/* And a no-op on the new column is still a no-op. */
	th_exec(db, "UPDATE t SET b = 'new' WHERE id = 1");
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_log"), 1);
}

TEST(added_column_is_captured_after_retrack)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY,"
				      " a); INSERT INTO t VALUES (1, 'x')");

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "ALTER TABLE t ADD COLUMN b TEXT");
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "UPDATE t SET b = 'new' WHERE id = 1");
	ASSERT_EQ_STR(th_pending_str(c), "t:u:1");
}

TEST(recreated_table_gets_triggers_back_on_open)
{
	const char *path = th_path("app.db");
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY,"
				      " a)");
	dbsync_direction dir;

	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_PUSH));
	th_client_free(c);
	/* Dropping a table drops its triggers; a migration recreates it. */
	th_exec(db, "DROP TABLE t; CREATE TABLE t(id INTEGER PRIMARY KEY, a, "
		    "b)");
	ASSERT_EQ_INT(trigger_count(db, "t"), 0);
	c = th_client_open(path);
	ASSERT_GT_INT(trigger_count(db, "t"), 0);
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_PUSH);
	th_exec(db, "INSERT INTO t VALUES (1, 'a', 'b')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:1");
}

/* ---- errors ----------------------------------------------------------- */

TEST(track_missing_table)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, NULL);

	ASSERT_TRACK_FAILS_MSG(c, db, "nope", DBSYNC_DIRECTION_BOTH,
			       DBSYNC_NOT_FOUND, "no such table: \"nope\"");
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "nope", NULL), 0);
}

TEST(track_table_without_primary_key)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE log(at TEXT, what TEXT);"
				      "INSERT INTO log VALUES ('now', 'x')");

	ASSERT_TRACK_FAILS_MSG(c, db, "log", DBSYNC_DIRECTION_BOTH,
			       DBSYNC_SCHEMA,
			       "table \"log\" has no declared primary key; "
			       "dbsync needs a single-column primary key");
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "log", NULL), 0);
	ASSERT_EQ_INT(trigger_count(db, "log"), 0);
	/* The implicit rowid is not a declared key either. */
	th_exec(db, "INSERT INTO log VALUES ('later', 'y')");
	ASSERT_EQ_STR(th_pending_str(c), "");
}

TEST(track_table_with_unique_but_no_primary_key)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(code TEXT UNIQUE NOT "
				      "NULL, v)");

	ASSERT_TRACK_FAILS(c, db, "t", DBSYNC_DIRECTION_BOTH, DBSYNC_SCHEMA);
}

TEST(track_composite_primary_key)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE pair(a INTEGER, b "
				      "INTEGER, v, PRIMARY KEY (a, b))");

	ASSERT_TRACK_FAILS_MSG(c, db, "pair", DBSYNC_DIRECTION_BOTH,
			       DBSYNC_SCHEMA,
			       "table \"pair\" has a composite primary key (2 "
			       "columns); dbsync needs a single-column primary "
			       "key");
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "pair", NULL), 0);
	ASSERT_EQ_INT(trigger_count(db, "pair"), 0);
}

TEST(track_composite_primary_key_without_rowid)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE pair(a, b, PRIMARY KEY "
				      "(a, b)) WITHOUT ROWID");

	ASSERT_TRACK_FAILS(c, db, "pair", DBSYNC_DIRECTION_BOTH,
			   DBSYNC_SCHEMA);
}

TEST(track_view)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY,"
				      " v); CREATE VIEW tv AS SELECT * FROM "
				      "t");

	/* A view exists but cannot be tracked (client.h: SCHEMA). */
	ASSERT_TRACK_FAILS_MSG(c, db, "tv", DBSYNC_DIRECTION_BOTH,
			       DBSYNC_SCHEMA,
			       "\"tv\" is a view; only tables can be tracked");
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "tv", NULL), 0);
	ASSERT_EQ_INT(all_triggers(db), 0);
}

TEST(track_virtual_table)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, NULL);

	if (th_exec_rc(db, "CREATE VIRTUAL TABLE v USING fts5(body)") !=
	    SQLITE_OK)
		th_exec(db, "CREATE VIRTUAL TABLE v USING rtree(id, x0, x1)");
	ASSERT_TRACK_FAILS_MSG(c, db, "v", DBSYNC_DIRECTION_BOTH,
			       DBSYNC_SCHEMA,
			       "\"v\" is a virtual table; only ordinary tables "
			       "can be tracked");
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "v", NULL), 0);
}

TEST(track_internal_tables)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, NULL);
	char *names = th_query_text(
		db, "SELECT group_concat(name, ' ') FROM sqlite_schema WHERE "
		    "type = 'table' AND name LIKE 'dbsync\\_%' ESCAPE '\\'");
	char *save, *name;
	int seen = 0;

	ASSERT_NOT_NULL(names);
	for (name = strtok_r(names, " ", &save); name != NULL;
	     name = strtok_r(NULL, " ", &save)) {
		ASSERT_TRACK_FAILS_MSG(c, db, name, DBSYNC_DIRECTION_BOTH,
				       DBSYNC_SCHEMA,
				       th_fmt("\"%s\" is an internal table and "
					      "cannot be tracked",
					      name));
		ASSERT_EQ_INT(dbsync_client_is_tracked(c, name, NULL), 0);
		seen++;
	}
	ASSERT_GE_INT(seen, 2); /* at least dbsync_meta and dbsync_log */
	/* The prefix is reserved even for an app table that uses it. */
	th_exec(db, "CREATE TABLE dbsync_mine(id INTEGER PRIMARY KEY)");
	ASSERT_TRACK_FAILS(c, db, "dbsync_mine", DBSYNC_DIRECTION_BOTH,
			   DBSYNC_SCHEMA);
	ASSERT_TRACK_FAILS(c, db, "DBSYNC_MINE", DBSYNC_DIRECTION_BOTH,
			   DBSYNC_SCHEMA);
}

TEST(track_sqlite_internal_tables)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE a(id INTEGER PRIMARY KEY "
				      "AUTOINCREMENT, v); INSERT INTO a(v) "
				      "VALUES (1); CREATE INDEX a_v ON a(v);"
				      "ANALYZE");

	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM sqlite_schema "
				       "WHERE name IN ('sqlite_sequence', "
				       "'sqlite_stat1')"),
		      2);
	ASSERT_TRACK_FAILS(c, db, "sqlite_sequence", DBSYNC_DIRECTION_BOTH,
			   DBSYNC_SCHEMA);
	ASSERT_TRACK_FAILS(c, db, "sqlite_stat1", DBSYNC_DIRECTION_BOTH,
			   DBSYNC_SCHEMA);
	/* The table using AUTOINCREMENT itself is fine. */
	ASSERT_OK(dbsync_client_track(c, "a", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO a(v) VALUES (2)");
	ASSERT_EQ_STR(th_pending_str(c), "a:i:2");
}

TEST(track_null_arguments)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY)");

	ASSERT_CODE(dbsync_client_track(NULL, "t", DBSYNC_DIRECTION_BOTH),
		    DBSYNC_INVALID);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_INVALID);
	ASSERT_GOOD_MESSAGE(dbsync_last_error_message());
	ASSERT_EQ_STR(dbsync_last_error_message(),
		      "client handle is NULL or closed");
	ASSERT_TRACK_FAILS_MSG(c, db, NULL, DBSYNC_DIRECTION_BOTH,
			       DBSYNC_INVALID, "table name is NULL or empty");
	ASSERT_TRACK_FAILS_MSG(c, db, "", DBSYNC_DIRECTION_BOTH,
			       DBSYNC_INVALID, "table name is NULL or empty");
	ASSERT_CODE(dbsync_client_untrack(c, ""), DBSYNC_INVALID);

	ASSERT_CODE(dbsync_client_untrack(NULL, "t"), DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_untrack(c, NULL), DBSYNC_INVALID);
	ASSERT_EQ_INT(dbsync_client_error_code(c), DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_is_tracked(NULL, "t", NULL), DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_is_tracked(c, NULL, NULL), DBSYNC_INVALID);
	ASSERT_EQ_INT(dbsync_client_error_code(c), DBSYNC_INVALID);
	ASSERT_EQ_INT(all_triggers(db), 0);
}

TEST(track_invalid_direction)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY)");
	dbsync_direction dir;

	ASSERT_TRACK_FAILS_MSG(c, db, "t", (dbsync_direction)3, DBSYNC_INVALID,
			       "unknown direction 3 (expected both, push or "
			       "pull)");
	ASSERT_TRACK_FAILS(c, db, "t", (dbsync_direction)-1, DBSYNC_INVALID);
	ASSERT_TRACK_FAILS(c, db, "t", (dbsync_direction)1000, DBSYNC_INVALID);
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", NULL), 0);

	/* A bad direction does not change an existing tracking either. */
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_PUSH));
	ASSERT_TRACK_FAILS(c, db, "t", (dbsync_direction)7, DBSYNC_INVALID);
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "t", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_PUSH);
}

TEST(untrack_untracked_table)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE t(id INTEGER PRIMARY KEY)");

	ASSERT_CODE(dbsync_client_untrack(c, "t"), DBSYNC_NOT_FOUND);
	ASSERT_EQ_INT(dbsync_client_error_code(c), DBSYNC_NOT_FOUND);
	ASSERT_EQ_STR(dbsync_client_error_message(c),
		      "table \"t\" is not tracked");
	ASSERT_CODE(dbsync_client_untrack(c, "missing"), DBSYNC_NOT_FOUND);

	/* Untracking twice: the second time it is not tracked. */
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_untrack(c, "t"));
	ASSERT_CODE(dbsync_client_untrack(c, "t"), DBSYNC_NOT_FOUND);
}

TEST(failed_track_keeps_other_tables)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db, "CREATE TABLE ok(id INTEGER PRIMARY KEY);"
				      "CREATE TABLE bad(a, b)");

	ASSERT_OK(dbsync_client_track(c, "ok", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO ok VALUES (1)");
	ASSERT_TRACK_FAILS(c, db, "bad", DBSYNC_DIRECTION_BOTH, DBSYNC_SCHEMA);
	th_exec(db, "INSERT INTO ok VALUES (2)");
	ASSERT_EQ_STR(th_pending_str(c), "ok:i:1 ok:i:2");
}

static const th_case cases[] = {
	CASE(track_installs_triggers_and_captures),
	CASE(track_existing_rows_are_not_pending),
	CASE(is_tracked_null_direction),
	CASE(is_tracked_missing_table),
	CASE(track_twice_is_idempotent),
	CASE(change_direction),
	CASE(direction_pull_logs_nothing),
	CASE(direction_push_logs),
	CASE(tracking_survives_reopen),
	CASE(untrack_removes_triggers_and_pending),
	CASE(text_primary_key),
	CASE(blob_primary_key),
	CASE(without_rowid_table),
	CASE(primary_key_as_table_constraint),
	CASE(weird_table_names),
	CASE(names_containing_dbsync_are_fine),
	CASE(names_match_case_insensitively),
	CASE(added_column_is_captured_after_reopen),
	CASE(added_column_is_captured_after_retrack),
	CASE(recreated_table_gets_triggers_back_on_open),
	CASE(track_missing_table),
	CASE(track_table_without_primary_key),
	CASE(track_table_with_unique_but_no_primary_key),
	CASE(track_composite_primary_key),
	CASE(track_composite_primary_key_without_rowid),
	CASE(track_view),
	CASE(track_virtual_table),
	CASE(track_internal_tables),
	CASE(track_sqlite_internal_tables),
	CASE(track_null_arguments),
	CASE(track_invalid_direction),
	CASE(untrack_untracked_table),
	CASE(failed_track_keeps_other_tables),
};
TH_MAIN(cases)
