/*
 * store_pg_test.c - the PostgreSQL store against the machine's real
 * server, beyond what the <module>_pg variants of the end-to-end tests
 * cover: errors at open, what the store creates, direct writes by libpq
 * reaching clients (one committing late with a smaller seq included), two
 * dbsyncd processes on one schema with concurrent pushes, and column types
 * round-tripping between SQLite clients and PostgreSQL.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS city(id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS person(id INTEGER PRIMARY KEY, name TEXT,"
	" city_id INTEGER REFERENCES city(id));";

static const char *const open_args[] = {"--track", "city,person",
					"--registration", "open", NULL};

/* A registered client of `url` on a new database with the same schema. */
static dbsync_client *client_on(const char *url, const char *name)
{
	return th_sync_client(url, name, schema, "city,person");
}

static void exec_on(dbsync_client *c, const char *sql)
{
	sqlite3 *db = th_db_open(dbsync_client_path(c));

	th_exec(db, sql);
	th_db_close(db);
}

static char *contents(const char *path)
{
	sqlite3 *db = th_db_open(path);
	char *s = th_query_text(
		db, "SELECT coalesce((SELECT group_concat(id || ':' || name, ',')"
		    " FROM (SELECT * FROM city ORDER BY id)), '') || ' | ' ||"
		    " coalesce((SELECT group_concat(id || ':' || name || ':' ||"
		    " coalesce(city_id, '-'), ',') FROM (SELECT * FROM person"
		    " ORDER BY id)), '')");
	th_db_close(db);
	return s;
}

static th_server *start(const char *name)
{
	const char *s = th_pg_schema_new();

	return th_server_start_url(name, th_pg_store_url(s), s, schema,
				   open_args);
}

/* ---- opening ---------------------------------------------------------- */

TEST(bad_urls_and_unreachable_servers_give_clear_errors)
{
	dbsync_server *s = NULL;
	const char *msg;
	const char *argv[] = {getenv("DBSYNC_TEST_DBSYNCD"), "--store",
			      "postgresql://postgres:hunter2@127.0.0.1:1/test",
			      "--listen", "127.0.0.1:0", NULL};

	/* Nothing listens on port 1; the password never shows. */
	ASSERT_CODE(dbsync_server_open(
			    &s, "postgresql://postgres:hunter2@127.0.0.1:1/test"),
		    DBSYNC_DB);
	ASSERT_NULL(s);
	msg = dbsync_last_error_message();
	ASSERT_GOOD_MESSAGE(msg);
	ASSERT_MSG(th_contains(msg, "cannot connect to PostgreSQL"), "%s", msg);
	ASSERT_MSG(!th_contains(msg, "hunter2"), "%s", msg);
	/* A parameter libpq does not know. */
	ASSERT_CODE(dbsync_server_open(&s, "postgresql://127.0.0.1/test?"
					   "bogus=1"),
		    DBSYNC_DB);
	msg = dbsync_last_error_message();
	ASSERT_MSG(th_contains(msg, "bogus"), "%s", msg);
	/* A search_path naming no schema: nowhere to keep the store. */
	ASSERT_CODE(dbsync_server_open(&s, th_pg_store_url("dbsync_nowhere")),
		    DBSYNC_SCHEMA);
	ASSERT_MSG(th_contains(dbsync_last_error_message(), "no schema"),
		   "%s", dbsync_last_error_message());
	/* A misspelt scheme is an unknown store kind, not a connection. */
	ASSERT_CODE(dbsync_server_open(&s, "postgresq://127.0.0.1/test"),
		    DBSYNC_INVALID);
	ASSERT_MSG(th_contains(dbsync_last_error_message(),
			       "unknown store kind \"postgresq\""),
		   "%s", dbsync_last_error_message());
	/* dbsyncd says so and exits 1 (store, schema, tracking). */
	ASSERT_NOT_NULL(argv[0]);
	ASSERT_EQ_INT(th_run(argv), 1);
}

