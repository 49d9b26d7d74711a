/*
 * client_pending.c - what a pull's merge knows of the pending local work,
 * kept across the pages of one pull (client_pending.h).
 *
 * Why it is kept: reading it costs a pass over the whole pending log (the
 * fold, oplog.c) and a lookup of every pending row that has foreign keys.
 * A pull of 100 pages paid that 100 times, and a renumbered row scanned
 * the log three times more. So it is read once and then follows each
 * change the merge makes: a dropped row's entries are deleted by seq, a
 * renumbered row takes its state, entries and references to its new key,
 * the rows that refer to it move with it, and the rows the page wrote or
 * queued have their references read again at the page's end.
 *
 * When it is kept: only while nothing but the merge changes the database.
 * At each page's commit the database is summed up by PRAGMA data_version
 * (it moves when another connection commits: the application writing
 * between two pages), sqlite3_total_changes (this connection's writes
 * outside the merge: a progress callback may call the library between
 * pages) and PRAGMA schema_version; the next page compares, and anything
 * different means reading everything again. Never kept when the merge's
 * writes may change pending rows without the merge knowing: application
 * triggers, foreign key actions (CASCADE, SET NULL, SET DEFAULT) on
 * tracked tables; nor with a push in flight, whose entries a dropped row
 * leaves in the log. Those pulls read everything on every page, as a
 * pull of one page always does.
 */
#include "client_pending.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "oplog.h"
#include "rowsql.h"
#include "sqlutil.h"

/* A reference a pending row makes: column `column` of row `cpk` of table
 * `ctid` holds key `pv` of table `ptid`. */
struct edge {
	int64_t ctid, ptid;
	size_t column;
	dbsync__value cpk, pv; /* owned */
	/* The other references to the same parent, and the child's other
	 * references: index + 1, 0 ends a chain. */
	uint32_t next_of_parent, next_of_child;
	int live; /* 0 once the child's references were read again */
};

/* A row whose references are read again at the page's end. */
struct noted {
	int64_t tid;
	dbsync__value pk; /* owned */
	int dropped;	  /* its unpushed entries go too */
};

struct next_key {
	int64_t tid, used; /* the largest key known used */
};

struct cached {
	char *sql;
	sqlite3_stmt *st;
};

struct dbsync__pending {
	int held;     /* keys and references read, and followed since */
	int can_keep; /* and only the merge changes pending rows */
	int sealed;   /* the fingerprint describes the database */
	int64_t data_version, schema_version;
	int total_changes;
	dbsync__keyset *keys;	 /* link: the row's first reference */
	dbsync__keyset *parents; /* link: the first reference to the row */
	struct edge *edges;
	size_t nedges, edges_cap;
	struct next_key *next;
	size_t nnext;
	struct noted *noted;
	size_t nnoted, noted_cap;
	struct cached *stmts;
	size_t nstmts;
};

static const char context[] = "cannot merge the pull";

static int nomem(dbsync__error *err)
{
	return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
}

dbsync__pending *dbsync__pending_new(void)
{
	return calloc(1, sizeof(dbsync__pending));
}

static void clear_noted(dbsync__pending *p)
{
	size_t k;

	for (k = 0; k < p->nnoted; k++)
		dbsync__value_clear(&p->noted[k].pk);
	p->nnoted = 0;
}

/* Drop everything held; the next page reads it again. */
static void forget(dbsync__pending *p)
{
	size_t k;

	dbsync__keyset_free(p->keys);
	dbsync__keyset_free(p->parents);
	p->keys = p->parents = NULL;
	for (k = 0; k < p->nedges; k++) {
		dbsync__value_clear(&p->edges[k].cpk);
		dbsync__value_clear(&p->edges[k].pv);
	}
	p->nedges = 0;
	free(p->next);
	p->next = NULL;
	p->nnext = 0;
	clear_noted(p);
	/* Statements too: the schema may be what changed. */
	for (k = 0; k < p->nstmts; k++) {
		sqlite3_finalize(p->stmts[k].st);
		free(p->stmts[k].sql);
	}
	free(p->stmts);
	p->stmts = NULL;
	p->nstmts = 0;
	p->held = p->can_keep = p->sealed = 0;
}

