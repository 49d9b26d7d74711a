/*
 * capture_test.c - the triggers: what a write logs, from any connection or
 * process, and that the log entry commits and rolls back with the write.
 */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define LOG_ROWS "SELECT count(*) FROM dbsync_log"

/* Client + own connection on a database with t(id, v) holding rows 1..3
 * from before tracking started. */
static dbsync_client *setup(sqlite3 **db)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);

	*db = th_db_open(path);
	th_exec(*db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v);"
		     "INSERT INTO t VALUES (1, 'one'), (2, 'two'), "
		     "(3, NULL)");
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	ASSERT_EQ_STR(th_pending_str(c), "");
	return c;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- what is logged --------------------------------------------------- */

TEST(insert_is_logged)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "INSERT INTO t VALUES (10, 'ten')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:10");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 1);
}

TEST(update_is_logged)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "UPDATE t SET v = 'uno' WHERE id = 1");
	ASSERT_EQ_STR(th_pending_str(c), "t:u:1");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 1);
}

TEST(delete_is_logged)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "DELETE FROM t WHERE id = 2");
	ASSERT_EQ_STR(th_pending_str(c), "t:d:2");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 1);
}

TEST(multi_row_statements)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "UPDATE t SET v = coalesce(v, '') || '!'");
	ASSERT_EQ_STR(th_pending_sorted_str(c),
		      "t:u:1 t:u:2 t:u:3");
	th_exec(db, "DELETE FROM t WHERE id >= 2");
	th_exec(db, "INSERT INTO t SELECT value, 'gen' FROM "
		    "json_each('[20, 21, 22]')");
	ASSERT_EQ_STR(th_pending_str(c), "t:u:1 t:d:2 t:d:3 t:i:20 t:i:21 "
					 "t:i:22");
}

TEST(update_to_and_from_null_is_logged)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	/* A change involving NULL is a change (IS, not =). */
	th_exec(db, "UPDATE t SET v = NULL WHERE id = 1");
	th_exec(db, "UPDATE t SET v = 'three' WHERE id = 3");
	ASSERT_EQ_STR(th_pending_str(c), "t:u:1 t:u:3");
}

TEST(noop_update_is_not_logged)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "UPDATE t SET v = v");
	th_exec(db, "UPDATE t SET v = 'one' WHERE id = 1");
	th_exec(db, "UPDATE t SET v = NULL WHERE id = 3");
	th_exec(db, "UPDATE t SET id = id");
	th_exec(db, "UPDATE t SET id = id, v = v WHERE id = 2");
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 0);
}

TEST(noop_update_of_blob_and_real)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);

	th_exec(db, "CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB, x "
		    "REAL); INSERT INTO b VALUES (1, x'00010203', 1.5)");
	ASSERT_OK(dbsync_client_track(c, "b", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "UPDATE b SET data = x'00010203', x = 1.5");
	ASSERT_EQ_STR(th_pending_str(c), "");
	th_exec(db, "UPDATE b SET data = x'00010204'");
	ASSERT_EQ_STR(th_pending_str(c), "b:u:1");
}

TEST(primary_key_change_is_delete_then_insert)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "UPDATE t SET id = 99 WHERE id = 1");
	ASSERT_EQ_STR(th_pending_str(c), "t:d:1 t:i:99");
}

TEST(primary_key_change_with_other_columns)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "UPDATE t SET id = 50, v = 'moved' WHERE id = 2");
	ASSERT_EQ_STR(th_pending_str(c), "t:d:2 t:i:50");
}

TEST(primary_key_change_of_a_new_row)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "INSERT INTO t VALUES (5, 'five')");
	th_exec(db, "UPDATE t SET id = 6 WHERE id = 5");
	/* i 5, d 5 cancel out; only the row under its new key remains. */
	ASSERT_EQ_STR(th_pending_str(c), "t:i:6");
}

TEST(primary_key_change_of_a_text_key)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);

	th_exec(db, "CREATE TABLE p(code TEXT PRIMARY KEY, v);"
		    "INSERT INTO p VALUES ('old', 1)");
	ASSERT_OK(dbsync_client_track(c, "p", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "UPDATE p SET code = 'new' WHERE code = 'old'");
	ASSERT_EQ_STR(th_pending_str(c), "p:d:'old' p:i:'new'");
}

