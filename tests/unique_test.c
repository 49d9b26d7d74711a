/*
 * unique_test.c - pulled rows meeting UNIQUE constraints and unique
 * indexes: swaps and rotations of values among rows apply; a genuine
 * collision stops the pull before any change and names the local row,
 * which the application renames before syncing again.
 */
#include "pair.h"

#include <string.h>

#define MEMBERS                                                                \
	"SELECT id || ':' || email || ':' || coalesce(nick, '-') FROM member" \
	" ORDER BY id"

/* Both clients hold members 1..3, synced. */
static th_pair with_members(void)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "INSERT INTO member VALUES (1, 'x@', 'ex'),"
			 " (2, 'y@', 'why'), (3, 'z@', NULL)");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_rows(p.pb, MEMBERS), "1:x@:ex,2:y@:why,3:z@:-");
	return p;
}

TEST(a_swap_of_unique_values_applies)
{
	th_pair p = with_members();

	/* a swaps the emails of 1 and 2 (through a free value, as SQLite
	 * wants it done locally). */
	th_exec_on(p.pa, "BEGIN; UPDATE member SET email = 'tmp' WHERE id = 1;"
			 " UPDATE member SET email = 'x@' WHERE id = 2;"
			 " UPDATE member SET email = 'y@' WHERE id = 1; COMMIT");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_STR(th_conflicts(p.b), "");
	ASSERT_EQ_STR(th_rows(p.pb, MEMBERS), "1:y@:ex,2:x@:why,3:z@:-");
	ASSERT_EQ_STR(th_pending_str(p.b), "");
	th_pair_all_equal(&p, MEMBERS, "1:y@:ex,2:x@:why,3:z@:-");
}

TEST(a_rotation_over_two_unique_indexes_applies)
{
	th_pair p = with_members();

	/* Emails rotate 1->2->3->1 and two nicks swap, in one version. */
	th_exec_on(p.pa, "BEGIN;"
			 " UPDATE member SET email = 't1', nick = 't1' WHERE id = 1;"
			 " UPDATE member SET email = 'x@', nick = 'ex' WHERE id = 2;"
			 " UPDATE member SET email = 'y@' WHERE id = 3;"
			 " UPDATE member SET email = 'z@', nick = 'why' WHERE id = 1;"
			 " COMMIT");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_STR(th_conflicts(p.b), "");
	th_pair_all_equal(&p, MEMBERS, "1:z@:why,2:x@:ex,3:y@:-");
}

TEST(a_value_moving_to_a_new_row_applies)
{
	th_pair p = with_members();

	/* Member 3 gives its email up to a new member 4 and takes a new
	 * one: the page may carry 4's insert before 3's update. */
	th_exec_on(p.pa, "BEGIN; UPDATE member SET email = 'w@' WHERE id = 3;"
			 " INSERT INTO member VALUES (4, 'z@', NULL); COMMIT");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_pull(p.b));
	th_pair_all_equal(&p, MEMBERS, "1:x@:ex,2:y@:why,3:w@:-,4:z@:-");
}

TEST(nulls_never_collide)
{
	th_pair p = with_members();

	th_exec_on(p.pa, "INSERT INTO member VALUES (10, 'a10@', NULL)");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "INSERT INTO member VALUES (20, 'b20@', NULL)");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "");
	th_pair_all_equal(&p, "SELECT id FROM member WHERE nick IS NULL"
			      " ORDER BY id",
			  "3,10,20");
}

