/*
 * pending_test.c - compression of the operations log, push order,
 * dbsync_client_compact, and the oplist accessors.
 */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_ROWS "SELECT count(*) FROM dbsync_log"

/* Client + own connection; t(id, v) holds rows 1..5 from before tracking,
 * so those can be updated and deleted. */
static dbsync_client *setup(sqlite3 **db)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);

	*db = th_db_open(path);
	th_exec(*db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v);"
		     "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c'), "
		     "(4, 'd'), (5, 'e')");
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	return c;
}

/* Run `sql`, then check pending() against `want`, and that pending() only
 * read the log. */
static void expect_after(dbsync_client *c, sqlite3 *db, const char *sql,
			 const char *want)
{
	int64_t rows;

	th_exec(db, sql);
	rows = th_query_int(db, LOG_ROWS);
	ASSERT_EQ_STR(th_pending_str(c), want);
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), rows);
}

/* ---- one row's sequence --------------------------------------------- */

TEST(seq_i_u_u_is_i)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	expect_after(c, db,
		     "INSERT INTO t VALUES (10, 'x');"
		     "UPDATE t SET v = 'y' WHERE id = 10;"
		     "UPDATE t SET v = 'z' WHERE id = 10",
		     "t:i:10");
	/* Three entries in the log; pending() compresses, not rewrites. */
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 3);
}

TEST(seq_i_u_d_is_nothing)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	expect_after(c, db,
		     "INSERT INTO t VALUES (10, 'x');"
		     "UPDATE t SET v = 'y' WHERE id = 10;"
		     "DELETE FROM t WHERE id = 10",
		     "");
}

TEST(seq_i_d_is_nothing)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	expect_after(c, db,
		     "INSERT INTO t VALUES (10, 'x');"
		     "DELETE FROM t WHERE id = 10",
		     "");
}

TEST(seq_u_u_is_u)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	expect_after(c, db,
		     "UPDATE t SET v = 'y' WHERE id = 1;"
		     "UPDATE t SET v = 'z' WHERE id = 1;"
		     "UPDATE t SET v = 'w' WHERE id = 1",
		     "t:u:1");
}

TEST(seq_u_d_is_d)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	expect_after(c, db,
		     "UPDATE t SET v = 'y' WHERE id = 1;"
		     "UPDATE t SET v = 'z' WHERE id = 1;"
		     "DELETE FROM t WHERE id = 1",
		     "t:d:1");
}

TEST(seq_d_i_is_u)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	/* Row 1 existed before tracking: the server has it. */
	expect_after(c, db,
		     "DELETE FROM t WHERE id = 1;"
		     "INSERT INTO t VALUES (1, 'again')",
		     "t:u:1");
}

TEST(seq_d_i_same_data_is_u)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	expect_after(c, db,
		     "DELETE FROM t WHERE id = 1;"
		     "INSERT INTO t VALUES (1, 'a')",
		     "t:u:1");
}

TEST(seq_i_d_i_is_i)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	expect_after(c, db,
		     "INSERT INTO t VALUES (10, 'x');"
		     "DELETE FROM t WHERE id = 10;"
		     "INSERT INTO t VALUES (10, 'y')",
		     "t:i:10");
}

TEST(seq_d_i_d_is_d)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	expect_after(c, db,
		     "DELETE FROM t WHERE id = 1;"
		     "INSERT INTO t VALUES (1, 'x');"
		     "DELETE FROM t WHERE id = 1",
		     "t:d:1");
}

TEST(seq_u_d_i_u_is_u)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	expect_after(c, db,
		     "UPDATE t SET v = 'y' WHERE id = 1;"
		     "DELETE FROM t WHERE id = 1;"
		     "INSERT INTO t VALUES (1, 'x');"
		     "UPDATE t SET v = 'z' WHERE id = 1",
		     "t:u:1");
}

TEST(seq_i_d_i_d_is_nothing)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	expect_after(c, db,
		     "INSERT INTO t VALUES (10, 'x');"
		     "DELETE FROM t WHERE id = 10;"
		     "INSERT INTO t VALUES (10, 'y');"
		     "DELETE FROM t WHERE id = 10",
		     "");
}

TEST(seqs_spread_over_transactions)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "INSERT INTO t VALUES (10, 'x')");
	th_exec(db, "BEGIN; UPDATE t SET v = 'y' WHERE id = 10; COMMIT");
	th_exec(db, "UPDATE t SET v = 'q' WHERE id = 2");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:10 t:u:2");
	th_exec(db, "DELETE FROM t WHERE id = 2");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:10 t:d:2");
}

TEST(same_key_in_two_tables_is_two_rows)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "CREATE TABLE s(id INTEGER PRIMARY KEY, v)");
	ASSERT_OK(dbsync_client_track(c, "s", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO t VALUES (10, 't');"
		    "INSERT INTO s VALUES (10, 's');"
		    "DELETE FROM s WHERE id = 10;"
		    "UPDATE t SET v = 'tt' WHERE id = 10;"
		    "INSERT INTO s VALUES (1, 's1');"
		    "DELETE FROM t WHERE id = 1");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:10 s:i:1 t:d:1");
}

TEST(integer_and_text_key_of_same_value_are_two_rows)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);

	/* An untyped key column keeps 1 and '1' apart. */
	th_exec(db, "CREATE TABLE m(k PRIMARY KEY, v)");
	ASSERT_OK(dbsync_client_track(c, "m", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO m VALUES (1, 'int'), ('1', 'text');"
		    "DELETE FROM m WHERE k = '1'");
	ASSERT_EQ_STR(th_pending_str(c), "m:i:1");
}

/* ---- against a reference model -------------------------------------- */

#define MKEYS 40
#define MTABLES 2

struct model {
	int e0[MTABLES][MKEYS + 1];	/* existed when tracking started */
	int exists[MTABLES][MKEYS + 1];
	int touched[MTABLES][MKEYS + 1]; /* some logged change happened */
};

static const char *const mtable[MTABLES] = {"a", "b"};

