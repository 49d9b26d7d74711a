/*
 * conflict_test.c - the direct conflicts of SPEC §5 with the default
 * policy (local wins), two clients and a real dbsyncd: the final rows on
 * both clients and the server.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS city(id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS person(id INTEGER PRIMARY KEY, name TEXT,"
	" city_id INTEGER REFERENCES city(id));"
	"CREATE TABLE IF NOT EXISTS tag(code TEXT PRIMARY KEY, label TEXT);";

static const char *const open_args[] = {"--track", "city,person,tag",
					"--registration", "open", NULL};

static dbsync_client *client(const th_server *srv, const char *name)
{
	const char *path = th_fmt("%s.db", th_path(name));
	sqlite3 *db = th_db_open(path);
	dbsync_client *c;

	th_exec(db, schema);
	th_db_close(db);
	c = th_client_open(path);
	ASSERT_OK(dbsync_client_set_server(c, srv->url));
	ASSERT_OK(dbsync_client_track(c, "city", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(c, "person", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(c, "tag", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_register(c, NULL));
	return c;
}

static void exec_on(const char *path, const char *sql)
{
	sqlite3 *db = th_db_open(path);

	th_exec(db, sql);
	th_db_close(db);
}

static char *cities(const char *path)
{
	sqlite3 *db = th_db_open(path);
	char *s = th_query_text(db, "SELECT coalesce(group_concat(id || ':' ||"
				    " name, ','), '') FROM (SELECT * FROM city"
				    " ORDER BY id)");
	th_db_close(db);
	return s;
}

/* The conflicts a client met since last asked, as "kind/resolution
 * table:op:pk" joined by spaces (integer and text keys). */
static char *conflicts(dbsync_client *c)
{
	static const char *const kinds[] = {"?", "u/u", "u/d", "d/u", "d/d",
					    "dependency", "reversed",
					    "insert", "unique"};
	static const char *const res[] = {"?", "local", "remote", "both"};
	dbsync_oplist *l = NULL;
	char *out = th_strdup("");
	size_t k;

	ASSERT_OK(dbsync_client_conflicts(&l, c));
	for (k = 0; k < dbsync_oplist_count(l); k++) {
		int kind = dbsync_oplist_conflict_kind(l, k);
		int r = dbsync_oplist_resolution(l, k);
		char *pk = dbsync_oplist_pk_type(l, k) == DBSYNC_TYPE_INTEGER
				   ? th_fmt("%lld", (long long)dbsync_oplist_pk_int(l, k))
				   : th_fmt("'%s'", (const char *)
							    dbsync_oplist_pk_bytes(
								    l, k, NULL));
		ASSERT(kind >= 1 && kind <= 8 && r >= 1 && r <= 3);
		out = th_fmt("%s%s%s/%s %s:%c:%s", out, k ? " " : "",
			     kinds[kind], res[r], dbsync_oplist_table(l, k),
			     dbsync_oplist_command(l, k), pk);
	}
	dbsync_oplist_free(l);
	return out;
}

/* Two clients that both hold city 1 'Oslo', synced. */
struct pair {
	th_server *srv;
	dbsync_client *a, *b;
	const char *pa, *pb;
};

static struct pair setup(void)
{
	struct pair p;

	p.srv = th_server_start("server", schema, open_args);
	p.a = client(p.srv, "a");
	p.b = client(p.srv, "b");
	p.pa = dbsync_client_path(p.a);
	p.pb = dbsync_client_path(p.b);
	exec_on(p.pa, "INSERT INTO city VALUES (1, 'Oslo'), (2, 'Bergen')");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(cities(p.pb), "1:Oslo,2:Bergen");
	ASSERT_EQ_STR(conflicts(p.a), "");
	ASSERT_EQ_STR(conflicts(p.b), "");
	return p;
}

