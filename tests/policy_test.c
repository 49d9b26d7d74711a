/*
 * policy_test.c - conflict policies per table (server-wins, the conflict
 * callback keeping, taking, merging or aborting) end to end: two clients
 * and a real dbsyncd, the final rows everywhere and the reported conflict.
 */
#include "pair.h"

#include <stdio.h>
#include <string.h>

#define CITIES "SELECT id || ':' || name FROM city ORDER BY id"

/* a changes city 1 and syncs; then b changes it too, offline. */
static th_pair both_update_oslo(void)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "UPDATE city SET name = 'Oslo A' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "UPDATE city SET name = 'Oslo B' WHERE id = 1");
	return p;
}

TEST(server_wins_takes_the_remote_row_and_drops_the_local_update)
{
	th_pair p = both_update_oslo();

	ASSERT_OK(dbsync_client_set_policy(p.b, "CITY", DBSYNC_POLICY_SERVER_WINS));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "u/u/remote city:u:1");
	ASSERT_EQ_STR(th_cities(p.pb), "1:Oslo A,2:Bergen");
	ASSERT_EQ_STR(th_pending_str(p.b), "");
	th_pair_all_equal(&p, CITIES, "1:Oslo A,2:Bergen");
}

TEST(server_wins_remote_delete_removes_the_locally_updated_row)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "UPDATE city SET name = 'Bergen B' WHERE id = 2");
	ASSERT_OK(dbsync_client_set_policy(p.b, NULL, DBSYNC_POLICY_SERVER_WINS));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "d/u/remote city:d:2");
	th_pair_all_equal(&p, CITIES, "1:Oslo");
}

TEST(server_wins_keeps_a_parent_that_pending_local_rows_refer_to)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	/* b updated Bergen and added a person in it: deleting Bergen would
	 * orphan the person, so the row stays whatever the policy. */
	th_exec_on(p.pb, "UPDATE city SET name = 'Bergen B' WHERE id = 2;"
			 "INSERT INTO person VALUES (1, 'Ola', 2)");
	ASSERT_OK(dbsync_client_set_policy(p.b, "city", DBSYNC_POLICY_SERVER_WINS));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "d/u/local city:d:2");
	th_pair_all_equal(&p, CITIES, "1:Oslo,2:Bergen B");
	ASSERT_EQ_STR(th_rows(p.pa, "SELECT name FROM person"), "Ola");
}

TEST(server_wins_on_a_text_key_insert_insert)
{
	th_pair p = th_pair_setup();

	th_exec_on(p.pa, "INSERT INTO tag VALUES ('x', 'from a')");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "INSERT INTO tag VALUES ('x', 'from b')");
	ASSERT_OK(dbsync_client_set_policy(p.b, "tag", DBSYNC_POLICY_SERVER_WINS));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "insert/remote tag:i:'x'");
	th_pair_all_equal(&p, "SELECT code || ':' || label FROM tag",
			  "x:from a");
}

TEST(a_table_policy_overrides_the_default)
{
	th_pair p = both_update_oslo();

	ASSERT_OK(dbsync_client_set_policy(p.b, NULL, DBSYNC_POLICY_SERVER_WINS));
	ASSERT_OK(dbsync_client_set_policy(p.b, "city", DBSYNC_POLICY_LOCAL_WINS));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "u/u/local city:u:1");
	th_pair_all_equal(&p, CITIES, "1:Oslo B,2:Bergen");
}

/* What the callback saw and what it answers. */
struct seen {
	int calls, kind, is_choice, resolution, has_local, has_remote;
	char remote_op;
	char table[32], local[64], remote[64], columns[64];
	int answer;		/* returned */
	const char *merge_name; /* set as the merged name, if not NULL */
};

static const char *text_of(const dbsync_conflict *c, dbsync_side side,
			   size_t column)
{
	const void *p = dbsync_conflict_bytes(c, side, column, NULL);
	return p ? (const char *)p : "(none)";
}