/* The compressed operation of one row follows from whether it existed at
 * tracking time and exists now: i u* -> i, i..d -> none, u u* -> u,
 * u..d -> d, d i -> u. */
static char *model_str(const struct model *m)
{
	char *s = th_strdup("");
	int t, k;

	for (t = 0; t < MTABLES; t++) {
		for (k = 1; k <= MKEYS; k++) {
			char cmd;
			if (!m->touched[t][k])
				continue;
			if (!m->e0[t][k])
				cmd = m->exists[t][k] ? 'i' : 0;
			else
				cmd = m->exists[t][k] ? 'u' : 'd';
			if (cmd)
				s = th_fmt("%s%s%s:%c:%d", s, s[0] ? " " : "",
					   mtable[t], cmd, k);
		}
	}
	return s;
}

/* Rows with a pending operation; with `all`, every touched row. */
static size_t model_count(const struct model *m, int all)
{
	size_t n = 0;
	int t, k;

	for (t = 0; t < MTABLES; t++)
		for (k = 1; k <= MKEYS; k++)
			if (m->touched[t][k] &&
			    (all || m->e0[t][k] || m->exists[t][k]))
				n++;
	return n;
}

/* One random write on the database and the model. */
static void model_step(sqlite3 *db, struct model *m, th_rng *rng,
		       int *counter)
{
	int t = (int)th_rng_below(rng, MTABLES);
	int k = 1 + (int)th_rng_below(rng, MKEYS);
	int op = (int)th_rng_below(rng, 100);
	const char *tn = mtable[t];
	int j;

	if (op < 25 || (!m->exists[t][k] && op < 85)) {
		if (m->exists[t][k])
			return;
		th_exec(db, th_fmt("INSERT INTO %s VALUES (%d, %d)", tn, k,
				   ++*counter));
		m->exists[t][k] = 1;
		m->touched[t][k] = 1;
	} else if (op < 50) {
		th_exec(db, th_fmt("UPDATE %s SET v = %d WHERE id = %d", tn,
				   ++*counter, k));
		m->touched[t][k] = 1;
	} else if (op < 60) {
		/* Not a change: not logged, not touched. */
		th_exec(db, th_fmt("UPDATE %s SET v = v WHERE id = %d", tn, k));
	} else if (op < 75) {
		th_exec(db, th_fmt("DELETE FROM %s WHERE id = %d", tn, k));
		m->exists[t][k] = 0;
		m->touched[t][k] = 1;
	} else if (op < 85) {
		int to = 1 + (int)th_rng_below(rng, MKEYS);
		if (m->exists[t][to])
			return;
		th_exec(db, th_fmt("UPDATE %s SET id = %d WHERE id = %d", tn,
				   to, k));
		m->exists[t][k] = 0;
		m->exists[t][to] = 1;
		m->touched[t][k] = m->touched[t][to] = 1;
	} else if (op < 93) {
		int r = (int)th_rng_below(rng, 5);
		th_exec(db, th_fmt("UPDATE %s SET v = v + 1 WHERE id %% 5 = %d",
				   tn, r));
		for (j = 1; j <= MKEYS; j++)
			if (j % 5 == r && m->exists[t][j])
				m->touched[t][j] = 1;
	} else {
		int r = (int)th_rng_below(rng, 9);
		th_exec(db,
			th_fmt("DELETE FROM %s WHERE id %% 9 = %d", tn, r));
		for (j = 1; j <= MKEYS; j++)
			if (j % 9 == r && m->exists[t][j]) {
				m->exists[t][j] = 0;
				m->touched[t][j] = 1;
			}
	}
}

static void model_check(dbsync_client *c, sqlite3 *db, struct model *m,
			int compact, int txn)
{
	char *want = model_str(m);
	char *got = th_pending_sorted_str(c);

	ASSERT_MSG(strcmp(got, want) == 0,
		   "after transaction %d%s:\n    pending: %s\n    model:   %s",
		   txn, compact ? " (and compact)" : "", got, want);
	if (compact) {
		/* At most one entry per touched row (client.h); a row that
		 * vanished (i ... d) may keep one as a tombstone. */
		int64_t rows = th_query_int(db, LOG_ROWS);
		ASSERT_GE_INT(rows, (int64_t)model_count(m, 0));
		ASSERT_LE_INT(rows, (int64_t)model_count(m, 1));
	}
}

static void run_model(uint64_t seed, int txns, int round)
{
	/* A fresh database per round. */
	const char *path = th_path(th_fmt("model-%d.db", round));
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);
	struct model m, saved;
	th_rng rng;
	int t, k, x, counter = 0;

	th_rng_init(&rng, seed);
	memset(&m, 0, sizeof(m));
	for (t = 0; t < MTABLES; t++) {
		th_exec(db, th_fmt("CREATE TABLE %s(id INTEGER PRIMARY KEY, "
				   "v INTEGER)",
				   mtable[t]));
		for (k = 1; k <= MKEYS / 2; k++) {
			th_exec(db, th_fmt("INSERT INTO %s VALUES (%d, %d)",
					   mtable[t], k, k * 1000));
			m.e0[t][k] = m.exists[t][k] = 1;
		}
		ASSERT_OK(dbsync_client_track(c, mtable[t],
					      DBSYNC_DIRECTION_BOTH));
	}
	for (x = 1; x <= txns; x++) {
		int ops = 1 + (int)th_rng_below(&rng, 6), o;
		int rollback = th_rng_below(&rng, 100) < 15;

		saved = m;
		th_exec(db, "BEGIN");
		for (o = 0; o < ops; o++)
			model_step(db, &m, &rng, &counter);
		if (rollback) {
			th_exec(db, "ROLLBACK");
			m = saved;
		} else {
			th_exec(db, "COMMIT");
		}
		if (x % 10 == 0) {
			int compact = th_rng_below(&rng, 3) == 0;
			if (compact)
				ASSERT_OK(dbsync_client_compact(c));
			model_check(c, db, &m, compact, x);
		}
	}
	model_check(c, db, &m, 0, txns);
	ASSERT_OK(dbsync_client_compact(c));
	model_check(c, db, &m, 1, txns);
	/* Compacting a compact log changes nothing. */
	ASSERT_OK(dbsync_client_compact(c));
	model_check(c, db, &m, 1, txns);
	/* And it is all in the file. */
	th_client_free(c);
	c = th_client_open(path);
	model_check(c, db, &m, 0, txns);
	th_client_free(c);
	th_db_close(db);
}