static void all_equal(const struct pair *p, const char *want)
{
	/* A quiescent round: each one's changes reach the other. */
	ASSERT_OK(dbsync_client_sync(p->a, 0));
	ASSERT_OK(dbsync_client_sync(p->b, 0));
	ASSERT_OK(dbsync_client_sync(p->a, 0));
	ASSERT_EQ_STR(cities(p->srv->store), want);
	ASSERT_EQ_STR(cities(p->pa), want);
	ASSERT_EQ_STR(cities(p->pb), want);
	ASSERT_EQ_STR(th_pending_str(p->a), "");
	ASSERT_EQ_STR(th_pending_str(p->b), "");
}

TEST(update_meets_update_local_wins)
{
	struct pair p = setup();

	exec_on(p.pa, "UPDATE city SET name = 'Oslo A' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	exec_on(p.pb, "UPDATE city SET name = 'Oslo B' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(conflicts(p.b), "u/u/local city:u:1");
	/* b merged a's update under its own: b's value reaches everyone. */
	all_equal(&p, "1:Oslo B,2:Bergen");
	ASSERT_EQ_STR(conflicts(p.b), ""); /* handed over already */
}

TEST(remote_update_meets_local_delete_row_comes_back)
{
	struct pair p = setup();

	exec_on(p.pa, "UPDATE city SET name = 'Oslo A' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	exec_on(p.pb, "DELETE FROM city WHERE id = 1");
	ASSERT_EQ_STR(th_pending_str(p.b), "city:d:1");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(conflicts(p.b), "u/d/remote city:u:1");
	/* The row is re-inserted from the remote copy; b's delete dropped. */
	ASSERT_EQ_STR(cities(p.pb), "1:Oslo A,2:Bergen");
	all_equal(&p, "1:Oslo A,2:Bergen");
}

TEST(remote_delete_meets_local_update_row_stays)
{
	struct pair p = setup();

	exec_on(p.pa, "DELETE FROM city WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	exec_on(p.pb, "UPDATE city SET name = 'Oslo B' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(conflicts(p.b), "d/u/local city:d:1");
	/* b keeps its row and its push re-creates it on the server. */
	ASSERT_EQ_STR(cities(p.srv->store), "1:Oslo B,2:Bergen");
	all_equal(&p, "1:Oslo B,2:Bergen");
}

TEST(delete_meets_delete)
{
	struct pair p = setup();

	exec_on(p.pa, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	exec_on(p.pb, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_STR(conflicts(p.b), "d/d/remote city:d:2");
	/* Both deleted: nothing is left to push. */
	ASSERT_EQ_STR(th_pending_str(p.b), "");
	all_equal(&p, "1:Oslo");
}

static char *people(const char *path)
{
	sqlite3 *db = th_db_open(path);
	char *s = th_query_text(
		db, "SELECT coalesce(group_concat(p.name || '@' || c.name, ','),"
		    " '') FROM (SELECT * FROM person ORDER BY name) p"
		    " JOIN city c ON c.id = p.city_id");
	th_db_close(db);
	return s;
}

TEST(insert_meets_insert_on_an_integer_key_both_rows_kept)
{
	struct pair p = setup();

	/* Both create city 10 offline, with people in it: a's reaches the
	 * server first. b has three pending operations on related rows. */
	exec_on(p.pa, "INSERT INTO city VALUES (10, 'Tromsø');"
		      "INSERT INTO person VALUES (100, 'Ada', 10)");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	exec_on(p.pb, "INSERT INTO city VALUES (10, 'Turku');"
		      "INSERT INTO person VALUES (200, 'Bo', 10);"
		      "UPDATE person SET name = 'Bob' WHERE id = 200");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(conflicts(p.b), "insert/both city:i:10");
	/* b's city moved above every key either side used; Bob followed. */
	ASSERT_EQ_STR(cities(p.pb), "1:Oslo,2:Bergen,10:Tromsø,11:Turku");
	ASSERT_EQ_STR(people(p.pb), "Ada@Tromsø,Bob@Turku");
	all_equal(&p, "1:Oslo,2:Bergen,10:Tromsø,11:Turku");
	ASSERT_EQ_STR(people(p.pa), "Ada@Tromsø,Bob@Turku");
	ASSERT_EQ_STR(people(p.srv->store), "Ada@Tromsø,Bob@Turku");
}

TEST(insert_meets_insert_on_a_text_key_is_a_direct_conflict)
{
	struct pair p = setup();

	exec_on(p.pa, "INSERT INTO tag VALUES ('x', 'from a')");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	exec_on(p.pb, "INSERT INTO tag VALUES ('x', 'from b')");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(conflicts(p.b), "insert/local tag:i:'x'");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	/* Same identity, never renumbered: local wins on b, everyone gets
	 * b's row. */
	{
		sqlite3 *db = th_db_open(p.srv->store);
		ASSERT_EQ_STR(th_query_text(db, "SELECT group_concat(code ||"
						" ':' || label) FROM tag"),
			      "x:from b");
		th_db_close(db);
		db = th_db_open(p.pa);
		ASSERT_EQ_STR(th_query_text(db, "SELECT group_concat(code ||"
						" ':' || label) FROM tag"),
			      "x:from b");
		th_db_close(db);
	}
}

TEST(dependency_remote_delete_of_a_parent_with_local_children)
{
	struct pair p = setup();

	exec_on(p.pa, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	/* Offline, b adds a person in the city a just deleted. */
	exec_on(p.pb, "INSERT INTO person VALUES (300, 'Cy', 2)");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(conflicts(p.b), "dependency/local city:d:2");
	/* The parent is kept and re-inserted ahead of the child. */
	ASSERT_EQ_STR(cities(p.pb), "1:Oslo,2:Bergen");
	all_equal(&p, "1:Oslo,2:Bergen");
	ASSERT_EQ_STR(people(p.srv->store), "Cy@Bergen");
	ASSERT_EQ_STR(people(p.pa), "Cy@Bergen");
}

TEST(reversed_dependency_local_delete_of_a_parent_with_remote_children)
{
	struct pair p = setup();

	exec_on(p.pb, "DELETE FROM city WHERE id = 2");
	exec_on(p.pa, "INSERT INTO person VALUES (400, 'Di', 2)");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(conflicts(p.b), "reversed/remote city:p:2");
	/* b restores Bergen from the pull's parent rows, drops its delete. */
	ASSERT_EQ_STR(cities(p.pb), "1:Oslo,2:Bergen");
	ASSERT_EQ_STR(people(p.pb), "Di@Bergen");
	all_equal(&p, "1:Oslo,2:Bergen");
	ASSERT_EQ_STR(people(p.srv->store), "Di@Bergen");
}

TEST(conflict_report_arguments)
{
	struct pair p = setup();
	dbsync_oplist *l = (dbsync_oplist *)&l;

	ASSERT_CODE(dbsync_client_conflicts(NULL, p.a), DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_conflicts(&l, NULL), DBSYNC_INVALID);
	ASSERT_NULL(l);
	ASSERT_EQ_INT(dbsync_oplist_conflict_kind(NULL, 0), 0);
	ASSERT_EQ_INT(dbsync_oplist_resolution(NULL, 0), 0);
}

static const th_case cases[] = {
	CASE(update_meets_update_local_wins),
	CASE(remote_update_meets_local_delete_row_comes_back),
	CASE(remote_delete_meets_local_update_row_stays),
	CASE(delete_meets_delete),
	CASE(conflict_report_arguments),
	CASE(insert_meets_insert_on_an_integer_key_both_rows_kept),
	CASE(dependency_remote_delete_of_a_parent_with_local_children),
	CASE(reversed_dependency_local_delete_of_a_parent_with_remote_children),
	CASE(insert_meets_insert_on_a_text_key_is_a_direct_conflict),
};
TH_MAIN(cases)
