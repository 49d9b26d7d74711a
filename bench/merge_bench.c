/*
 * merge_bench - a pull merged into a client that has pending local work of
 * its own, some of it in conflict, through a real dbsyncd on loopback.
 *
 * Three tracked tables: `parent`, `child` (parent_id REFERENCES parent,
 * indexed, as SQLite advises for foreign keys) and `tag` (a UNIQUE code).
 * For each table size (existing rows; default 100,000 and 400,000), with a
 * dbsyncd child process of its own:
 *   1. client A writes the rows and pushes them; client B pulls them;
 *   2. B's database is copied (SQLite backup API) as client "plain": the
 *      same data, nothing pending;
 *   3. B writes its local operations (default 10,000), A writes the pull's
 *      operations (default 100,000: inserts, updates and deletes in all
 *      three tables, some of them swapping unique codes between pairs of
 *      tags) and pushes them. 1,000 of B's operations meet rows of A's:
 *      update/update, update/delete, delete/update, delete/delete,
 *      insert/insert on the same INTEGER key (B's row is renumbered, its
 *      child follows), a child of a parent A deleted (dependency) and a
 *      parent B deleted that A gave a child (reversed dependency).
 * Then every round, for each size, times dbsync_client_pull of those
 * operations into a fresh copy of B ("merge") and into a fresh copy of
 * plain ("plain pull": the same pull, the same rows, nothing to meet), the
 * order alternating from round to round. A copy is made untimed before
 * each pull, so every pull starts from the same files.
 *
 * What is printed: ops/s (pull operations / wall seconds) of each, the CPU
 * seconds of this process (the client) and of dbsyncd during the pull, the
 * ratio merge / plain pull (what the pending work and the conflicts cost on
 * top of fetching, decoding and writing the rows), and the ratio of the
 * large size's times to the small one's: work proportional to the whole
 * table per operation would make it the ratio of the sizes (4x by default),
 * work independent of it 1x. Medians of the per-round figures.
 *
 * Checks, so that a merge cannot pass by doing nothing: every merge reports
 * the planned conflicts, kind by kind, and leaves the planned pending count;
 * every pull applies at least the planned operations; at the end the plain
 * copy holds A's rows, and after B's merged copy pushes and A pulls, A, B
 * and the server hold the same rows. The benchmark also prints the ratios
 * in CPU time of client + server, which a busy machine disturbs less. It
 * never fails on timing. See docs/benchmarks.md.
 */
#include <dbsync.h>
#include <sqlite3.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"

#define SCHEMA_SQL                                                          \
	"CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY,"        \
	" name TEXT, qty INTEGER, price REAL, note TEXT);\n"                \
	"CREATE TABLE IF NOT EXISTS child (id INTEGER PRIMARY KEY,"         \
	" parent_id INTEGER NOT NULL REFERENCES parent(id), label TEXT,"    \
	" amount REAL);\n"                                                  \
	"CREATE INDEX IF NOT EXISTS child_parent ON child(parent_id);\n"    \
	"CREATE TABLE IF NOT EXISTS tag (id INTEGER PRIMARY KEY,"           \
	" code TEXT NOT NULL UNIQUE, note TEXT);\n"
#define TRACKED "parent,child,tag"

enum table { PARENT, CHILD, TAG, NTABLES };
static const char *const table_names[NTABLES + 1] = {"parent", "child", "tag",
						     NULL};

struct options {
	long long rows[2]; /* existing rows: the small and the large size */
	int nsizes;
	long long ops;	     /* operations in the pull */
	long long pending;   /* B's pending local operations */
	long long conflicts; /* how many of them meet A's rows */
	/* Insert/insert mode: B's conflicts are this many insert/insert
	 * ones only, and the two sizes are pending sizes (this, then twice
	 * this and twice --pending) at one table size. 0: the mixed plan. */
	long long insert_conflicts;
	int rounds;
	long long page_size; /* 0: the server's default */
	const char *dbsyncd;
	const char *dir;
};

/* ---- the plan: who writes what ---- */

/* Shares in per mille. The pull: of A's operations, by table and command. */
enum { A_PARENT_INS = 200, A_PARENT_UPD = 200, A_PARENT_DEL = 30 };
enum { A_CHILD_INS = 200, A_CHILD_UPD = 160, A_CHILD_DEL = 100 };
enum { A_TAG_INS = 50, A_TAG_UPD = 40, A_TAG_DEL = 20 };
/* Of the pull's operations, tag updates that swap unique codes in pairs. */
enum { A_TAG_SWAPPED = 10 };
/* B's operations that meet A's rows, of the conflicts asked for. */
enum { UU_PARENT = 200, UU_CHILD = 150, UU_TAG = 50 };
enum { UD_CHILD = 100, UD_TAG = 50 };
enum { DU_PARENT = 50, DU_CHILD = 75, DU_TAG = 25 };
enum { DD_PARENT = 30, DD_CHILD = 50, DD_TAG = 20 };
enum { II = 100, DEPENDENCY = 50, REVERSED = 50 };
/* B's other operations, of the rest of its pending ones. */
enum { B_PARENT_UPD = 300, B_CHILD_UPD = 200, B_TAG_UPD = 50 };
enum { B_PARENT_INS = 100, B_CHILD_INS = 150 };
enum { B_PARENT_DEL = 50, B_CHILD_DEL = 100, B_TAG_DEL = 50 };

struct plan {
	long long rows[NTABLES]; /* existing: 1/2 parent, 2/5 child, rest tag */
	long long a_ins[NTABLES], a_upd[NTABLES], a_del[NTABLES];
	long long uu[NTABLES], ud[NTABLES], du[NTABLES], dd[NTABLES];
	long long ii, dependency, reversed;
	/* B's insert/insert keys are counted from A's last new parent, not
	 * its first: with no other new parents of B's above them, a row
	 * renumbered above B's keys would otherwise meet A's later keys
	 * again and be renumbered twice. */
	int ii_from_last;
	long long swapped; /* tags whose codes A swaps in pairs */
	long long b_upd[NTABLES], b_ins[NTABLES], b_del[NTABLES];
	long long pull_ops, pending, conflicts;
	long long pending_after; /* what the merge leaves pending */
};

static long long share(long long total, int per_mille)
{
	return total * per_mille / 1000;
}

static long long sum3(const long long *v)
{
	return v[PARENT] + v[CHILD] + v[TAG];
}

/* The plan for `rows` existing rows and `pending` operations of B's; `ii`
 * insert/insert conflicts replace the mixed ones when not 0. */