TEST(random_sequences_match_model)
{
	uint64_t seed = th_seed();
	th_rng rng;
	int round;

	th_rng_init(&rng, seed);
	for (round = 0; round < 4; round++) {
		uint64_t s = th_rng_next(&rng);
		run_model(s, 250, round);
	}
}

/* ---- many rows ------------------------------------------------------- */

TEST(ten_thousand_rows)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);
	char *want = th_strdup(""), *before;
	size_t cap = 16 * 10000, len = 0, n;
	int id, expected = 0;

	th_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
		    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
		    "FROM n WHERE i < 5000) INSERT INTO t SELECT i, 'v' FROM "
		    "n");
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "BEGIN;"
		    "UPDATE t SET v = v || 'a';"
		    "WITH RECURSIVE n(i) AS (SELECT 5001 UNION ALL SELECT i + 1 "
		    "FROM n WHERE i < 10000) INSERT INTO t SELECT i, 'n' FROM "
		    "n;"
		    "COMMIT;"
		    "BEGIN;"
		    "UPDATE t SET v = v || 'b';"
		    "DELETE FROM t WHERE id % 3 = 0;"
		    "COMMIT;"
		    "WITH RECURSIVE n(i) AS (SELECT 6 UNION ALL SELECT i + 6 "
		    "FROM n WHERE i < 10000) INSERT INTO t SELECT i, 'back' "
		    "FROM n WHERE i <= 10000;");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS),
		      5000 + 5000 + 10000 + 3333 + 1666);

	/* Expected, in key order: pre-existing rows are updated, deleted
	 * (id % 3 == 0) or deleted and re-inserted (id % 6 == 0, an update);
	 * new rows are inserts, except id % 3 == 0 && id % 6 != 0 which were
	 * inserted and deleted. */
	want = th_alloc(cap);
	for (id = 1; id <= 10000; id++) {
		char cmd;
		if (id <= 5000)
			cmd = id % 6 == 0 ? 'u' : id % 3 == 0 ? 'd' : 'u';
		else
			cmd = (id % 3 == 0 && id % 6 != 0) ? 0 : 'i';
		if (!cmd)
			continue;
		len += (size_t)snprintf(want + len, cap - len, "%st:%c:%d",
					len ? " " : "", cmd, id);
		expected++;
	}
	before = th_pending_sorted_str(c);
	ASSERT_EQ_INT(strlen(before), len);
	ASSERT_MSG(strcmp(before, want) == 0, "pending differs from expected");
	th_pending(c, &n);
	ASSERT_EQ_INT(n, expected);

	ASSERT_OK(dbsync_client_compact(c));
	/* One entry per touched row at most: 10,000 rows were touched. */
	ASSERT_GE_INT(th_query_int(db, LOG_ROWS), expected);
	ASSERT_LE_INT(th_query_int(db, LOG_ROWS), 10000);
	ASSERT_MSG(strcmp(th_pending_sorted_str(c), want) == 0,
		   "pending after compact differs");
}

/* ---- parents before children ---------------------------------------- */

/* Every pending insert of a `child` row whose `fk` points at a row of
 * `parent` that is itself pending as an insert must come after it (row
 * data is read from the live table, so the child is sent referencing its
 * current parent). Children whose key is flagged in `skip` (may be NULL)
 * are not checked. */
static void check_parents_first_skip(dbsync_client *c, sqlite3 *db,
				     const char *child, const char *fk,
				     const char *parent, const int *skip,
				     int64_t skip_max)
{
	size_t n, k;
	th_op *ops = th_pending(c, &n);
	int checked = 0;

	for (k = 0; k < n; k++) {
		char *pid;
		long j;

		if (ops[k].command != 'i' || strcmp(ops[k].table, child) != 0)
			continue;
		ASSERT_EQ_INT(ops[k].type, DBSYNC_TYPE_INTEGER);
		if (skip && ops[k].i >= 0 && ops[k].i <= skip_max &&
		    skip[ops[k].i])
			continue;
		pid = th_query_text(db, th_fmt("SELECT \"%s\" FROM \"%s\" "
					       "WHERE rowid = %lld",
					       fk, child, (long long)ops[k].i));
		if (pid == NULL)
			continue;
		j = th_ops_find_int(ops, n, parent, atoll(pid));
		if (j < 0 || ops[j].command != 'i')
			continue;
		checked++;
		ASSERT_MSG((size_t)j < k,
			   "%s %lld (parent %s %s) is pushed at %zu, before "
			   "its parent at %ld: %s",
			   child, (long long)ops[k].i, parent, pid, k, j,
			   th_ops_str(ops, n));
	}
	ASSERT_GT_INT(checked, 0);
}

static void check_parents_first(dbsync_client *c, sqlite3 *db,
				const char *child, const char *fk,
				const char *parent)
{
	check_parents_first_skip(c, db, child, fk, parent, NULL, 0);
}