TEST(case_change_under_nocase_collation_is_logged)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);

	th_exec(db, "CREATE TABLE n(code TEXT PRIMARY KEY COLLATE NOCASE,"
		    " name TEXT COLLATE NOCASE);"
		    "INSERT INTO n VALUES ('abc', 'oslo'), ('k', 'x')");
	ASSERT_OK(dbsync_client_track(c, "n", DBSYNC_DIRECTION_BOTH));
	/* Equal under NOCASE, different bytes: a change to sync. */
	th_exec(db, "UPDATE n SET name = 'OSLO' WHERE code = 'abc'");
	ASSERT_EQ_STR(th_pending_str(c), "n:u:'abc'");
	th_exec(db, "UPDATE n SET code = 'K' WHERE code = 'k'");
	ASSERT_EQ_STR(th_pending_str(c), "n:u:'abc' n:d:'k' n:i:'K'");
}

TEST(upsert_update_is_an_update)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "INSERT INTO t VALUES (1, 'upserted') ON CONFLICT(id) DO "
		    "UPDATE SET v = excluded.v");
	th_exec(db, "INSERT INTO t VALUES (7, 'new') ON CONFLICT(id) DO "
		    "UPDATE SET v = excluded.v");
	ASSERT_EQ_STR(th_pending_str(c), "t:u:1 t:i:7");
}

TEST(insert_or_replace_of_an_existing_row)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	/* REPLACE removes the old row without firing delete triggers (unless
	 * recursive_triggers is on). docs/capture.md: this is logged as `i`,
	 * "the row exists", and the server applies it as an upsert. */
	th_exec(db, "INSERT OR REPLACE INTO t VALUES (2, 'replaced')");
	th_exec(db, "REPLACE INTO t VALUES (8, 'eight')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:2 t:i:8");
}

TEST(insert_or_replace_then_delete_keeps_a_tombstone)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	/* Row 2 is on the server. REPLACE logs `i`, DELETE `d`: i ... d
	 * folds to nothing, so pending() omits it (docs/capture.md), but the
	 * log must keep something for row 2, even through compaction, so
	 * the push can send its "delete if present" tombstone. Otherwise the
	 * server keeps a row the client deleted. */
	th_exec(db, "INSERT OR REPLACE INTO t VALUES (2, 'replaced')");
	th_exec(db, "DELETE FROM t WHERE id = 2");
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_log WHERE "
				       "pk = 2 AND version IS NULL"),
		      1);
	/* A re-insert after the tombstone is an insert again. */
	th_exec(db, "INSERT INTO t VALUES (2, 'again')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:2");
}

TEST(insert_or_replace_with_recursive_triggers)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	/* With recursive_triggers the removal is seen: d i -> u. */
	th_exec(db, "PRAGMA recursive_triggers = ON;"
		    "INSERT OR REPLACE INTO t VALUES (2, 'replaced')");
	ASSERT_EQ_STR(th_pending_str(c), "t:u:2");
}

TEST(insert_or_ignore_of_an_existing_row)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "INSERT OR IGNORE INTO t VALUES (2, 'ignored');"
		    "INSERT OR IGNORE INTO t VALUES (9, 'nine')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:9");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 1);
}

TEST(cascade_delete_is_captured)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);

	th_exec(db, "CREATE TABLE parent(id INTEGER PRIMARY KEY);"
		    "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id "
		    "INTEGER REFERENCES parent(id) ON DELETE CASCADE);"
		    "INSERT INTO parent VALUES (1), (2);"
		    "INSERT INTO child VALUES (10, 1), (11, 1), (12, 2)");
	ASSERT_OK(dbsync_client_track(c, "parent", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(c, "child", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "DELETE FROM parent WHERE id = 1");
	ASSERT_EQ_STR(th_pending_sorted_str(c),
		      "child:d:10 child:d:11 parent:d:1");
}

TEST(app_trigger_writes_are_captured)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);

	th_exec(db, "CREATE TABLE item(id INTEGER PRIMARY KEY, name);"
		    "CREATE TABLE audit(id INTEGER PRIMARY KEY, what);"
		    "CREATE TRIGGER item_audit AFTER INSERT ON item BEGIN "
		    "INSERT INTO audit(what) VALUES ('added ' || NEW.name); "
		    "END;");
	ASSERT_OK(dbsync_client_track(c, "audit", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO item VALUES (1, 'pen')");
	ASSERT_EQ_STR(th_pending_str(c), "audit:i:1");
	/* The app's own trigger still works. */
	ASSERT_EQ_STR(th_query_text(db, "SELECT what FROM audit"), "added pen");
}

/* ---- transactions ----------------------------------------------------- */

TEST(rollback_leaves_no_log_entry)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "BEGIN; INSERT INTO t VALUES (10, 'x');"
		    "UPDATE t SET v = 'y' WHERE id = 1;"
		    "DELETE FROM t WHERE id = 2; UPDATE t SET id = 30 WHERE "
		    "id = 3; ROLLBACK");
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 0);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM t"), 3);
}