void dbsync__pending_free(dbsync__pending *p)
{
	if (!p)
		return;
	forget(p);
	free(p->edges);
	free(p->noted);
	free(p);
}

void dbsync__pending_abandon(dbsync__pending *p)
{
	forget(p);
}

int dbsync__pending_stmt(dbsync__pending *p, sqlite3 *db, const char *sql,
			 sqlite3_stmt **out, dbsync__error *err)
{
	struct cached *c;
	size_t k;
	int rc;

	for (k = 0; k < p->nstmts; k++)
		if (strcmp(p->stmts[k].sql, sql) == 0) {
			*out = p->stmts[k].st;
			return 0;
		}
	c = realloc(p->stmts, (p->nstmts + 1) * sizeof(*c));
	if (!c)
		return nomem(err);
	p->stmts = c;
	c = &c[p->nstmts];
	if (!(c->sql = strdup(sql)))
		return nomem(err);
	rc = dbsync__sql_prepare(db, sql, &c->st, err, context);
	if (rc) {
		free(c->sql);
		return rc;
	}
	p->nstmts++;
	*out = c->st;
	return 0;
}

/* The first column of the one row of `sql`. */
static int read_int(dbsync__pending *p, sqlite3 *db, const char *sql,
		    int64_t *out, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc = dbsync__pending_stmt(p, db, sql, &st, err);

	if (rc)
		return rc;
	rc = sqlite3_step(st);
	*out = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : dbsync__error_sqlite(err, db, rc, context);
}

/* What tells whether anything but this pull wrote since: see above. */
static int fingerprint(dbsync__pending *p, sqlite3 *db, int64_t *data_version,
		       int64_t *schema_version, dbsync__error *err)
{
	int rc = read_int(p, db, "PRAGMA data_version", data_version, err);

	return rc ? rc
		  : read_int(p, db, "PRAGMA schema_version", schema_version,
			     err);
}

int dbsync__pending_begin(dbsync__pending *p, sqlite3 *db,
			  dbsync__error *err)
{
	int64_t data_version, schema_version;
	int rc;

	if (!p->sealed) {
		forget(p);
		return 0;
	}
	p->sealed = 0;
	rc = fingerprint(p, db, &data_version, &schema_version, err);
	if (rc)
		return rc;
	if (data_version != p->data_version ||
	    schema_version != p->schema_version ||
	    sqlite3_total_changes(db) != p->total_changes)
		forget(p);
	return 0;
}

/* ---- references ---------------------------------------------------------- */

static int add_edge(dbsync__pending *p, int64_t ctid, const dbsync__value *cpk,
		    size_t column, int64_t ptid, const dbsync__value *pv)
{
	struct edge *e;
	uint32_t self;

	if (p->nedges >= UINT32_MAX - 1 ||
	    dbsync__grow((void **)&p->edges, &p->edges_cap, p->nedges + 1,
			 sizeof(*p->edges)))
		return DBSYNC_NOMEM;
	e = &p->edges[p->nedges];
	memset(e, 0, sizeof(*e));
	self = (uint32_t)++p->nedges;
	if (dbsync__value_copy(&e->cpk, cpk) || dbsync__value_copy(&e->pv, pv))
		return DBSYNC_NOMEM;
	e->ctid = ctid;
	e->ptid = ptid;
	e->column = column;
	e->live = 1;
	e->next_of_parent = dbsync__keyset_link(p->parents, ptid, pv);
	e->next_of_child = dbsync__keyset_link(p->keys, ctid, cpk);
	if (dbsync__keyset_set_link(p->parents, ptid, pv, self) ||
	    dbsync__keyset_set_link(p->keys, ctid, cpk, self))
		return DBSYNC_NOMEM;
	return 0;
}

/* The references row `pk` of table `tid` makes as it is now, if it
 * exists. */