static dbsync_client *setup_family(sqlite3 **db)
{
	const char *path = th_path("family.db");
	dbsync_client *c = th_client_open(path);

	*db = th_db_open(path);
	th_exec(*db, "CREATE TABLE parent(id INTEGER PRIMARY KEY, name);"
		     "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id "
		     "INTEGER REFERENCES parent(id), name)");
	/* Child tracked first, so table order alone would be wrong. */
	ASSERT_OK(dbsync_client_track(c, "child", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(c, "parent", DBSYNC_DIRECTION_BOTH));
	return c;
}

TEST(parents_first_two_tables)
{
	sqlite3 *db;
	dbsync_client *c = setup_family(&db);

	th_exec(db, "INSERT INTO parent VALUES (1, 'p');"
		    "INSERT INTO child VALUES (10, 1, 'c');"
		    /* later updates must not move the parent behind */
		    "UPDATE parent SET name = 'p2' WHERE id = 1;"
		    "UPDATE child SET name = 'c2' WHERE id = 10;"
		    "UPDATE parent SET name = 'p3' WHERE id = 1;");
	ASSERT_EQ_STR(th_pending_str(c), "parent:i:1 child:i:10");
	check_parents_first(c, db, "child", "parent_id", "parent");
	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_EQ_STR(th_pending_str(c), "parent:i:1 child:i:10");
}

TEST(parents_first_parent_reinserted)
{
	sqlite3 *db;
	dbsync_client *c = setup_family(&db);

	th_exec(db, "INSERT INTO parent VALUES (1, 'p');"
		    "INSERT INTO parent VALUES (2, 'q');"
		    "DELETE FROM parent WHERE id = 2;"
		    "INSERT INTO parent VALUES (2, 'q again');"
		    "INSERT INTO child VALUES (10, 2, 'c');"
		    "INSERT INTO child VALUES (11, 1, 'd');");
	check_parents_first(c, db, "child", "parent_id", "parent");
	ASSERT_OK(dbsync_client_compact(c));
	check_parents_first(c, db, "child", "parent_id", "parent");
}

TEST(parents_first_child_reinserted_under_newer_parent)
{
	sqlite3 *db;
	dbsync_client *c = setup_family(&db);

	/* The row that exists now was created by the last insert, after
	 * parent 2: it must not take the place of its first, deleted self. */
	th_exec(db, "INSERT INTO parent VALUES (1, 'p');"
		    "INSERT INTO child VALUES (10, 1, 'c');"
		    "DELETE FROM child WHERE id = 10;"
		    "INSERT INTO parent VALUES (2, 'q');"
		    "INSERT INTO child VALUES (10, 2, 'c again');");
	ASSERT_EQ_STR(th_pending_str(c),
		      "parent:i:1 parent:i:2 child:i:10");
	check_parents_first(c, db, "child", "parent_id", "parent");
	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_EQ_STR(th_pending_str(c),
		      "parent:i:1 parent:i:2 child:i:10");
}

TEST(insert_keeps_creation_position_when_repointed)
{
	sqlite3 *db;
	dbsync_client *c = setup_family(&db);

	/* docs/capture.md: an insert keeps the position of the insert that
	 * created the row, even when the row is later re-pointed at a newer
	 * parent; ordering such rows by foreign key is the applier's job
	 * (SPEC §11.9), not the log's. This pins the log's side. */
	th_exec(db, "INSERT INTO parent VALUES (1, 'p');"
		    "INSERT INTO child VALUES (10, 1, 'c');"
		    "INSERT INTO parent VALUES (2, 'q');"
		    "UPDATE child SET parent_id = 2 WHERE id = 10;"
		    "DELETE FROM parent WHERE id = 1;");
	ASSERT_EQ_STR(th_pending_str(c), "child:i:10 parent:i:2");
	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_EQ_STR(th_pending_str(c), "child:i:10 parent:i:2");
}

TEST(children_deleted_before_parents)
{
	const char *path = th_path("family.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);

	th_exec(db, "CREATE TABLE parent(id INTEGER PRIMARY KEY, name);"
		    "CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id "
		    "INTEGER REFERENCES parent(id), name);"
		    "INSERT INTO parent VALUES (1, 'p');"
		    "INSERT INTO child VALUES (10, 1, 'a'), (11, 1, 'b')");
	ASSERT_OK(dbsync_client_track(c, "parent", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(c, "child", DBSYNC_DIRECTION_BOTH));
	/* The parent changes first, its children go, then it goes: its
	 * delete takes the position of its last change. */
	th_exec(db, "UPDATE parent SET name = 'q' WHERE id = 1;"
		    "UPDATE child SET name = 'c' WHERE id = 10;"
		    "DELETE FROM child WHERE id IN (10, 11);"
		    "DELETE FROM parent WHERE id = 1;");
	ASSERT_EQ_STR(th_pending_str(c), "child:d:10 child:d:11 parent:d:1");
	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_EQ_STR(th_pending_str(c), "child:d:10 child:d:11 parent:d:1");
}

static dbsync_client *setup_tree(sqlite3 **db)
{
	const char *path = th_path("tree.db");
	dbsync_client *c = th_client_open(path);

	*db = th_db_open(path);
	th_exec(*db, "CREATE TABLE node(id INTEGER PRIMARY KEY, parent_id "
		     "INTEGER REFERENCES node(id), name)");
	ASSERT_OK(dbsync_client_track(c, "node", DBSYNC_DIRECTION_BOTH));
	return c;
}

TEST(parents_first_self_referencing)
{
	sqlite3 *db;
	dbsync_client *c = setup_tree(&db);

	th_exec(db, "INSERT INTO node VALUES (1, NULL, 'root');"
		    "INSERT INTO node VALUES (2, 1, 'a');"
		    "INSERT INTO node VALUES (3, 2, 'b');"
		    "UPDATE node SET name = 'ROOT' WHERE id = 1;"
		    "UPDATE node SET name = 'A' WHERE id = 2;");
	ASSERT_EQ_STR(th_pending_str(c), "node:i:1 node:i:2 node:i:3");
	check_parents_first(c, db, "node", "parent_id", "node");
}

TEST(self_referencing_insert_keeps_creation_position)
{
	sqlite3 *db;
	dbsync_client *c = setup_tree(&db);

	/* Inserted as 1, 2, 3, then 3 made 1's parent and 1 made 2's: the
	 * log keeps creation order (see
	 * insert_keeps_creation_position_when_repointed). */
	th_exec(db, "INSERT INTO node VALUES (1, NULL, 'x');"
		    "INSERT INTO node VALUES (2, NULL, 'y');"
		    "INSERT INTO node VALUES (3, NULL, 'z');"
		    "UPDATE node SET parent_id = 3 WHERE id = 1;"
		    "UPDATE node SET parent_id = 1 WHERE id = 2;");
	ASSERT_EQ_STR(th_pending_str(c), "node:i:1 node:i:2 node:i:3");
}

#define TREE_IDS 300

static int is_descendant(const int *parent, int node, int of)
{
	int hops = 0;

	for (; node != 0 && hops <= TREE_IDS; node = parent[node], hops++)
		if (node == of)
			return 1;
	return 0;
}

TEST(parents_first_random_forest)
{
	uint64_t seed = th_seed();
	th_rng rng;
	sqlite3 *db;
	dbsync_client *c = setup_tree(&db);
	int exists[TREE_IDS + 1] = {0}, parent[TREE_IDS + 1] = {0};
	/* Re-pointed since inserted: the log keeps their creation position,
	 * which need not follow the new parent (see above). */
	int moved[TREE_IDS + 1] = {0};
	int step, live = 0, nmoved = 0;

	th_rng_init(&rng, seed);
	th_exec(db, "BEGIN");
	for (step = 0; step < 600; step++) {
		int op = (int)th_rng_below(&rng, 100);
		int x = 1 + (int)th_rng_below(&rng, TREE_IDS);
		int p = 1 + (int)th_rng_below(&rng, TREE_IDS);
		int k, has_child = 0;

		if (!exists[p] || th_rng_below(&rng, 5) == 0)
			p = 0; /* a root */
		if (op < 50 || live == 0) {
			if (exists[x])
				continue;
			th_exec(db, p ? th_fmt("INSERT INTO node VALUES (%d, "
					       "%d, 'n')",
					       x, p)
				      : th_fmt("INSERT INTO node VALUES (%d, "
					       "NULL, 'n')",
					       x));
			exists[x] = 1;
			parent[x] = p;
			moved[x] = 0;
			live++;
		} else if (op < 85) {
			if (!exists[x] || (p && is_descendant(parent, p, x)))
				continue;
			th_exec(db, p ? th_fmt("UPDATE node SET parent_id = %d "
					       "WHERE id = %d",
					       p, x)
				      : th_fmt("UPDATE node SET parent_id = "
					       "NULL WHERE id = %d",
					       x));
			parent[x] = p;
			moved[x] = 1;
		} else {
			if (!exists[x])
				continue;
			for (k = 1; k <= TREE_IDS; k++)
				if (exists[k] && parent[k] == x)
					has_child = 1;
			if (has_child)
				continue;
			th_exec(db, th_fmt("DELETE FROM node WHERE id = %d",
					   x));
			exists[x] = 0;
			parent[x] = 0;
			live--;
		}
	}
	th_exec(db, "COMMIT");
	for (step = 1; step <= TREE_IDS; step++)
		nmoved += exists[step] && moved[step];
	th_note("%d nodes, %d re-pointed", live, nmoved);
	check_parents_first_skip(c, db, "node", "parent_id", "node", moved,
				 TREE_IDS);
	ASSERT_OK(dbsync_client_compact(c));
	check_parents_first_skip(c, db, "node", "parent_id", "node", moved,
				 TREE_IDS);
}

/* ---- compact --------------------------------------------------------- */

TEST(compact_keeps_pending_identical)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	char *before;

	th_exec(db, "CREATE TABLE s(k TEXT PRIMARY KEY, v)");
	ASSERT_OK(dbsync_client_track(c, "s", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO t VALUES (10, 'x');"
		    "INSERT INTO s VALUES ('a', 1), ('b', 2);"
		    "UPDATE t SET v = 'y' WHERE id IN (1, 2, 10);"
		    "UPDATE s SET v = 3 WHERE k = 'a';"
		    "DELETE FROM t WHERE id = 2;"
		    "DELETE FROM s WHERE k = 'b';"
		    "DELETE FROM t WHERE id = 3; INSERT INTO t VALUES (3, 'z');"
		    "INSERT INTO t VALUES (11, 'w');"
		    "UPDATE t SET id = 12 WHERE id = 4;");
	before = th_pending_str(c);
	ASSERT_GT_INT(th_query_int(db, LOG_ROWS), 8);
	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_EQ_STR(th_pending_str(c), before);
	/* 8 pending rows, plus at most a tombstone for s 'b' (i d). */
	ASSERT_GE_INT(th_query_int(db, LOG_ROWS), 8);
	ASSERT_LE_INT(th_query_int(db, LOG_ROWS), 9);
	ASSERT_EQ_STR(th_pending_sorted_str(c),
		      "s:i:'a' t:u:1 t:d:2 t:u:3 t:d:4 t:i:10 t:i:11 t:i:12");
}

TEST(compact_bounds_the_log)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);
	char *before;
	int x, k;

	th_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER);"
		    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
		    "FROM r WHERE i < 10) INSERT INTO t SELECT i, 0 FROM r");
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	/* 10,000 updates, 1,000 of each row, in ten transactions. */
	for (x = 0; x < 10; x++) {
		th_exec(db, "BEGIN");
		for (k = 0; k < 100; k++)
			th_exec(db, "UPDATE t SET n = n + 1");
		th_exec(db, "COMMIT");
	}
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 10000);
	before = th_pending_str(c);
	ASSERT_EQ_STR(th_pending_sorted_str(c), "t:u:1 t:u:2 t:u:3 t:u:4 "
						"t:u:5 t:u:6 t:u:7 t:u:8 "
						"t:u:9 t:u:10");
	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_LE_INT(th_query_int(db, LOG_ROWS), 10);
	ASSERT_EQ_STR(th_pending_str(c), before);
}

