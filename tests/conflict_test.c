/*
 * conflict_test.c - the direct conflicts of SPEC §5 with the default
 * policy (local wins), two clients and a real dbsyncd: the final rows on
 * both clients and the server.
 */
#include "pair.h"

#include <stdio.h>
#include <string.h>

#define CITIES "SELECT id || ':' || name FROM city ORDER BY id"

TEST(update_meets_update_local_wins)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "UPDATE city SET name = 'Oslo A' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "UPDATE city SET name = 'Oslo B' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "u/u/local city:u:1");
	/* b merged a's update under its own: b's value reaches everyone. */
	th_pair_all_equal(&p, CITIES, "1:Oslo B,2:Bergen");
	ASSERT_EQ_STR(th_conflicts(p.b), ""); /* handed over already */
}

TEST(remote_update_meets_local_delete_row_comes_back)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "UPDATE city SET name = 'Oslo A' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "DELETE FROM city WHERE id = 1");
	ASSERT_EQ_STR(th_pending_str(p.b), "city:d:1");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "u/d/remote city:u:1");
	/* The row is re-inserted from the remote copy; b's delete dropped. */
	ASSERT_EQ_STR(th_cities(p.pb), "1:Oslo A,2:Bergen");
	th_pair_all_equal(&p, CITIES, "1:Oslo A,2:Bergen");
}

TEST(remote_delete_meets_local_update_row_stays)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "DELETE FROM city WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "UPDATE city SET name = 'Oslo B' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "d/u/local city:d:1");
	/* b keeps its row and its push re-creates it on the server. */
	ASSERT_EQ_STR(th_cities(th_server_db(p.srv)), "1:Oslo B,2:Bergen");
	th_pair_all_equal(&p, CITIES, "1:Oslo B,2:Bergen");
}

TEST(delete_meets_delete)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_STR(th_conflicts(p.b), "d/d/remote city:d:2");
	/* Both deleted: nothing is left to push. */
	ASSERT_EQ_STR(th_pending_str(p.b), "");
	th_pair_all_equal(&p, CITIES, "1:Oslo");
}

static char *people(const char *path)
{
	return th_rows(path, "SELECT p.name || '@' || c.name FROM person p"
			     " JOIN city c ON c.id = p.city_id ORDER BY p.name");
}

TEST(insert_meets_insert_on_an_integer_key_both_rows_kept)
{
	th_pair p = th_pair_setup();

	/* Both create city 10 offline, with people in it: a's reaches the
	 * server first. b has three pending operations on related rows. */
	th_exec_on(p.pa, "INSERT INTO city VALUES (10, 'Tromsø');"
		      "INSERT INTO person VALUES (100, 'Ada', 10)");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "INSERT INTO city VALUES (10, 'Turku');"
		      "INSERT INTO person VALUES (200, 'Bo', 10);"
		      "UPDATE person SET name = 'Bob' WHERE id = 200");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "insert/both city:i:10");
	/* b's city moved above every key either side used; Bob followed. */
	ASSERT_EQ_STR(th_cities(p.pb), "1:Oslo,2:Bergen,10:Tromsø,11:Turku");
	ASSERT_EQ_STR(people(p.pb), "Ada@Tromsø,Bob@Turku");
	th_pair_all_equal(&p, CITIES, "1:Oslo,2:Bergen,10:Tromsø,11:Turku");
	ASSERT_EQ_STR(people(p.pa), "Ada@Tromsø,Bob@Turku");
	ASSERT_EQ_STR(people(th_server_db(p.srv)), "Ada@Tromsø,Bob@Turku");
}