static void make_plan(const struct options *o, long long rows,
		      long long pending, long long ii, struct plan *p)
{
	/* In insert/insert mode each conflict is two of B's operations (the
	 * row and its child); the rest of B's work is spread as usual. */
	long long k = ii ? 0 : o->conflicts;
	long long rest = pending - (ii ? 2 * ii : k);

	memset(p, 0, sizeof *p);
	p->rows[PARENT] = rows / 2;
	p->rows[CHILD] = rows * 2 / 5;
	p->rows[TAG] = rows - p->rows[PARENT] - p->rows[CHILD];
	p->a_ins[PARENT] = share(o->ops, A_PARENT_INS);
	p->a_upd[PARENT] = share(o->ops, A_PARENT_UPD);
	p->a_del[PARENT] = share(o->ops, A_PARENT_DEL);
	p->a_ins[CHILD] = share(o->ops, A_CHILD_INS);
	p->a_upd[CHILD] = share(o->ops, A_CHILD_UPD);
	p->a_del[CHILD] = share(o->ops, A_CHILD_DEL);
	p->a_ins[TAG] = share(o->ops, A_TAG_INS);
	p->a_upd[TAG] = share(o->ops, A_TAG_UPD);
	p->swapped = share(o->ops, A_TAG_SWAPPED) / 2 * 2;
	/* What rounding left goes to the tag deletes: exactly o->ops. */
	p->a_del[TAG] = o->ops - sum3(p->a_ins) - sum3(p->a_upd) -
			p->a_del[PARENT] - p->a_del[CHILD];
	p->uu[PARENT] = share(k, UU_PARENT);
	p->uu[CHILD] = share(k, UU_CHILD);
	p->uu[TAG] = share(k, UU_TAG);
	p->ud[CHILD] = share(k, UD_CHILD);
	p->ud[TAG] = share(k, UD_TAG);
	p->du[PARENT] = share(k, DU_PARENT);
	p->du[CHILD] = share(k, DU_CHILD);
	p->du[TAG] = share(k, DU_TAG);
	p->dd[PARENT] = share(k, DD_PARENT);
	p->dd[CHILD] = share(k, DD_CHILD);
	p->dd[TAG] = share(k, DD_TAG);
	p->ii = ii ? ii : share(k, II);
	p->ii_from_last = ii != 0;
	p->dependency = share(k, DEPENDENCY);
	p->reversed = share(k, REVERSED);
	p->b_upd[PARENT] = share(rest, B_PARENT_UPD);
	p->b_upd[CHILD] = share(rest, B_CHILD_UPD);
	p->b_upd[TAG] = share(rest, B_TAG_UPD);
	p->b_ins[PARENT] = share(rest, B_PARENT_INS);
	/* B's new children include one per insert/insert conflict. */
	p->b_ins[CHILD] = share(rest, B_CHILD_INS);
	if (ii)
		p->b_ins[CHILD] += ii;
	else if (p->b_ins[CHILD] < p->ii)
		p->b_ins[CHILD] = p->ii;
	p->b_del[PARENT] = share(rest, B_PARENT_DEL);
	p->b_del[CHILD] = share(rest, B_CHILD_DEL);
	p->conflicts = sum3(p->uu) + sum3(p->ud) + sum3(p->du) + sum3(p->dd) +
		       p->ii + p->dependency + p->reversed;
	/* What rounding left goes to B's tag deletes: exactly `pending`. */
	p->b_del[TAG] = pending - p->conflicts - sum3(p->b_upd) -
			sum3(p->b_ins) - p->b_del[PARENT] - p->b_del[CHILD];
	if (p->b_del[TAG] < 0)
		die("--pending too small for --conflicts");
	p->pull_ops = o->ops;
	p->pending = pending;
	/* Local wins: u/u, d/u and renumbered inserts stay pending; the local
	 * deletes of u/d, d/d and the reversed dependency are dropped; a
	 * parent kept for a dependency is queued as a new local insert. */
	p->pending_after = p->pending - sum3(p->ud) - sum3(p->dd) -
			   p->reversed + p->dependency;
}

/*
 * Keys of existing rows are dealt out through a permutation of each table,
 * so every role's rows are spread over the whole table and no two roles
 * share one. Parents come in two classes: those with id % 4 == 0 never get
 * children (they are the ones deleted), the others are what children refer
 * to.
 */
enum key_class { WITH_CHILDREN, CHILDLESS, ANY };

struct dealer {
	enum key_class class;
	long long n, next, stride, offset;
	const char *what;
};

static long long gcd(long long a, long long b)
{
	while (b) {
		long long t = a % b;
		a = b;
		b = t;
	}
	return a;
}

static void dealer_init(struct dealer *d, enum key_class class,
			long long table_rows, const char *what)
{
	d->class = class;
	d->what = what;
	d->n = class == WITH_CHILDREN ? table_rows - table_rows / 4
	       : class == CHILDLESS   ? table_rows / 4
				      : table_rows;
	d->next = 0;
	/* A stride near n / golden ratio, coprime with n: a permutation
	 * whose consecutive keys lie far apart. */
	d->stride = d->n > 2 ? d->n * 618 / 1000 : 1;
	while (d->n > 1 && gcd(d->stride, d->n) != 1)
		d->stride++;
	d->offset = d->n / 3;
}

/* The key of the i-th member of the class. */
static long long class_key(enum key_class class, long long i)
{
	switch (class) {
	case WITH_CHILDREN:
		return i / 3 * 4 + i % 3 + 1;
	case CHILDLESS:
		return (i + 1) * 4;
	default:
		return i + 1;
	}
}

static long long deal(struct dealer *d)
{
	if (d->next >= d->n)
		die("not enough %s rows for the operations asked for: give "
		    "more --rows, or fewer --ops/--pending",
		    d->what);
	return class_key(d->class,
			 (d->next++ * d->stride + d->offset) % d->n);
}

/* A parent with children, chosen by a hash of `seed`. */
static long long parent_for(const struct plan *p, long long seed)
{
	long long n = p->rows[PARENT] - p->rows[PARENT] / 4;

	return class_key(WITH_CHILDREN, (long long)(mix((uint64_t)seed) %
						    (uint64_t)n));
}

/* One write of a client: table, command, key, and for a child its
 * parent. */
struct write {
	enum table table;
	char op;
	long long id, parent;
};

struct writes {
	struct write *w;
	size_t n, cap;
	long long rows; /* rows written: a swap writes two */
};

static void add(struct writes *ws, enum table table, char op, long long id,
		long long parent)
{
	if (ws->n == ws->cap) {
		size_t cap = ws->cap ? ws->cap * 2 : 4096;
		struct write *w = realloc(ws->w, cap * sizeof *w);

		if (!w)
			die("out of memory");
		ws->w = w;
		ws->cap = cap;
	}
	ws->w[ws->n++] = (struct write){table, op, id, parent};
	ws->rows += op == 's' ? 2 : 1;
}