TEST(compact_of_cancelled_rows)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "WITH RECURSIVE r(i) AS (SELECT 100 UNION ALL SELECT i + "
		    "1 FROM r WHERE i < 199) INSERT INTO t SELECT i, 'x' FROM "
		    "r; DELETE FROM t WHERE id >= 100");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 200);
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_OK(dbsync_client_compact(c));
	/* 100 rows touched: at most one entry each. */
	ASSERT_LE_INT(th_query_int(db, LOG_ROWS), 100);
	ASSERT_EQ_STR(th_pending_str(c), "");
	/* A compacted vanished row is new again when re-inserted. */
	th_exec(db, "INSERT INTO t VALUES (150, 'back')");
	ASSERT_EQ_STR(th_pending_str(c), "t:i:150");
}

TEST(compact_then_more_writes)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	th_exec(db, "INSERT INTO t VALUES (10, 'x'), (11, 'y');"
		    "UPDATE t SET v = 'u' WHERE id = 1;"
		    "DELETE FROM t WHERE id = 2;"
		    "UPDATE t SET v = 'u' WHERE id = 3");
	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_EQ_STR(th_pending_str(c), "t:i:10 t:i:11 t:u:1 t:d:2 t:u:3");
	/* The compacted survivors keep compressing with what comes next. */
	th_exec(db, "DELETE FROM t WHERE id = 10;"	      /* i d -> -  */
		    "UPDATE t SET v = 'z' WHERE id = 11;" /* i u -> i  */
		    "DELETE FROM t WHERE id = 1;"	      /* u d -> d  */
		    "INSERT INTO t VALUES (2, 'back');"   /* d i -> u  */
		    "UPDATE t SET v = 'again' WHERE id = 3;" /* u u -> u */
		    "UPDATE t SET v = 'new' WHERE id = 4");
	ASSERT_EQ_STR(th_pending_sorted_str(c),
		      "t:d:1 t:u:2 t:u:3 t:u:4 t:i:11");
	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_EQ_STR(th_pending_sorted_str(c),
		      "t:d:1 t:u:2 t:u:3 t:u:4 t:i:11");
	/* 5 pending rows, plus at most a tombstone for the vanished 10. */
	ASSERT_GE_INT(th_query_int(db, LOG_ROWS), 5);
	ASSERT_LE_INT(th_query_int(db, LOG_ROWS), 6);
}

