/*
 * client_test.c - opening and freeing a client, its internal schema, and
 * the error accessors.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define INTERNAL_TABLES                                                        \
	"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "         \
	"name LIKE 'dbsync\\_%' ESCAPE '\\'"
#define INTERNAL_SCHEMA                                                        \
	"SELECT group_concat(type || ' ' || name || ' ' || "                   \
	"coalesce(sql, ''), char(10)) FROM (SELECT * FROM sqlite_schema "      \
	"WHERE name LIKE 'dbsync\\_%' ESCAPE '\\' OR tbl_name LIKE "           \
	"'dbsync\\_%' ESCAPE '\\' ORDER BY type, name)"

static int file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

TEST(open_creates_internal_tables)
{
	const char *path = th_path("app.db");
	dbsync_client *c;
	sqlite3 *db;

	ASSERT(!file_exists(path));
	c = th_client_open(path);
	ASSERT(file_exists(path));
	ASSERT_EQ_INT(dbsync_client_error_code(c), 0);
	ASSERT_EQ_STR(dbsync_client_error_message(c), "");
	ASSERT_EQ_INT(dbsync_client_sqlite_code(c), 0);

	db = th_db_open(path);
	ASSERT_GT_INT(th_query_int(db, INTERNAL_TABLES), 0);
	/* The schema version lives in dbsync_meta. */
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM sqlite_schema "
				       "WHERE type = 'table' AND name = "
				       "'dbsync_meta'"),
		      1);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_meta "
				       "WHERE key = 'schema_version'"),
		      1);
	ASSERT_GT_INT(th_query_int(db, "SELECT value FROM dbsync_meta "
				       "WHERE key = 'schema_version'"),
		      0);
	/* The operations log exists and starts empty. */
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_log"), 0);
	/* Nothing outside the dbsync_ prefix was created. */
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM sqlite_schema "
				       "WHERE name NOT LIKE 'dbsync\\_%' "
				       "ESCAPE '\\' AND name NOT LIKE "
				       "'sqlite\\_%' ESCAPE '\\' AND "
				       "tbl_name NOT LIKE 'dbsync\\_%' "
				       "ESCAPE '\\'"),
		      0);
}

TEST(open_keeps_existing_app_data)
{
	const char *path = th_path("app.db");
	sqlite3 *db = th_db_open(path);

	th_exec(db, "CREATE TABLE city(id INTEGER PRIMARY KEY, name TEXT);"
		    "INSERT INTO city VALUES (1, 'Lima'), (2, 'Quito');");
	th_client_open(path);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM city"), 2);
	ASSERT_EQ_STR(th_query_text(db, "SELECT name FROM city WHERE id = 2"),
		      "Quito");
	ASSERT_GT_INT(th_query_int(db, INTERNAL_TABLES), 0);
	/* Opening alone tracks nothing. */
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM sqlite_schema "
				       "WHERE type = 'trigger'"),
		      0);
}

TEST(open_twice_is_idempotent)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db;
	char *schema1, *schema2;
	int64_t version1;

	th_client_free(c);
	db = th_db_open(path);
	schema1 = th_query_text(db, INTERNAL_SCHEMA);
	version1 = th_query_int(db, "SELECT value FROM dbsync_meta WHERE key "
				    "= 'schema_version'");
	ASSERT_NOT_NULL(schema1);

	c = th_client_open(path);
	th_client_free(c);
	c = th_client_open(path);
	schema2 = th_query_text(db, INTERNAL_SCHEMA);
	ASSERT_EQ_STR(schema2, schema1);
	ASSERT_EQ_INT(th_query_int(db, "SELECT value FROM dbsync_meta WHERE "
				       "key = 'schema_version'"),
		      version1);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_meta "
				       "WHERE key = 'schema_version'"),
		      1);
}

TEST(open_two_handles_at_once)
{
	const char *path = th_path("app.db");
	dbsync_client *a = th_client_open(path);
	dbsync_client *b = th_client_open(path);
	sqlite3 *db = th_db_open(path);
	dbsync_direction dir = DBSYNC_DIRECTION_PULL;

	th_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
	ASSERT_OK(dbsync_client_track(a, "t", DBSYNC_DIRECTION_BOTH));
	/* The other handle sees the tracking: it lives in the database. */
	ASSERT_EQ_INT(dbsync_client_is_tracked(b, "t", &dir), 1);
	ASSERT_EQ_INT(dir, DBSYNC_DIRECTION_BOTH);
	th_exec(db, "INSERT INTO t VALUES (1, 'x')");
	ASSERT_EQ_STR(th_pending_str(a), "t:i:1");
	ASSERT_EQ_STR(th_pending_str(b), "t:i:1");
}