static int add_refs(dbsync__pending *p, const dbsync__ctables *tables,
		    int64_t tid, const dbsync__value *pk, sqlite3 *db,
		    dbsync__error *err)
{
	const dbsync__ctable *t = NULL;
	sqlite3_stmt *st;
	size_t k;
	int rc;

	for (k = 0; k < tables->n && !t; k++)
		if (tables->t[k].tid == tid)
			t = &tables->t[k];
	if (!t || !t->nrefs)
		return 0;
	st = t->sql.select;
	dbsync__sql_bind_value(st, 1, pk);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		rc = 0;
		for (k = 0; k < t->nrefs && !rc; k++) {
			const dbsync__cref *ref = &t->refs[k];
			dbsync__value v;

			dbsync__sql_column_value(st, (int)ref->column, &v);
			if (v.type != DBSYNC_TYPE_NULL &&
			    add_edge(p, tid, pk, ref->column,
				     tables->t[ref->parent].tid, &v))
				rc = nomem(err);
		}
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = dbsync__error_sqlite(err, db, rc, context);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* The row's references are no longer what it makes. */
static void kill_refs(dbsync__pending *p, int64_t tid, const dbsync__value *pk)
{
	uint32_t k;

	for (k = dbsync__keyset_link(p->keys, tid, pk); k;
	     k = p->edges[k - 1].next_of_child)
		p->edges[k - 1].live = 0;
	dbsync__keyset_set_link(p->keys, tid, pk, 0);
}

struct reading {
	dbsync__pending *p;
	const dbsync__ctables *tables;
	sqlite3 *db;
	dbsync__error *err;
};

static int read_row_refs(void *payload, int64_t tid, const dbsync__value *pk,
			 char state)
{
	struct reading *r = payload;

	(void)state;
	return add_refs(r->p, r->tables, tid, pk, r->db, r->err);
}

/* 1 when the merge can follow every change to the pending rows: no push
 * in flight, no trigger but dbsync's, no foreign key action on a tracked
 * table. */
static int check_can_keep(dbsync__pending *p, sqlite3 *db, dbsync__error *err)
{
	int64_t others = 0;
	int rc;

	if (dbsync__keyset_in_flight(p->keys))
		return 0;
	rc = read_int(p, db,
		      "SELECT (SELECT count(*) FROM sqlite_schema"
		      " WHERE type = 'trigger'"
		      " AND name NOT LIKE 'dbsync\\_%' ESCAPE '\\')"
		      " + (SELECT count(*) FROM dbsync_tracked t,"
		      " pragma_foreign_key_list(t.name) f"
		      " WHERE f.on_update NOT IN ('NO ACTION', 'RESTRICT')"
		      " OR f.on_delete NOT IN ('NO ACTION', 'RESTRICT'))",
		      &others, err);
	if (rc)
		return rc;
	p->can_keep = others == 0;
	return 0;
}

int dbsync__pending_load(dbsync__pending *p, sqlite3 *db,
			 const dbsync__ctables *tables, dbsync__error *err)
{
	struct reading r = {p, tables, db, err};
	int rc;

	if (p->held)
		return 0;
	rc = dbsync__oplog_pending_keys(db, &p->keys, err);
	if (!rc && !(p->parents = dbsync__keyset_new()))
		rc = nomem(err);
	if (!rc)
		rc = dbsync__keyset_each(p->keys, read_row_refs, &r);
	if (!rc)
		rc = check_can_keep(p, db, err);
	if (rc) {
		forget(p);
		return rc;
	}
	p->held = 1;
	return 0;
}

/* ---- questions --------------------------------------------------------- */

char dbsync__pending_state(dbsync__pending *p, int64_t tid,
			   const dbsync__value *pk)
{
	return dbsync__keyset_state(p->keys, tid, pk);
}

int dbsync__pending_referenced(dbsync__pending *p, int64_t tid,
			       const dbsync__value *pk)
{
	uint32_t first = dbsync__keyset_link(p->parents, tid, pk), k = first;

	while (k && !p->edges[k - 1].live)
		k = p->edges[k - 1].next_of_parent;
	/* Dead references are unlinked as they are met: a later question
	 * about the row does not walk them again. */
	if (k != first)
		dbsync__keyset_set_link(p->parents, tid, pk, k);
	return k != 0;
}

/* ---- what the merge changes -------------------------------------------- */

static int note(dbsync__pending *p, int64_t tid, const dbsync__value *pk,
		int dropped)
{
	struct noted *n;

	if (dbsync__grow((void **)&p->noted, &p->noted_cap, p->nnoted + 1,
			 sizeof(*p->noted)))
		return DBSYNC_NOMEM;
	n = &p->noted[p->nnoted];
	n->tid = tid;
	n->dropped = dropped;
	if (dbsync__value_copy(&n->pk, pk))
		return DBSYNC_NOMEM;
	p->nnoted++;
	return 0;
}

int dbsync__pending_drop(dbsync__pending *p, int64_t tid,
			 const dbsync__value *pk)
{
	dbsync__keyset_forget(p->keys, tid, pk);
	return note(p, tid, pk, 1);
}

int dbsync__pending_touch(dbsync__pending *p, int64_t tid,
			  const dbsync__value *pk)
{
	return note(p, tid, pk, 0);
}

struct deleting {
	sqlite3 *db;
	sqlite3_stmt *st;
	dbsync__error *err;
};

static int delete_entry(void *payload, int64_t seq)
{
	struct deleting *d = payload;
	int rc;

	sqlite3_bind_int64(d->st, 1, seq);
	rc = sqlite3_step(d->st);
	sqlite3_reset(d->st);
	return rc == SQLITE_DONE ? 0
				 : dbsync__error_sqlite(d->err, d->db, rc,
							context);
}

int dbsync__pending_delete_dropped(dbsync__pending *p, sqlite3 *db,
				   dbsync__error *err)
{
	struct deleting d = {db, NULL, err};
	size_t k;
	int rc = 0;

	for (k = 0; k < p->nnoted && !rc; k++) {
		const struct noted *n = &p->noted[k];

		if (!n->dropped)
			continue;
		if (!d.st)
			rc = dbsync__pending_stmt(
				p, db, "DELETE FROM dbsync_log WHERE seq = ?1",
				&d.st, err);
		if (!rc)
			rc = dbsync__keyset_each_seq(p->keys, n->tid, &n->pk,
						     delete_entry, &d);
		if (!rc)
			dbsync__keyset_clear_seqs(p->keys, n->tid, &n->pk);
	}
	return rc;
}

int dbsync__pending_logged(dbsync__pending *p, int64_t tid,
			   const dbsync__value *pk, char op, int64_t seq)
{
	if (dbsync__keyset_log(p->keys, tid, pk, op, seq))
		return DBSYNC_NOMEM;
	return note(p, tid, pk, 0);
}

#ifdef DBSYNC_VERIFY_PENDING
static void verify(dbsync__pending *p, sqlite3 *db,
		   const dbsync__ctables *tables);
#endif

int dbsync__pending_refresh(dbsync__pending *p, sqlite3 *db,
			    const dbsync__ctables *tables, dbsync__error *err)
{
	size_t k;
	int rc = 0;

	for (k = 0; k < p->nnoted && !rc; k++) {
		const struct noted *n = &p->noted[k];

		kill_refs(p, n->tid, &n->pk);
		if (dbsync__keyset_state(p->keys, n->tid, &n->pk))
			rc = add_refs(p, tables, n->tid, &n->pk, db, err);
	}
	clear_noted(p);
#ifdef DBSYNC_VERIFY_PENDING
	if (!rc)
		verify(p, db, tables);
#endif
	return rc;
}

int dbsync__pending_seal(dbsync__pending *p, sqlite3 *db,
			 dbsync__error *err)
{
	int rc;

	p->sealed = 0;
	if (!p->held || !p->can_keep) {
		forget(p);
		return 0;
	}
	rc = fingerprint(p, db, &p->data_version, &p->schema_version, err);
	if (rc)
		return rc;
	p->total_changes = sqlite3_total_changes(db);
	p->sealed = 1;
	return 0;
}

/* ---- renumbering ------------------------------------------------------- */

/* One number from `SELECT max(key) FROM t`, only over numeric keys when
 * `numeric_only`: *type is the storage class max() found. */
static int read_max(dbsync__pending *p, sqlite3 *db, const dbsync__ctable *t,
		    int numeric_only, int64_t *max, int *type,
		    dbsync__error *err)
{
	sqlite3_stmt *st;
	dbsync__buf b;
	int rc;

	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "SELECT max(");
	dbsync__buf_ident(&b, t->columns[0]);
	dbsync__buf_append(&b, ") FROM main.");
	dbsync__buf_ident(&b, t->name);
	if (numeric_only) {
		dbsync__buf_append(&b, " WHERE typeof(");
		dbsync__buf_ident(&b, t->columns[0]);
		dbsync__buf_append(&b, ") IN ('integer', 'real')");
	}
	rc = b.failed ? nomem(err)
		      : dbsync__pending_stmt(p, db, b.data, &st, err);
	dbsync__buf_free(&b);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	*type = sqlite3_column_type(st, 0);
	if (*type == SQLITE_FLOAT) {
		double d = sqlite3_column_double(st, 0);
		*max = d >= 9.2e18 ? INT64_MAX : d <= 0 ? 0 : (int64_t)d;
	} else {
		*max = sqlite3_column_int64(st, 0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return dbsync__error_sqlite(err, db, rc, "cannot renumber a row");
	return 0;
}

/* The largest INTEGER key in table `t` now (0 for none). max() reads it
 * off the key's index; only keys that are not numbers (an INTEGER
 * column keeps what does not convert) sort above and need a scan. */
static int table_max(dbsync__pending *p, sqlite3 *db, const dbsync__ctable *t,
		     int64_t *max, dbsync__error *err)
{
	int type, rc = read_max(p, db, t, 0, max, &type, err);

	if (!rc && (type == SQLITE_TEXT || type == SQLITE_BLOB))
		rc = read_max(p, db, t, 1, max, &type, err);
	if (*max < 0)
		*max = 0;
	return rc;
}

int dbsync__pending_next_key(dbsync__pending *p, sqlite3 *db,
			     const dbsync__ctable *t, int64_t page_max,
			     int64_t *key, dbsync__error *err)
{
	struct next_key *n = NULL;
	size_t k;

	for (k = 0; k < p->nnext && !n; k++)
		if (p->next[k].tid == t->tid)
			n = &p->next[k];
	if (!n) {
		int64_t in_table = 0, in_log;
		int rc = table_max(p, db, t, &in_table, err);

		if (rc)
			return rc;
		n = realloc(p->next, (p->nnext + 1) * sizeof(*n));
		if (!n)
			return nomem(err);
		p->next = n;
		n = &n[p->nnext++];
		n->tid = t->tid;
		/* The log's keys too: a key only deleted here may still be
		 * the server's, and entries under it would fold together. */
		in_log = dbsync__keyset_max_integer(p->keys, t->tid);
		n->used = in_table > in_log ? in_table : in_log;
	}
	if (page_max > n->used)
		n->used = page_max;
	if (n->used == INT64_MAX)
		return dbsync__error_set(err, DBSYNC_CONFLICT,
					 "no free key left in \"%s\"", t->name);
	*key = ++n->used;
	return 0;
}

int dbsync__pending_each_seq(dbsync__pending *p, int64_t tid,
			     const dbsync__value *pk,
			     int (*fn)(void *payload, int64_t seq),
			     void *payload)
{
	return dbsync__keyset_each_seq(p->keys, tid, pk, fn, payload);
}

int dbsync__pending_move(dbsync__pending *p, int64_t tid,
			 const dbsync__value *from, int64_t to)
{
	dbsync__value key = {DBSYNC_TYPE_INTEGER, to, 0, NULL, 0};
	uint32_t k;

	if (dbsync__keyset_move(p->keys, tid, from, &key))
		return DBSYNC_NOMEM;
	for (k = dbsync__keyset_link(p->keys, tid, &key); k;
	     k = p->edges[k - 1].next_of_child) {
		dbsync__value_clear(&p->edges[k - 1].cpk);
		p->edges[k - 1].cpk = key;
	}
	return 0;
}

int dbsync__pending_move_children(dbsync__pending *p, int64_t tid,
				  const dbsync__value *from, int64_t to,
				  int (*fn)(void *payload, int64_t ctid,
					    size_t column,
					    const dbsync__value *cpk),
				  void *payload)
{
	dbsync__value key = {DBSYNC_TYPE_INTEGER, to, 0, NULL, 0};
	uint32_t k = dbsync__keyset_link(p->parents, tid, from);
	uint32_t stay = 0, moved = 0, last = 0;
	int rc = 0;

	/* Split the chain in two: the references that followed the row,
	 * and the others (dead ones are left out). */
	while (k) {
		struct edge *e = &p->edges[k - 1];
		uint32_t next = e->next_of_parent;
		int followed = 0;

		if (!e->live) {
			k = next;
			continue;
		}
		/* A child the page resolved holds its remote row now. */
		if (!rc && dbsync__keyset_state(p->keys, e->ctid, &e->cpk))
			followed = fn(payload, e->ctid, e->column, &e->cpk);
		if (followed < 0)
			rc = followed;
		if (followed == 1) {
			dbsync__value_clear(&e->pv);
			e->pv = key;
			e->next_of_parent = moved;
			if (!moved)
				last = k;
			moved = k;
		} else {
			e->next_of_parent = stay;
			stay = k;
		}
		k = next;
	}
	dbsync__keyset_set_link(p->parents, tid, from, stay);
	if (moved) {
		p->edges[last - 1].next_of_parent =
			dbsync__keyset_link(p->parents, tid, &key);
		if (dbsync__keyset_set_link(p->parents, tid, &key, moved) &&
		    !rc)
			rc = DBSYNC_NOMEM;
	}
	return rc;
}

/* ---- a check for tests ------------------------------------------------- */

#ifdef DBSYNC_VERIFY_PENDING
/*
 * Built with -DDBSYNC_VERIFY_PENDING, every page's end compares what was
 * followed with what reading everything again gives, and aborts on a
 * difference: run the merge tests so, to check that nothing escapes it.
 */
struct seqs {
	int64_t *v;
	size_t n, cap;
};

static int collect_seq(void *payload, int64_t seq)
{
	struct seqs *s = payload;

	if (dbsync__grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v)))
		abort();
	s->v[s->n++] = seq;
	return 0;
}