TEST(insert_meets_insert_on_a_text_key_is_a_direct_conflict)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "INSERT INTO tag VALUES ('x', 'from a')");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "INSERT INTO tag VALUES ('x', 'from b')");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "insert/local tag:i:'x'");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	/* Same identity, never renumbered: local wins on b, everyone gets
	 * b's row. */
	{
		sqlite3 *db = th_db_open(th_server_db(p.srv));
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
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	/* Offline, b adds a person in the city a just deleted. */
	th_exec_on(p.pb, "INSERT INTO person VALUES (300, 'Cy', 2)");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "dependency/local city:d:2");
	/* The parent is kept and re-inserted ahead of the child. */
	ASSERT_EQ_STR(th_cities(p.pb), "1:Oslo,2:Bergen");
	th_pair_all_equal(&p, CITIES, "1:Oslo,2:Bergen");
	ASSERT_EQ_STR(people(th_server_db(p.srv)), "Cy@Bergen");
	ASSERT_EQ_STR(people(p.pa), "Cy@Bergen");
}

TEST(reversed_dependency_local_delete_of_a_parent_with_remote_children)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pb, "DELETE FROM city WHERE id = 2");
	th_exec_on(p.pa, "INSERT INTO person VALUES (400, 'Di', 2)");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "reversed/remote city:p:2");
	/* b restores Bergen from the pull's parent rows, drops its delete. */
	ASSERT_EQ_STR(th_cities(p.pb), "1:Oslo,2:Bergen");
	ASSERT_EQ_STR(people(p.pb), "Di@Bergen");
	th_pair_all_equal(&p, CITIES, "1:Oslo,2:Bergen");
	ASSERT_EQ_STR(people(th_server_db(p.srv)), "Di@Bergen");
}

#define NODES                                                                  \
	"SELECT id || '<' || coalesce(parent_id, '-') FROM node ORDER BY id"

/* A tree whose keys run against its order: every child has a smaller key
 * than its parent, so key order is the worst order to apply it in. */
static void plant_tree(const th_pair *p)
{
	th_exec_on(p->pa, "INSERT INTO node VALUES (10, NULL, 'root');"
			  "INSERT INTO node VALUES (5, 10, 'a');"
			  "INSERT INTO node VALUES (7, 5, 'b');"
			  "INSERT INTO node VALUES (3, 7, 'c')");
	ASSERT_OK(dbsync_client_sync(p->a, 0));
	ASSERT_OK(dbsync_client_sync(p->b, 0));
	ASSERT_EQ_STR(th_rows(p->pb, NODES), "3<7,5<10,7<5,10<-");
}

TEST(a_self_referencing_tree_applies_in_any_order)
{
	th_pair p = th_pair_setup();

	plant_tree(&p);
	/* Re-hang the tree and cut a branch, in one version. */
	th_exec_on(p.pa, "UPDATE node SET parent_id = 10 WHERE id = 3;"
			 "DELETE FROM node WHERE id = 7;"
			 "INSERT INTO node VALUES (1, 3, 'd')");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_STR(th_conflicts(p.b), "");
	th_pair_all_equal(&p, NODES, "1<3,3<10,5<10,10<-");
}

TEST(dependency_in_a_tree_keeps_every_deleted_ancestor)
{
	th_pair p = th_pair_setup();

	plant_tree(&p);
	/* a cuts the branch under the root; b, offline, grows a leaf on
	 * node 7 of that branch. */
	th_exec_on(p.pa, "DELETE FROM node WHERE id IN (3, 7, 5)");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "INSERT INTO node VALUES (8, 7, 'leaf')");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	/* 7 is kept for the leaf and 5 for 7; 3 goes. */
	{
		char *got = th_conflicts(p.b);
		ASSERT(th_contains(got, "dependency/local node:d:7"));
		ASSERT(th_contains(got, "dependency/local node:d:5"));
		ASSERT(!th_contains(got, "node:d:3"));
	}
	th_pair_all_equal(&p, NODES, "5<10,7<5,8<7,10<-");
}