/* The rows every client starts from. */
static void plan_seed(const struct plan *p, struct writes *ws)
{
	for (long long id = 1; id <= p->rows[PARENT]; id++)
		add(ws, PARENT, 'i', id, 0);
	for (long long id = 1; id <= p->rows[CHILD]; id++)
		add(ws, CHILD, 'i', id, parent_for(p, id));
	for (long long id = 1; id <= p->rows[TAG]; id++)
		add(ws, TAG, 'i', id, 0);
}

/* A's writes to existing rows of `table` (updates, then deletes) and B's
 * conflicting ones on the first of them, then B's own. */
static void plan_existing(const struct plan *p, enum table table,
			  struct dealer *d, struct writes *a, struct writes *b)
{
	long long conflicting = p->uu[table] + p->ud[table];

	for (long long i = 0; i < p->a_upd[table]; i++) {
		long long id = deal(d);

		/* After the conflicts, A swaps the codes of pairs of tags:
		 * one write, two rows. */
		if (table == TAG && i >= conflicting &&
		    i < conflicting + p->swapped) {
			add(a, table, 's', id, deal(d));
			i++;
			continue;
		}
		add(a, table, 'u', id, 0);
		if (i < p->uu[table])
			add(b, table, 'u', id, 0);
		else if (i < p->uu[table] + p->ud[table])
			add(b, table, 'd', id, 0);
	}
	if (table == PARENT)
		return; /* A deletes childless parents only: plan_parents */
	for (long long i = 0; i < p->a_del[table]; i++) {
		long long id = deal(d);

		add(a, table, 'd', id, 0);
		if (i < p->du[table])
			add(b, table, 'u', id, 0);
		else if (i < p->du[table] + p->dd[table])
			add(b, table, 'd', id, 0);
	}
	for (long long i = 0; i < p->b_upd[table]; i++)
		add(b, table, 'u', deal(d), 0);
	for (long long i = 0; i < p->b_del[table]; i++)
		add(b, table, 'd', deal(d), 0);
}

/*
 * Deletes of childless parents, and the two dependency conflicts: B gives
 * a child to a parent A deletes; A gives a child to a parent B deletes.
 * New children are numbered from *a_child and *b_child.
 */
static void plan_parents(const struct plan *p, struct dealer *childless,
			 struct writes *a, struct writes *b,
			 long long *a_child, long long *b_child)
{
	for (long long i = 0; i < p->a_del[PARENT]; i++) {
		long long id = deal(childless);
		long long du = p->du[PARENT], dd = p->dd[PARENT];

		add(a, PARENT, 'd', id, 0);
		if (i < du)
			add(b, PARENT, 'u', id, 0);
		else if (i < du + dd)
			add(b, PARENT, 'd', id, 0);
		else if (i < du + dd + p->dependency)
			add(b, CHILD, 'i', (*b_child)++, id);
	}
	for (long long i = 0; i < p->reversed; i++) {
		long long id = deal(childless);

		add(b, PARENT, 'd', id, 0);
		add(a, CHILD, 'i', (*a_child)++, id);
	}
	for (long long i = 0; i < p->b_del[PARENT]; i++)
		add(b, PARENT, 'd', deal(childless), 0);
}

/*
 * The pull (A's writes) and B's pending writes. New rows: A's above the
 * existing keys, B's above A's, except B's insert/insert conflicts, which
 * take keys A inserts too (each with a child of B's that must follow the
 * renumbered parent).
 */
static void plan_changes(const struct plan *p, struct writes *a,
			 struct writes *b)
{
	struct dealer with_children, childless, children, tags;
	long long gap = p->pull_ops; /* B's new keys start above A's */
	long long a_child = p->rows[CHILD] + 1;
	long long b_child = p->rows[CHILD] + gap + 1;
	long long step = p->ii ? p->a_ins[PARENT] / p->ii : 1;

	dealer_init(&with_children, WITH_CHILDREN, p->rows[PARENT],
		    "parent");
	dealer_init(&childless, CHILDLESS, p->rows[PARENT], "parent");
	dealer_init(&children, ANY, p->rows[CHILD], "child");
	dealer_init(&tags, ANY, p->rows[TAG], "tag");
	if (p->ii > p->a_ins[PARENT] || p->uu[PARENT] > p->a_upd[PARENT] ||
	    p->reversed > p->a_ins[CHILD] ||
	    p->uu[TAG] + p->ud[TAG] + p->swapped > p->a_upd[TAG])
		die("--conflicts too large for --ops");

	plan_existing(p, PARENT, &with_children, a, b);
	for (long long i = 0; i < p->b_upd[PARENT]; i++)
		add(b, PARENT, 'u', deal(&with_children), 0);
	plan_parents(p, &childless, a, b, &a_child, &b_child);
	plan_existing(p, CHILD, &children, a, b);
	plan_existing(p, TAG, &tags, a, b);

	for (long long i = 0, same = 0; i < p->a_ins[PARENT]; i++) {
		long long id = p->rows[PARENT] + 1 + i;
		long long nth = p->ii_from_last ? p->a_ins[PARENT] - 1 - i : i;

		add(a, PARENT, 'i', id, 0);
		if (p->ii_from_last ? nth % step == 0 && nth / step < p->ii
				    : same < p->ii && i % step == 0) {
			add(b, PARENT, 'i', id, 0);
			add(b, CHILD, 'i', b_child++, id);
			same++;
		}
	}
	while (a_child <= p->rows[CHILD] + p->a_ins[CHILD]) {
		add(a, CHILD, 'i', a_child, parent_for(p, a_child));
		a_child++;
	}
	for (long long i = 1; i <= p->a_ins[TAG]; i++)
		add(a, TAG, 'i', p->rows[TAG] + i, 0);

	for (long long i = 1; i <= p->b_ins[PARENT]; i++)
		add(b, PARENT, 'i', p->rows[PARENT] + gap + i, 0);
	/* B's new children so far: dependencies and insert/insert ones. */
	for (long long i = p->ii; i < p->b_ins[CHILD]; i++) {
		add(b, CHILD, 'i', b_child, parent_for(p, b_child));
		b_child++;
	}
}

/* ---- writing ---- */

static const char *const write_sql[NTABLES][3] = {
	{"INSERT INTO parent (id, name, qty, price, note)"
	 " VALUES (?1, ?2, ?3, ?4, ?5)",
	 "UPDATE parent SET qty = ?2, note = ?3 WHERE id = ?1",
	 "DELETE FROM parent WHERE id = ?1"},
	{"INSERT INTO child (id, parent_id, label, amount)"
	 " VALUES (?1, ?2, ?3, ?4)",
	 "UPDATE child SET label = ?2, amount = ?3 WHERE id = ?1",
	 "DELETE FROM child WHERE id = ?1"},
	{"INSERT INTO tag (id, code, note) VALUES (?1, ?2, ?3)",
	 "UPDATE tag SET code = ?2, note = ?3 WHERE id = ?1",
	 "DELETE FROM tag WHERE id = ?1"},
};

