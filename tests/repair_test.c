/*
 * repair_test.c - repair against a real dbsyncd: a full copy replaces the
 * tracked tables, local pending rows survive it, an interrupted repair
 * changes nothing, and a node behind trimmed history repairs through sync.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS city(id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS tag(code TEXT PRIMARY KEY, label TEXT)"
	" WITHOUT ROWID;";

static const char *const open_args[] = {"--track", "city,tag",
					"--registration", "open", NULL};

/* The same tables for a PostgreSQL store (no rowids there at all). */
static const char pg_schema[] =
	"CREATE TABLE IF NOT EXISTS city(id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS tag(code TEXT PRIMARY KEY, label TEXT);";

static th_server *start_server(void)
{
	return th_server_start("server",
			       strcmp(th_store_kind(), "postgresql") == 0
				       ? pg_schema
				       : schema,
			       open_args);
}


static dbsync_client *client(const th_server *srv, const char *name)
{
	return th_sync_client(srv->url, name, schema, "city,tag");
}

static char *contents(const char *path)
{
	sqlite3 *db = th_db_open(path);
	char *s = th_query_text(
		db, "SELECT coalesce((SELECT group_concat(id || ':' || name, ',')"
		    " FROM (SELECT * FROM city ORDER BY id)), '') || ' | ' ||"
		    " coalesce((SELECT group_concat(code || ':' || label, ',')"
		    " FROM (SELECT * FROM tag ORDER BY code)), '')");
	th_db_close(db);
	return s;
}

static void exec_on(const char *path, const char *sql)
{
	sqlite3 *db = th_db_open(path);

	th_exec(db, sql);
	th_db_close(db);
}

static void fill_server(const th_server *srv, int n)
{
	th_server_exec(srv,
		th_fmt("WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1"
		       " FROM r WHERE i < %d) INSERT INTO city SELECT i, 'c' ||"
		       " i FROM r; WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL"
		       " SELECT i + 1 FROM r WHERE i < %d) INSERT INTO tag"
		       " SELECT 't' || i, 'label ' || i FROM r",
		       n, n / 10));
}

TEST(repair_copies_every_page_and_keeps_local_pending_rows)
{
	th_server *srv = start_server();
	dbsync_client *a = client(srv, "a");
	const char *path = dbsync_client_path(a);
	int64_t v = 0;

	fill_server(srv, 2500);
	/* Local state the repair must replace, and one row it must keep. */
	exec_on(path, "INSERT INTO city VALUES (99999, 'local only')");
	ASSERT_OK(dbsync_client_set_page_size(a, 700));
	ASSERT_OK(dbsync_client_repair(a));
	ASSERT_EQ_INT(dbsync_client_latest_version(a, &v), 1);
	ASSERT_EQ_INT(v, 1);
	/* Every server row arrived across the pages (both tables, one of
	 * them WITHOUT ROWID), and the pending local row is still there and
	 * still pending. */
	{
		sqlite3 *db = th_db_open(path);
		ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM city"),
			      2501);
		ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM tag"),
			      250);
		th_db_close(db);
	}
	ASSERT_EQ_STR(th_pending_str(a), "city:i:99999");
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_EQ_STR(contents(path), contents(th_server_db(srv)));
}

TEST(repair_replaces_divergent_rows)
{
	th_server *srv = start_server();
	dbsync_client *a = client(srv, "a");
	const char *path = dbsync_client_path(a);
	sqlite3 *db;

	th_server_exec(srv, "INSERT INTO city VALUES (1, 'Oslo'), (2, 'Bergen')");
	ASSERT_OK(dbsync_client_sync(a, 0));
	/* Divergence the log cannot explain: written with capture gone. */
	db = th_db_open(path);
	th_exec(db, "INSERT INTO city VALUES (3, 'stray');"
		    "UPDATE city SET name = 'wrong' WHERE id = 1;"
		    "DELETE FROM dbsync_log");
	th_db_close(db);
	ASSERT_OK(dbsync_client_repair(a));
	ASSERT_EQ_STR(contents(path), "1:Oslo,2:Bergen | ");
	ASSERT_EQ_STR(th_pending_str(a), "");
}

static int stop_after_first_page(uint64_t bytes_done, uint64_t bytes_total,
				 uint64_t ops_done, uint64_t ops_total,
				 void *payload)
{
	(void)bytes_done;
	(void)bytes_total;
	(void)ops_total;
	(void)payload;
	return ops_done > 0;
}