static int by_seq(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return a < b ? -1 : a > b;
}

struct key_check {
	dbsync__pending *other;
	int bad;
};

/* The key has the same state in `other`. */
static int same_key(void *payload, int64_t tid, const dbsync__value *pk,
		    char state)
{
	struct key_check *c = payload;
	char there = dbsync__keyset_state(c->other->keys, tid, pk);

	if (there != state)
		c->bad = fprintf(stderr,
				 "dbsync verify: table %lld key %lld: state "
				 "%c against %c\n",
				 (long long)tid, (long long)pk->i, state,
				 there ? there : '0');
	return 0;
}

static int same_seqs(dbsync__pending *a, dbsync__pending *b, int64_t tid,
		     const dbsync__value *pk)
{
	struct seqs x = {0}, y = {0};
	int same;

	dbsync__keyset_each_seq(a->keys, tid, pk, collect_seq, &x);
	dbsync__keyset_each_seq(b->keys, tid, pk, collect_seq, &y);
	if (x.n)
		qsort(x.v, x.n, sizeof(*x.v), by_seq);
	if (y.n)
		qsort(y.v, y.n, sizeof(*y.v), by_seq);
	same = x.n == y.n && (!x.n || !memcmp(x.v, y.v, x.n * sizeof(*x.v)));
	free(x.v);
	free(y.v);
	return same;
}