static int op_index(char op)
{
	return op == 'i' ? 0 : op == 'd' ? 2 : 1;
}

/*
 * Bind the values of a write by `writer` (0 for the seed, 1 for A, 2 for
 * B). An update always changes a column (an update that changes nothing is
 * not logged): qty and amount get a range of their own per writer, a tag's
 * note gets a 25-byte text instead of the inserted 45 bytes.
 */
static void bind_write(sqlite3_stmt *st, const struct write *w, int writer)
{
	uint64_t h = mix((uint64_t)w->id * 4 + (uint64_t)writer);
	char code[32];

	if (w->op == 'd') {
		sqlite3_bind_int64(st, 1, w->id);
		return;
	}
	switch (w->table) {
	case PARENT:
		if (w->op == 'i') {
			bind_row(st, w->id);
			/* B's own row under a key A also inserts differs from
			 * A's: an identical row would be the same row (no
			 * conflict, SPEC §5). */
			if (writer == 2)
				sqlite3_bind_int64(st, 3, -w->id);
			return;
		}
		sqlite3_bind_int64(st, 1, w->id);
		sqlite3_bind_int64(st, 2,
				   writer * 10000 + (sqlite3_int64)(h % 10000));
		sqlite3_bind_text(st, 3, note_pool[h & (POOL_SIZE - 1)],
				  NOTE_LEN, SQLITE_STATIC);
		return;
	case CHILD:
		sqlite3_bind_int64(st, 1, w->id);
		if (w->op == 'i') {
			sqlite3_bind_int64(st, 2, w->parent);
			sqlite3_bind_text(st, 3, name_pool[h & (POOL_SIZE - 1)],
					  NAME_LEN, SQLITE_STATIC);
			sqlite3_bind_double(st, 4,
					    (double)((h >> 20) % 100000) / 100);
			return;
		}
		sqlite3_bind_text(st, 2, name_pool[h & (POOL_SIZE - 1)],
				  NAME_LEN, SQLITE_STATIC);
		sqlite3_bind_double(st, 3,
				    writer * 1000 +
					    (double)((h >> 20) % 100000) / 100);
		return;
	default:
		/* A renames its tags (a new unique code); B keeps them. A
		 * swap's two last steps give each tag the other's code. */
		snprintf(code, sizeof code, "%c%09lld",
			 w->op == 'u' && writer == 1 ? 'A' : 'T', w->id);
		if (w->op == 's')
			snprintf(code, sizeof code, "T%09lld", w->parent);
		sqlite3_bind_int64(st, 1, w->id);
		sqlite3_bind_text(st, 2, code, -1, SQLITE_TRANSIENT);
		if (w->op == 'i')
			sqlite3_bind_text(st, 3,
					  note_pool[h & (POOL_SIZE - 1)],
					  NOTE_LEN, SQLITE_STATIC);
		else
			sqlite3_bind_text(st, 3,
					  name_pool[h & (POOL_SIZE - 1)],
					  NAME_LEN, SQLITE_STATIC);
	}
}

static void step_write(sqlite3 *db, sqlite3_stmt *st, const struct write *w,
		       int writer)
{
	bind_write(st, w, writer);
	check_sqlite(db, sqlite3_step(st), write_sql[w->table][0]);
	sqlite3_reset(st);
	if (sqlite3_changes(db) != 1)
		die("%c of %s %lld changed %d rows, expected 1", w->op,
		    table_names[w->table], w->id, sqlite3_changes(db));
}

/* Swap the codes of tags w->id and w->parent through a third value, as an
 * application must under a UNIQUE constraint checked row by row. */
static void swap_codes(sqlite3 *db, sqlite3_stmt *update,
		       const struct write *w, int writer)
{
	struct write aside = {TAG, 'u', w->id, 0};
	struct write first = {TAG, 's', w->parent, w->id};
	struct write second = {TAG, 's', w->id, w->parent};

	step_write(db, update, &aside, writer);
	step_write(db, update, &first, writer);
	step_write(db, update, &second, writer);
}

/* Apply the writes to the database at `path` in one transaction, through a
 * connection of this program's, as an application would; every statement
 * must change exactly one row (which also checks the plan). */
static void apply_writes(const char *path, const struct writes *ws,
			 int writer)
{
	sqlite3 *db = open_db(path);
	sqlite3_stmt *st[NTABLES][3];

	for (int t = 0; t < NTABLES; t++)
		for (int k = 0; k < 3; k++)
			check_sqlite(db,
				     sqlite3_prepare_v2(db, write_sql[t][k], -1,
							&st[t][k], NULL),
				     write_sql[t][k]);
	exec_sql(db, "BEGIN");
	for (size_t i = 0; i < ws->n; i++) {
		const struct write *w = &ws->w[i];

		if (w->op == 's') {
			swap_codes(db, st[TAG][1], w, writer);
			continue;
		}
		step_write(db, st[w->table][op_index(w->op)], w, writer);
	}
	exec_sql(db, "COMMIT");
	for (int t = 0; t < NTABLES; t++)
		for (int k = 0; k < 3; k++)
			sqlite3_finalize(st[t][k]);
	check_sqlite(db, sqlite3_close(db), "close");
}

/* ---- clients ---- */

/* A copy of a client database, WAL and all, made with SQLite's backup
 * API; any old copy is removed first. */
static void copy_db(const char *from, const char *to)
{
	sqlite3 *src, *dst;
	sqlite3_backup *b;

	remove_db_files(to, 0);
	src = open_db(from);
	dst = open_db(to);
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b)
		die("backup of %s: %s", from, sqlite3_errmsg(dst));
	if (sqlite3_backup_step(b, -1) != SQLITE_DONE)
		die("backup of %s: %s", from, sqlite3_errmsg(dst));
	check_sqlite(dst, sqlite3_backup_finish(b), "backup");
	check_sqlite(src, sqlite3_close(src), "close");
	check_sqlite(dst, sqlite3_close(dst), "close");
}

static dbsync_client *open_client(const char *path, const char *url,
				  long long page_size)
{
	dbsync_client *c = NULL;

	check_dbsync(NULL, dbsync_client_open(&c, path), "dbsync_client_open");
	check_dbsync(c, dbsync_client_set_server(c, url),
		     "dbsync_client_set_server");
	check_dbsync(c, dbsync_client_set_timeouts(c, 10000, 3600 * 1000),
		     "dbsync_client_set_timeouts");
	if (page_size > 0)
		check_dbsync(c, dbsync_client_set_page_size(c, page_size),
			     "dbsync_client_set_page_size");
	return c;
}