TEST(interrupted_repair_changes_nothing)
{
	th_server *srv = start_server();
	dbsync_client *a = client(srv, "a");
	const char *path = dbsync_client_path(a);
	char *before;

	fill_server(srv, 3000);
	exec_on(path, "INSERT INTO city VALUES (1, 'mine')");
	before = contents(path);
	ASSERT_OK(dbsync_client_set_page_size(a, 1000));
	ASSERT_OK(dbsync_client_on_progress(a, stop_after_first_page, NULL));
	ASSERT_CODE(dbsync_client_repair(a), DBSYNC_CALLBACK);
	ASSERT_EQ_STR(contents(path), before);
	ASSERT_EQ_INT(dbsync_client_latest_version(a, NULL), 0);
}

TEST(trimmed_history_means_repair_and_sync_does_it)
{
	th_server *srv = start_server();
	dbsync_client *a = client(srv, "a"), *b = client(srv, "b");
	dbsync_server *admin = NULL;

	exec_on(dbsync_client_path(a), "INSERT INTO city VALUES (1, 'Oslo')");
	ASSERT_OK(dbsync_client_sync(a, 0));
	exec_on(dbsync_client_path(a), "INSERT INTO city VALUES (2, 'Bergen')");
	ASSERT_OK(dbsync_client_sync(a, 0));
	/* Trim through the store (another process, like an admin job). */
	ASSERT_OK(dbsync_server_open(&admin, srv->store_url));
	ASSERT_OK(dbsync_server_trim(admin, 2));
	ASSERT_CODE(dbsync_server_trim(admin, -1), DBSYNC_INVALID);
	dbsync_server_free(admin);

	/* b is behind the trimmed history: a bare pull says so... */
	ASSERT_CODE(dbsync_client_pull(b), DBSYNC_REPAIR_REQUIRED);
	ASSERT_GOOD_MESSAGE(dbsync_client_error_message(b));
	/* ...without auto-repair sync gives up the same way... */
	ASSERT_OK(dbsync_client_set_auto_repair(b, 0));
	exec_on(dbsync_client_path(b), "INSERT INTO city VALUES (3, 'Turku')");
	ASSERT_CODE(dbsync_client_sync(b, 0), DBSYNC_REPAIR_REQUIRED);
	/* ...and with it, sync repairs, keeps b's own row and pushes it. */
	ASSERT_OK(dbsync_client_set_auto_repair(b, 1));
	ASSERT_OK(dbsync_client_sync(b, 0));
	ASSERT_EQ_STR(contents(dbsync_client_path(b)),
		      "1:Oslo,2:Bergen,3:Turku | ");
	ASSERT_EQ_STR(contents(th_server_db(srv)), "1:Oslo,2:Bergen,3:Turku | ");
	/* a was up to date: it is not affected. */
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_EQ_STR(contents(dbsync_client_path(a)), contents(th_server_db(srv)));
}

/* A write on the server between two pages of one repair. */
struct delete_between_pages {
	const th_server *srv;
	uint64_t seen;
};

static int delete_sent_row(uint64_t bytes_done, uint64_t bytes_total,
			   uint64_t ops_done, uint64_t ops_total, void *payload)
{
	struct delete_between_pages *d = payload;

	(void)bytes_done;
	(void)bytes_total;
	(void)ops_total;
	if (ops_done == d->seen)
		return 0; /* transfer progress, not a new page */
	d->seen = ops_done;
	/* Pages of one row: t1 came with the first page, t2 with the second.
	 * Delete each right after it was sent. */
	if (ops_done == 1)
		th_server_exec(d->srv, "DELETE FROM tag WHERE code = 't1'");
	else if (ops_done == 2)
		th_server_exec(d->srv, "DELETE FROM tag WHERE code = 't2'");
	return 0;
}