static int remember(dbsync_conflict *c, void *payload)
{
	struct seen *s = payload;
	size_t k;

	s->calls++;
	s->kind = dbsync_conflict_kind(c);
	s->is_choice = dbsync_conflict_is_choice(c);
	s->resolution = dbsync_conflict_resolution(c);
	s->remote_op = dbsync_conflict_remote_command(c);
	s->has_local = dbsync_conflict_has_row(c, DBSYNC_SIDE_LOCAL);
	s->has_remote = dbsync_conflict_has_row(c, DBSYNC_SIDE_REMOTE);
	snprintf(s->table, sizeof(s->table), "%s", dbsync_conflict_table(c));
	s->columns[0] = 0;
	for (k = 0; k < dbsync_conflict_column_count(c); k++)
		snprintf(s->columns + strlen(s->columns),
			 sizeof(s->columns) - strlen(s->columns), "%s%s",
			 k ? "," : "", dbsync_conflict_column(c, k));
	/* city: key (both sides, even a deleted one) and name */
	snprintf(s->local, sizeof(s->local), "%lld:%s",
		 (long long)dbsync_conflict_int(c, DBSYNC_SIDE_LOCAL, 0),
		 text_of(c, DBSYNC_SIDE_LOCAL, 1));
	snprintf(s->remote, sizeof(s->remote), "%lld:%s",
		 (long long)dbsync_conflict_int(c, DBSYNC_SIDE_REMOTE, 0),
		 text_of(c, DBSYNC_SIDE_REMOTE, 1));
	if (s->merge_name &&
	    dbsync_conflict_set_text(c, 1, s->merge_name) != DBSYNC_OK)
		return -1;
	return s->answer;
}

static void use_callback(dbsync_client *c, struct seen *s)
{
	ASSERT_OK(dbsync_client_on_conflict(c, remember, s));
	ASSERT_OK(dbsync_client_set_policy(c, NULL, DBSYNC_POLICY_CALLBACK));
}

TEST(callback_sees_both_rows_and_merges)
{
	th_pair p = both_update_oslo();
	struct seen s;

	memset(&s, 0, sizeof(s));
	s.answer = DBSYNC_RESOLUTION_MERGED;
	s.merge_name = "Oslo A+B";
	use_callback(p.b, &s);
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_INT(s.calls, 1);
	ASSERT_EQ_INT(s.kind, DBSYNC_CONFLICT_UPDATE_UPDATE);
	ASSERT_EQ_INT(s.is_choice, 1);
	ASSERT_EQ_INT(s.resolution, DBSYNC_RESOLUTION_KEEP_LOCAL);
	ASSERT_EQ_INT(s.remote_op, 'u');
	ASSERT_EQ_INT(s.has_local, 1);
	ASSERT_EQ_INT(s.has_remote, 1);
	ASSERT_EQ_STR(s.table, "city");
	ASSERT_EQ_STR(s.columns, "id,name");
	ASSERT_EQ_STR(s.local, "1:Oslo B");
	ASSERT_EQ_STR(s.remote, "1:Oslo A");
	ASSERT_EQ_STR(th_conflicts(p.b), "u/u/merged city:u:1");
	/* The merged row is b's new local state and reaches everyone. */
	th_pair_all_equal(&p, CITIES, "1:Oslo A+B,2:Bergen");
}

TEST(callback_keeps_local_or_takes_remote)
{
	th_pair p = both_update_oslo();
	struct seen s;

	memset(&s, 0, sizeof(s));
	s.answer = DBSYNC_RESOLUTION_TAKE_REMOTE;
	use_callback(p.b, &s);
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "u/u/remote city:u:1");
	th_pair_all_equal(&p, CITIES, "1:Oslo A,2:Bergen");

	/* Again the other way round: b's row wins by the callback. */
	th_exec_on(p.pa, "UPDATE city SET name = 'Bergen A' WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "UPDATE city SET name = 'Bergen B' WHERE id = 2");
	s.answer = DBSYNC_RESOLUTION_KEEP_LOCAL;
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "u/u/local city:u:2");
	th_pair_all_equal(&p, CITIES, "1:Oslo A,2:Bergen B");
}