static long long pending_count(dbsync_client *c)
{
	dbsync_oplist *l = NULL;
	long long n;

	check_dbsync(c, dbsync_client_pending(&l, c), "dbsync_client_pending");
	n = (long long)dbsync_oplist_count(l);
	dbsync_oplist_free(l);
	return n;
}

/* Pull operations applied, as the progress callback reports them after
 * every page. */
static int count_ops(uint64_t bytes_done, uint64_t bytes_total,
		     uint64_t ops_done, uint64_t ops_total, void *payload)
{
	(void)bytes_total;
	(void)ops_total;
	if (!bytes_done && ops_done)
		*(long long *)payload = (long long)ops_done;
	return 0;
}

/* An untimed push or pull, for the setup and the final checks. */
static double sync_once(const char *path, const char *url, int push)
{
	dbsync_client *c = open_client(path, url, 0);
	double start = now_seconds();

	if (push)
		check_dbsync(c, dbsync_client_push(c), "dbsync_client_push");
	else
		check_dbsync(c, dbsync_client_pull(c), "dbsync_client_pull");
	start = now_seconds() - start;
	dbsync_client_free(c);
	return start;
}

/* ---- one table size ---- */

struct scenario {
	long long rows, pending, insert_conflicts;
	char label[48]; /* "100,000 rows", or "10,000 pending" */
	struct plan plan;
	char dir[PATH_MAX];
	struct bench_server server;
	/* B's database, with its pending work; plain's, without. */
	char b_path[PATH_MAX], plain_path[PATH_MAX], a_path[PATH_MAX];
	/* The copies the timed pulls go into. */
	char merged_path[PATH_MAX], pulled_path[PATH_MAX];
	long long pulled_ops; /* operations the last pull applied */
};

struct pull_result {
	double seconds, client_cpu, server_cpu;
};

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die("cannot write %s", path);
}

static void setup(const struct options *o, const char *work_dir,
		  struct scenario *s)
{
	struct writes seed = {0}, a = {0}, b = {0};
	char path[PATH_MAX], name[64], n1[32], n2[32];
	double t_seed_push, t_seed_pull, t_push;
	long long pending;
	dbsync_client *c;

	make_plan(o, s->rows, s->pending, s->insert_conflicts, &s->plan);
	snprintf(name, sizeof name, "%s-%lld",
		 o->insert_conflicts ? "pending" : "rows",
		 o->insert_conflicts ? s->pending : s->rows);
	path_join(s->dir, sizeof s->dir, work_dir, name);
	if (mkdir(s->dir, 0755) != 0 && errno != EEXIST)
		die("cannot create %s: %s", s->dir, strerror(errno));
	path_join(s->a_path, sizeof s->a_path, s->dir, "a.db");
	path_join(s->b_path, sizeof s->b_path, s->dir, "b.db");
	path_join(s->plain_path, sizeof s->plain_path, s->dir, "plain.db");
	path_join(s->merged_path, sizeof s->merged_path, s->dir,
		  "b-merged.db");
	path_join(s->pulled_path, sizeof s->pulled_path, s->dir,
		  "plain-pulled.db");
	remove_db_files(path_join(path, sizeof path, s->dir, "server.db"), 0);
	write_file(path_join(path, sizeof path, s->dir, "schema.sql"),
		   SCHEMA_SQL);

	server_start(&s->server, o->dbsyncd, s->dir, TRACKED);
	make_client(s->a_path, SCHEMA_SQL, table_names, s->server.url);
	make_client(s->b_path, SCHEMA_SQL, table_names, s->server.url);

	plan_seed(&s->plan, &seed);
	apply_writes(s->a_path, &seed, 0);
	t_seed_push = sync_once(s->a_path, s->server.url, 1);
	t_seed_pull = sync_once(s->b_path, s->server.url, 0);
	copy_db(s->b_path, s->plain_path);

	plan_changes(&s->plan, &a, &b);
	if (a.rows != s->plan.pull_ops || b.rows != s->plan.pending)
		die("plan: %lld rows written by A, %lld by B", a.rows, b.rows);
	apply_writes(s->b_path, &b, 2);
	c = open_client(s->b_path, s->server.url, 0);
	pending = pending_count(c);
	dbsync_client_free(c);
	if (pending != s->plan.pending)
		die("B has %lld pending operations, expected %lld", pending,
		    s->plan.pending);
	apply_writes(s->a_path, &a, 1);
	t_push = sync_once(s->a_path, s->server.url, 1);
	printf("setup, %s: A pushed %s rows in %.2f s, B pulled them in "
	       "%.2f s; A pushed the pull's %s operations in %.2f s\n",
	       s->label, group(s->rows, n1), t_seed_push, t_seed_pull,
	       group(s->plan.pull_ops, n2), t_push);
	fflush(stdout);
	free(seed.w);
	free(a.w);
	free(b.w);
}

/* The conflict report of a merge, checked kind by kind against the plan. */
static void check_conflicts(dbsync_client *c, const struct plan *p,
			    int merged)
{
	static const char *const kinds[] = {
		"?",	 "update/update", "update/delete",
		"delete/update", "delete/delete", "dependency",
		"reversed dependency", "insert/insert", "unique"};
	long long want[9] = {0}, got[9] = {0};
	dbsync_oplist *l = NULL;

	if (merged) {
		want[DBSYNC_CONFLICT_UPDATE_UPDATE] = sum3(p->uu);
		want[DBSYNC_CONFLICT_UPDATE_DELETE] = sum3(p->ud);
		want[DBSYNC_CONFLICT_DELETE_UPDATE] = sum3(p->du);
		want[DBSYNC_CONFLICT_DELETE_DELETE] = sum3(p->dd);
		want[DBSYNC_CONFLICT_DEPENDENCY] = p->dependency;
		want[DBSYNC_CONFLICT_REVERSED_DEPENDENCY] = p->reversed;
		want[DBSYNC_CONFLICT_INSERT_INSERT] = p->ii;
	}
	check_dbsync(c, dbsync_client_conflicts(&l, c),
		     "dbsync_client_conflicts");
	for (size_t i = 0; i < dbsync_oplist_count(l); i++) {
		int kind = dbsync_oplist_conflict_kind(l, i);

		got[kind >= 1 && kind <= 8 ? kind : 0]++;
	}
	dbsync_oplist_free(l);
	for (int k = 0; k < 9; k++)
		if (got[k] != want[k])
			die("%s pull: %lld %s conflicts reported, expected "
			    "%lld",
			    merged ? "merging" : "plain", got[k], kinds[k],
			    want[k]);
}

/* One timed pull into a fresh copy of `from`. */
static struct pull_result timed_pull(const struct options *o,
				     struct scenario *s, int merged)
{
	const char *from = merged ? s->b_path : s->plain_path;
	const char *to = merged ? s->merged_path : s->pulled_path;
	struct pull_result r;
	long long ops = 0, pending;
	dbsync_client *c;
	double cpu, server_cpu, start;
	int rc;