TEST(open_empty_file_is_a_database)
{
	const char *path = th_path("empty.db");
	sqlite3 *db;

	/* A zero-length file is an empty SQLite database. */
	th_write_file(path, "", 0);
	th_client_open(path);
	db = th_db_open(path);
	ASSERT_GT_INT(th_query_int(db, INTERNAL_TABLES), 0);
}

TEST(path_is_kept)
{
	const char *path = th_path("app.db");
	char copy[4096];
	dbsync_client *c;

	snprintf(copy, sizeof(copy), "%s", path);
	c = th_client_open(copy);
	/* The handle keeps its own copy, not the caller's buffer. */
	memset(copy, 'x', strlen(copy));
	ASSERT_EQ_STR(dbsync_client_path(c), path);
}

TEST(open_null_path)
{
	dbsync_client *c = (dbsync_client *)&c; /* anything non-NULL */

	ASSERT_CODE(dbsync_client_open(&c, NULL), DBSYNC_INVALID);
	ASSERT_NULL(c);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_INVALID);
	ASSERT_EQ_STR(dbsync_last_error_message(),
		      "database path is NULL or empty");
}

TEST(open_empty_path)
{
	dbsync_client *c = (dbsync_client *)&c;

	ASSERT_CODE(dbsync_client_open(&c, ""), DBSYNC_INVALID);
	ASSERT_NULL(c);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_INVALID);
	ASSERT_EQ_STR(dbsync_last_error_message(),
		      "database path is NULL or empty");
}

TEST(open_null_out)
{
	const char *path = th_path("app.db");

	ASSERT_CODE(dbsync_client_open(NULL, path), DBSYNC_INVALID);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_INVALID);
	ASSERT_EQ_STR(dbsync_last_error_message(), "output pointer is NULL");
	/* Bad input changes nothing. */
	ASSERT(!file_exists(path));
}

TEST(open_not_a_database)
{
	const char *path = th_path("notes.txt");
	size_t len = 8192, k, back_len;
	char *text = th_alloc(len);
	void *back;
	th_rng rng;
	dbsync_client *c = (dbsync_client *)&c;

	th_rng_init(&rng, 42);
	for (k = 0; k < len; k++)
		text[k] = (k % 64 == 63) ? '\n'
					 : (char)(' ' + th_rng_below(&rng, 95));
	th_write_file(path, text, len);

	ASSERT_CODE(dbsync_client_open(&c, path), DBSYNC_DB);
	ASSERT_NULL(c);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_DB);
	ASSERT_EQ_INT(dbsync_last_error_sqlite_code(), SQLITE_NOTADB);
	ASSERT_GOOD_MESSAGE(dbsync_last_error_message());
	/* The message says why, and (docs/c-api.md) names the file. */
	ASSERT_MSG(th_contains(dbsync_last_error_message(), "not a") &&
			   th_contains(dbsync_last_error_message(), "database"),
		   "message \"%s\" does not say the file is not a database",
		   dbsync_last_error_message());
	ASSERT_MSG(th_contains(dbsync_last_error_message(), "notes.txt"),
		   "message \"%s\" does not name the file",
		   dbsync_last_error_message());
	/* The file is left exactly as it was. */
	back = th_read_file(path, &back_len);
	ASSERT_EQ_INT(back_len, len);
	ASSERT(memcmp(back, text, len) == 0);
}

TEST(sqlite_code_of_a_file_that_stopped_being_a_database)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);
	size_t len, k;
	unsigned char *bytes;

	th_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v)");
	th_db_close(db);
	/* Overwrite the whole file, header included, under the open
	 * handle: the next read hits SQLITE_NOTADB. */
	bytes = th_read_file(path, &len);
	for (k = 0; k < len; k++)
		bytes[k] = (unsigned char)"garbage!"[k % 8];
	th_write_file(path, bytes, len);

	ASSERT_CODE(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH),
		    DBSYNC_DB);
	ASSERT_EQ_INT(dbsync_client_error_code(c), DBSYNC_DB);
	ASSERT_EQ_INT(dbsync_client_sqlite_code(c) & 0xff, SQLITE_NOTADB);
	ASSERT_GOOD_MESSAGE(dbsync_client_error_message(c));
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_DB);
	ASSERT_EQ_STR(dbsync_last_error_message(),
		      dbsync_client_error_message(c));
}