TEST(savepoint_rollback_undoes_only_its_part)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "BEGIN; INSERT INTO t VALUES (10, 'kept');"
		    "SAVEPOINT s; INSERT INTO t VALUES (11, 'gone');"
		    "DELETE FROM t WHERE id = 1; ROLLBACK TO s; RELEASE s;"
		    "UPDATE t SET v = 'kept' WHERE id = 2; COMMIT");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:10 t:u:2");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 2);
}

TEST(failed_statement_leaves_no_log_entry)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	/* The first row goes in, the second violates the key: the whole
	 * statement is undone, log entry included. */
	ASSERT_EQ_INT(th_exec_rc(db, "INSERT INTO t VALUES (10, 'a'), "
				     "(1, 'dup')"),
		      SQLITE_CONSTRAINT_PRIMARYKEY);
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 0);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM t"), 3);
}

TEST(uncommitted_writes_are_invisible_to_readers)
{
	const char *path = th_path("app.db");
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	sqlite3 *reader = th_db_open(path);

	th_exec(db, "BEGIN; INSERT INTO t VALUES (10, 'a'), (11, 'b');"
		    "UPDATE t SET v = 'z' WHERE id = 1");
	/* Neither the rows nor their log entries show before COMMIT. */
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(th_query_int(reader, LOG_ROWS), 0);
	ASSERT_EQ_INT(th_query_int(reader, "SELECT count(*) FROM t"), 3);
	th_exec(db, "COMMIT");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:10 t:i:11 t:u:1");
	ASSERT_EQ_INT(th_query_int(reader, LOG_ROWS), 3);
}

struct writer {
	const char *path;
	int txns;
	int per_txn;
	int failed_rc;
	char error[256];
	atomic_int finished;
};

static void *write_batches(void *arg)
{
	struct writer *w = arg;
	sqlite3 *db = NULL;
	int k, j, rc = sqlite3_open(w->path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(db, 20000);
	for (k = 0; rc == SQLITE_OK && k < w->txns; k++) {
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		for (j = 0; rc == SQLITE_OK && j < w->per_txn; j++) {
			char sql[128];
			snprintf(sql, sizeof(sql),
				 "INSERT INTO t VALUES (%d, 'w')",
				 1000 + k * w->per_txn + j);
			rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		}
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		w->failed_rc = rc;
		snprintf(w->error, sizeof(w->error), "%s",
			 db ? sqlite3_errmsg(db) : "open failed");
	}
	sqlite3_close(db);
	atomic_store(&w->finished, 1);
	return NULL;
}

TEST(readers_never_see_half_a_transaction)
{
	const char *path = th_path("app.db");
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	struct writer w = {path, 150, 4, 0, "", 0};
	pthread_t th;
	int reads = 0, busy = 0, done = 0;
	size_t n;

	ASSERT_EQ_INT(pthread_create(&th, NULL, write_batches, &w), 0);
	while (!done) {
		dbsync_oplist *list = NULL;
		int rc;
		int finished = atomic_load(&w.finished);

		/* One statement: one snapshot. Rows and log entries of the
		 * writer's transactions appear together or not at all. */
		int64_t diff = th_query_int(
			db, "SELECT (SELECT count(*) FROM t WHERE id >= 1000) - "
			    "(SELECT count(*) FROM dbsync_log)");
		if (diff != 0) {
			pthread_join(th, NULL);
			th_fail(__FILE__, __LINE__,
				"rows and log entries differ by %lld",
				(long long)diff);
		}
		rc = dbsync_client_pending(&list, c);
		if (rc == DBSYNC_BUSY) {
			busy++;
		} else if (rc != DBSYNC_OK) {
			pthread_join(th, NULL);
			ASSERT_OK(rc);
		} else {
			n = dbsync_oplist_count(list);
			dbsync_oplist_free(list);
			reads++;
			if (n % 4 != 0) {
				pthread_join(th, NULL);
				th_fail(__FILE__, __LINE__,
					"pending() saw %zu operations, not a "
					"whole number of 4-row transactions",
					n);
			}
			done = n == 600;
			if (!done && finished) {
				pthread_join(th, NULL);
				th_fail(__FILE__, __LINE__,
					"writer done (rc %d: %s) but pending() "
					"has %zu operations, not 600",
					w.failed_rc, w.error, n);
			}
		}
	}
	ASSERT_EQ_INT(pthread_join(th, NULL), 0);
	ASSERT_MSG(w.failed_rc == 0, "writer failed: %d %s", w.failed_rc,
		   w.error);
	th_note("%d consistent reads, %d busy", reads, busy);
	ASSERT_GT_INT(reads, 0);
	th_pending(c, &n);
	ASSERT_EQ_INT(n, 600);
}

/* ---- other connections and processes ---------------------------------- */

TEST(second_connection_in_process)
{
	const char *path = th_path("app.db");
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	sqlite3 *other;

	/* A connection opened with no dbsync involvement at all. */
	ASSERT_EQ_INT(sqlite3_open_v2(path, &other, SQLITE_OPEN_READWRITE,
				      NULL),
		      SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_exec(other,
				   "INSERT INTO t VALUES (40, 'other');"
				   "UPDATE t SET v = 'o' WHERE id = 1;"
				   "DELETE FROM t WHERE id = 2",
				   NULL, NULL, NULL),
		      SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_close(other), SQLITE_OK);
	ASSERT_EQ_STR(th_pending_str(c), "t:i:40 t:u:1 t:d:2");
}

TEST(sqlite3_shell_writes_are_captured)
{
	const char *path = th_path("app.db");
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	const char *argv[] = {th_sqlite3_shell(), "-bail", path,
			      "INSERT INTO t VALUES (60, 'shell');"
			      "UPDATE t SET v = 'sh' WHERE id = 1;"
			      "DELETE FROM t WHERE id = 2;"
			      "UPDATE t SET id = 33 WHERE id = 3;",
			      NULL};

	ASSERT_EQ_INT(th_run(argv), 0);
	ASSERT_EQ_STR(th_pending_str(c), "t:i:60 t:u:1 t:d:2 t:d:3 t:i:33");
}

TEST(sqlite3_shell_rollback_logs_nothing)
{
	const char *path = th_path("app.db");
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	const char *argv[] = {th_sqlite3_shell(), "-bail", path,
			      "BEGIN; INSERT INTO t VALUES (61, 'x');"
			      "DELETE FROM t WHERE id = 1; ROLLBACK;",
			      NULL};

	ASSERT_EQ_INT(th_run(argv), 0);
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 0);
}

