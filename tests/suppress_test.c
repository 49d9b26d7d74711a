/*
 * suppress_test.c - the library's own writes (merge, repair) are not
 * captured, and other connections never notice the suppression.
 *
 * Uses the internal capture API: merge and repair, its real users, come with
 * the protocol.
 */
#include "harness.h"

#include "../libdbsync/src/capture.h"
#include "../libdbsync/src/client.h"
#include "../libdbsync/src/error.h"

static const char schema[] =
	"CREATE TABLE city(id INTEGER PRIMARY KEY, name TEXT);";

static dbsync_client *tracked_city(void)
{
	sqlite3 *db = th_db_open(th_path("c.db"));
	dbsync_client *c;

	th_exec(db, schema);
	th_db_close(db);
	c = th_client_open(th_path("c.db"));
	ASSERT_OK(dbsync_client_track(c, "city", DBSYNC_DIRECTION_BOTH));
	return c;
}

/* Write as the library does during a merge: one write transaction with
 * suppression around the changes. */
static void library_write(dbsync_client *c, const char *sql)
{
	sqlite3 *db = dbsync__client_db(c);
	dbsync__error err = {0};
	int64_t mark = -1;

	th_exec(db, "BEGIN IMMEDIATE");
	ASSERT_OK(dbsync__capture_suppress_begin(db, &mark, &err));
	ASSERT_GE_INT(mark, 0);
	th_exec(db, sql);
	ASSERT_OK(dbsync__capture_suppress_end(db, mark, &err));
	th_exec(db, "COMMIT");
}

TEST(library_writes_are_not_captured)
{
	dbsync_client *c = tracked_city();

	library_write(c, "INSERT INTO city VALUES (1, 'Oslo');"
			 "UPDATE city SET name = 'Bergen' WHERE id = 1;"
			 "INSERT INTO city VALUES (2, 'Turku');"
			 "DELETE FROM city WHERE id = 2;");
	ASSERT_EQ_STR(th_pending_str(c), "");
}

TEST(earlier_pending_operations_survive_suppression)
{
	dbsync_client *c = tracked_city();
	sqlite3 *app = th_db_open(th_path("c.db"));

	th_exec(app, "INSERT INTO city VALUES (1, 'Oslo')");
	library_write(c, "INSERT INTO city VALUES (2, 'Turku');");
	th_exec(app, "INSERT INTO city VALUES (3, 'Lund')");
	ASSERT_EQ_STR(th_pending_str(c), "city:i:1 city:i:3");
}

TEST(other_connections_keep_capturing)
{
	dbsync_client *c = tracked_city();
	sqlite3 *app = th_db_open(th_path("c.db"));
	sqlite3 *lib = dbsync__client_db(c);
	dbsync__error err = {0};
	int64_t mark;

	/* While the library's suppressed transaction is open, a reader sees
	 * the triggers in place and the log unchanged. */
	th_exec(lib, "BEGIN IMMEDIATE");
	ASSERT_OK(dbsync__capture_suppress_begin(lib, &mark, &err));
	th_exec(lib, "INSERT INTO city VALUES (10, 'Riga')");
	ASSERT_EQ_INT(th_query_int(app, "SELECT count(*) FROM sqlite_schema"
					" WHERE type = 'trigger'"),
		      4);
	ASSERT_EQ_INT(th_query_int(app, "SELECT count(*) FROM dbsync_log"), 0);
	ASSERT_OK(dbsync__capture_suppress_end(lib, mark, &err));
	th_exec(lib, "COMMIT");

	/* And afterwards the application's writes are captured as ever. */
	th_exec(app, "UPDATE city SET name = 'Tartu' WHERE id = 10");
	th_exec(app, "INSERT INTO city VALUES (11, 'Vilnius')");
	ASSERT_EQ_STR(th_pending_str(c), "city:u:10 city:i:11");
}

TEST(suppression_needs_a_transaction)
{
	dbsync_client *c = tracked_city();
	dbsync__error err = {0};
	int64_t mark;

	ASSERT_CODE(dbsync__capture_suppress_begin(dbsync__client_db(c), &mark,
						   &err),
		    DBSYNC_ERROR);
	ASSERT_GOOD_MESSAGE(err.message);
}

TEST(rolled_back_library_write_leaves_nothing)
{
	dbsync_client *c = tracked_city();
	sqlite3 *db = dbsync__client_db(c);
	dbsync__error err = {0};
	int64_t mark;

	th_exec(db, "BEGIN IMMEDIATE");
	ASSERT_OK(dbsync__capture_suppress_begin(db, &mark, &err));
	th_exec(db, "INSERT INTO city VALUES (1, 'Oslo')");
	th_exec(db, "ROLLBACK");
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM city"), 0);
	ASSERT_EQ_STR(th_pending_str(c), "");
}

/*
 * A merge drops pending entries inside its suppressed transaction (a
 * resolved conflict). Dropping the newest one must not let the library's
 * own writes take its seq back, below the mark, and stay pending: a
 * phantom insert there became an insert/insert conflict on the next page
 * and a duplicated row.
 */
TEST(dropping_the_newest_pending_entry_keeps_library_writes_out)
{
	dbsync_client *c = tracked_city();
	sqlite3 *app = th_db_open(th_path("c.db"));
	sqlite3 *db = dbsync__client_db(c);
	dbsync__error err = {0};
	int64_t mark;

	th_exec(app, "INSERT INTO city VALUES (1, 'Oslo');"
		     "DELETE FROM city WHERE id = 1;"
		     "INSERT INTO city VALUES (2, 'Turku')");
	th_exec(db, "BEGIN IMMEDIATE");
	ASSERT_OK(dbsync__capture_suppress_begin(db, &mark, &err));
	th_exec(db, "DELETE FROM dbsync_log WHERE pk = 2;"
		    "INSERT INTO city VALUES (3, 'Lund');"
		    "UPDATE city SET name = 'Åbo' WHERE id = 2");
	ASSERT_OK(dbsync__capture_suppress_end(db, mark, &err));
	th_exec(db, "COMMIT");
	ASSERT_EQ_STR(th_pending_str(c), "");
	/* The application's next write is captured as ever. */
	th_exec(app, "INSERT INTO city VALUES (4, 'Riga')");
	ASSERT_EQ_STR(th_pending_str(c), "city:i:4");
}

static const th_case cases[] = {
	CASE(library_writes_are_not_captured),
	CASE(earlier_pending_operations_survive_suppression),
	CASE(other_connections_keep_capturing),
	CASE(suppression_needs_a_transaction),
	CASE(rolled_back_library_write_leaves_nothing),
	CASE(dropping_the_newest_pending_entry_keeps_library_writes_out),
};
TH_MAIN(cases)