struct seq_check {
	dbsync__pending *a, *b;
	int bad;
};

static int check_seqs(void *payload, int64_t tid, const dbsync__value *pk,
		      char state)
{
	struct seq_check *c = payload;

	(void)state;
	if (!same_seqs(c->a, c->b, tid, pk))
		c->bad = fprintf(stderr,
				 "dbsync verify: table %lld key %lld: seqs "
				 "differ\n",
				 (long long)tid, (long long)pk->i);
	return 0;
}

static int compare_edges(const void *x, const void *y)
{
	const struct edge *a = *(const struct edge *const *)x;
	const struct edge *b = *(const struct edge *const *)y;
	int c;

	if (a->ctid != b->ctid)
		return a->ctid < b->ctid ? -1 : 1;
	if ((c = dbsync__value_compare(&a->cpk, &b->cpk)))
		return c;
	if (a->column != b->column)
		return a->column < b->column ? -1 : 1;
	if (a->ptid != b->ptid)
		return a->ptid < b->ptid ? -1 : 1;
	return dbsync__value_compare(&a->pv, &b->pv);
}

/* 1 if edge `k` (index + 1) is on the chain that starts at `first`. */
static int on_chain(const dbsync__pending *p, uint32_t first, uint32_t k,
		    int of_parent)
{
	for (; first; first = of_parent ? p->edges[first - 1].next_of_parent
					: p->edges[first - 1].next_of_child)
		if (first == k)
			return 1;
	return 0;
}