TEST(python_writes_are_captured)
{
	const char *path = th_path("app.db");
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	const char *argv[] = {
		th_python3(), "-c",
		"import sqlite3, sys\n"
		"c = sqlite3.connect(sys.argv[1], timeout=10)\n"
		"c.execute(\"INSERT INTO t VALUES (70, 'py')\")\n"
		"c.execute(\"UPDATE t SET v = 'p' WHERE id = 1\")\n"
		"c.execute(\"DELETE FROM t WHERE id = 2\")\n"
		"c.executemany('INSERT INTO t VALUES (?, ?)',\n"
		"              [(71, 'a'), (72, b'\\x00blob')])\n"
		"c.commit()\n"
		"c.execute(\"INSERT INTO t VALUES (73, 'never')\")\n"
		"c.rollback()\n"
		"c.close()\n",
		path, NULL};

	ASSERT_EQ_INT(th_run(argv), 0);
	ASSERT_EQ_STR(th_pending_str(c), "t:i:70 t:u:1 t:d:2 t:i:71 t:i:72");
}

/* Start a process; returns its pid (asserts). */
static pid_t spawn(const char *const argv[])
{
	pid_t pid;
	int rc;

	fflush(stdout);
	rc = posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv,
			  environ);
	ASSERT_MSG(rc == 0, "cannot run %s: %s", argv[0], strerror(rc));
	return pid;
}