TEST(open_in_missing_directory)
{
	const char *path = th_path("no/such/dir/app.db");
	dbsync_client *c = (dbsync_client *)&c;

	ASSERT_CODE(dbsync_client_open(&c, path), DBSYNC_DB);
	ASSERT_NULL(c);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_DB);
	ASSERT_GOOD_MESSAGE(dbsync_last_error_message());
	ASSERT_MSG(th_contains(dbsync_last_error_message(), "app.db"),
		   "message \"%s\" does not name the file",
		   dbsync_last_error_message());
}

TEST(open_newer_schema)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db;

	th_client_free(c);
	db = th_db_open(path);
	th_exec(db, "UPDATE dbsync_meta SET value = 999 WHERE key = "
		    "'schema_version'");
	ASSERT_EQ_INT(sqlite3_changes(db), 1);

	c = (dbsync_client *)&c;
	ASSERT_CODE(dbsync_client_open(&c, path), DBSYNC_SCHEMA);
	ASSERT_NULL(c);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_SCHEMA);
	ASSERT_GOOD_MESSAGE(dbsync_last_error_message());
	ASSERT_MSG(th_contains(dbsync_last_error_message(),
			       "database has dbsync schema version 999, newer "
			       "than this library supports"),
		   "message: \"%s\"", dbsync_last_error_message());
	/* Not "upgraded" downwards, not touched. */
	ASSERT_EQ_INT(th_query_int(db, "SELECT value FROM dbsync_meta WHERE "
				       "key = 'schema_version'"),
		      999);
	/* Still refused the second time. */
	ASSERT_CODE(dbsync_client_open(&c, path), DBSYNC_SCHEMA);
	ASSERT_NULL(c);
}

TEST(free_null)
{
	dbsync_client_free(NULL);
	dbsync_oplist_free(NULL);
	/* Still alive, and a real handle frees fine after it. */
	th_client_free(th_client_open(th_path("app.db")));
	ASSERT(file_exists(th_path("app.db")));
}

TEST(error_accessors_accept_null)
{
	ASSERT_EQ_STR(dbsync_client_error_message(NULL), "");
	ASSERT_EQ_INT(dbsync_client_error_code(NULL), 0);
	ASSERT_EQ_INT(dbsync_client_sqlite_code(NULL), 0);
	ASSERT_NULL(dbsync_client_path(NULL));
}

TEST(error_is_recorded_on_the_handle)
{
	dbsync_client *c = th_client_open(th_path("app.db"));

	ASSERT_CODE(dbsync_client_track(c, "no_such_table",
					DBSYNC_DIRECTION_BOTH),
		    DBSYNC_NOT_FOUND);
	ASSERT_EQ_INT(dbsync_client_error_code(c), DBSYNC_NOT_FOUND);
	ASSERT_EQ_STR(dbsync_client_error_message(c),
		      "no such table: \"no_such_table\"");
	/* Not an SQLite failure. */
	ASSERT_EQ_INT(dbsync_client_sqlite_code(c), 0);
	/* The thread's last error is the same one. */
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_NOT_FOUND);
	ASSERT_EQ_STR(dbsync_last_error_message(),
		      dbsync_client_error_message(c));

	/* The handle describes the most recent call: a success clears it... */
	ASSERT_EQ_INT(dbsync_client_is_tracked(c, "no_such_table", NULL), 0);
	ASSERT_EQ_INT(dbsync_client_error_code(c), 0);
	ASSERT_EQ_STR(dbsync_client_error_message(c), "");
	/* ...but not the thread's last error, read after a failure. */
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_NOT_FOUND);
	ASSERT_GOOD_MESSAGE(dbsync_last_error_message());
}

TEST(errors_on_two_handles_are_separate)
{
	const char *path = th_path("app.db");
	dbsync_client *a = th_client_open(path);
	dbsync_client *b = th_client_open(path);

	ASSERT_CODE(dbsync_client_untrack(a, "nothing"), DBSYNC_NOT_FOUND);
	ASSERT_EQ_INT(dbsync_client_error_code(a), DBSYNC_NOT_FOUND);
	ASSERT_EQ_INT(dbsync_client_error_code(b), 0);
	ASSERT_EQ_STR(dbsync_client_error_message(b), "");
}