TEST(compact_empty_log)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);

	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_EQ_STR(th_pending_str(c), "");
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 0);
	/* Nothing tracked at all is fine too. */
	ASSERT_OK(dbsync_client_untrack(c, "t"));
	ASSERT_OK(dbsync_client_compact(c));
}

TEST(compact_null_client)
{
	ASSERT_CODE(dbsync_client_compact(NULL), DBSYNC_INVALID);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_INVALID);
	ASSERT_EQ_STR(dbsync_last_error_message(),
		      "client handle is NULL or closed");
}

struct churn {
	const char *path;
	int txns;
	int failed_rc;
	char error[256];
	atomic_int finished;
};

/* Insert row 1000+k and update row 1000+k-1, one transaction each. */
static void *churn_writer(void *arg)
{
	struct churn *w = arg;
	sqlite3 *db = NULL;
	int k, rc = sqlite3_open(w->path, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_busy_timeout(db, 20000);
	for (k = 0; rc == SQLITE_OK && k < w->txns; k++) {
		char sql[256];
		snprintf(sql, sizeof(sql),
			 "BEGIN IMMEDIATE; INSERT INTO t VALUES (%d, 'n');"
			 "UPDATE t SET v = 'u%d' WHERE id = %d; COMMIT",
			 1000 + k, k, 1000 + k - 1);
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
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

TEST(compact_with_concurrent_writer)
{
	const char *path = th_path("app.db");
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	struct churn w = {path, 300, 0, "", 0};
	pthread_t th;
	int compactions = 0, busy = 0, k, rc = 0;
	char *want = th_strdup("");

	ASSERT_EQ_INT(pthread_create(&th, NULL, churn_writer, &w), 0);
	while (!atomic_load(&w.finished)) {
		rc = dbsync_client_compact(c);
		if (rc == DBSYNC_BUSY)
			busy++;
		else if (rc != DBSYNC_OK)
			break;
		else
			compactions++;
	}
	ASSERT_EQ_INT(pthread_join(th, NULL), 0);
	ASSERT_OK(rc == DBSYNC_BUSY ? 0 : rc);
	ASSERT_MSG(w.failed_rc == 0, "writer failed: %d %s", w.failed_rc,
		   w.error);
	th_note("%d compactions, %d busy", compactions, busy);
	/* Nothing written during the compactions was lost or duplicated. */
	for (k = 0; k < 300; k++)
		want = th_fmt("%s%st:i:%d", want, k ? " " : "", 1000 + k);
	ASSERT_EQ_STR(th_pending_str(c), want);
	ASSERT_OK(dbsync_client_compact(c));
	ASSERT_EQ_INT(th_query_int(db, LOG_ROWS), 300);
	ASSERT_EQ_STR(th_pending_str(c), want);
}

/* ---- pending() arguments and the oplist ----------------------------- */

TEST(pending_null_arguments)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	dbsync_oplist *list = (dbsync_oplist *)&list;

	ASSERT_CODE(dbsync_client_pending(NULL, c), DBSYNC_INVALID);
	ASSERT_EQ_INT(dbsync_client_error_code(c), DBSYNC_INVALID);
	ASSERT_EQ_STR(dbsync_client_error_message(c), "output pointer is NULL");
	ASSERT_CODE(dbsync_client_pending(&list, NULL), DBSYNC_INVALID);
	ASSERT_NULL(list);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_INVALID);
	ASSERT_EQ_STR(dbsync_last_error_message(),
		      "client handle is NULL or closed");
}

TEST(pending_empty_is_an_empty_list)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	dbsync_oplist *list = NULL;

	ASSERT_OK(dbsync_client_pending(&list, c));
	ASSERT_NOT_NULL(list);
	ASSERT_EQ_INT(dbsync_oplist_count(list), 0);
	ASSERT_NULL(dbsync_oplist_table(list, 0));
	ASSERT_EQ_INT(dbsync_oplist_command(list, 0), 0);
	dbsync_oplist_free(list);
}