TEST(reversed_dependency_in_a_tree_restores_every_ancestor)
{
	th_pair p = th_pair_setup();

	plant_tree(&p);
	/* b cuts the branch under the root; a, meanwhile, grows a leaf on
	 * node 7 of that branch and syncs first. */
	th_exec_on(p.pb, "DELETE FROM node WHERE id IN (3, 7, 5)");
	th_exec_on(p.pa, "INSERT INTO node VALUES (8, 7, 'leaf')");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	/* 7 comes back for the leaf, and 5 for 7; b's delete of 3 stays. */
	{
		char *got = th_conflicts(p.b);
		ASSERT(th_contains(got, "reversed/remote node:p:7"));
		ASSERT(th_contains(got, "reversed/remote node:p:5"));
	}
	th_pair_all_equal(&p, NODES, "5<10,7<5,8<7,10<-");
}

TEST(two_nodes_keeping_the_same_parent_keep_one_row)
{
	th_pair p = th_pair_setup();
	dbsync_client *c = th_pair_client(p.srv, "c");
	const char *pc = dbsync_client_path(c);

	ASSERT_OK(dbsync_client_sync(c, 0));
	th_exec_on(p.pa, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	/* b and c, offline, each add a person in Bergen. */
	th_exec_on(p.pb, "INSERT INTO person VALUES (1, 'Bo', 2)");
	th_exec_on(pc, "INSERT INTO person VALUES (2, 'Cy', 2)");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "dependency/local city:d:2");
	/* c meets a's delete, then b's re-creation of the same row, on
	 * separate pages: one Bergen, not a renumbered copy. */
	ASSERT_OK(dbsync_client_set_page_size(c, 1));
	ASSERT_OK(dbsync_client_sync(c, 0));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	th_pair_all_equal(&p, CITIES, "1:Oslo,2:Bergen");
	ASSERT_EQ_STR(th_cities(pc), "1:Oslo,2:Bergen");
	ASSERT_EQ_STR(people(pc), "Bo@Bergen,Cy@Bergen");
	ASSERT_EQ_STR(people(th_server_db(p.srv)), "Bo@Bergen,Cy@Bergen");
}

TEST(a_restored_parent_colliding_on_a_unique_value_is_reported)
{
	th_pair p = th_pair_setup();

	plant_tree(&p);
	/* b deletes leaf 3 ('c') and gives its label to node 5; a, meanwhile,
	 * hangs a leaf on 3 and syncs. */
	th_exec_on(p.pb, "DELETE FROM node WHERE id = 3;"
			 "UPDATE node SET label = 'c' WHERE id = 5");
	th_exec_on(p.pa, "INSERT INTO node VALUES (8, 3, 'leaf')");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	/* Restoring 3 needs 'c', which b's node 5 holds now. */
	ASSERT_CODE(dbsync_client_sync(p.b, 0), DBSYNC_UNIQUE_CONFLICT);
	ASSERT_EQ_STR(th_conflicts(p.b), "unique/none node:p:5(label)");
	th_exec_on(p.pb, "UPDATE node SET label = 'a2' WHERE id = 5");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	th_pair_all_equal(&p, NODES, "3<7,5<10,7<5,8<3,10<-");
}

TEST(a_pulled_row_on_the_key_of_a_vanished_local_row_stays_an_update)
{
	th_pair p = th_pair_setup();

	/* a inserts and deletes city 10 before any push; b's city 10
	 * arrives by a bare pull, and a edits it. */
	th_exec_on(p.pa, "INSERT INTO city VALUES (10, 'Tmp');"
			 "DELETE FROM city WHERE id = 10");
	th_exec_on(p.pb, "INSERT INTO city VALUES (10, 'Turku')");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_OK(dbsync_client_pull(p.a));
	th_exec_on(p.pa, "UPDATE city SET name = 'Turku A' WHERE id = 10");
	ASSERT_EQ_STR(th_pending_str(p.a), "city:u:10");
	th_pair_all_equal(&p, CITIES, "1:Oslo,2:Bergen,10:Turku A");
}