	copy_db(from, to);
	c = open_client(to, s->server.url, o->page_size);
	check_dbsync(c, dbsync_client_on_progress(c, count_ops, &ops),
		     "dbsync_client_on_progress");
	server_cpu = pid_cpu_seconds(s->server.pid);
	cpu = cpu_seconds();
	start = now_seconds();
	rc = dbsync_client_pull(c);
	r.seconds = now_seconds() - start;
	r.client_cpu = cpu_seconds() - cpu;
	r.server_cpu = pid_cpu_seconds(s->server.pid) - server_cpu;
	check_dbsync(c, rc, "dbsync_client_pull");

	/* A row the server rewrote in two places of its log (a swap moves
	 * rows aside first) may come in two pages: at least the plan. */
	if (ops < s->plan.pull_ops)
		die("the pull applied %lld operations, expected at least %lld",
		    ops, s->plan.pull_ops);
	s->pulled_ops = ops;
	check_conflicts(c, &s->plan, merged);
	pending = pending_count(c);
	if (pending != (merged ? s->plan.pending_after : 0))
		die("%s pull left %lld operations pending, expected %lld",
		    merged ? "merging" : "plain", pending,
		    merged ? s->plan.pending_after : 0);
	dbsync_client_free(c);
	return r;
}

/* Rows of `table` in one database and not in the other (both ways), with
 * `other` attached to `db` as "other". */
static long long rows_differing(sqlite3 *db, const char *table)
{
	char sql[256];

	snprintf(sql, sizeof sql,
		 "SELECT (SELECT count(*) FROM (SELECT * FROM main.%s EXCEPT"
		 " SELECT * FROM other.%s)) + (SELECT count(*) FROM (SELECT *"
		 " FROM other.%s EXCEPT SELECT * FROM main.%s))",
		 table, table, table, table);
	return query_int(db, sql);
}

/* die() unless the tracked tables of the two databases hold the same
 * rows. */
static void check_same_rows(const char *path, const char *other,
			    const char *what)
{
	sqlite3 *db = open_db(path);
	char *sql = sqlite3_mprintf("ATTACH %Q AS other", other);

	exec_sql(db, sql);
	sqlite3_free(sql);
	for (int t = 0; t < NTABLES; t++) {
		long long n = rows_differing(db, table_names[t]);

		if (n)
			die("%s: %lld rows of %s differ", what, n,
			    table_names[t]);
	}
	check_sqlite(db, sqlite3_close(db), "close");
}

static long long table_rows(const char *path, const char *table)
{
	sqlite3 *db = open_db(path);
	char sql[64];
	long long n;

	snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
	n = query_int(db, sql);
	check_sqlite(db, sqlite3_close(db), "close");
	return n;
}

/*
 * After the rounds: plain's pulled copy holds A's rows; B's merged copy
 * pushes its pending work, A pulls it, and A, B and the server end equal.
 */
static void check_end(struct scenario *s)
{
	char server_db[PATH_MAX], n[5][32];
	dbsync_client *c;

	check_same_rows(s->pulled_path, s->a_path,
			"the plain pull against client A");
	sync_once(s->merged_path, s->server.url, 1);
	sync_once(s->a_path, s->server.url, 0);
	check_same_rows(s->merged_path, s->a_path,
			"client B after its push against client A after its "
			"pull");
	path_join(server_db, sizeof server_db, s->dir, "server.db");
	for (int t = 0; t < NTABLES; t++)
		if (table_rows(server_db, table_names[t]) !=
		    table_rows(s->a_path, table_names[t]))
			die("the server's %s has %lld rows, client A's %lld",
			    table_names[t],
			    table_rows(server_db, table_names[t]),
			    table_rows(s->a_path, table_names[t]));
	c = open_client(s->merged_path, s->server.url, 0);
	if (pending_count(c))
		die("client B has operations pending after its push");
	dbsync_client_free(c);
	printf("check, %s: every pull applied %s operations (rows the "
	       "server rewrote twice, as a swap does, may come in two pages); "
	       "every merge reported the planned conflicts and left the "
	       "planned pending count; after B's push and A's pull, A, B and "
	       "the server hold the same rows (parent %s, child %s, tag %s)\n",
	       s->label, group(s->pulled_ops, n[4]),
	       group(table_rows(s->a_path, "parent"), n[1]),
	       group(table_rows(s->a_path, "child"), n[2]),
	       group(table_rows(s->a_path, "tag"), n[3]));
}

/* ---- output ---- */

static double ops_per_s(const struct plan *p, double seconds)
{
	return seconds > 0 ? (double)p->pull_ops / seconds : 0;
}

static void print_pull(const struct plan *p, const char *what,
		       const struct pull_result *r)
{
	char a[32];

	printf("%s %.3f s = %s ops/s (client CPU %.2f s, server CPU %.2f s)",
	       what, r->seconds, group((long long)ops_per_s(p, r->seconds), a),
	       r->client_cpu, r->server_cpu);
}

static void print_plan(const struct options *o, const struct plan *p)
{
	char a[8][32];

	printf("the pull: %s operations: %s inserts, %s updates (%s of them "
	       "swapping tags' unique codes in pairs), %s deletes (parent %s, "
	       "child %s, tag %s)\n",
	       group(p->pull_ops, a[0]),
	       group(sum3(p->a_ins), a[1]), group(sum3(p->a_upd), a[2]),
	       group(p->swapped, a[7]), group(sum3(p->a_del), a[3]),
	       group(p->a_ins[PARENT] + p->a_upd[PARENT] + p->a_del[PARENT],
		     a[4]),
	       group(p->a_ins[CHILD] + p->a_upd[CHILD] + p->a_del[CHILD], a[5]),
	       group(p->a_ins[TAG] + p->a_upd[TAG] + p->a_del[TAG], a[6]));
	printf("client B: %s pending operations, %s of them meeting the "
	       "pull's rows: %lld update/update, %lld update/delete, %lld "
	       "delete/update, %lld delete/delete, %lld insert/insert "
	       "(renumbered, each with a child that follows), %lld "
	       "dependency, %lld reversed dependency; %s pending after the "
	       "merge\n",
	       group(p->pending, a[0]), group(p->conflicts, a[1]), sum3(p->uu),
	       sum3(p->ud), sum3(p->du), sum3(p->dd), p->ii, p->dependency,
	       p->reversed, group(p->pending_after, a[2]));
	printf("existing rows: 1/2 parent, 2/5 child, 1/10 tag; pull page "
	       "size %s\n",
	       o->page_size ? group(o->page_size, a[0]) : "the server's "
							   "default");
}