TEST(oplist_integer_keys)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	dbsync_oplist *list = NULL;
	static const int64_t keys[] = {0, -1, 42, INT64_MAX, INT64_MIN};
	size_t k, size = 12345;

	th_exec(db, "INSERT INTO t VALUES (0, 'z'), (-1, 'm'), (42, 'x'),"
		    "(9223372036854775807, 'max'),"
		    "(-9223372036854775808, 'min')");
	ASSERT_OK(dbsync_client_pending(&list, c));
	ASSERT_EQ_INT(dbsync_oplist_count(list), 5);
	for (k = 0; k < 5; k++) {
		ASSERT_EQ_STR(dbsync_oplist_table(list, k), "t");
		ASSERT_EQ_INT(dbsync_oplist_command(list, k), 'i');
		ASSERT_EQ_INT(dbsync_oplist_pk_type(list, k),
			      DBSYNC_TYPE_INTEGER);
		ASSERT_MSG(dbsync_oplist_pk_int(list, k) == keys[k],
			   "key %zu: %lld, expected %lld", k,
			   (long long)dbsync_oplist_pk_int(list, k),
			   (long long)keys[k]);
		ASSERT_NULL(dbsync_oplist_pk_bytes(list, k, &size));
		ASSERT_NULL(dbsync_oplist_pk_bytes(list, k, NULL));
		ASSERT_GT_INT(dbsync_oplist_seq(list, k), 0);
		if (k > 0)
			ASSERT_GT_INT(dbsync_oplist_seq(list, k),
				      dbsync_oplist_seq(list, k - 1));
	}
	dbsync_oplist_free(list);
}

TEST(oplist_text_keys)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);
	dbsync_oplist *list = NULL;
	static const char *const keys[] = {
		"", "plain", "ñandú 🦆", "it's \"quoted\"", "a\tb",
	};
	size_t k, size;
	sqlite3_stmt *st;

	th_exec(db, "CREATE TABLE s(k TEXT PRIMARY KEY, v)");
	ASSERT_OK(dbsync_client_track(c, "s", DBSYNC_DIRECTION_BOTH));
	ASSERT_EQ_INT(sqlite3_prepare_v2(db, "INSERT INTO s VALUES (?, 1)",
					 -1, &st, NULL),
		      SQLITE_OK);
	for (k = 0; k < 5; k++) {
		sqlite3_bind_text(st, 1, keys[k], -1, SQLITE_STATIC);
		ASSERT_EQ_INT(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);

	ASSERT_OK(dbsync_client_pending(&list, c));
	ASSERT_EQ_INT(dbsync_oplist_count(list), 5);
	for (k = 0; k < 5; k++) {
		const char *b;
		size = 12345;
		ASSERT_EQ_STR(dbsync_oplist_table(list, k), "s");
		ASSERT_EQ_INT(dbsync_oplist_pk_type(list, k), DBSYNC_TYPE_TEXT);
		b = dbsync_oplist_pk_bytes(list, k, &size);
		ASSERT_NOT_NULL(b);
		ASSERT_EQ_INT(size, strlen(keys[k]));
		ASSERT_EQ_STR(b, keys[k]); /* NUL-terminated */
		ASSERT(dbsync_oplist_pk_bytes(list, k, NULL) == b);
	}
	dbsync_oplist_free(list);
}

TEST(oplist_blob_keys)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);
	dbsync_oplist *list = NULL;
	static const unsigned char k1[] = {0x00};
	static const unsigned char k2[] = {0x00, 0xff, 0x00, 0xaa, 0x10};
	size_t size = 12345;
	const unsigned char *b;

	th_exec(db, "CREATE TABLE d(id BLOB PRIMARY KEY, v);"
		    "INSERT INTO d VALUES (x'', 'empty')");
	ASSERT_OK(dbsync_client_track(c, "d", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO d VALUES (x'00', 1), (x'00ff00aa10', 2);"
		    "UPDATE d SET v = 'e' WHERE id = x''");
	ASSERT_OK(dbsync_client_pending(&list, c));
	ASSERT_EQ_INT(dbsync_oplist_count(list), 3);

	ASSERT_EQ_INT(dbsync_oplist_pk_type(list, 0), DBSYNC_TYPE_BLOB);
	b = dbsync_oplist_pk_bytes(list, 0, &size);
	ASSERT_NOT_NULL(b);
	ASSERT_EQ_INT(size, 1);
	ASSERT(memcmp(b, k1, 1) == 0);

	ASSERT_EQ_INT(dbsync_oplist_pk_type(list, 1), DBSYNC_TYPE_BLOB);
	b = dbsync_oplist_pk_bytes(list, 1, &size);
	ASSERT_NOT_NULL(b);
	ASSERT_EQ_INT(size, 5);
	ASSERT(memcmp(b, k2, 5) == 0);

	/* The empty blob is a key like any other. */
	ASSERT_EQ_INT(dbsync_oplist_pk_type(list, 2), DBSYNC_TYPE_BLOB);
	ASSERT_EQ_INT(dbsync_oplist_command(list, 2), 'u');
	size = 12345;
	dbsync_oplist_pk_bytes(list, 2, &size);
	ASSERT_EQ_INT(size, 0);
	dbsync_oplist_free(list);
}