TEST(open_keeps_everything_in_its_own_schema)
{
	const char *name = th_pg_schema_new(), *url = th_pg_store_url(name);
	dbsync_server *s = NULL, *again = NULL;
	void *c;
	int n = 0;

	ASSERT_OK(dbsync_server_open(&s, url));
	ASSERT_OK(dbsync_server_exec(s, schema));
	ASSERT_OK(dbsync_server_exec(
		s, "CREATE TABLE pair(a INTEGER, b INTEGER, PRIMARY KEY (a, b));"
		   "CREATE TABLE loose(a INTEGER);"
		   "CREATE VIEW city_names AS SELECT name FROM city"));
	ASSERT_CODE(dbsync_server_track(s, "nosuch"), DBSYNC_NOT_FOUND);
	ASSERT_EQ_STR(dbsync_server_error_message(s),
		      "no such table: \"nosuch\"");
	ASSERT_CODE(dbsync_server_track(s, "pair"), DBSYNC_SCHEMA);
	ASSERT_MSG(th_contains(dbsync_server_error_message(s), "composite"),
		   "%s", dbsync_server_error_message(s));
	ASSERT_CODE(dbsync_server_track(s, "loose"), DBSYNC_SCHEMA);
	ASSERT_MSG(th_contains(dbsync_server_error_message(s),
			       "no declared primary key"),
		   "%s", dbsync_server_error_message(s));
	ASSERT_CODE(dbsync_server_track(s, "city_names"), DBSYNC_SCHEMA);
	ASSERT_CODE(dbsync_server_track(s, "dbsync_log"), DBSYNC_SCHEMA);
	ASSERT_CODE(dbsync_server_exec(s, "CREATE TABLE"), DBSYNC_DB);
	ASSERT_GOOD_MESSAGE(dbsync_server_error_message(s));
	/* Names are matched ignoring case, as on SQLite. */
	ASSERT_OK(dbsync_server_track(s, "CITY"));
	ASSERT_OK(dbsync_server_track_all(s, &n));
	ASSERT_EQ_INT(n, 2); /* city, person */
	/* A second process opening the same store finds it ready. */
	ASSERT_OK(dbsync_server_open(&again, url));
	dbsync_server_free(again);
	dbsync_server_free(s);

	c = th_pg_connect(name);
	ASSERT_EQ_STR(th_pg_query_text(
			      c, th_fmt("SELECT string_agg(relname, ','"
					" ORDER BY relname) FROM pg_class k"
					" JOIN pg_namespace n"
					" ON n.oid = k.relnamespace"
					" WHERE n.nspname = '%s'"
					" AND relname LIKE 'dbsync%%'"
					" AND relkind IN ('r', 'S')",
					name)),
		      "dbsync_log,dbsync_log_seq,dbsync_meta,dbsync_nodes,"
		      "dbsync_nodes_id_seq,dbsync_nonces,dbsync_tracked,"
		      "dbsync_tracked_tid_seq,dbsync_versions");
	ASSERT_EQ_STR(th_pg_query_text(
			      c, "SELECT string_agg(tgname, ',' ORDER BY tgname)"
				 " FROM pg_trigger WHERE tgrelid = 'city'::regclass"
				 " AND NOT tgisinternal"),
		      "dbsync_capture,dbsync_capture_update,dbsync_lock,"
		      "dbsync_truncate");
}

/* ---- direct writes ------------------------------------------------------ */

TEST(direct_writes_by_libpq_reach_clients)
{
	th_server *srv = start("server");
	dbsync_client *a = client_on(srv->url, "a");
	void *c = th_pg_connect(srv->pg_schema);

	th_pg_exec(c, "INSERT INTO city VALUES (1, 'Oslo'), (2, 'Bergen'),"
		      " (3, 'Turku')");
	th_pg_exec(c, "INSERT INTO person VALUES (10, 'Ada', 1)");
	th_pg_exec(c, "UPDATE city SET name = name"); /* changes nothing */
	th_pg_exec(c, "UPDATE city SET id = 4 WHERE id = 3"); /* a new key */
	th_pg_exec(c, "BEGIN; INSERT INTO city VALUES (9, 'Rolled');"
		      " ROLLBACK");
	ASSERT_EQ_STR(th_pg_query_text(c, "SELECT string_agg(pk || op, ','"
					  " ORDER BY seq) FROM dbsync_log"),
		      "1i,2i,3i,10i,3d,4i");
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_EQ_STR(contents(dbsync_client_path(a)),
		      "1:Oslo,2:Bergen,4:Turku | 10:Ada:1");

	th_pg_exec(c, "UPDATE city SET name = 'Åbo' WHERE id = 4");
	th_pg_exec(c, "INSERT INTO person VALUES (11, 'Bo', 2)");
	th_pg_exec(c, "TRUNCATE person"); /* no row triggers: logged apart */
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_EQ_STR(contents(dbsync_client_path(a)),
		      "1:Oslo,2:Bergen,4:Åbo | ");

	/* And the other way: a push lands in PostgreSQL. */
	exec_on(a, "INSERT INTO city VALUES (5, 'Kiruna')");
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_EQ_STR(th_pg_query_text(c, "SELECT name FROM city WHERE id = 5"),
		      "Kiruna");
	ASSERT_EQ_STR(contents(th_server_db(srv)), contents(dbsync_client_path(a)));
}

struct puller {
	dbsync_client *c;
	int rc;
	volatile int done;
};

static void *pull_thread(void *arg)
{
	struct puller *p = arg;

	p->rc = dbsync_client_pull(p->c);
	p->done = 1;
	return NULL;
}