/* A pull's seconds on the wall clock, or in CPU time of client + server
 * (they take turns, one request at a time): the second leaves out disk
 * waits and the other processes of a busy machine. */
static double pull_seconds(const struct pull_result *r, int cpu)
{
	return cpu ? r->client_cpu + r->server_cpu : r->seconds;
}

/* Insert/insert mode: how the merge's own work per conflict grows from
 * the small pending size to the large one (twice the pending log and
 * twice the conflicts): 1x when a conflict's cost does not depend on the
 * pending log, 2x when it is proportional to it. */
static void print_per_conflict(const struct options *o, struct scenario *s,
			       struct pull_result (*merge)[2],
			       struct pull_result (*plain)[2])
{
	double growth[1000];
	int n = o->rounds;

	for (int r = 0; r < n; r++) {
		double own[2];

		for (int z = 0; z < 2; z++)
			own[z] = (merge[r][z].client_cpu -
				  plain[r][z].client_cpu) /
				 (double)s[z].plan.ii;
		growth[r] = own[1] / own[0];
	}
	printf("per insert/insert conflict, %s against %s: %.2fx the merge's "
	       "own work (1x: independent of the pending log; 2x: "
	       "proportional to it)\n",
	       s[1].label, s[0].label, median(growth, n));
}

static void print_summary(const struct options *o, struct scenario *s,
			  struct pull_result (*merge)[2],
			  struct pull_result (*plain)[2])
{
	double mv[1000], pv[1000], ratio[1000], own[1000];
	int n = o->rounds;
	char b[32], c[32];

	printf("median of %d round%s (ratios: median of the per-round "
	       "ratios):\n",
	       n, n == 1 ? "" : "s");
	for (int cpu = 0; cpu < 2; cpu++) {
		printf(cpu ? "in CPU time of client + server (no disk waits, "
			     "no other processes):\n"
			   : "on the wall clock:\n");
		for (int z = 0; z < o->nsizes; z++) {
			const struct plan *p = &s[z].plan;

			for (int r = 0; r < n; r++) {
				mv[r] = pull_seconds(&merge[r][z], cpu);
				pv[r] = pull_seconds(&plain[r][z], cpu);
				ratio[r] = mv[r] / pv[r];
			}
			printf("  %14s: merge %s ops/s, plain pull %s "
			       "ops/s, merge/plain %.2fx\n",
			       s[z].label,
			       group((long long)ops_per_s(p, median(mv, n)), b),
			       group((long long)ops_per_s(p, median(pv, n)), c),
			       median(ratio, n));
		}
		if (o->nsizes < 2)
			continue;
		for (int r = 0; r < n; r++) {
			mv[r] = pull_seconds(&merge[r][1], cpu) /
				pull_seconds(&merge[r][0], cpu);
			pv[r] = pull_seconds(&plain[r][1], cpu) /
				pull_seconds(&plain[r][0], cpu);
		}
		if (o->insert_conflicts)
			printf("  %s against %s: merge %.2fx the time, plain "
			       "pull %.2fx\n",
			       s[1].label, s[0].label, median(mv, n),
			       median(pv, n));
		else
			printf("  %s against %s: merge %.2fx the time, plain "
			       "pull %.2fx (work proportional to the table per "
			       "operation: %.1fx)\n",
			       s[1].label, s[0].label, median(mv, n),
			       median(pv, n),
			       (double)s[1].rows / (double)s[0].rows);
	}
	/* What the pending work and the conflicts add on the client: the
	 * same pull, the same rows, minus the plain pull. */
	for (int z = 0; z < o->nsizes; z++) {
		for (int r = 0; r < n; r++)
			own[r] = merge[r][z].client_cpu -
				 plain[r][z].client_cpu;
		printf("the merge's own work (client CPU, merge - plain pull), "
		       "%s: %.2f s",
		       s[z].label, median(own, n));
		if (s[z].plan.pending)
			printf(" = %.0f us per pending operation",
			       median(own, n) * 1e6 /
				       (double)s[z].plan.pending);
		if (o->insert_conflicts)
			printf(", %.0f us per insert/insert conflict",
			       median(own, n) * 1e6 /
				       (double)s[z].plan.ii);
		printf("\n");
	}
	if (o->insert_conflicts && o->nsizes == 2)
		print_per_conflict(o, s, merge, plain);
	fflush(stdout);
}

/* ---- main ---- */

static char made_dir[PATH_MAX]; /* the directory this run created, if any */
static struct scenario *scenarios;
static int nscenarios;

static void remove_scenario_files(const struct scenario *s)
{
	static const char *const files[] = {"server.db",     "a.db",
					    "b.db",	     "plain.db",
					    "b-merged.db",   "plain-pulled.db",
					    NULL};
	static const char *const others[] = {"schema.sql", "dbsyncd.log",
					     "dbsyncd.port", NULL};
	char path[PATH_MAX];

	for (int i = 0; files[i]; i++)
		remove_db_files(path_join(path, sizeof path, s->dir, files[i]),
				1);
	for (int i = 0; others[i]; i++)
		unlink(path_join(path, sizeof path, s->dir, others[i]));
	rmdir(s->dir);
}

static void cleanup(void)
{
	servers_kill();
	if (!*made_dir)
		return; /* a --dir is the caller's: files kept */
	for (int i = 0; i < nscenarios; i++)
		if (*scenarios[i].dir)
			remove_scenario_files(&scenarios[i]);
	rmdir(made_dir);
}