TEST(a_remote_delete_of_a_shared_integer_key_keeps_the_local_insert)
{
	th_pair p = th_pair_setup();

	/* Under server-wins a has its own new city 10; b's city 10 comes and
	 * goes on the server. Its delete is of b's row: a's stays, moved. */
	ASSERT_OK(dbsync_client_set_policy(p.a, NULL, DBSYNC_POLICY_SERVER_WINS));
	th_exec_on(p.pa, "INSERT INTO city VALUES (10, 'Turku')");
	th_exec_on(p.pb, "INSERT INTO city VALUES (10, 'Tampere')");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	th_exec_on(p.pb, "DELETE FROM city WHERE id = 10");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_EQ_STR(th_conflicts(p.a), "insert/both city:d:10");
	th_pair_all_equal(&p, CITIES, "1:Oslo,2:Bergen,11:Turku");
}

TEST(the_same_change_on_both_sides_is_no_conflict)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "UPDATE city SET name = 'Oslo!' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "UPDATE city SET name = 'Oslo!' WHERE id = 1");
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_STR(th_conflicts(p.b), "");
	ASSERT_EQ_STR(th_pending_str(p.b), "");
	th_pair_all_equal(&p, CITIES, "1:Oslo!,2:Bergen");
}

TEST(a_row_renumbered_twice_in_one_pull_takes_its_children_both_times)
{
	th_pair p = th_pair_setup();

	/* a's cities 10 and 11 come on two pages. b's own city 10 moves to
	 * 11 on the first and, meeting a's 11, to 12 on the second: what
	 * the first page moved is what the second works with. */
	th_exec_on(p.pa, "INSERT INTO city VALUES (10, 'A10');"
			 "INSERT INTO city VALUES (11, 'A11')");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "INSERT INTO city VALUES (10, 'Turku');"
			 "INSERT INTO person VALUES (200, 'Bo', 10)");
	ASSERT_OK(dbsync_client_set_page_size(p.b, 1));
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_STR(th_conflicts(p.b),
		      "insert/both city:i:10 insert/both city:i:11");
	ASSERT_EQ_STR(th_cities(p.pb),
		      "1:Oslo,2:Bergen,10:A10,11:A11,12:Turku");
	ASSERT_EQ_STR(people(p.pb), "Bo@Turku");
	ASSERT_EQ_STR(th_pending_str(p.b), "city:i:12 person:i:200");
	th_pair_all_equal(&p, CITIES, "1:Oslo,2:Bergen,10:A10,11:A11,12:Turku");
	ASSERT_EQ_STR(people(p.pa), "Bo@Turku");
}

TEST(a_parent_kept_on_one_page_keeps_its_parent_deleted_on_a_later_one)
{
	th_pair p = th_pair_setup();

	plant_tree(&p);
	/* a deletes 3 and 7, then 5 in a version of its own; b grows a leaf
	 * on 7. Page by page: 7 is kept (queued as b's update) on one page,
	 * and 5, which only that kept row refers to, on a later one. */
	th_exec_on(p.pa, "DELETE FROM node WHERE id IN (3, 7)");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pa, "DELETE FROM node WHERE id = 5");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "INSERT INTO node VALUES (8, 7, 'leaf')");
	ASSERT_OK(dbsync_client_set_page_size(p.b, 1));
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_STR(th_conflicts(p.b),
		      "dependency/local node:d:7 dependency/local node:d:5");
	ASSERT_EQ_STR(th_rows(p.pb, NODES), "5<10,7<5,8<7,10<-");
	th_pair_all_equal(&p, NODES, "5<10,7<5,8<7,10<-");
}

/* The progress callback of a pull: after its first page, b's application
 * writes through a connection of its own. */
struct between_pages {
	const char *path, *sql;
	int done;
};

static int write_between_pages(uint64_t bytes_done, uint64_t bytes_total,
			       uint64_t ops_done, uint64_t ops_total,
			       void *payload)
{
	struct between_pages *w = payload;

	(void)bytes_total;
	(void)ops_total;
	if (!bytes_done && ops_done && !w->done++)
		th_exec_on(w->path, w->sql);
	return 0;
}

