/*
 * convergence_test.c - the convergence property of SPEC §5, checked on
 * random histories: several clients write at random through their own
 * SQLite connections and synchronize in random orders with one real
 * dbsyncd. After a quiescent round every client holds exactly the server's
 * rows, nothing is duplicated or dangling, and no write is lost other than
 * as the conflict policy says (docs/conflicts.md, "The convergence property
 * test").
 *
 * Each CASE is a group of random cases with its own profile (clients, page
 * sizes, how often they sync). A group runs DBSYNC_CONVERGE_CASES cases
 * (default 100) from th_seed(); a failing case prints its own seed and the
 * command that reruns it alone. DBSYNC_CONVERGE_TRACE=1 prints every step.
 */
#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Unique-column collisions: clients pick parent names from a small shared
 * pool (and swap names), so two clients' rows meet on the UNIQUE column.
 * 0 gives every name once in the whole history. DBSYNC_CONVERGE_UNIQUE=0/1
 * overrides this default at run time.
 */
#ifndef CONVERGE_UNIQUE
#define CONVERGE_UNIQUE 1
#endif

/*
 * Key reuse: 1 lets SQLite number new parent and child rows (max(id) + 1),
 * as a plain app does, so a new row may take the key of a deleted one.
 * OFF (0) by design: to dbsync an INTEGER key that is deleted and inserted
 * again is the same row (the log folds d i into u), so another client's
 * pending edit of the deleted row meets the new one as u/u and the policy
 * decides (docs/conflicts.md, "Reused INTEGER keys": declare such keys
 * AUTOINCREMENT). With 0 the app numbers rows from a counter shared by
 * the clients that never goes back, as AUTOINCREMENT does, and now and
 * then gives a key to a second client, so insert/insert on INTEGER keys
 * still happens.
 */
#ifndef CONVERGE_KEY_REUSE
#define CONVERGE_KEY_REUSE 0
#endif

/*
 * Two keepers: 1 lets two clients bring back the same deleted parent, each
 * with unpushed work on it (children pointing at it, or an update of it):
 * the kept parent is queued as an update (the server upserts it), so the
 * second keeper meets the first one's copy as the same row, not as an
 * insert/insert.
 */
#ifndef CONVERGE_TWO_KEEPERS
#define CONVERGE_TWO_KEEPERS 1
#endif

/*
 * Restore collisions: 1 lets a client give a name to a row while a parent
 * it deleted, delete not yet pushed, held that name: when another client's
 * new child brings that parent back (reversed dependency), the pull stops
 * with DBSYNC_UNIQUE_CONFLICT naming the local row, and the app renames
 * it. A pull that returns anything but a DBSYNC_ code fails the case.
 * With 0 the app avoids the names it freed.
 */
#ifndef CONVERGE_RESTORE_COLLISION
#define CONVERGE_RESTORE_COLLISION 1
#endif

/*
 * Vanished keys: 1 lets a client delete a parent or child row it inserted
 * and has not pushed yet; when a pulled row takes that key the merge
 * forgets the vanished row's log entries, so a later update of the pulled
 * row stays an update.
 */
#ifndef CONVERGE_VANISHED_KEYS
#define CONVERGE_VANISHED_KEYS 1
#endif

/*
 * Deleting shared keys: 1 lets a client delete a row whose INTEGER key was
 * given to two clients: a remote delete meeting a local insert on an
 * INTEGER key concerns the other client's row, so the local row moves to a
 * fresh key (insert/insert, whatever the policy) instead of being deleted.
 */
#ifndef CONVERGE_DELETE_SHARED_KEY
#define CONVERGE_DELETE_SHARED_KEY 1
#endif

#define MAX_CLIENTS 6
#define DEFAULT_CASES 100
/* Syncs of one client in a row before a unique conflict counts as
 * unresolvable; rounds of the final quiescent phase. */