TEST(a_direct_write_committing_late_with_a_smaller_seq_is_not_skipped)
{
	th_server *srv = start("server");
	dbsync_client *a = client_on(srv->url, "a"),
		      *b = client_on(srv->url, "b");
	void *early = th_pg_connect(srv->pg_schema),
	     *late = th_pg_connect(srv->pg_schema);
	struct puller p = {a, -1, 0};
	pthread_t t;

	/* `early` takes its seq first and commits last. */
	th_pg_exec(early, "BEGIN");
	th_pg_exec(early, "INSERT INTO city VALUES (1, 'first seq')");
	th_pg_exec(late, "INSERT INTO city VALUES (2, 'second seq')");
	ASSERT_EQ_STR(th_pg_query_text(late, "SELECT string_agg(pk, ',')"
					     " FROM dbsync_log"),
		      "2");
	/* The pull folds direct writes into a version: it waits for the
	 * open writer instead of versioning seq 2 past seq 1. */
	ASSERT_EQ_INT(pthread_create(&t, NULL, pull_thread, &p), 0);
	nanosleep(&(struct timespec){0, 400000000L}, NULL);
	ASSERT_EQ_INT(p.done, 0);
	th_pg_exec(early, "COMMIT");
	pthread_join(t, NULL);
	ASSERT_OK(p.rc);
	ASSERT_EQ_STR(contents(dbsync_client_path(a)),
		      "1:first seq,2:second seq | ");
	ASSERT_OK(dbsync_client_sync(b, 0));
	ASSERT_EQ_STR(contents(dbsync_client_path(b)),
		      "1:first seq,2:second seq | ");
	/* One version holds both, as one contiguous range. */
	ASSERT_EQ_STR(th_pg_query_text(late,
				       "SELECT count(*) || ':' ||"
				       " bool_and(first_seq <= (SELECT min(seq)"
				       " FROM dbsync_log) AND last_seq >="
				       " (SELECT max(seq) FROM dbsync_log))"
				       " FROM dbsync_versions"),
		      "1:true");
}

/* ---- two servers, one store ---------------------------------------- */

#define NCLIENTS 6
#define ROUNDS 4

struct pusher {
	dbsync_client *c;
	pthread_barrier_t *start;
	int rc;
};

static void *push_thread(void *arg)
{
	struct pusher *p = arg;

	pthread_barrier_wait(p->start);
	p->rc = dbsync_client_push(p->c);
	return NULL;
}

TEST(two_servers_on_one_schema_accept_one_push_per_base)
{
	const char *name = th_pg_schema_new(), *url = th_pg_store_url(name);
	th_server *s1 = th_server_start_url("s1", url, name, schema, open_args);
	th_server *s2 = th_server_start_url("s2", url, name, NULL, open_args);
	dbsync_client *c[NCLIENTS];
	struct pusher p[NCLIENTS];
	pthread_barrier_t start;
	pthread_t t[NCLIENTS];
	char *want;
	int k, round, wins;

	for (k = 0; k < NCLIENTS; k++)
		c[k] = client_on(k % 2 ? s2->url : s1->url,
				 th_fmt("c%d", k));
	for (round = 0; round < ROUNDS; round++) {
		/* Everyone on the same base, each with a change of its own. */
		for (k = 0; k < NCLIENTS; k++)
			ASSERT_OK(dbsync_client_pull(c[k]));
		for (k = 0; k < NCLIENTS; k++)
			exec_on(c[k], th_fmt("INSERT INTO city VALUES (%d,"
					     " 'r%d c%d')",
					     round * 100 + k, round, k));
		ASSERT_EQ_INT(pthread_barrier_init(&start, NULL, NCLIENTS), 0);
		for (k = 0; k < NCLIENTS; k++) {
			p[k].c = c[k];
			p[k].start = &start;
			p[k].rc = -1;
			ASSERT_EQ_INT(pthread_create(&t[k], NULL, push_thread,
						     &p[k]),
				      0);
		}
		for (k = 0, wins = 0; k < NCLIENTS; k++) {
			pthread_join(t[k], NULL);
			if (p[k].rc == DBSYNC_OK)
				wins++;
			else
				ASSERT_CODE(p[k].rc, DBSYNC_PULL_REQUIRED);
		}
		pthread_barrier_destroy(&start);
		ASSERT_EQ_INT(wins, 1);
		/* The others merge and push, through either server. */
		for (k = 0; k < NCLIENTS; k++) {
			ASSERT_OK(dbsync_client_set_server(
				c[k], (k + round) % 2 ? s1->url : s2->url));
			ASSERT_OK(dbsync_client_sync(c[k], 0));
		}
	}
	for (k = 0; k < NCLIENTS; k++)
		ASSERT_OK(dbsync_client_sync(c[k], 0));
	want = contents(th_server_db(s1));
	for (k = 0; k < NCLIENTS; k++) {
		ASSERT_EQ_STR(contents(dbsync_client_path(c[k])), want);
		ASSERT_EQ_STR(th_pending_str(c[k]), "");
	}
	{
		sqlite3 *db = th_db_open(th_server_db(s2));
		ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM city"),
			      NCLIENTS * ROUNDS);
		/* Versions are numbered without gaps. */
		ASSERT_EQ_INT(th_query_int(db, "SELECT max(id) - count(*)"
						" FROM dbsync_versions"),
			      0);
		th_db_close(db);
	}
}