TEST(rows_deleted_between_pages_do_not_make_the_repair_skip_rows)
{
	th_server *srv = start_server();
	dbsync_client *a = client(srv, "a");
	const char *path = dbsync_client_path(a);
	struct delete_between_pages d = {srv, 0};

	/* tag is WITHOUT ROWID on the SQLite store, and PostgreSQL has no
	 * rowid at all: pages resume after a key, not at an offset a
	 * delete would shift past a remaining row. */
	th_server_exec(srv, "INSERT INTO tag VALUES ('t1', 'a'), ('t2', 'b'),"
			    " ('t3', 'c'), ('t4', 'd'), ('t5', 'e')");
	ASSERT_OK(dbsync_client_set_page_size(a, 1));
	ASSERT_OK(dbsync_client_on_progress(a, delete_sent_row, &d));
	ASSERT_OK(dbsync_client_repair(a));
	ASSERT_OK(dbsync_client_on_progress(a, NULL, NULL));
	/* Every row that existed when its page was read arrived, the ones
	 * deleted after they were sent included (later versions)... */
	ASSERT_EQ_STR(contents(path), " | t1:a,t2:b,t3:c,t4:d,t5:e");
	/* ...and the next pull brings those deletes. */
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_EQ_STR(contents(path), " | t3:c,t4:d,t5:e");
	ASSERT_EQ_STR(contents(path), contents(th_server_db(srv)));
}

/* SQLite only (PostgreSQL keys have one type): a WITHOUT ROWID table
 * whose untyped key holds every kind of value. */
static const char mix_schema[] =
	"CREATE TABLE IF NOT EXISTS mix(k PRIMARY KEY, v TEXT) WITHOUT ROWID;";

static int delete_mix_row(uint64_t bytes_done, uint64_t bytes_total,
			  uint64_t ops_done, uint64_t ops_total, void *payload)
{
	struct delete_between_pages *d = payload;

	(void)bytes_done;
	(void)bytes_total;
	(void)ops_total;
	if (ops_done == d->seen)
		return 0;
	d->seen = ops_done;
	if (ops_done == 1)
		th_server_exec(d->srv, "DELETE FROM mix WHERE k = -3");
	else if (ops_done == 4)
		th_server_exec(d->srv, "DELETE FROM mix WHERE k = 'a'");
	return 0;
}

static char *mix_contents(const char *path)
{
	sqlite3 *db = th_db_open(path);
	char *s = th_query_text(
		db, "SELECT coalesce(group_concat(quote(k) || '=' || v, ','),"
		    " '') FROM (SELECT * FROM mix ORDER BY k)");
	th_db_close(db);
	return s;
}

TEST(sqlite_mixed_type_keys_page_in_sqlite_order)
{
	static const char *const args[] = {"--track", "mix", "--registration",
					   "open", NULL};
	static const char all[] =
		"-3=a,1=b,2.5=c,'a'=d,'\xc3\xa9 z'=e,X'00FF'=f";
	th_server *srv = th_server_start("server", mix_schema, args);
	const char *path = th_fmt("%s.db", th_path("a"));
	struct delete_between_pages d = {srv, 0};
	dbsync_client *a;
	sqlite3 *db = th_db_open(path);

	th_exec(db, mix_schema);
	th_db_close(db);
	a = th_client_open(path);
	ASSERT_OK(dbsync_client_set_server(a, srv->url));
	ASSERT_OK(dbsync_client_track(a, "mix", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_register(a, NULL));
	/* Integers and reals sort before text, text before blobs; each page
	 * resumes after the last key of its type and value. */
	th_server_exec(srv, "INSERT INTO mix VALUES (-3, 'a'), (1, 'b'),"
			    " (2.5, 'c'), ('a', 'd'), ('\xc3\xa9 z', 'e'),"
			    " (x'00ff', 'f')");
	ASSERT_OK(dbsync_client_set_page_size(a, 1));
	ASSERT_OK(dbsync_client_on_progress(a, delete_mix_row, &d));
	ASSERT_OK(dbsync_client_repair(a));
	ASSERT_OK(dbsync_client_on_progress(a, NULL, NULL));
	ASSERT_EQ_STR(mix_contents(path), all);
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_EQ_STR(mix_contents(path),
		      "1=b,2.5=c,'\xc3\xa9 z'=e,X'00FF'=f");
	ASSERT_EQ_STR(mix_contents(path), mix_contents(th_server_db(srv)));
}

static const th_case cases[] = {
	CASE(repair_copies_every_page_and_keeps_local_pending_rows),
	CASE(repair_replaces_divergent_rows),
	CASE(interrupted_repair_changes_nothing),
	CASE(trimmed_history_means_repair_and_sync_does_it),
	CASE(rows_deleted_between_pages_do_not_make_the_repair_skip_rows),
	CASE(sqlite_mixed_type_keys_page_in_sqlite_order),
};
TH_MAIN(cases)