#define MAX_SYNC_ATTEMPTS 8
#define MAX_FINAL_ROUNDS 12
/* Rows one application transaction may write. */
#define TX_MAX 256

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS parent(id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE, val INTEGER NOT NULL,"
	" origin TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS child(id INTEGER PRIMARY KEY,"
	" parent_id INTEGER REFERENCES parent(id), note TEXT NOT NULL,"
	" origin TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS item(uuid TEXT PRIMARY KEY,"
	" label TEXT NOT NULL, qty INTEGER NOT NULL);";

static const char *const server_args[] = {"--track", "parent,child,item",
					  "--registration", "open", NULL};

static const char *const kind_names[] = {"?",	       "u/u",	   "u/d",
					 "d/u",	       "d/d",	   "dependency",
					 "reversed",   "insert",   "unique"};

/* ---- profiles and counters --------------------------------------------- */

/* What one group of cases looks like. */
struct profile {
	int clients;
	int min_steps, max_steps;
	int write_percent;	/* of steps; the rest are syncs */
	int split_percent;	/* of syncs done as a bare push or pull */
	int max_page;		/* 0: the server's page size; else 1..max */
};

/* What a group met, printed at its end to show what was exercised. */
struct stats {
	long cases, writes, refused, syncs, pushes, pulls, pull_required;
	long renamed, single_writer_rows, shared_rows;
	long kinds[9];
};

/* ---- the model ---------------------------------------------------------- */

/*
 * What the clients wrote to one row. A row is named by its identity: the
 * origin column of parent and child rows (an INTEGER key may be renumbered,
 * the origin travels with the row; the app never changes it), the key of
 * an item (a TEXT key is the identity itself). A state is the row's values
 * with foreign keys given as the parent's identity: "name|val" for a
 * parent, "parent origin|note" for a child ("-" for no parent),
 * "label|qty" for an item.
 */
struct history {
	const char *id;		/* "parent a7", "child b3", "item k03" */
	unsigned writers;	/* clients that inserted, updated or deleted it */
	unsigned referrers;	/* clients that wrote a child pointing at it */
	const char *last[MAX_CLIENTS]; /* a writer's last state; NULL: deleted */
	const char **states;	/* every state any client wrote */
	size_t nstates, cap;
	int deleted;		/* some client deleted it */
	int keeper;		/* see CONVERGE_TWO_KEEPERS: client + 1, or 0 */
};

/* One client: the application's own connection and dbsync's handle. */
struct app {
	char name; /* 'a', 'b', ... */
	const char *path;
	sqlite3 *db; /* foreign keys on, like a careful app */
	dbsync_client *sync;
	int serial; /* numbers this client's fresh names and origins */
	struct run *run;
	th_rng answers; /* the conflict callback's choices */
	/* Names of parents deleted here and not pushed yet, " n1 n4 "
	 * (see CONVERGE_RESTORE_COLLISION). */
	const char *freed;
};

/* The writes of the transaction under way, kept until it commits. */
struct tx {
	const char *id[TX_MAX], *state[TX_MAX]; /* NULL state: deleted */
	int64_t key[TX_MAX]; /* the row's INTEGER key here, for the trace */
	size_t n;
	const char *ref[TX_MAX]; /* parents that written children point at */
	size_t nref;
};

struct run {
	const char *group;
	const struct profile *pf;
	int index;
	uint64_t seed;
	th_rng rng;
	int unique;
	int trace;
	th_server *srv;
	struct app app[MAX_CLIENTS];
	int napps;
	struct tx tx;
	struct history *hist;
	size_t nhist, hist_cap;
	/* Keys of new rows when CONVERGE_KEY_REUSE is 0: the last one given
	 * out, to whom, and whether a second client may still get it. */
	int64_t last_key;
	int last_key_client, last_key_shareable;
	int64_t shared_keys[64]; /* keys given to two clients */
	size_t nshared;
	struct stats *stats;
	const char *policies; /* per client and table, for the trace */
};

/* ---- telling which case failed ------------------------------------------ */

/* The case under way, so that a failure anywhere (our checks or the
 * harness's own asserts) names it. */
static struct {
	int active;
	char group[64];
	uint64_t seed;
	int unique;
} running;

static void print_rerun(void)
{
	char exe[1024];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (!running.active)
		return;
	running.active = 0;
	exe[len > 0 ? len : 0] = '\0';
	printf("  convergence case failed: %s, seed %llu\n"
	       "  rerun it alone: DBSYNC_TEST_SEED=%llu"
	       " DBSYNC_CONVERGE_CASES=1 DBSYNC_CONVERGE_UNIQUE=%d %s %s\n"
	       "  (DBSYNC_CONVERGE_TRACE=1 prints every step,"
	       " DBSYNC_TEST_KEEP=1 keeps the databases)\n",
	       running.group, (unsigned long long)running.seed,
	       (unsigned long long)running.seed, running.unique,
	       len > 0 ? exe : "convergence_test", running.group);
	fflush(stdout);
}

#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 4, 5)))
#endif
static void case_fail(const char *file, int line, struct run *r,
		      const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	(void)r;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_rerun();
	th_fail(file, line, "%s", msg);
}

#define CHECK(r, cond, ...)                                                    \
	do {                                                                   \
		if (!(cond))                                                   \
			case_fail(__FILE__, __LINE__, (r), __VA_ARGS__);       \
	} while (0)

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void trace(const struct run *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->trace)
		return;
	printf("    ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static uint32_t below(struct run *r, uint32_t n)
{
	return th_rng_below(&r->rng, n);
}

static int percent(struct run *r, uint32_t p)
{
	return below(r, 100) < p;
}

/* ---- the model ---------------------------------------------------------- */

static struct history *history_of(struct run *r, const char *id)
{
	struct history *h;
	size_t k;

	for (k = 0; k < r->nhist; k++)
		if (strcmp(r->hist[k].id, id) == 0)
			return &r->hist[k];
	if (r->nhist == r->hist_cap) {
		size_t cap = r->hist_cap ? r->hist_cap * 2 : 64;
		struct history *p = th_alloc(cap * sizeof(*p));
		if (r->nhist)
			memcpy(p, r->hist, r->nhist * sizeof(*p));
		r->hist = p;
		r->hist_cap = cap;
	}
	h = &r->hist[r->nhist++];
	memset(h, 0, sizeof(*h));
	h->id = th_strdup(id);
	return h;
}

static void history_write(struct run *r, int client, const char *id,
			  const char *state)
{
	struct history *h = history_of(r, id);

	h->writers |= 1u << client;
	h->last[client] = state;
	if (!state) {
		h->deleted = 1;
		return;
	}
	if (h->nstates == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 4;
		const char **p = th_alloc(cap * sizeof(*p));
		if (h->nstates)
			memcpy(p, h->states, h->nstates * sizeof(*p));
		h->states = p;
		h->cap = cap;
	}
	h->states[h->nstates++] = state;
}

/* ---- the application's writes ------------------------------------------- */

/* A row under the shared key is deleted: giving the key out again would
 * be key reuse. */
static void key_deleted(struct run *r, int64_t key)
{
	if (key == r->last_key)
		r->last_key_shareable = 0;
}

static void tx_begin(struct run *r, struct app *a)
{
	th_exec(a->db, "BEGIN IMMEDIATE");
	r->tx.n = r->tx.nref = 0;
}

/* Committed: the transaction's writes enter the model. */
static void tx_commit(struct run *r, struct app *a)
{
	int client = (int)(a - r->app);
	size_t k;

	th_exec(a->db, "COMMIT");
	for (k = 0; k < r->tx.n; k++) {
		history_write(r, client, r->tx.id[k], r->tx.state[k]);
		if (!r->tx.state[k])
			key_deleted(r, r->tx.key[k]);
		trace(r, "%c wrote %s #%lld = %s", a->name, r->tx.id[k],
		      (long long)r->tx.key[k],
		      r->tx.state[k] ? r->tx.state[k] : "(deleted)");
	}
	for (k = 0; k < r->tx.nref; k++)
		history_of(r, r->tx.ref[k])->referrers |= 1u << client;
	r->stats->writes++;
}

/* A constraint refused a statement: the app gives up this write. */
static void tx_abort(struct run *r, struct app *a, const char *what)
{
	th_exec(a->db, "ROLLBACK");
	trace(r, "%c: %s refused locally", a->name, what);
	r->stats->refused++;
}

/* One statement of the app's transaction: 0, or 1 when a constraint
 * (UNIQUE, FOREIGN KEY, PRIMARY KEY) refused it. */
static int app_exec(struct run *r, struct app *a, const char *sql)
{
	int rc = th_exec_rc(a->db, sql);

	if (rc == SQLITE_OK)
		return 0;
	CHECK(r, (rc & 0xff) == SQLITE_CONSTRAINT,
	      "client %c: %s failed (%d: %s)", a->name, sql, rc,
	      sqlite3_errmsg(a->db));
	return 1;
}

/* The texts of the first row of `sql` (up to 3 columns); 0 if no row. */
static int query_row(sqlite3 *db, const char *sql, const char **out, int n)
{
	sqlite3_stmt *st = NULL;
	int k, rc;

	ASSERT_EQ_INT(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	rc = sqlite3_step(st);
	ASSERT(rc == SQLITE_ROW || rc == SQLITE_DONE);
	for (k = 0; k < n; k++) {
		const unsigned char *t =
			rc == SQLITE_ROW ? sqlite3_column_text(st, k) : NULL;
		out[k] = t ? th_strdup((const char *)t) : NULL;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW;
}

static void tx_write(struct run *r, const char *id, int64_t key,
		     const char *state)
{
	ASSERT(r->tx.n < TX_MAX);
	r->tx.key[r->tx.n] = key;
	r->tx.id[r->tx.n] = id;
	r->tx.state[r->tx.n++] = state;
}

/* The state of parent `pid` as written in the open transaction. */
static void wrote_parent(struct run *r, struct app *a, int64_t pid)
{
	const char *v[2];

	ASSERT(query_row(a->db,
			 th_fmt("SELECT 'parent ' || origin, name || '|' || val"
				" FROM parent WHERE id = %lld",
				(long long)pid),
			 v, 2));
	tx_write(r, v[0], pid, v[1]);
}

/* The same for child `cid`, which also makes its parent referred to. */
static void wrote_child(struct run *r, struct app *a, int64_t cid)
{
	const char *v[3];

	ASSERT(query_row(a->db,
			 th_fmt("SELECT 'child ' || c.origin,"
				" coalesce(p.origin, '-') || '|' || c.note,"
				" 'parent ' || p.origin FROM child c LEFT JOIN"
				" parent p ON p.id = c.parent_id"
				" WHERE c.id = %lld",
				(long long)cid),
			 v, 3));
	tx_write(r, v[0], cid, v[1]);
	if (v[2]) {
		ASSERT(r->tx.nref < TX_MAX);
		r->tx.ref[r->tx.nref++] = v[2];
	}
}

static void wrote_item(struct run *r, struct app *a, const char *key)
{
	const char *v[1];

	ASSERT(query_row(a->db,
			 th_fmt("SELECT label || '|' || qty FROM item"
				" WHERE uuid = '%s'",
				key),
			 v, 1));
	tx_write(r, th_fmt("item %s", key), 0, v[0]);
}

/* Before deleting: the identity of the row that goes. */
static const char *identity(struct app *a, const char *table, int64_t id)
{
	return th_query_text(a->db, th_fmt("SELECT '%s ' || origin FROM %s"
					   " WHERE id = %lld",
					   table, table, (long long)id));
}

/* A name no one else ever uses: the client's letter and a serial. */
static const char *fresh(struct app *a)
{
	return th_fmt("%c%d", a->name, ++a->serial);
}

/* A parent name: with unique collisions on, often one of a small pool
 * every client draws from. */
static const char *pick_name(struct run *r, struct app *a)
{
	const char *name;

	if (!r->unique || !percent(r, 50))
		return fresh(a);
	name = th_fmt("n%u", below(r, 8));
	if (!CONVERGE_RESTORE_COLLISION &&
	    th_contains(a->freed, th_fmt(" %s ", name)))
		return fresh(a);
	return name;
}

/* Parent `pid` is about to be deleted here: its name is freed until the
 * delete is pushed. */
static void note_freed_name(struct app *a, int64_t pid)
{
	a->freed = th_fmt("%s%s ", a->freed,
			  th_query_text(a->db, th_fmt("SELECT name FROM parent"
						      " WHERE id = %lld",
						      (long long)pid)));
}

/* A random existing row's INTEGER key (0 when the table is empty). */
static int64_t pick_row(struct run *r, struct app *a, const char *table)
{
	int64_t n = th_query_int(a->db, th_fmt("SELECT count(*) FROM %s",
					       table));

	if (n == 0)
		return 0;
	return th_query_int(a->db, th_fmt("SELECT id FROM %s ORDER BY id"
					  " LIMIT 1 OFFSET %u",
					  table, below(r, (uint32_t)n)));
}

static const char *pick_item(struct run *r, struct app *a)
{
	int64_t n = th_query_int(a->db, "SELECT count(*) FROM item");

	if (n == 0)
		return NULL;
	return th_query_text(a->db, th_fmt("SELECT uuid FROM item ORDER BY"
					   " uuid LIMIT 1 OFFSET %u",
					   below(r, (uint32_t)n)));
}

/*
 * The key of a new row, as SQL: NULL lets SQLite pick max(id) + 1. Else
 * from the shared counter, in steps of 100 so that the keys renumbering
 * picks (max + 1) stay between them; a quarter of the time the last key
 * again, for a second client that does not have it, while no row under
 * it was deleted.
 */
static const char *new_key(struct run *r, struct app *a, const char *table)
{
	int client = (int)(a - r->app);

	if (CONVERGE_KEY_REUSE)
		return "NULL";
	if (r->last_key_shareable && r->last_key_client != client &&
	    r->nshared < sizeof(r->shared_keys) / sizeof(int64_t) &&
	    percent(r, 25) &&
	    th_query_int(a->db, th_fmt("SELECT count(*) FROM %s WHERE"
				       " id = %lld",
				       table, (long long)r->last_key)) == 0) {
		r->last_key_shareable = 0;
		r->shared_keys[r->nshared++] = r->last_key;
		return th_fmt("%lld", (long long)r->last_key);
	}
	r->last_key += 100;
	r->last_key_client = client;
	r->last_key_shareable = 1;
	return th_fmt("%lld", (long long)r->last_key);
}

/* Whether client `x` holds unpushed work that would keep parent `pid`
 * against a remote delete: an update of it, or a child pointing at it. */
static int keeps_parent(struct app *x, int64_t pid)
{
	size_t n, k;
	th_op *ops = th_pending(x->sync, &n);

	for (k = 0; k < n; k++) {
		if (ops[k].command == 'd' || ops[k].type != DBSYNC_TYPE_INTEGER)
			continue;
		if (strcmp(ops[k].table, "parent") == 0 && ops[k].i == pid)
			return 1;
		if (strcmp(ops[k].table, "child") == 0 &&
		    th_query_int(x->db, th_fmt("SELECT count(*) FROM child"
					       " WHERE id = %lld AND"
					       " parent_id = %lld",
					       (long long)ops[k].i,
					       (long long)pid)))
			return 1;
	}
	return 0;
}

static struct history *find_history(struct run *r, const char *id)
{
	size_t k;

	for (k = 0; id && k < r->nhist; k++)
		if (strcmp(r->hist[k].id, id) == 0)
			return &r->hist[k];
	return NULL;
}

/* Whether `a` may delete row `key` of `table` (and, for a parent, the
 * children it goes with): not a row inserted here and not yet pushed
 * (CONVERGE_VANISHED_KEYS), not a row under a key two clients were given
 * (CONVERGE_DELETE_SHARED_KEY). */
static int may_vanish(struct app *a, const char *table, int64_t key,
		      int with_children)
{
	size_t n, k;
	th_op *ops;

	if (!CONVERGE_DELETE_SHARED_KEY)
		for (k = 0; k < a->run->nshared; k++)
			if (a->run->shared_keys[k] == key ||
			    (with_children &&
			     th_query_int(a->db,
					  th_fmt("SELECT count(*) FROM child"
						 " WHERE id = %lld AND"
						 " parent_id = %lld",
						 (long long)a->run->shared_keys[k],
						 (long long)key))))
				return 0;
	if (CONVERGE_VANISHED_KEYS)
		return 1;
	ops = th_pending(a->sync, &n);
	for (k = 0; k < n; k++) {
		if (ops[k].command != 'i' || ops[k].type != DBSYNC_TYPE_INTEGER)
			continue;
		if (strcmp(ops[k].table, table) == 0 && ops[k].i == key)
			return 0;
		if (with_children && strcmp(ops[k].table, "child") == 0 &&
		    th_query_int(a->db, th_fmt("SELECT count(*) FROM child"
					       " WHERE id = %lld AND"
					       " parent_id = %lld",
					       (long long)ops[k].i,
					       (long long)key)))
			return 0;
	}
	return 1;
}

/* Whether `a` may write work that keeps parent `pid` (a child of it, an
 * update of it): always, but for a parent someone deleted, whose keeper
 * it must be (CONVERGE_TWO_KEEPERS). */
static int may_keep(struct run *r, struct app *a, int64_t pid)
{
	struct history *h;
	int client = (int)(a - r->app);

	if (CONVERGE_TWO_KEEPERS || !pid)
		return 1;
	h = find_history(r, identity(a, "parent", pid));
	if (!h || !h->deleted)
		return 1;
	if (!h->keeper)
		h->keeper = client + 1;
	return h->keeper == client + 1;
}

/* Whether `a` may delete parent `pid`: with CONVERGE_TWO_KEEPERS off, only
 * while at most one other client (which becomes its keeper) holds work
 * that keeps it. */
static int may_delete_parent(struct run *r, struct app *a, int64_t pid)
{
	struct history *h;
	int k, keeper = 0;

	if (CONVERGE_TWO_KEEPERS)
		return 1;
	h = history_of(r, identity(a, "parent", pid));
	for (k = 0; k < r->napps; k++) {
		if (&r->app[k] == a || !keeps_parent(&r->app[k], pid))
			continue;
		if (keeper || (h->keeper && h->keeper != k + 1))
			return 0;
		keeper = k + 1;
	}
	if (keeper)
		h->keeper = keeper;
	return 1;
}

/* Insert a child of `pid` (0: no parent) in the open transaction. */
static int add_child(struct run *r, struct app *a, int64_t pid)
{
	const char *parent = pid ? th_fmt("%lld", (long long)pid) : "NULL";

	if (app_exec(r, a, th_fmt("INSERT INTO child(id, parent_id, note,"
				  " origin) VALUES (%s, %s, 'note %s', '%s')",
				  new_key(r, a, "child"), parent, fresh(a),
				  fresh(a))))
		return 1;
	wrote_child(r, a, sqlite3_last_insert_rowid(a->db));
	return 0;
}

/* A new parent, and in the same transaction up to `children` children
 * (an order and its lines, say). Keys come from SQLite (max + 1), so two
 * clients often pick the same one. */
static void op_insert_parent(struct run *r, struct app *a, int children)
{
	const char *name = pick_name(r, a);
	int64_t pid;
	int k;

	tx_begin(r, a);
	if (app_exec(r, a, th_fmt("INSERT INTO parent(id, name, val, origin)"
				  " VALUES (%s, '%s', %u, '%s')",
				  new_key(r, a, "parent"), name, below(r, 1000),
				  fresh(a)))) {
		tx_abort(r, a, "insert parent");
		return;
	}
	pid = sqlite3_last_insert_rowid(a->db);
	wrote_parent(r, a, pid);
	for (k = 0; k < children; k++)
		if (add_child(r, a, pid)) {
			tx_abort(r, a, "insert child");
			return;
		}
	tx_commit(r, a);
}

static void op_insert_child(struct run *r, struct app *a)
{
	int64_t pid = pick_row(r, a, "parent");

	if (!pid || !may_keep(r, a, pid))
		return;
	tx_begin(r, a);
	if (add_child(r, a, pid))
		tx_abort(r, a, "insert child");
	else
		tx_commit(r, a);
}

static void op_update_parent(struct run *r, struct app *a, int rename)
{
	int64_t pid = pick_row(r, a, "parent");
	const char *set = rename ? th_fmt("name = '%s'", pick_name(r, a))
				 : th_fmt("val = %u", below(r, 1000));

	if (!pid || !may_keep(r, a, pid))
		return;
	tx_begin(r, a);
	if (app_exec(r, a, th_fmt("UPDATE parent SET %s WHERE id = %lld", set,
				  (long long)pid))) {
		tx_abort(r, a, "update parent");
		return;
	}
	wrote_parent(r, a, pid);
	tx_commit(r, a);
}

/* Two parents exchange names through a temporary one, in one
 * transaction: the merge and the server must apply a swap (SPEC §5). */
static void op_swap_names(struct run *r, struct app *a)
{
	int64_t p1 = pick_row(r, a, "parent"), p2 = pick_row(r, a, "parent");
	const char *n1, *n2;

	if (!p1 || !p2 || p1 == p2 || !may_keep(r, a, p1) ||
	    !may_keep(r, a, p2))
		return;
	n1 = th_query_text(a->db, th_fmt("SELECT name FROM parent WHERE"
					 " id = %lld",
					 (long long)p1));
	n2 = th_query_text(a->db, th_fmt("SELECT name FROM parent WHERE"
					 " id = %lld",
					 (long long)p2));
	tx_begin(r, a);
	th_exec(a->db, th_fmt("UPDATE parent SET name = '%s' WHERE id = %lld",
			      fresh(a), (long long)p1));
	th_exec(a->db, th_fmt("UPDATE parent SET name = '%s' WHERE id = %lld",
			      n1, (long long)p2));
	th_exec(a->db, th_fmt("UPDATE parent SET name = '%s' WHERE id = %lld",
			      n2, (long long)p1));
	wrote_parent(r, a, p1);
	wrote_parent(r, a, p2);
	tx_commit(r, a);
}

/* A parent alone: refused locally while it has children. */
static void op_delete_parent(struct run *r, struct app *a)
{
	int64_t pid = pick_row(r, a, "parent");
	const char *id;

	if (!pid || !may_delete_parent(r, a, pid) ||
	    !may_vanish(a, "parent", pid, 0))
		return;
	id = identity(a, "parent", pid);
	note_freed_name(a, pid);
	tx_begin(r, a);
	if (app_exec(r, a, th_fmt("DELETE FROM parent WHERE id = %lld",
				  (long long)pid))) {
		tx_abort(r, a, "delete parent");
		return;
	}
	tx_write(r, id, pid, NULL);
	tx_commit(r, a);
}

/* A parent with its children, children first. */
static void op_delete_family(struct run *r, struct app *a)
{
	int64_t pid = pick_row(r, a, "parent");
	sqlite3_stmt *st;

	if (!pid || !may_delete_parent(r, a, pid) ||
	    !may_vanish(a, "parent", pid, 1))
		return;
	note_freed_name(a, pid);
	tx_begin(r, a);
	ASSERT_EQ_INT(sqlite3_prepare_v2(a->db,
					 th_fmt("SELECT 'child ' || origin, id"
						" FROM child WHERE parent_id ="
						" %lld",
						(long long)pid),
					 -1, &st, NULL),
		      SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		tx_write(r, th_strdup((const char *)sqlite3_column_text(st, 0)),
			 sqlite3_column_int64(st, 1), NULL);
	sqlite3_finalize(st);
	tx_write(r, identity(a, "parent", pid), pid, NULL);
	if (app_exec(r, a, th_fmt("DELETE FROM child WHERE parent_id = %lld;"
				  "DELETE FROM parent WHERE id = %lld",
				  (long long)pid, (long long)pid))) {
		tx_abort(r, a, "delete parent and children");
		return;
	}
	tx_commit(r, a);
}

static void op_update_child(struct run *r, struct app *a, int move)
{
	int64_t cid = pick_row(r, a, "child"), pid = 0;
	const char *set;

	if (!cid)
		return;
	if (!move) {
		set = th_fmt("note = 'note %s'", fresh(a));
		pid = th_query_int(a->db, th_fmt("SELECT parent_id FROM child"
						 " WHERE id = %lld",
						 (long long)cid));
	} else {
		pid = percent(r, 10) ? 0 : pick_row(r, a, "parent");
		set = pid ? th_fmt("parent_id = %lld", (long long)pid)
			  : "parent_id = NULL";
	}
	/* The child, now pending, keeps its parent against a delete. */
	if (!may_keep(r, a, pid))
		return;
	tx_begin(r, a);
	if (app_exec(r, a, th_fmt("UPDATE child SET %s WHERE id = %lld", set,
				  (long long)cid))) {
		tx_abort(r, a, "update child");
		return;
	}
	wrote_child(r, a, cid);
	tx_commit(r, a);
}

static void op_delete_child(struct run *r, struct app *a)
{
	int64_t cid = pick_row(r, a, "child");
	const char *id;

	if (!cid || !may_vanish(a, "child", cid, 0))
		return;
	id = identity(a, "child", cid);
	tx_begin(r, a);
	th_exec(a->db,
		th_fmt("DELETE FROM child WHERE id = %lld", (long long)cid));
	tx_write(r, id, cid, NULL);
	tx_commit(r, a);
}

/* Items have TEXT keys: mostly uuid-like and fresh, sometimes from a
 * small pool (codes two clients may both create: the same identity). */
static void op_insert_item(struct run *r, struct app *a)
{
	const char *key =
		percent(r, 35)
			? th_fmt("k%02u", below(r, 10))
			: th_fmt("%08x-%s", (unsigned)th_rng_next(&r->rng),
				 fresh(a));

	tx_begin(r, a);
	if (app_exec(r, a, th_fmt("INSERT INTO item VALUES ('%s', '%s', %u)",
				  key, fresh(a), below(r, 100)))) {
		tx_abort(r, a, "insert item");
		return;
	}
	wrote_item(r, a, key);
	tx_commit(r, a);
}

static void op_update_item(struct run *r, struct app *a)
{
	const char *key = pick_item(r, a);

	if (!key)
		return;
	tx_begin(r, a);
	th_exec(a->db, percent(r, 50)
			       ? th_fmt("UPDATE item SET qty = %u WHERE"
					" uuid = '%s'",
					below(r, 100), key)
			       : th_fmt("UPDATE item SET label = '%s' WHERE"
					" uuid = '%s'",
					fresh(a), key));
	wrote_item(r, a, key);
	tx_commit(r, a);
}

static void op_delete_item(struct run *r, struct app *a)
{
	const char *key = pick_item(r, a);

	if (!key)
		return;
	tx_begin(r, a);
	th_exec(a->db, th_fmt("DELETE FROM item WHERE uuid = '%s'", key));
	tx_write(r, th_fmt("item %s", key), 0, NULL);
	tx_commit(r, a);
}

/* One random application write on client `a`. */
static void random_write(struct run *r, struct app *a)
{
	uint32_t w = below(r, 100);

	if (w < 12)
		op_insert_parent(r, a, 0);
	else if (w < 18)
		op_insert_parent(r, a, 1 + (int)below(r, 3));
	else if (w < 31)
		op_insert_child(r, a);
	else if (w < 38)
		op_update_parent(r, a, 0);
	else if (w < 46)
		op_update_parent(r, a, 1);
	else if (w < 49)
		r->unique ? op_swap_names(r, a) : op_update_parent(r, a, 1);
	else if (w < 55)
		op_delete_parent(r, a);
	else if (w < 60)
		op_delete_family(r, a);
	else if (w < 68)
		op_update_child(r, a, 0);
	else if (w < 75)
		op_update_child(r, a, 1);
	else if (w < 82)
		op_delete_child(r, a);
	else if (w < 91)
		op_insert_item(r, a);
	else if (w < 97)
		op_update_item(r, a);
	else
		op_delete_item(r, a);
}

/* ---- syncing as an application does --------------------------------------- */

/*
 * The conflict callback of clients whose table has DBSYNC_POLICY_CALLBACK:
 * what local-wins would do, keep the local row, take the remote one, or
 * for an item a merged row (the two quantities added up), which is then
 * the client's own write. Answers come from the client's own generator,
 * so a seed replays them. No assert here: this runs inside the pull.
 */
static int answer_conflict(dbsync_conflict *cf, void *payload)
{
	struct app *a = payload;
	struct run *r = a->run;
	uint32_t pick = th_rng_below(&a->answers, 4);
	int local = dbsync_conflict_has_row(cf, DBSYNC_SIDE_LOCAL);
	int remote = dbsync_conflict_has_row(cf, DBSYNC_SIDE_REMOTE);
	dbsync_side base = local ? DBSYNC_SIDE_LOCAL : DBSYNC_SIDE_REMOTE;
	const char *label, *key;
	int64_t qty;

	if (!dbsync_conflict_is_choice(cf) || pick == 0)
		return 0;
	if (pick == 1)
		return DBSYNC_RESOLUTION_KEEP_LOCAL;
	if (pick == 2 || strcmp(dbsync_conflict_table(cf), "item") != 0 ||
	    !(local || remote))
		return DBSYNC_RESOLUTION_TAKE_REMOTE;
	/* item(uuid, label, qty): columns 0, 1, 2. */
	key = dbsync_conflict_bytes(cf, base, 0, NULL);
	label = dbsync_conflict_bytes(cf, base, 1, NULL);
	qty = (local ? dbsync_conflict_int(cf, DBSYNC_SIDE_LOCAL, 2) : 0) +
	      (remote ? dbsync_conflict_int(cf, DBSYNC_SIDE_REMOTE, 2) : 0);
	if (!key || !label || dbsync_conflict_set_int(cf, 2, qty) != DBSYNC_OK)
		return DBSYNC_RESOLUTION_TAKE_REMOTE;
	history_write(r, (int)(a - r->app), th_fmt("item %s", key),
		      th_fmt("%s|%lld", label, (long long)qty));
	trace(r, "%c merged item %s = %s|%lld", a->name, key, label,
	      (long long)qty);
	return DBSYNC_RESOLUTION_MERGED;
}

/*
 * The conflict policy of client `a` for this case, per table: local-wins
 * (the default) half the time, else server-wins or the callback above.
 * The model needs nothing per policy: the structural conflicts, the ones
 * that could lose a write no one else touched, resolve the same under
 * every policy (docs/conflicts.md, "Choosing a policy"), and the direct
 * ones end in a state one of the writers wrote.
 */
static void choose_conflict_policy(struct run *r, struct app *a)
{
	static const char *const tables[] = {"parent", "child", "item"};
	static const char letters[] = "lsc";
	size_t k;

	a->run = r;
	th_rng_init(&a->answers, th_rng_next(&r->rng));
	ASSERT_OK(dbsync_client_on_conflict(a->sync, answer_conflict, a));
	for (k = 0; k < 3; k++) {
		uint32_t w = below(r, 100);
		dbsync_policy p = w < 50   ? DBSYNC_POLICY_LOCAL_WINS
				  : w < 80 ? DBSYNC_POLICY_SERVER_WINS
					   : DBSYNC_POLICY_CALLBACK;
		ASSERT_OK(dbsync_client_set_policy(a->sync, tables[k], p));
		r->policies = th_fmt("%s%c", r->policies, letters[p]);
	}
	r->policies = th_fmt("%s ", r->policies);
}

/*
 * The app's reaction to DBSYNC_UNIQUE_CONFLICT (docs/conflicts.md): every
 * reported local row that holds a colliding value gets a fresh name, and
 * the app syncs again. Returns how many rows it renamed.
 */
static int rename_colliding_rows(struct run *r, struct app *a,
				 const dbsync_oplist *report)
{
	size_t k;
	int renamed = 0;

	for (k = 0; k < dbsync_oplist_count(report); k++) {
		int64_t pid;

		if (dbsync_oplist_conflict_kind(report, k) !=
		    DBSYNC_CONFLICT_UNIQUE)
			continue;
		CHECK(r,
		      sqlite3_stricmp(dbsync_oplist_table(report, k),
				      "parent") == 0 &&
			      dbsync_oplist_pk_type(report, k) ==
				      DBSYNC_TYPE_INTEGER,
		      "client %c: unique conflict reported on %s, not on a"
		      " parent row",
		      a->name, dbsync_oplist_table(report, k));
		pid = dbsync_oplist_pk_int(report, k);
		tx_begin(r, a);
		th_exec(a->db, th_fmt("UPDATE parent SET name = '%s' WHERE"
				      " id = %lld",
				      fresh(a), (long long)pid));
		CHECK(r, sqlite3_changes(a->db) == 1,
		      "client %c: the unique conflict names parent %lld, which"
		      " is not here",
		      a->name, (long long)pid);
		wrote_parent(r, a, pid);
		tx_commit(r, a);
		renamed++;
	}
	r->stats->renamed += renamed;
	return renamed;
}

/* The conflicts the last call met: counted, and returned for the app's
 * reaction (NULL-safe to free). */
static dbsync_oplist *take_conflicts(struct run *r, struct app *a)
{
	dbsync_oplist *report = NULL;
	size_t k;

	ASSERT_OK(dbsync_client_conflicts(&report, a->sync));
	for (k = 0; k < dbsync_oplist_count(report); k++) {
		int kind = dbsync_oplist_conflict_kind(report, k);

		CHECK(r, kind >= 1 && kind <= 8,
		      "client %c: conflict of unknown kind %d", a->name, kind);
		r->stats->kinds[kind]++;
		trace(r, "%c met %s on %s", a->name, kind_names[kind],
		      dbsync_oplist_table(report, k));
	}
	return report;
}

enum sync_kind { SYNC, PUSH, PULL };

/*
 * One sync call as an app makes it. PULL_REQUIRED after a bare push is
 * normal (the next sync merges); a unique conflict gets the app's
 * reaction and another try. Anything else is a failure of the case.
 * Returns the final code (OK or PULL_REQUIRED).
 */
static int app_sync(struct run *r, struct app *a, enum sync_kind kind)
{
	static const char *const names[] = {"sync", "push", "pull"};
	int attempt, rc = DBSYNC_OK;

	for (attempt = 0; attempt < MAX_SYNC_ATTEMPTS; attempt++) {
		dbsync_oplist *report;
		const char *message;
		int renamed = 0, sqlite_code;

		rc = kind == PUSH   ? dbsync_client_push(a->sync)
		     : kind == PULL ? dbsync_client_pull(a->sync)
				    : dbsync_client_sync(a->sync, 0);
		/* Read before the next call on the handle replaces them. */
		message = th_strdup(dbsync_client_error_message(a->sync));
		sqlite_code = dbsync_client_sqlite_code(a->sync);
		trace(r, "%c %s: %s %s", a->name, names[kind],
		      dbsync_error_name(rc), message);
		report = take_conflicts(r, a);
		if (rc == DBSYNC_UNIQUE_CONFLICT && r->unique)
			renamed = rename_colliding_rows(r, a, report);
		dbsync_oplist_free(report);
		if (rc == DBSYNC_OK && kind != PULL)
			a->freed = " "; /* every delete made here is pushed */
		if (rc == DBSYNC_OK)
			return rc;
		if (rc == DBSYNC_PULL_REQUIRED && kind != PULL) {
			r->stats->pull_required++;
			return rc;
		}
		CHECK(r, rc == DBSYNC_UNIQUE_CONFLICT && r->unique,
		      "client %c: %s returned %d %s (sqlite code %d): \"%s\"",
		      a->name, names[kind], rc, dbsync_error_name(rc),
		      sqlite_code, message);
		CHECK(r, renamed > 0,
		      "client %c: %s returned UNIQUE_CONFLICT but the report"
		      " names no local row to rename: %s",
		      a->name, names[kind], message);
		/* A bare push has nothing to merge: the app syncs after
		 * renaming. */
		kind = kind == PULL ? PULL : SYNC;
	}
	CHECK(r, 0, "client %c: still a unique conflict after %d renames",
	      a->name, MAX_SYNC_ATTEMPTS);
	return rc;
}

static void random_sync(struct run *r, struct app *a)
{
	enum sync_kind kind = SYNC;

	if (percent(r, (uint32_t)r->pf->split_percent))
		kind = percent(r, 50) ? PUSH : PULL;
	r->stats->syncs += kind == SYNC;
	r->stats->pushes += kind == PUSH;
	r->stats->pulls += kind == PULL;
	app_sync(r, a, kind);
}

/* ---- setting a case up and down ---------------------------------------- */

static void open_app(struct run *r, int k)
{
	struct app *a = &r->app[k];

	a->name = (char)('a' + k);
	a->freed = " ";
	a->path = th_path(th_fmt("case%d-%c.db", r->index, a->name));
	a->db = th_db_open(a->path);
	th_exec(a->db, schema);
	a->sync = th_client_open(a->path);
	ASSERT_OK(dbsync_client_set_server(a->sync, r->srv->url));
	ASSERT_OK(dbsync_client_track(a->sync, "parent",
				      DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(a->sync, "child",
				      DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(a->sync, "item", DBSYNC_DIRECTION_BOTH));
	if (r->pf->max_page)
		ASSERT_OK(dbsync_client_set_page_size(
			a->sync, 1 + below(r, (uint32_t)r->pf->max_page)));
	choose_conflict_policy(r, a);
	ASSERT_OK(dbsync_client_register(a->sync, NULL));
}

static void remove_files(const char *base)
{
	static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
	size_t k;

	for (k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
		unlink(th_fmt("%s%s", base, suffixes[k]));
}

/* Everything of a passed case goes, so a long run needs little disk. */
static void close_case(struct run *r)
{
	int k;

	th_server_stop(r->srv);
	for (k = 0; k < r->napps; k++) {
		th_client_free(r->app[k].sync);
		th_db_close(r->app[k].db);
		if (!getenv("DBSYNC_TEST_KEEP"))
			remove_files(r->app[k].path);
	}
	if (!getenv("DBSYNC_TEST_KEEP")) {
		remove_files(r->srv->store);
		unlink(r->srv->log);
		unlink(th_path(th_fmt("case%d-server.port", r->index)));
		unlink(th_path(th_fmt("case%d-server.sql", r->index)));
	}
}

/* ---- the final round and the checks --------------------------------------- */

static int64_t server_latest(struct run *r, sqlite3 *sdb)
{
	(void)r;
	return th_query_int(sdb, "SELECT coalesce(max(id), 0) FROM"
				 " dbsync_versions");
}

/*
 * Every client syncs, in a random order, until a whole round leaves
 * nothing pending anywhere and every client at the server's latest
 * version.
 */
static void quiesce(struct run *r, sqlite3 *sdb)
{
	int round, order[MAX_CLIENTS], k;

	for (round = 0; round < MAX_FINAL_ROUNDS; round++) {
		int settled = 1;
		int64_t latest;

		for (k = 0; k < r->napps; k++)
			order[k] = k;
		for (k = r->napps - 1; k > 0; k--) {
			int j = (int)below(r, (uint32_t)k + 1), t = order[k];
			order[k] = order[j];
			order[j] = t;
		}
		for (k = 0; k < r->napps; k++)
			app_sync(r, &r->app[order[k]], SYNC);
		latest = server_latest(r, sdb);
		for (k = 0; k < r->napps; k++) {
			int64_t v = 0;
			ASSERT(dbsync_client_latest_version(r->app[k].sync,
							    &v) >= 0);
			if (v != latest ||
			    th_pending_str(r->app[k].sync)[0] != '\0')
				settled = 0;
		}
		if (settled)
			return;
	}
	for (k = 0; k < r->napps; k++)
		th_note("client %c pending: %s", r->app[k].name,
			th_pending_str(r->app[k].sync));
	CHECK(r, 0, "no quiescence after %d rounds of syncing everyone",
	      MAX_FINAL_ROUNDS);
}

/* The tracked tables, one line per row ordered by key, values quoted. */
static const char *dump(sqlite3 *db)
{
	return th_query_text(
		db,
		"SELECT coalesce(group_concat(line, char(10)), '') FROM ("
		" SELECT * FROM (SELECT 'parent ' || id || ' ' || quote(name)"
		"  || ' ' || quote(val) || ' ' || quote(origin) AS line"
		"  FROM parent ORDER BY id)"
		" UNION ALL SELECT * FROM (SELECT 'child ' || id || ' ' ||"
		"  quote(parent_id) || ' ' || quote(note) || ' ' ||"
		"  quote(origin) FROM child ORDER BY id)"
		" UNION ALL SELECT * FROM (SELECT 'item ' || quote(uuid) ||"
		"  ' ' || quote(label) || ' ' || quote(qty) FROM item"
		"  ORDER BY uuid))");
}

/* The first line where two dumps differ, for the failure message. */
static const char *first_difference(const char *a, const char *b)
{
	int line = 1;

	while (*a && *a == *b) {
		if (*a == '\n')
			line++;
		a++;
		b++;
	}
	while (line > 1 && a[-1] != '\n') {
		a--;
		b--;
	}
	return th_fmt("line %d: \"%.*s\" vs \"%.*s\"", line,
		      (int)strcspn(a, "\n"), a, (int)strcspn(b, "\n"), b);
}

/* No duplicated row, no dangling reference, in one database. */
static void check_invariants(struct run *r, sqlite3 *db, const char *who)
{
	CHECK(r,
	      th_query_int(db, "SELECT count(*) - count(DISTINCT name)"
			       " FROM parent") == 0,
	      "%s: a parent name is held twice", who);
	CHECK(r,
	      th_query_int(db, "SELECT count(*) - count(DISTINCT origin)"
			       " FROM parent") == 0,
	      "%s: a parent row exists twice: %s", who,
	      th_query_text(db, "SELECT origin FROM parent GROUP BY origin"
				" HAVING count(*) > 1"));
	CHECK(r,
	      th_query_int(db, "SELECT count(*) - count(DISTINCT origin)"
			       " FROM child") == 0,
	      "%s: a child row exists twice: %s", who,
	      th_query_text(db, "SELECT origin FROM child GROUP BY origin"
				" HAVING count(*) > 1"));
	CHECK(r,
	      th_query_int(db, "SELECT count(*) FROM"
			       " pragma_foreign_key_check") == 0,
	      "%s: a foreign key dangles: %s", who,
	      th_query_text(db, "SELECT \"table\" || ' rowid ' || rowid ||"
				" ' -> ' || parent FROM pragma_foreign_key_check"
				" LIMIT 1"));
}

/* The final state of row `id` in the server's tables; NULL: absent. */
static const char *final_state(sqlite3 *sdb, const char *id)
{
	const char *kind = strncmp(id, "parent ", 7) == 0  ? "parent"
			   : strncmp(id, "child ", 6) == 0 ? "child"
							   : "item";
	const char *key = strchr(id, ' ') + 1;

	if (strcmp(kind, "parent") == 0)
		return th_query_text(sdb, th_fmt("SELECT name || '|' || val FROM"
						 " parent WHERE origin = '%s'",
						 key));
	if (strcmp(kind, "child") == 0)
		return th_query_text(
			sdb, th_fmt("SELECT coalesce(p.origin, '-') || '|' ||"
				    " c.note FROM child c LEFT JOIN parent p"
				    " ON p.id = c.parent_id"
				    " WHERE c.origin = '%s'",
				    key));
	return th_query_text(sdb, th_fmt("SELECT label || '|' || qty FROM item"
					 " WHERE uuid = '%s'",
					 key));
}

static int popcount(unsigned v)
{
	int n = 0;

	for (; v; v &= v - 1)
		n++;
	return n;
}

static const char *who_wrote(const struct run *r, const struct history *h)
{
	char *s = th_strdup("");
	int k;

	for (k = 0; k < r->napps; k++)
		if (h->writers & (1u << k))
			s = th_fmt("%s %c:%s", s, r->app[k].name,
				   h->last[k] ? h->last[k] : "(deleted)");
		else if (h->referrers & (1u << k))
			s = th_fmt("%s %c:(child)", s, r->app[k].name);
	return s;
}

/*
 * No write lost other than as local-wins documents (docs/conflicts.md):
 * - a row only one client ever touched (wrote it, or wrote a child of it)
 *   ends exactly as that client last left it: present with its values,
 *   or gone if it deleted it;
 * - a row several clients touched ends in a state one of them wrote, or
 *   gone only if one of them deleted it; if every writer's last word was
 *   a delete and no one gave it a child, it is gone;
 * - every row on the server was written by some client.
 */
static void check_model(struct run *r, sqlite3 *sdb)
{
	size_t k, j;

	for (k = 0; k < r->nhist; k++) {
		const struct history *h = &r->hist[k];
		const char *got = final_state(sdb, h->id);
		unsigned touched = h->writers | h->referrers;

		if (popcount(touched) == 1) {
			const char *want = h->last[__builtin_ctz(touched)];
			r->stats->single_writer_rows++;
			CHECK(r, (got == NULL) == (want == NULL) &&
					 (!got || strcmp(got, want) == 0),
			      "%s, written by one client only (%s), ends as %s",
			      h->id, who_wrote(r, h), got ? got : "(absent)");
			continue;
		}
		r->stats->shared_rows++;
		if (!got) {
			CHECK(r, h->deleted,
			      "%s is gone though no one deleted it (%s)", h->id,
			      who_wrote(r, h));
			continue;
		}
		for (j = 0; j < h->nstates; j++)
			if (strcmp(h->states[j], got) == 0)
				break;
		CHECK(r, j < h->nstates,
		      "%s ends as %s, which no client wrote (%s)", h->id, got,
		      who_wrote(r, h));
		if (!h->referrers) {
			int all_deleted = 1, c;
			for (c = 0; c < r->napps; c++)
				if ((h->writers & (1u << c)) && h->last[c])
					all_deleted = 0;
			CHECK(r, !all_deleted,
			      "%s survives though every writer deleted it (%s)",
			      h->id, who_wrote(r, h));
		}
	}
	/* Rows no one wrote would be invented by the sync. */
	CHECK(r,
	      th_query_int(sdb, "SELECT count(*) FROM parent") +
			      th_query_int(sdb, "SELECT count(*) FROM child") +
			      th_query_int(sdb, "SELECT count(*) FROM item") <=
		      (int64_t)r->nhist,
	      "the server holds more rows than the clients ever wrote");
	{
		sqlite3_stmt *st;
		ASSERT_EQ_INT(sqlite3_prepare_v2(
				      sdb,
				      "SELECT 'parent ' || origin FROM parent"
				      " UNION ALL SELECT 'child ' || origin"
				      " FROM child UNION ALL SELECT 'item ' ||"
				      " uuid FROM item",
				      -1, &st, NULL),
			      SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *id = (const char *)sqlite3_column_text(st, 0);
			for (j = 0; j < r->nhist; j++)
				if (strcmp(r->hist[j].id, id) == 0)
					break;
			if (j == r->nhist) {
				char *copy = th_strdup(id);
				sqlite3_finalize(st);
				CHECK(r, 0, "the server holds %s, which no"
					    " client wrote",
				      copy);
			}
		}
		sqlite3_finalize(st);
	}
}

static void check_converged(struct run *r)
{
	sqlite3 *sdb = th_db_open(r->srv->store);
	const char *want;
	int k;

	quiesce(r, sdb);
	want = dump(sdb);
	check_invariants(r, sdb, "server");
	for (k = 0; k < r->napps; k++) {
		struct app *a = &r->app[k];
		const char *got = dump(a->db);
		CHECK(r, strcmp(got, want) == 0,
		      "client %c differs from the server at %s", a->name,
		      first_difference(want, got));
		check_invariants(r, a->db, th_fmt("client %c", a->name));
	}
	check_model(r, sdb);
	th_db_close(sdb);
}

/* ---- one case, one group -------------------------------------------------- */

static void run_case(const char *group, const struct profile *pf, int index,
		     uint64_t seed, int unique, struct stats *stats)
{
	struct run *r = th_alloc(sizeof(*r));
	int steps, k;

	memset(r, 0, sizeof(*r));
	r->group = group;
	r->pf = pf;
	r->index = index;
	r->seed = seed;
	r->unique = unique;
	r->stats = stats;
	r->trace = getenv("DBSYNC_CONVERGE_TRACE") != NULL;
	r->policies = "";
	th_rng_init(&r->rng, seed);
	running.active = 1;
	snprintf(running.group, sizeof(running.group), "%s", group);
	running.seed = seed;
	running.unique = unique;

	r->srv = th_server_start(th_fmt("case%d-server", index), schema,
				 server_args);
	r->napps = pf->clients;
	for (k = 0; k < r->napps; k++)
		open_app(r, k);
	steps = pf->min_steps +
		(int)below(r, (uint32_t)(pf->max_steps - pf->min_steps + 1));
	trace(r, "case %d seed %llu: %d clients, %d steps, policies %s"
		 "(parent child item: local, server, callback)",
	      index, (unsigned long long)seed, r->napps, steps, r->policies);
	for (k = 0; k < steps; k++) {
		struct app *a = &r->app[below(r, (uint32_t)r->napps)];
		if (percent(r, (uint32_t)pf->write_percent))
			random_write(r, a);
		else
			random_sync(r, a);
	}
	check_converged(r);
	close_case(r);
	stats->cases++;
	running.active = 0;
}

static int env_int(const char *name, int fallback)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : fallback;
}

/* Runs the group's cases: the first from th_seed(), each next seed drawn
 * from the previous one's generator, so every case reruns alone. */
static void run_group(const char *group, const struct profile *pf)
{
	struct stats stats;
	int cases = env_int("DBSYNC_CONVERGE_CASES", DEFAULT_CASES);
	int unique = env_int("DBSYNC_CONVERGE_UNIQUE", CONVERGE_UNIQUE);
	uint64_t seed = th_seed();
	th_rng seeds;
	int k;

	/* A case that failed in an earlier group of this process. */
	print_rerun();
	memset(&stats, 0, sizeof(stats));
	th_rng_init(&seeds, seed);
	for (k = 0; k < cases; k++) {
		run_case(group, pf, k, seed, unique, &stats);
		seed = th_rng_next(&seeds);
	}
	th_note("%ld cases (unique collisions %s): %ld writes (%ld refused"
		" locally), %ld syncs, %ld pushes, %ld pulls (%ld pull"
		" required), %ld unique renames",
		stats.cases, unique ? "on" : "off", stats.writes, stats.refused,
		stats.syncs, stats.pushes, stats.pulls, stats.pull_required,
		stats.renamed);
	th_note("conflicts: u/u %ld, u/d %ld, d/u %ld, d/d %ld, dependency"
		" %ld, reversed %ld, insert %ld, unique %ld; rows checked:"
		" %ld one writer, %ld shared",
		stats.kinds[1], stats.kinds[2], stats.kinds[3], stats.kinds[4],
		stats.kinds[5], stats.kinds[6], stats.kinds[7], stats.kinds[8],
		stats.single_writer_rows, stats.shared_rows);
}

/* Four clients that mostly call sync, the server's page size. */
TEST(random_four_clients)
{
	static const struct profile pf = {4, 20, 60, 65, 20, 0};

	run_group("random_four_clients", &pf);
}

/* Pulls of one to three operations a page: merges cut anywhere. */
TEST(random_small_pages)
{
	static const struct profile pf = {4, 20, 60, 65, 30, 3};

	run_group("random_small_pages", &pf);
}

/* Five clients, more writes between syncs, more bare pushes and pulls. */
TEST(random_five_clients)
{
	static const struct profile pf = {5, 25, 70, 75, 40, 8};

	run_group("random_five_clients", &pf);
}

static void report_unfinished_case(void)
{
	print_rerun();
}

static const th_case cases[] = {
	CASE(random_four_clients),
	CASE(random_small_pages),
	CASE(random_five_clients),
};

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");

	/* A harness assert ends the case by longjmp: the case it ended is
	 * named at the next group, or here at exit. */
	atexit(report_unfinished_case);
	/* Hundreds of databases that need no durability: in memory-backed
	 * /dev/shm the fsyncs of every commit cost nothing (4x faster on an
	 * ordinary disk). An explicit TMPDIR wins. */
	if ((!tmp || !*tmp) && access("/dev/shm", W_OK | X_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 1);
	return th_main(argc, argv, cases, sizeof(cases) / sizeof(cases[0]));
}