/* The live references, sorted; each must belong to a pending row and be
 * on both its chains. */
static const struct edge **live_edges(dbsync__pending *p, size_t *n, int *bad)
{
	const struct edge **list = malloc((p->nedges + 1) * sizeof(*list));
	size_t k;

	if (!list)
		abort();
	*n = 0;
	for (k = 0; k < p->nedges; k++) {
		const struct edge *e = &p->edges[k];
		uint32_t self = (uint32_t)k + 1;

		if (!e->live)
			continue;
		if (!dbsync__keyset_state(p->keys, e->ctid, &e->cpk) ||
		    !on_chain(p, dbsync__keyset_link(p->parents, e->ptid, &e->pv),
			      self, 1) ||
		    !on_chain(p, dbsync__keyset_link(p->keys, e->ctid, &e->cpk),
			      self, 0))
			*bad = fprintf(stderr,
				       "dbsync verify: reference of table "
				       "%lld key %lld is astray\n",
				       (long long)e->ctid, (long long)e->cpk.i);
		list[(*n)++] = e;
	}
	qsort(list, *n, sizeof(*list), compare_edges);
	return list;
}

static void verify(dbsync__pending *p, sqlite3 *db,
		   const dbsync__ctables *tables)
{
	dbsync__pending *fresh;
	struct key_check c;
	struct seq_check s;
	const struct edge **mine, **read;
	size_t nmine, nread, k;
	dbsync__error err;
	int bad = 0;

	if (!p->held || !p->can_keep)
		return;
	memset(&err, 0, sizeof(err));
	fresh = dbsync__pending_new();
	if (!fresh || dbsync__pending_load(fresh, db, tables, &err))
		abort();
	c.other = p;
	c.bad = 0;
	dbsync__keyset_each(fresh->keys, same_key, &c);
	c.other = fresh;
	dbsync__keyset_each(p->keys, same_key, &c);
	s.a = p;
	s.b = fresh;
	s.bad = 0;
	dbsync__keyset_each(fresh->keys, check_seqs, &s);
	dbsync__keyset_each(p->keys, check_seqs, &s);
	bad = c.bad | s.bad;
	mine = live_edges(p, &nmine, &bad);
	read = live_edges(fresh, &nread, &bad);
	if (nmine != nread)
		bad = fprintf(stderr,
			      "dbsync verify: %zu references followed, %zu "
			      "read\n",
			      nmine, nread);
	for (k = 0; k < nmine && k < nread; k++)
		if (compare_edges(&mine[k], &read[k]))
			bad = fprintf(stderr,
				      "dbsync verify: reference %zu: %lld:%lld "
				      "-> %lld:%lld followed, %lld:%lld -> "
				      "%lld:%lld read\n",
				      k, (long long)mine[k]->ctid,
				      (long long)mine[k]->cpk.i,
				      (long long)mine[k]->ptid,
				      (long long)mine[k]->pv.i,
				      (long long)read[k]->ctid,
				      (long long)read[k]->cpk.i,
				      (long long)read[k]->ptid,
				      (long long)read[k]->pv.i);
	free(mine);
	free(read);
	dbsync__pending_free(fresh);
	if (bad)
		abort();
}
#endif