TEST(callback_merges_a_row_deleted_here)
{
	th_pair p = th_pair_setup();
	struct seen s;

	th_exec_on(p.pa, "UPDATE city SET name = 'Oslo A' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "DELETE FROM city WHERE id = 1");
	memset(&s, 0, sizeof(s));
	s.answer = DBSYNC_RESOLUTION_MERGED;
	s.merge_name = "Oslo merged";
	use_callback(p.b, &s);
	ASSERT_OK(dbsync_client_pull(p.b));
	ASSERT_EQ_INT(s.kind, DBSYNC_CONFLICT_UPDATE_DELETE);
	ASSERT_EQ_INT(s.has_local, 0);
	ASSERT_EQ_STR(s.local, "1:(none)"); /* the key reads on both sides */
	ASSERT_EQ_STR(s.remote, "1:Oslo A");
	ASSERT_EQ_STR(th_conflicts(p.b), "u/d/merged city:u:1");
	/* The merged row replaces the local delete as pending work. */
	ASSERT_EQ_STR(th_pending_str(p.b), "city:u:1");
	th_pair_all_equal(&p, CITIES, "1:Oslo merged,2:Bergen");
}

TEST(callback_keeping_a_local_delete_deletes_everywhere)
{
	th_pair p = th_pair_setup();
	struct seen s;

	th_exec_on(p.pa, "UPDATE city SET name = 'Oslo A' WHERE id = 1");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "DELETE FROM city WHERE id = 1");
	memset(&s, 0, sizeof(s));
	s.answer = DBSYNC_RESOLUTION_KEEP_LOCAL;
	use_callback(p.b, &s);
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "u/d/local city:u:1");
	th_pair_all_equal(&p, CITIES, "2:Bergen");
}

TEST(callback_abort_fails_the_pull_and_changes_nothing)
{
	th_pair p = both_update_oslo();
	struct seen s;
	size_t before_len = 0, after_len = 0;
	void *before, *after;

	memset(&s, 0, sizeof(s));
	s.answer = -7;
	use_callback(p.b, &s);
	before = th_read_file(p.pb, &before_len);
	ASSERT_CODE(dbsync_client_pull(p.b), DBSYNC_CALLBACK);
	ASSERT(th_contains(dbsync_client_error_message(p.b), "conflict callback"));
	after = th_read_file(p.pb, &after_len);
	ASSERT_EQ_INT(before_len, after_len);
	ASSERT(memcmp(before, after, before_len) == 0);
	ASSERT_EQ_STR(th_conflicts(p.b), "");
	ASSERT_EQ_STR(th_pending_str(p.b), "city:u:1");

	/* An answer that is no resolution aborts the same way. */
	s.answer = 99;
	ASSERT_CODE(dbsync_client_pull(p.b), DBSYNC_CALLBACK);
	/* Fixed, the same conflict is met again and resolved. */
	s.answer = 0;
	s.calls = 0;
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_INT(s.calls, 1);
	ASSERT_EQ_STR(th_conflicts(p.b), "u/u/local city:u:1");
	th_pair_all_equal(&p, CITIES, "1:Oslo B,2:Bergen");
}

TEST(callback_sees_structural_conflicts_but_cannot_change_them)
{
	th_pair p = th_pair_setup();
	struct seen s;

	th_exec_on(p.pa, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	th_exec_on(p.pb, "INSERT INTO person VALUES (300, 'Cy', 2)");
	memset(&s, 0, sizeof(s));
	s.answer = DBSYNC_RESOLUTION_TAKE_REMOTE; /* ignored: not a choice */
	use_callback(p.b, &s);
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_INT(s.calls, 1);
	ASSERT_EQ_INT(s.kind, DBSYNC_CONFLICT_DEPENDENCY);
	ASSERT_EQ_INT(s.is_choice, 0);
	ASSERT_EQ_INT(s.remote_op, 'd');
	ASSERT_EQ_STR(s.local, "2:Bergen");
	ASSERT_EQ_INT(s.has_remote, 0);
	ASSERT_EQ_STR(th_conflicts(p.b), "dependency/local city:d:2");
	th_pair_all_equal(&p, CITIES, "1:Oslo,2:Bergen");
}

TEST(callback_policy_without_a_callback_is_local_wins)
{
	th_pair p = both_update_oslo();

	ASSERT_OK(dbsync_client_set_policy(p.b, "city", DBSYNC_POLICY_CALLBACK));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_conflicts(p.b), "u/u/local city:u:1");
}