TEST(writes_committed_between_two_pages_meet_the_next_pages)
{
	th_pair p = th_pair_setup();
	struct between_pages w = {NULL, NULL, 0};

	/* a's cities 10 and 11 and its delete of Bergen come on three pages.
	 * Between the first two, b's application creates its own city 11
	 * and a person in Bergen: the next pages must see both as pending
	 * work (an insert/insert, a dependency), not overwrite b's city or
	 * delete Bergen from under its person. */
	th_exec_on(p.pa, "INSERT INTO city VALUES (10, 'A10');"
			 "INSERT INTO city VALUES (11, 'A11');"
			 "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	w.path = p.pb;
	w.sql = "INSERT INTO city VALUES (11, 'Bx');"
		"INSERT INTO person VALUES (300, 'Cy', 2)";
	ASSERT_OK(dbsync_client_set_page_size(p.b, 1));
	ASSERT_OK(dbsync_client_on_progress(p.b, write_between_pages, &w));
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_OK(dbsync_client_on_progress(p.b, NULL, NULL));
	ASSERT_EQ_STR(th_conflicts(p.b),
		      "insert/both city:i:11 dependency/local city:d:2");
	ASSERT_EQ_STR(th_cities(p.pb), "1:Oslo,2:Bergen,10:A10,11:A11,12:Bx");
	ASSERT_EQ_STR(people(p.pb), "Cy@Bergen");
	th_pair_all_equal(&p, CITIES, "1:Oslo,2:Bergen,10:A10,11:A11,12:Bx");
	ASSERT_EQ_STR(people(p.pa), "Cy@Bergen");
}

TEST(a_row_moved_aside_and_then_kept_gets_its_value_back)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "INSERT INTO node VALUES (1, NULL, 'x');"
			 "INSERT INTO node VALUES (2, NULL, 'y')");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	/* a swaps the labels, then deletes node 2; b, offline, hangs a new
	 * node on 2 and pulls a page at a time. The first page gives node 1
	 * the label node 2 holds: node 2 moves aside, waiting for its page,
	 * which deletes it; b keeps it for its child, and gives it its own
	 * label back, which node 1 holds now: the application's to fix. */
	th_exec_on(p.pa, "BEGIN; UPDATE node SET label = 'tmp' WHERE id = 1;"
			 " UPDATE node SET label = 'x' WHERE id = 2;"
			 " UPDATE node SET label = 'y' WHERE id = 1; COMMIT");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pa, "DELETE FROM node WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "INSERT INTO node VALUES (3, 2, 'leaf')");
	ASSERT_OK(dbsync_client_set_page_size(p.b, 1));
	ASSERT_CODE(dbsync_client_sync(p.b, 0), DBSYNC_UNIQUE_CONFLICT);
	ASSERT_EQ_STR(th_conflicts(p.b), "unique/none node:d:2(label)");
	/* No made-up label ever leaves b: it renames its node. */
	th_exec_on(p.pb, "UPDATE node SET label = 'y2' WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	th_pair_all_equal(&p, "SELECT id || ':' || label FROM node ORDER BY id",
			  "1:y,2:y2,3:leaf");
}

TEST(conflict_report_arguments)
{
	th_pair p = th_pair_setup();
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
	CASE(a_self_referencing_tree_applies_in_any_order),
	CASE(dependency_in_a_tree_keeps_every_deleted_ancestor),
	CASE(reversed_dependency_in_a_tree_restores_every_ancestor),
	CASE(two_nodes_keeping_the_same_parent_keep_one_row),
	CASE(a_restored_parent_colliding_on_a_unique_value_is_reported),
	CASE(a_pulled_row_on_the_key_of_a_vanished_local_row_stays_an_update),
	CASE(a_remote_delete_of_a_shared_integer_key_keeps_the_local_insert),
	CASE(the_same_change_on_both_sides_is_no_conflict),
	CASE(a_row_moved_aside_and_then_kept_gets_its_value_back),
	CASE(a_row_renumbered_twice_in_one_pull_takes_its_children_both_times),
	CASE(a_parent_kept_on_one_page_keeps_its_parent_deleted_on_a_later_one),
	CASE(writes_committed_between_two_pages_meet_the_next_pages),
};
TH_MAIN(cases)