TEST(oplist_float_key)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);
	dbsync_oplist *list = NULL;

	th_exec(db, "CREATE TABLE f(k REAL PRIMARY KEY, v)");
	ASSERT_OK(dbsync_client_track(c, "f", DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO f VALUES (2.5, 'x'), (-0.125, 'y')");
	ASSERT_OK(dbsync_client_pending(&list, c));
	ASSERT_EQ_INT(dbsync_oplist_count(list), 2);
	ASSERT_EQ_INT(dbsync_oplist_pk_type(list, 0), DBSYNC_TYPE_FLOAT);
	ASSERT(dbsync_oplist_pk_float(list, 0) == 2.5);
	ASSERT(dbsync_oplist_pk_float(list, 1) == -0.125);
	ASSERT_NULL(dbsync_oplist_pk_bytes(list, 0, NULL));
	dbsync_oplist_free(list);
}

TEST(oplist_out_of_range)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	dbsync_oplist *list = NULL;
	size_t bad[] = {2, 3, 1000, SIZE_MAX};
	size_t k, size;

	th_exec(db, "INSERT INTO t VALUES (10, 'x'); UPDATE t SET v = 'q' "
		    "WHERE id = 1");
	ASSERT_OK(dbsync_client_pending(&list, c));
	ASSERT_EQ_INT(dbsync_oplist_count(list), 2);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		ASSERT_NULL(dbsync_oplist_table(list, bad[k]));
		ASSERT_EQ_INT(dbsync_oplist_command(list, bad[k]), 0);
		ASSERT_EQ_INT(dbsync_oplist_pk_type(list, bad[k]), 0);
		ASSERT_EQ_INT(dbsync_oplist_pk_int(list, bad[k]), 0);
		ASSERT(dbsync_oplist_pk_float(list, bad[k]) == 0.0);
		ASSERT_NULL(dbsync_oplist_pk_bytes(list, bad[k], &size));
		ASSERT_NULL(dbsync_oplist_pk_bytes(list, bad[k], NULL));
		ASSERT_EQ_INT(dbsync_oplist_seq(list, bad[k]), 0);
	}
	/* The valid ones still answer. */
	ASSERT_EQ_INT(dbsync_oplist_pk_int(list, 1), 1);
	dbsync_oplist_free(list);
}

TEST(oplist_null)
{
	size_t size = 0;

	ASSERT_EQ_INT(dbsync_oplist_count(NULL), 0);
	ASSERT_NULL(dbsync_oplist_table(NULL, 0));
	ASSERT_EQ_INT(dbsync_oplist_command(NULL, 0), 0);
	ASSERT_EQ_INT(dbsync_oplist_pk_type(NULL, 0), 0);
	ASSERT_EQ_INT(dbsync_oplist_pk_int(NULL, 0), 0);
	ASSERT(dbsync_oplist_pk_float(NULL, 0) == 0.0);
	ASSERT_NULL(dbsync_oplist_pk_bytes(NULL, 0, &size));
	ASSERT_EQ_INT(dbsync_oplist_seq(NULL, 0), 0);
	dbsync_oplist_free(NULL);
}

TEST(oplist_is_a_snapshot)
{
	sqlite3 *db;
	dbsync_client *c = setup(&db);
	dbsync_oplist *list = NULL;

	th_exec(db, "INSERT INTO t VALUES (10, 'x')");
	ASSERT_OK(dbsync_client_pending(&list, c));
	th_exec(db, "DELETE FROM t WHERE id = 10; INSERT INTO t VALUES (11, "
		    "'y')");
	ASSERT_OK(dbsync_client_compact(c));
	/* The list returned earlier did not change. */
	ASSERT_EQ_INT(dbsync_oplist_count(list), 1);
	ASSERT_EQ_INT(dbsync_oplist_pk_int(list, 0), 10);
	ASSERT_EQ_INT(dbsync_oplist_command(list, 0), 'i');
	dbsync_oplist_free(list);
	ASSERT_EQ_STR(th_pending_str(c), "t:i:11");
}

TEST(oplist_outlives_its_client)
{
	const char *path = th_path("app.db");
	dbsync_client *c = th_client_open(path);
	sqlite3 *db = th_db_open(path);
	dbsync_oplist *list = NULL;
	size_t size = 0;

	th_exec(db, "CREATE TABLE \"long table name\"(k TEXT PRIMARY KEY)");
	ASSERT_OK(dbsync_client_track(c, "long table name",
				      DBSYNC_DIRECTION_BOTH));
	th_exec(db, "INSERT INTO \"long table name\" VALUES ('key one')");
	ASSERT_OK(dbsync_client_pending(&list, c));
	th_client_free(c);
	/* Strings live until dbsync_oplist_free, not until the client's. */
	ASSERT_EQ_STR(dbsync_oplist_table(list, 0), "long table name");
	ASSERT_EQ_STR(dbsync_oplist_pk_bytes(list, 0, &size), "key one");
	ASSERT_EQ_INT(size, 7);
	dbsync_oplist_free(list);
}

static const th_case cases[] = {
	CASE(seq_i_u_u_is_i),
	CASE(seq_i_u_d_is_nothing),
	CASE(seq_i_d_is_nothing),
	CASE(seq_u_u_is_u),
	CASE(seq_u_d_is_d),
	CASE(seq_d_i_is_u),
	CASE(seq_d_i_same_data_is_u),
	CASE(seq_i_d_i_is_i),
	CASE(seq_d_i_d_is_d),
	CASE(seq_u_d_i_u_is_u),
	CASE(seq_i_d_i_d_is_nothing),
	CASE(seqs_spread_over_transactions),
	CASE(same_key_in_two_tables_is_two_rows),
	CASE(integer_and_text_key_of_same_value_are_two_rows),
	CASE(random_sequences_match_model),
	CASE(ten_thousand_rows),
	CASE(parents_first_two_tables),
	CASE(parents_first_parent_reinserted),
	CASE(parents_first_child_reinserted_under_newer_parent),
	CASE(insert_keeps_creation_position_when_repointed),
	CASE(children_deleted_before_parents),
	CASE(parents_first_self_referencing),
	CASE(self_referencing_insert_keeps_creation_position),
	CASE(parents_first_random_forest),
	CASE(compact_keeps_pending_identical),
	CASE(compact_bounds_the_log),
	CASE(compact_of_cancelled_rows),
	CASE(compact_then_more_writes),
	CASE(compact_empty_log),
	CASE(compact_null_client),
	CASE(compact_with_concurrent_writer),
	CASE(pending_null_arguments),
	CASE(pending_empty_is_an_empty_list),
	CASE(oplist_integer_keys),
	CASE(oplist_text_keys),
	CASE(oplist_blob_keys),
	CASE(oplist_float_key),
	CASE(oplist_out_of_range),
	CASE(oplist_null),
	CASE(oplist_is_a_snapshot),
	CASE(oplist_outlives_its_client),
};
TH_MAIN(cases)