TEST(a_genuine_collision_changes_nothing_and_names_the_local_row)
{
	th_pair p = with_members();
	size_t before_len = 0, after_len = 0;
	void *before, *after;

	/* a: a new member with email dup@, and an unrelated rename. */
	th_exec_on(p.pa, "INSERT INTO member VALUES (5, 'dup@', 'd5');"
			 "UPDATE city SET name = 'Oslo A' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	/* b, offline: its own member with the same email and nick, and
	 * more pending work. */
	th_exec_on(p.pb, "INSERT INTO member VALUES (7, 'dup@', 'd5');"
			 "UPDATE member SET nick = 'zed' WHERE id = 3;"
			 "INSERT INTO city VALUES (3, 'Turku')");
	ASSERT_CODE(dbsync_client_sync(p.b, 0), DBSYNC_UNIQUE_CONFLICT);
	ASSERT(th_contains(dbsync_client_error_message(p.b),
			   "before changing anything"));
	(void)th_conflicts(p.b);
	/* The pull alone, byte for byte. */
	before = th_read_file(p.pb, &before_len);
	ASSERT_CODE(dbsync_client_pull(p.b), DBSYNC_UNIQUE_CONFLICT);
	/* The database file is byte-for-byte what it was. */
	after = th_read_file(p.pb, &after_len);
	ASSERT_EQ_INT(before_len, after_len);
	ASSERT(memcmp(before, after, before_len) == 0);
	/* The report names b's row 7 and the columns of each constraint
	 * the pulled row 5 needs (its email and its nick). */
	{
		char *got = th_conflicts(p.b);
		ASSERT(strcmp(got, "unique/none member:i:7(email)") == 0 ||
		       strcmp(got, "unique/none member:i:7(nick)") == 0);
	}
	ASSERT_EQ_STR(th_cities(p.pb), "1:Oslo,2:Bergen,3:Turku");

	/* The application renames its row; sync now goes through. */
	th_exec_on(p.pb, "UPDATE member SET email = 'dup2@', nick = 'd7'"
			 " WHERE id = 7");
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "");
	th_pair_all_equal(&p, MEMBERS,
			  "1:x@:ex,2:y@:why,3:z@:zed,5:dup@:d5,7:dup2@:d7");
	th_pair_all_equal(&p, "SELECT name FROM city ORDER BY id",
			  "Oslo A,Bergen,Turku");
}

TEST(a_swap_with_a_locally_updated_row_is_a_collision_under_local_wins)
{
	th_pair p = with_members();

	th_exec_on(p.pa, "BEGIN; UPDATE member SET email = 'tmp' WHERE id = 1;"
			 " UPDATE member SET email = 'x@' WHERE id = 2;"
			 " UPDATE member SET email = 'y@' WHERE id = 1; COMMIT");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	/* b renamed member 2's nick: local wins keeps b's whole row, email
	 * y@ included, which the pulled member 1 needs. */
	th_exec_on(p.pb, "UPDATE member SET nick = 'wye' WHERE id = 2");
	ASSERT_CODE(dbsync_client_pull(p.b), DBSYNC_UNIQUE_CONFLICT);
	ASSERT_EQ_STR(th_conflicts(p.b), "unique/none member:u:2(email)");

	/* Under server-wins member 2 takes the remote row first: the swap
	 * applies, the conflict on member 2 is reported as such. */
	ASSERT_OK(dbsync_client_set_policy(p.b, "member",
					   DBSYNC_POLICY_SERVER_WINS));
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_STR(th_conflicts(p.b), "u/u/remote member:u:2");
	th_pair_all_equal(&p, MEMBERS, "1:y@:ex,2:x@:why,3:z@:-");
}

TEST(a_swap_cut_by_a_page_boundary_applies)
{
	th_pair p = with_members();

	/* Pages of one operation cut the swap in two: the first page gives
	 * member 1 the email member 2 holds until the second page. */
	th_exec_on(p.pa, "BEGIN; UPDATE member SET email = 'tmp' WHERE id = 1;"
			 " UPDATE member SET email = 'x@' WHERE id = 2;"
			 " UPDATE member SET email = 'y@' WHERE id = 1; COMMIT");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_set_page_size(p.b, 1));
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_STR(th_conflicts(p.b), "");
	th_pair_all_equal(&p, MEMBERS, "1:y@:ex,2:x@:why,3:z@:-");
}

static const th_case cases[] = {
	CASE(a_swap_of_unique_values_applies),
	CASE(a_swap_cut_by_a_page_boundary_applies),
	CASE(a_rotation_over_two_unique_indexes_applies),
	CASE(a_value_moving_to_a_new_row_applies),
	CASE(nulls_never_collide),
	CASE(a_genuine_collision_changes_nothing_and_names_the_local_row),
	CASE(a_swap_with_a_locally_updated_row_is_a_collision_under_local_wins),
};
TH_MAIN(cases)