static int set_key(dbsync_conflict *c, void *payload)
{
	int *rc = payload;

	rc[0] = dbsync_conflict_set_int(c, 0, 5);	/* the key */
	rc[1] = dbsync_conflict_set_int(c, 9, 5);	/* no such column */
	rc[2] = dbsync_conflict_set_text(c, 1, NULL);
	rc[3] = dbsync_conflict_set_blob(c, 1, NULL, 3);
	rc[4] = dbsync_conflict_set_null(c, 1);
	rc[5] = dbsync_conflict_set_float(c, 1, 2.5); /* the last word */
	return DBSYNC_RESOLUTION_MERGED;
}

TEST(policy_and_callback_arguments)
{
	th_pair p = both_update_oslo();
	int rc[6];

	ASSERT_CODE(dbsync_client_set_policy(NULL, "city",
					     DBSYNC_POLICY_SERVER_WINS),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_set_policy(p.b, "",
					     DBSYNC_POLICY_SERVER_WINS),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_set_policy(p.b, "city", (dbsync_policy)7),
		    DBSYNC_INVALID);
	ASSERT(th_contains(dbsync_client_error_message(p.b), "policy"));
	ASSERT_CODE(dbsync_client_on_conflict(NULL, remember, NULL),
		    DBSYNC_INVALID);
	ASSERT_EQ_INT(dbsync_conflict_kind(NULL), 0);
	ASSERT_NULL(dbsync_conflict_table(NULL));
	ASSERT_NULL(dbsync_conflict_column(NULL, 0));
	ASSERT_EQ_INT(dbsync_conflict_type(NULL, DBSYNC_SIDE_LOCAL, 0), 0);
	ASSERT_NULL(dbsync_conflict_bytes(NULL, DBSYNC_SIDE_LOCAL, 0, NULL));
	ASSERT_CODE(dbsync_conflict_set_int(NULL, 1, 1), DBSYNC_INVALID);

	/* Inside a callback: the key and unknown columns cannot be set. */
	ASSERT_OK(dbsync_client_on_conflict(p.b, set_key, rc));
	ASSERT_OK(dbsync_client_set_policy(p.b, "city", DBSYNC_POLICY_CALLBACK));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_CODE(rc[0], DBSYNC_INVALID);
	ASSERT_CODE(rc[1], DBSYNC_INVALID);
	ASSERT_CODE(rc[2], DBSYNC_INVALID);
	ASSERT_CODE(rc[3], DBSYNC_INVALID);
	ASSERT_OK(rc[4]);
	ASSERT_OK(rc[5]);
	/* name has TEXT affinity: the float is stored as text. */
	th_pair_all_equal(&p, CITIES, "1:2.5,2:Bergen");
}

static const th_case cases[] = {
	CASE(server_wins_takes_the_remote_row_and_drops_the_local_update),
	CASE(server_wins_remote_delete_removes_the_locally_updated_row),
	CASE(server_wins_keeps_a_parent_that_pending_local_rows_refer_to),
	CASE(server_wins_on_a_text_key_insert_insert),
	CASE(a_table_policy_overrides_the_default),
	CASE(callback_sees_both_rows_and_merges),
	CASE(callback_keeps_local_or_takes_remote),
	CASE(callback_merges_a_row_deleted_here),
	CASE(callback_keeping_a_local_delete_deletes_everywhere),
	CASE(callback_abort_fails_the_pull_and_changes_nothing),
	CASE(callback_sees_structural_conflicts_but_cannot_change_them),
	CASE(callback_policy_without_a_callback_is_local_wins),
	CASE(policy_and_callback_arguments),
};
TH_MAIN(cases)