struct other_thread {
	const char *path;
	int before_code;
	int rc;
	int code_after;
};

static void *fail_in_other_thread(void *arg)
{
	struct other_thread *t = arg;
	dbsync_client *c = NULL;

	t->before_code = dbsync_last_error_code();
	if (dbsync_client_open(&c, t->path) != 0)
		return NULL;
	t->rc = dbsync_client_untrack(c, "nothing_here");
	t->code_after = dbsync_last_error_code();
	dbsync_client_free(c);
	return NULL;
}

TEST(last_error_is_per_thread)
{
	struct other_thread t = {th_path("app.db"), -999, -999, -999};
	pthread_t th;
	dbsync_client *c = (dbsync_client *)&c;

	ASSERT_CODE(dbsync_client_open(&c, NULL), DBSYNC_INVALID);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_INVALID);

	ASSERT_EQ_INT(pthread_create(&th, NULL, fail_in_other_thread, &t), 0);
	ASSERT_EQ_INT(pthread_join(th, NULL), 0);
	/* The other thread neither saw our error nor overwrote it. */
	ASSERT_EQ_INT(t.before_code, 0);
	ASSERT_EQ_INT(t.rc, DBSYNC_NOT_FOUND);
	ASSERT_EQ_INT(t.code_after, DBSYNC_NOT_FOUND);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_INVALID);
	ASSERT_GOOD_MESSAGE(dbsync_last_error_message());
}

TEST(handle_survives_other_connections)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);

	/* Schema changes by another connection are seen by the handle. */
	th_exec(db, "CREATE TABLE later(id INTEGER PRIMARY KEY, v)");
	ASSERT_OK(dbsync_client_track(c, "later", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO later VALUES (7, 'seven')");
	ASSERT_EQ_STR(th_pending_str(c), "later:i:7");
}

TEST(concurrent_first_open_from_processes)
{
	const char *path = th_path("race.db");
	enum { NPROC = 6 };
	pid_t pids[NPROC];
	int go[2], k, failures = 0;
	sqlite3 *db;

	/* Several processes create the internal schema of one new file at
	 * the same moment (docs/c-api.md: safe from two processes at once). */
	ASSERT_EQ_INT(pipe(go), 0);
	fflush(stdout);
	for (k = 0; k < NPROC; k++) {
		pids[k] = fork();
		ASSERT_MSG(pids[k] >= 0, "fork failed");
		if (pids[k] == 0) {
			dbsync_client *c = NULL;
			char byte;
			int rc;
			close(go[1]);
			/* Wait for the parent to release everyone at once. */
			if (read(go[0], &byte, 1) < 0)
				_exit(3);
			rc = dbsync_client_open(&c, path);
			if (rc != DBSYNC_OK)
				printf("  child %d: %s: %s\n", k,
				       dbsync_error_name(rc),
				       dbsync_last_error_message());
			fflush(stdout);
			dbsync_client_free(c);
			_exit(rc == DBSYNC_OK ? 0 : 1);
		}
	}
	close(go[0]);
	close(go[1]); /* EOF wakes every child together */
	for (k = 0; k < NPROC; k++) {
		int status;
		ASSERT_EQ_INT(waitpid(pids[k], &status, 0), pids[k]);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failures++;
	}
	ASSERT_EQ_INT(failures, 0);
	db = th_db_open(path);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_meta "
				       "WHERE key = 'schema_version'"),
		      1);
	ASSERT_EQ_STR(th_query_text(db, "PRAGMA integrity_check"), "ok");
	th_client_open(path);
}

static const th_case cases[] = {
	CASE(open_creates_internal_tables),
	CASE(open_keeps_existing_app_data),
	CASE(open_twice_is_idempotent),
	CASE(open_two_handles_at_once),
	CASE(open_empty_file_is_a_database),
	CASE(path_is_kept),
	CASE(open_null_path),
	CASE(open_empty_path),
	CASE(open_null_out),
	CASE(open_not_a_database),
	CASE(sqlite_code_of_a_file_that_stopped_being_a_database),
	CASE(open_in_missing_directory),
	CASE(open_newer_schema),
	CASE(free_null),
	CASE(error_accessors_accept_null),
	CASE(error_is_recorded_on_the_handle),
	CASE(errors_on_two_handles_are_separate),
	CASE(last_error_is_per_thread),
	CASE(handle_survives_other_connections),
	CASE(concurrent_first_open_from_processes),
};
TH_MAIN(cases)