static void usage(FILE *f)
{
	fputs("usage: merge_bench [options]\n"
	      "  --rows N        existing rows of the small size (default "
	      "100000)\n"
	      "  --large-rows N  existing rows of the large size (default "
	      "400000;\n"
	      "                  0: the small size only)\n"
	      "  --ops N         operations in the pull (default 100000)\n"
	      "  --pending N     client B's pending operations (default "
	      "10000)\n"
	      "  --conflicts N   how many of them meet the pull's rows "
	      "(default 1000)\n"
	      "  --insert-conflicts N\n"
	      "                  insert/insert conflicts only: N of B's rows "
	      "under keys A\n"
	      "                  inserts too, each with a child (--pending "
	      "defaults to 2N,\n"
	      "                  --conflicts and --large-rows are ignored); "
	      "the second size\n"
	      "                  is twice the pending work and the "
	      "conflicts\n"
	      "  --rounds R      rounds (default 3)\n"
	      "  --quick         a fifth of every count, 1 round (a check "
	      "that it runs)\n"
	      "  --page-size N   operations per pull page asked for "
	      "(default: the\n"
	      "                  server's default)\n"
	      "  --dbsyncd PATH  the server (default: ../tools/dbsyncd next "
	      "to this\n"
	      "                  program)\n"
	      "  --dir DIR       directory for the databases and the servers' "
	      "logs, kept\n"
	      "                  (default: a new directory under $TMPDIR or "
	      "/tmp,\n"
	      "                  removed at the end)\n",
	      f);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	long long large = 400000;
	int quick = 0;

	o->rows[0] = 100000;
	o->ops = 100000;
	o->pending = -1; /* the mode's default, below */
	o->conflicts = 1000;
	o->rounds = 3;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "--rows"))
			o->rows[0] = parse_count(arg, v, 100), i++;
		else if (!strcmp(arg, "--large-rows"))
			large = parse_count(arg, v, 0), i++;
		else if (!strcmp(arg, "--ops"))
			o->ops = parse_count(arg, v, 100), i++;
		else if (!strcmp(arg, "--pending"))
			o->pending = parse_count(arg, v, 0), i++;
		else if (!strcmp(arg, "--conflicts"))
			o->conflicts = parse_count(arg, v, 0), i++;
		else if (!strcmp(arg, "--insert-conflicts"))
			o->insert_conflicts = parse_count(arg, v, 1), i++;
		else if (!strcmp(arg, "--rounds"))
			o->rounds = (int)parse_count(arg, v, 1), i++;
		else if (!strcmp(arg, "--page-size"))
			o->page_size = parse_count(arg, v, 0), i++;
		else if (!strcmp(arg, "--quick"))
			quick = 1;
		else if (!strcmp(arg, "--dbsyncd") || !strcmp(arg, "--dir")) {
			if (!v)
				die("%s needs a value", arg);
			*(!strcmp(arg, "--dir") ? &o->dir : &o->dbsyncd) = v;
			i++;
		} else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			die("unknown option %s", arg);
		}
	}
	if (o->pending < 0)
		o->pending = o->insert_conflicts ? 2 * o->insert_conflicts
						 : 10000;
	if (quick) {
		o->rows[0] /= 5;
		large /= 5;
		o->ops /= 5;
		o->pending /= 5;
		o->conflicts /= 5;
		o->insert_conflicts /= 5;
		o->rounds = 1;
	}
	if (o->rounds > 1000)
		die("--rounds: at most 1000");
	if (o->insert_conflicts) {
		if (2 * o->insert_conflicts > o->pending)
			die("--insert-conflicts: at most half of --pending");
		/* Two pending sizes at one table size. */
		o->conflicts = o->insert_conflicts;
		large = o->rows[0];
	} else if (o->conflicts > o->pending) {
		die("--conflicts: at most --pending");
	}
	o->nsizes = large ? 2 : 1;
	o->rows[1] = large;
}

/* The two sizes: table sizes, or in insert/insert mode pending sizes. */
static void size_scenarios(const struct options *o, struct scenario *s)
{
	char a[32];

	for (int z = 0; z < o->nsizes; z++) {
		s[z].rows = o->rows[z];
		s[z].pending = o->pending;
		s[z].insert_conflicts = o->insert_conflicts;
		if (o->insert_conflicts && z == 1) {
			s[z].pending *= 2;
			s[z].insert_conflicts *= 2;
		}
		snprintf(s[z].label, sizeof s[z].label, "%s %s",
			 group(o->insert_conflicts ? s[z].pending : s[z].rows,
			       a),
			 o->insert_conflicts ? "pending" : "rows");
	}
}

int main(int argc, char **argv)
{
	static char default_path[PATH_MAX];
	struct options o = {0};
	struct pull_result(*merge)[2], (*plain)[2];
	const char *work_dir;
	char a[32], b[32], c[32], d[32];

	bench_name = "merge_bench";
	parse_options(argc, argv, &o);
	if (!o.dbsyncd) {
		default_dbsyncd(default_path);
		o.dbsyncd = default_path;
	}
	if (access(o.dbsyncd, X_OK) != 0)
		die("no dbsyncd at %s (build it, or give --dbsyncd PATH)",
		    o.dbsyncd);
	work_dir = make_work_dir(o.dir, "merge_bench", made_dir);
	scenarios = calloc((size_t)o.nsizes, sizeof *scenarios);
	merge = calloc((size_t)o.rounds, sizeof *merge);
	plain = calloc((size_t)o.rounds, sizeof *plain);
	if (!scenarios || !merge || !plain)
		die("out of memory");
	nscenarios = o.nsizes;
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	fill_pools();

	printf("merge_bench: dbsync %s, SQLite %s, a pull of %s operations "
	       "into a client with %s pending (%s meeting the pull's rows%s)",
	       dbsync_version(), sqlite3_libversion(), group(o.ops, a),
	       group(o.pending, b), group(o.conflicts, c),
	       o.insert_conflicts ? ", all insert/insert" : "");
	if (o.insert_conflicts)
		printf(" and again with twice both");
	printf(", tables of %s", group(o.rows[0], d));
	if (o.nsizes == 2 && !o.insert_conflicts)
		printf(" and %s", group(o.rows[1], a));
	printf(" rows, %d round%s, dbsyncd %s, directory %s\n", o.rounds,
	       o.rounds == 1 ? "" : "s", o.dbsyncd, work_dir);
	printf("journal_mode WAL, SQLite's defaults otherwise (synchronous "
	       "FULL); dbsyncd on 127.0.0.1, plain HTTP, one per size\n");
	size_scenarios(&o, scenarios);
	make_plan(&o, o.rows[0], scenarios[0].pending,
		  scenarios[0].insert_conflicts, &scenarios[0].plan);
	print_plan(&o, &scenarios[0].plan);
	fflush(stdout);
	for (int z = 0; z < o.nsizes; z++)
		setup(&o, work_dir, &scenarios[z]);

	for (int r = 0; r < o.rounds; r++) {
		printf("round %d:\n", r + 1);
		for (int z = 0; z < o.nsizes; z++) {
			struct scenario *s = &scenarios[z];
			int merge_first = (r + z) % 2 == 0;

			if (merge_first)
				merge[r][z] = timed_pull(&o, s, 1);
			plain[r][z] = timed_pull(&o, s, 0);
			if (!merge_first)
				merge[r][z] = timed_pull(&o, s, 1);
			printf("  %14s: ", s->label);
			print_pull(&s->plan, "merge", &merge[r][z]);
			printf(";\n                   ");
			print_pull(&s->plan, "plain pull", &plain[r][z]);
			printf("; merge/plain %.2fx%s\n",
			       merge[r][z].seconds / plain[r][z].seconds,
			       merge_first ? "" : " (plain first)");
			fflush(stdout);
		}
	}
	print_summary(&o, scenarios, merge, plain);
	for (int z = 0; z < o.nsizes; z++) {
		check_end(&scenarios[z]);
		server_stop(&scenarios[z].server);
	}
	free(merge);
	free(plain);
	return 0;
}