/* Wait up to 30 s for `path` to exist; kill the child if it never does. */
static void wait_for_file(const char *path, pid_t pid)
{
	struct stat st;
	int k;

	for (k = 0; k < 3000; k++) {
		int status;
		if (stat(path, &st) == 0)
			return;
		if (waitpid(pid, &status, WNOHANG) == pid)
			th_fail(__FILE__, __LINE__,
				"child exited (status %d) before %s", status,
				path);
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	th_fail(__FILE__, __LINE__, "timed out waiting for %s", path);
}

static void kill_and_reap(pid_t pid)
{
	int status;

	ASSERT_EQ_INT(kill(pid, SIGKILL), 0);
	ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
	ASSERT(WIFSIGNALED(status));
	ASSERT_EQ_INT(WTERMSIG(status), SIGKILL);
}

TEST(killed_writer_mid_transaction_logs_nothing)
{
	const char *path = th_path("app.db");
	const char *marker = th_path("in-transaction");
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	/* A tiny cache makes the writer spill to the file before it
	 * commits, so the kill leaves a hot journal / uncommitted WAL frames
	 * behind for the next reader to discard. */
	const char *argv[] = {
		th_python3(), "-c",
		"import sqlite3, sys, time\n"
		"c = sqlite3.connect(sys.argv[1], timeout=10,\n"
		"                    isolation_level=None)\n"
		"c.execute('PRAGMA cache_size = 2')\n"
		"c.execute('BEGIN IMMEDIATE')\n"
		"c.execute(\"UPDATE t SET v = 'doomed' WHERE id = 1\")\n"
		"c.execute('DELETE FROM t WHERE id = 2')\n"
		"for i in range(100, 2100):\n"
		"    c.execute('INSERT INTO t VALUES (?, ?)', (i, 'x' * 500))\n"
		"open(sys.argv[2], 'w').close()\n"
		"time.sleep(120)\n",
		path, marker, NULL};
	pid_t pid = spawn(argv);

	wait_for_file(marker, pid);
	kill_and_reap(pid);
	/* The crash left work behind for recovery: a hot rollback journal
	 * or uncommitted frames in the WAL. */
	{
		struct stat st;
		ASSERT((stat(th_fmt("%s-journal", path), &st) == 0 &&
			st.st_size > 0) ||
		       (stat(th_fmt("%s-wal", path), &st) == 0 &&
			st.st_size > 0));
	}

	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 0);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM t"), 3);
	ASSERT_EQ_STR(th_query_text(db, "SELECT v FROM t WHERE id = 1"),
		      "one");
	ASSERT_EQ_STR(th_query_text(db, "PRAGMA integrity_check"), "ok");
}

TEST(killed_writer_after_commit_keeps_its_log)
{
	const char *path = th_path("app.db");
	const char *marker = th_path("committed");
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	const char *argv[] = {
		th_python3(), "-c",
		"import sqlite3, sys, time\n"
		"c = sqlite3.connect(sys.argv[1], timeout=10)\n"
		"c.execute(\"INSERT INTO t VALUES (80, 'durable')\")\n"
		"c.execute('DELETE FROM t WHERE id = 3')\n"
		"c.commit()\n"
		"c.execute(\"INSERT INTO t VALUES (81, 'uncommitted')\")\n"
		"open(sys.argv[2], 'w').close()\n"
		"time.sleep(120)\n",
		path, marker, NULL};
	pid_t pid = spawn(argv);

	wait_for_file(marker, pid);
	kill_and_reap(pid);

	ASSERT_EQ_STR(th_pending_str(c), "t:i:80 t:d:3");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 2);
}

static const th_case cases[] = {
	CASE(insert_is_logged),
	CASE(update_is_logged),
	CASE(delete_is_logged),
	CASE(multi_row_statements),
	CASE(update_to_and_from_null_is_logged),
	CASE(noop_update_is_not_logged),
	CASE(noop_update_of_blob_and_real),
	CASE(primary_key_change_is_delete_then_insert),
	CASE(primary_key_change_with_other_columns),
	CASE(primary_key_change_of_a_new_row),
	CASE(primary_key_change_of_a_text_key),
	CASE(case_change_under_nocase_collation_is_logged),
	CASE(upsert_update_is_an_update),
	CASE(insert_or_replace_of_an_existing_row),
	CASE(insert_or_replace_then_delete_keeps_a_tombstone),
	CASE(insert_or_replace_with_recursive_triggers),
	CASE(insert_or_ignore_of_an_existing_row),
	CASE(cascade_delete_is_captured),
	CASE(app_trigger_writes_are_captured),
	CASE(rollback_leaves_no_log_entry),
	CASE(savepoint_rollback_undoes_only_its_part),
	CASE(failed_statement_leaves_no_log_entry),
	CASE(uncommitted_writes_are_invisible_to_readers),
	CASE(readers_never_see_half_a_transaction),
	CASE(second_connection_in_process),
	CASE(sqlite3_shell_writes_are_captured),
	CASE(sqlite3_shell_rollback_logs_nothing),
	CASE(python_writes_are_captured),
	CASE(killed_writer_mid_transaction_logs_nothing),
	CASE(killed_writer_after_commit_keeps_its_log),
};
TH_MAIN(cases)