/* ---- types ------------------------------------------------------------ */

TEST(column_types_round_trip_between_sqlite_and_postgresql)
{
	static const char *const args[] = {"--track", "item", "--registration",
					   "open", NULL};
	static const char client_schema[] =
		"CREATE TABLE item(code TEXT PRIMARY KEY, n INTEGER, f REAL,"
		" b BLOB, flag INTEGER, amount NUMERIC)";
	static const char item_rows[] =
		"SELECT group_concat(code || ':' || quote(n) || ':' ||"
		" quote(f) || ':' || quote(b) || ':' || quote(flag) || ':' ||"
		" quote(amount), ',') FROM (SELECT * FROM item ORDER BY code)";
	const char *name = th_pg_schema_new();
	th_server *srv = th_server_start_url(
		"server", th_pg_store_url(name), name,
		"CREATE TABLE item(code TEXT PRIMARY KEY, n BIGINT,"
		" f DOUBLE PRECISION, b BYTEA, flag BOOLEAN,"
		" amount NUMERIC(12, 2))",
		args);
	dbsync_client *c[2];
	sqlite3 *db;
	void *pg = th_pg_connect(name);
	char *got[2];
	int k;

	for (k = 0; k < 2; k++) {
		const char *path = th_path(th_fmt("c%d.db", k));
		db = th_db_open(path);
		th_exec(db, client_schema);
		th_db_close(db);
		c[k] = th_client_open(path);
		ASSERT_OK(dbsync_client_set_server(c[k], srv->url));
		ASSERT_OK(dbsync_client_track(c[k], "item",
					      DBSYNC_DIRECTION_BOTH));
		ASSERT_OK(dbsync_client_register(c[k], NULL));
	}
	db = th_db_open(dbsync_client_path(c[0]));
	th_exec(db, "INSERT INTO item VALUES"
		    " ('k1', 9007199254740993, 0.1, x'00ff10', 1, 12.5),"
		    " ('k2', -5, 1e300, x'', 0, 3),"
		    " ('k3', NULL, NULL, NULL, NULL, NULL)");
	th_db_close(db);
	ASSERT_OK(dbsync_client_sync(c[0], 0));
	ASSERT_EQ_STR(th_pg_query_text(pg, "SELECT n || '/' || f || '/' ||"
					   " encode(b, 'hex') || '/' || flag ||"
					   " '/' || amount FROM item"
					   " WHERE code = 'k1'"),
		      "9007199254740993/0.1/00ff10/true/12.50");
	th_pg_exec(pg, "INSERT INTO item VALUES ('k4', 7, -2.5,"
		       " '\\xdeadbeef', false, 7.25)");
	ASSERT_OK(dbsync_client_sync(c[0], 0));
	/* c1 copies it all in pages of two rows. */
	ASSERT_OK(dbsync_client_set_page_size(c[1], 2));
	ASSERT_OK(dbsync_client_repair(c[1]));
	for (k = 0; k < 2; k++) {
		db = th_db_open(dbsync_client_path(c[k]));
		got[k] = th_query_text(db, item_rows);
		th_db_close(db);
	}
	ASSERT_EQ_STR(got[0],
		      "k1:9007199254740993:0.1:X'00FF10':1:12.5,"
		      "k2:-5:1.0e+300:X'':0:3,"
		      "k3:NULL:NULL:NULL:NULL:NULL,"
		      "k4:7:-2.5:X'DEADBEEF':0:7.25");
	ASSERT_EQ_STR(got[1], got[0]);
}

static const th_case cases[] = {
	CASE(bad_urls_and_unreachable_servers_give_clear_errors),
	CASE(open_keeps_everything_in_its_own_schema),
	CASE(direct_writes_by_libpq_reach_clients),
	CASE(a_direct_write_committing_late_with_a_smaller_seq_is_not_skipped),
	CASE(two_servers_on_one_schema_accept_one_push_per_base),
	CASE(column_types_round_trip_between_sqlite_and_postgresql),
};
TH_MAIN(cases)
