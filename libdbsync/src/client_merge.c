/*
 * client_merge.c - merging one pulled page with the pending local
 * operations (docs/conflicts.md).
 *
 * Runs inside the page's write transaction (client_pull.c) with capture
 * suppressed: the library's own writes are not pending work. Each remote
 * operation meets the row's folded local state (apply_op); where both
 * sides touched the row the table's policy decides (client_conflict.c),
 * and every conflict goes to the handle's report. Rows that take unique
 * values held by other rows go through put_row, which applies swaps and
 * stops the page on a genuine collision (unique.c).
 */
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "client_conflict.h"
#include "client_merge.h"
#include "client_moved.h"
#include "client_pending.h"
#include "client_renumber.h"
#include "client_tables.h"
#include "oplist.h"
#include "oplog.h"
#include "sqlutil.h"
#include "unique.h"
#include "value.h"

/* How deep the merge may go applying a row's operation early because
 * another row needs the unique values it holds (a chain of conflicts);
 * deeper chains are reported as collisions. */
#define MAX_DEPTH 32

enum { OP_WAITING = 0, OP_APPLYING, OP_DONE };

/* Rows an operation works with; one per depth, since an operation can
 * apply another one while its own rows are still in use. */
struct frame {
	dbsync__value *remote; /* the pulled row, in local column order */
	dbsync__value *local;  /* owned copies, for the conflict callback */
};

/* Where each (table, key) of the page is, found when first needed. */
struct op_ref {
	int64_t tid;
	const dbsync__value *pk;
	size_t index;
};

/* A local row this page moved to a fresh key (insert/insert). */
struct renumbered {
	int64_t tid, from, to;
};

/* A local operation to log once capture is back on. */
struct requeued {
	int64_t tid;
	dbsync__value pk;
	char op;
};

/* Everything one page's merge works with. */
struct merge {
	dbsync_client *c;
	const dbsync__pull_resp *page;
	dbsync__ctables tables;
	/* The pending rows, what they refer to: kept across pages. */
	dbsync__pending *pending;
	/* Rows this page keeps because kept rows refer to them
	 * (extend_referenced). */
	dbsync__keyset *kept_parents;
	int64_t *page_max; /* per table: its largest INTEGER key in the page */
	int64_t mark;
	size_t width; /* the widest table's column count */
	unsigned char *status; /* OP_* per page operation */
	struct frame frames[MAX_DEPTH + 1];
	size_t depth;
	struct op_ref *refs;
	size_t nrefs;
	int refs_built;
	dbsync__unique_indexes *uniques; /* per table, read when needed */
	dbsync_oplist *collisions; /* genuine unique collisions */
	struct requeued *requeue;
	size_t nrequeue;
	struct renumbered *renumbered;
	size_t nrenumbered;
	int any_moved; /* dbsync_moved holds rows (client_moved.c) */
};

static int nomem(struct merge *m)
{
	return dbsync__error_set(&m->c->err, DBSYNC_NOMEM, "out of memory");
}

/* Forget the local operations on one row that no push has carried yet:
 * the merge resolved them. Their log entries go at the end of the page,
 * by seq (dbsync__pending_delete_dropped): the log has no index on its
 * rows, and a statement per conflict would read the whole log each
 * time. */
static int drop_local(struct merge *m, int64_t tid, const dbsync__value *pk)
{
	return dbsync__pending_drop(m->pending, tid, pk) ? nomem(m) : 0;
}

/* The row's pending local state ('i', 'u', 'd', '-'), 0 if none. */
static char local_state(struct merge *m, int64_t tid, const dbsync__value *pk)
{
	return dbsync__pending_state(m->pending, tid, pk);
}

/* 1 if pending local rows refer to the row, or a row kept for them does:
 * a remote delete cannot take it. */
static int referenced(struct merge *m, int64_t tid, const dbsync__value *pk)
{
	return dbsync__pending_referenced(m->pending, tid, pk) ||
	       (m->kept_parents &&
		dbsync__keyset_state(m->kept_parents, tid, pk));
}

/* Log `op` on a row once the suppressed part is over: it is then pending
 * work the next push carries. */
static int requeue(struct merge *m, int64_t tid, const dbsync__value *pk,
		   char op)
{
	struct requeued *r =
		realloc(m->requeue, (m->nrequeue + 1) * sizeof(*r));

	if (!r)
		return nomem(m);
	m->requeue = r;
	r = &r[m->nrequeue];
	r->tid = tid;
	r->op = op;
	if (dbsync__value_copy(&r->pk, pk))
		return nomem(m);
	m->nrequeue++;
	return 0;
}

/* Add a conflict to the handle's report (dbsync_client_conflicts). */
static int report(struct merge *m, const dbsync__ctable *t, char remote_op,
		  const dbsync__value *pk, int kind, int resolution)
{
	dbsync_client *c = m->c;
	int table;

	if (!c->conflicts && !(c->conflicts = dbsync__oplist_new()))
		return nomem(m);
	table = dbsync__oplist_table(c->conflicts, t->name);
	if (table < 0 ||
	    dbsync__oplist_add(c->conflicts, table, remote_op, 0, pk->type,
			       pk->i, pk->f, pk->p, pk->len))
		return nomem(m);
	dbsync__oplist_set_conflict(c->conflicts, kind, resolution);
	return 0;
}

/* The row of `t` with key `pk` as it is here, copied into f->local:
 * 1 if there is one, 0 if not. */
static int read_local(struct merge *m, dbsync__ctable *t,
		      const dbsync__value *pk, struct frame *f)
{
	sqlite3_stmt *st = t->sql.select;
	size_t k;
	int rc, found = 0;

	dbsync__sql_bind_value(st, 1, pk);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		found = 1;
		for (k = 0; k < t->ncolumns && found; k++) {
			dbsync__value v;
			dbsync__sql_column_value(st, (int)k, &v);
			if (dbsync__value_copy(&f->local[k], &v))
				found = nomem(m);
		}
	} else if (rc != SQLITE_DONE) {
		found = dbsync__error_sqlite(&m->c->err, m->c->db, rc,
					     "cannot merge the pull");
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}

static void clear_local(struct merge *m, struct frame *f)
{
	size_t k;

	for (k = 0; k < m->width; k++)
		dbsync__value_clear(&f->local[k]);
}

/*
 * Show a conflict to the callback when the table's policy is CALLBACK.
 * `*resolution` holds the LOCAL_WINS answer on entry; for a choice it
 * receives the callback's, and `*merged` its merged row (owned) when that
 * answer is MERGED. Structural kinds (is_choice 0) keep their resolution.
 */
static int ask(struct merge *m, dbsync__ctable *t, char remote_op,
	       const dbsync__value *pk, int kind, int is_choice,
	       const dbsync__value *remote, struct frame *f, int *resolution,
	       dbsync__value **merged)
{
	dbsync_conflict conflict;
	int rc, found;

	*merged = NULL;
	if (dbsync__client_policy(m->c, t->name) != DBSYNC_POLICY_CALLBACK)
		return 0;
	found = read_local(m, t, pk, f);
	if (found < 0) {
		clear_local(m, f);
		return found;
	}
	memset(&conflict, 0, sizeof(conflict));
	conflict.kind = kind;
	conflict.resolution = *resolution;
	conflict.is_choice = is_choice;
	conflict.remote_op = remote_op;
	conflict.table = t->name;
	conflict.columns = t->columns;
	conflict.ncolumns = t->ncolumns;
	conflict.key = pk;
	conflict.local = found ? f->local : NULL;
	conflict.remote = remote;
	rc = dbsync__conflict_ask(m->c, &conflict, resolution, merged);
	clear_local(m, f);
	return rc;
}

/* A structural conflict: reported, shown to the callback, fixed answer. */
static int met(struct merge *m, dbsync__ctable *t, char remote_op,
	       const dbsync__value *pk, int kind, int resolution,
	       const dbsync__value *remote, struct frame *f)
{
	dbsync__value *unused;
	int answer = resolution;
	int rc = ask(m, t, remote_op, pk, kind, 0, remote, f, &answer, &unused);

	return rc ? rc : report(m, t, remote_op, pk, kind, resolution);
}

/* Write (upsert) or delete one row; SQLite's result code. */
static int step_write(dbsync__ctable *t, char op, const dbsync__value *pk,
		      const dbsync__value *row)
{
	sqlite3_stmt *st;
	size_t k;
	int rc;

	if (op == 'd') {
		st = t->sql.del;
		dbsync__sql_bind_value(st, 1, pk);
	} else {
		st = t->sql.upsert;
		for (k = 0; k < t->ncolumns; k++)
			dbsync__sql_bind_value(st, (int)k + 1, &row[k]);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static int delete_row(struct merge *m, dbsync__ctable *t,
		      const dbsync__value *pk)
{
	int rc = step_write(t, 'd', pk, NULL);

	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(&m->c->err, m->c->db, rc,
					    "cannot apply a pulled change");
	return 0;
}

/* ---- unique values ------------------------------------------------------ */

static int compare_refs(const void *a, const void *b)
{
	const struct op_ref *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return dbsync__value_compare(x->pk, y->pk);
}

/* The page operation on row `pk` of `t`: 1 with its index, or 0. The
 * page holds one operation per row (the server folds them). */
static int find_op(struct merge *m, const dbsync__ctable *t,
		   const dbsync__value *pk, size_t *index)
{
	struct op_ref key, *hit;
	size_t k;

	if (!m->refs_built) {
		m->refs = calloc(m->page->nops ? m->page->nops : 1,
				 sizeof(*m->refs));
		if (!m->refs)
			return nomem(m);
		for (k = 0; k < m->page->nops; k++) {
			const dbsync__msg_op *op = &m->page->ops[k];
			dbsync__ctable *ot = dbsync__ctables_by_name(
				&m->tables, m->page->tables[op->table].name);
			if (!ot)
				continue;
			m->refs[m->nrefs].tid = ot->tid;
			m->refs[m->nrefs].pk = &op->pk;
			m->refs[m->nrefs++].index = k;
		}
		qsort(m->refs, m->nrefs, sizeof(*m->refs), compare_refs);
		m->refs_built = 1;
	}
	key.tid = t->tid;
	key.pk = pk;
	hit = bsearch(&key, m->refs, m->nrefs, sizeof(*m->refs), compare_refs);
	if (hit)
		*index = hit->index;
	return hit != NULL;
}

/* A local row keeps the values a pulled row needs: note it for the error
 * the page ends with (the pull then changes nothing). 1 (skip the row). */
static int collide(struct merge *m, const dbsync__ctable *t, char remote_op,
		   const dbsync__value *holder, const dbsync__unique_index *x)
{
	dbsync__value named = *holder;
	size_t k;
	int table;

	/* The report outlives the rollback: name a row this page moved
	 * by the key it has again after it. */
	for (k = 0; holder->type == DBSYNC_TYPE_INTEGER && k < m->nrenumbered; k++)
		if (m->renumbered[k].tid == t->tid && m->renumbered[k].to == holder->i)
			named.i = m->renumbered[k].from;
	holder = &named;
	if (!m->collisions && !(m->collisions = dbsync__oplist_new()))
		return nomem(m);
	table = dbsync__oplist_table(m->collisions, t->name);
	if (table < 0 ||
	    dbsync__oplist_add(m->collisions, table, remote_op, 0, holder->type,
			       holder->i, holder->f, holder->p, holder->len) ||
	    dbsync__oplist_set_columns(m->collisions, x->names, x->ncols))
		return nomem(m);
	dbsync__oplist_set_conflict(m->collisions, DBSYNC_CONFLICT_UNIQUE, 0);
	return 1;
}

static int apply_op(struct merge *m, size_t index);

/*
 * Row `holder` of `t` holds unique values a pulled row needs. If the page
 * rewrites the holder too, the values are free once it has: move it aside
 * when its own pulled row will certainly be written (it is being written,
 * or no local state can keep it), else apply its operation now and see.
 * A holder the page does not touch but with nothing pending here is moved
 * aside too (see below). Otherwise the collision is genuine: a local
 * change keeps the values. 0: retry the write; 1: collided.
 */
static int unblock(struct merge *m, dbsync__ctable *t, char remote_op,
		   const dbsync__value *holder, const dbsync__unique_index *x)
{
	dbsync__table_shape shape = {t->name, t->columns, t->ncolumns, 0};
	size_t j = 0;
	int has = find_op(m, t, holder, &j);

	if (has < 0)
		return has;
	if (has && m->status[j] == OP_APPLYING)
		return dbsync__unique_move_aside(m->c->db, &shape, x, holder,
						 &m->c->err);
	if (has && m->status[j] == OP_WAITING) {
		const dbsync__msg_op *op = &m->page->ops[j];
		int kept = local_state(m, t->tid, holder) ||
			   (op->op == 'd' && referenced(m, t->tid, holder));
		if (!kept)
			return dbsync__unique_move_aside(m->c->db, &shape, x,
							 holder, &m->c->err);
		if (m->depth < MAX_DEPTH)
			return apply_op(m, j);
	}
	/* A holder with nothing pending here holds what the server's copy
	 * held: the pulled row has the value on the server now, so the
	 * server moved the holder on in a version a later page brings (a
	 * swap cut by a page boundary). */
	if (!has && !local_state(m, t->tid, holder)) {
		m->any_moved = 1;
		return dbsync__moved_move_aside(m->c->db, &shape, t->tid, x,
						holder, &m->c->err);
	}
	return collide(m, t, remote_op, holder, x);
}

/* The unique indexes of `t` (*out), read when first needed. */
static int unique_indexes(struct merge *m, const dbsync__ctable *t,
			  dbsync__table_shape *shape,
			  dbsync__unique_indexes **out)
{
	dbsync__unique_indexes *u;
	int rc = 0;

	shape->name = t->name;
	shape->columns = t->columns;
	shape->ncolumns = t->ncolumns;
	shape->pk = 0;
	if (!m->uniques &&
	    !(m->uniques = calloc(m->tables.n, sizeof(*m->uniques))))
		return nomem(m);
	u = &m->uniques[t - m->tables.t];
	if (!u->loaded)
		rc = dbsync__unique_load(m->c->db, shape, u, &m->c->err);
	*out = u;
	return rc;
}

/* Write a row of `t`, making way for its unique values (see unblock).
 * 0, 1 when a local row keeps them (collision noted), or an error. */
static int put_row(struct merge *m, dbsync__ctable *t, char remote_op,
		   const dbsync__value *row)
{
	int attempt;

	for (attempt = 0;; attempt++) {
		const dbsync__unique_index *x = NULL;
		dbsync__unique_indexes *u = NULL;
		dbsync__table_shape shape;
		dbsync__value holder;
		int rc = step_write(t, 'u', &row[0], row);

		if (rc == SQLITE_DONE)
			return 0;
		if (sqlite3_extended_errcode(m->c->db) !=
			    SQLITE_CONSTRAINT_UNIQUE ||
		    attempt == 2 * MAX_DEPTH)
			return dbsync__error_sqlite(&m->c->err, m->c->db, rc,
						    "cannot apply a pulled "
						    "change");
		memset(&holder, 0, sizeof(holder));
		rc = unique_indexes(m, t, &shape, &u);
		if (!rc)
			rc = dbsync__unique_holder(m->c->db, &shape, u, row,
						   &holder, &x, &m->c->err);
		if (rc == 0)
			return dbsync__error_set(&m->c->err, DBSYNC_CONFLICT,
						 "a pulled row collides on a "
						 "unique index on an "
						 "expression");
		if (rc > 0)
			rc = unblock(m, t, remote_op, &holder, x);
		dbsync__value_clear(&holder);
		if (rc)
			return rc;
	}
}

/* ---- the conflict taxonomy ---------------------------------------------- */

/*
 * Reversed dependency: a row about to be written refers to a parent
 * deleted here. The parent comes back from the page's parent rows (its
 * own deleted parents first: the page carries ancestors too) and the
 * local delete is dropped (otherwise the push would orphan the row).
 * `depth` bounds the walk up a chain.
 */
static int restore_parents(struct merge *m, const dbsync__ctable *t,
			   const dbsync__value *row, struct frame *f,
			   int depth)
{
	size_t k, j;
	int rc = 0;

	for (k = 0; k < t->nrefs && !rc; k++) {
		dbsync__ctable *pt = &m->tables.t[t->refs[k].parent];
		const dbsync__value *v = &row[t->refs[k].column];
		dbsync__value *parent;

		if (v->type == DBSYNC_TYPE_NULL ||
		    local_state(m, pt->tid, v) != 'd' ||
		    depth > MAX_DEPTH)
			continue;
		for (j = 0; j < m->page->nparents; j++) {
			const dbsync__msg_op *po = &m->page->parents[j];
			const dbsync__msg_table *mt =
				&m->page->tables[po->table];
			if (sqlite3_stricmp(mt->name, pt->name) != 0 ||
			    !dbsync__value_equal(&po->pk, v))
				continue;
			/* Its own row buffer: the walk up reuses f. */
			parent = calloc(m->width, sizeof(*parent));
			rc = parent ? dbsync__ctable_local_row(pt, mt, po->row,
							       parent,
							       &m->c->err)
				    : nomem(m);
			if (!rc)
				rc = met(m, pt, 'p', v,
					 DBSYNC_CONFLICT_REVERSED_DEPENDENCY,
					 DBSYNC_RESOLUTION_TAKE_REMOTE, parent,
					 f);
			if (!rc)
				rc = drop_local(m, pt->tid, v);
			if (!rc)
				rc = restore_parents(m, pt, parent, f,
						     depth + 1);
			if (!rc)
				rc = put_row(m, pt, 'p', parent);
			if (rc > 0)
				rc = 0; /* a collision ends the page later */
			free(parent);
			break;
		}
	}
	return rc;
}

/* Write a pulled (or merged) row, its deleted parents restored first. */
static int put_remote(struct merge *m, dbsync__ctable *t, char remote_op,
		      const dbsync__value *row, struct frame *f)
{
	int rc = restore_parents(m, t, row, f, 0);

	if (rc)
		return rc;
	rc = put_row(m, t, remote_op, row);
	return rc > 0 ? 0 : rc; /* a collision ends the page later */
}

/*
 * A direct conflict: the policy decides (local state `state`; `remote` is
 * NULL for a remote delete; `local_wins` is what LOCAL_WINS does).
 */
static int direct(struct merge *m, dbsync__ctable *t,
		  const dbsync__msg_op *op, char state,
		  const dbsync__value *remote, struct frame *f, int kind,
		  int local_wins)
{
	dbsync_policy policy = dbsync__client_policy(m->c, t->name);
	dbsync__value *merged = NULL;
	int rc, resolution = local_wins;

	if (policy == DBSYNC_POLICY_SERVER_WINS)
		resolution = DBSYNC_RESOLUTION_TAKE_REMOTE;
	rc = ask(m, t, op->op, &op->pk, kind, 1, remote, f, &resolution,
		 &merged);
	if (rc)
		return rc;
	/* A remote delete cannot take a row pending local rows refer to:
	 * they would be orphans. */
	if (resolution == DBSYNC_RESOLUTION_TAKE_REMOTE && op->op == 'd' &&
	    referenced(m, t->tid, &op->pk))
		resolution = DBSYNC_RESOLUTION_KEEP_LOCAL;
	rc = report(m, t, op->op, &op->pk, kind, resolution);
	if (!rc && resolution == DBSYNC_RESOLUTION_TAKE_REMOTE) {
		rc = drop_local(m, t->tid, &op->pk);
		if (!rc)
			rc = op->op == 'd' ? delete_row(m, t, &op->pk)
					   : put_remote(m, t, op->op, remote, f);
	} else if (!rc && resolution == DBSYNC_RESOLUTION_MERGED) {
		/* A pending row with new values: what it refers to is read
		 * again at the page's end. */
		if (dbsync__pending_touch(m->pending, t->tid, &op->pk))
			rc = nomem(m);
		if (!rc)
			rc = put_remote(m, t, op->op, merged, f);
		/* Deleted here: the merged row is new local work. */
		if (!rc && state == 'd')
			rc = drop_local(m, t->tid, &op->pk);
		if (!rc && state == 'd')
			rc = requeue(m, t->tid, &op->pk, 'u');
	}
	dbsync__conflict_free_row(merged, t->ncolumns);
	return rc;
}

/* 1 if the local row of remote's key already holds exactly the remote
 * row: the pending local operation changes nothing the server lacks. */
static int same_as_local(struct merge *m, dbsync__ctable *t,
			 const dbsync__value *remote, struct frame *f)
{
	int found = read_local(m, t, &remote[0], f);
	size_t k;

	for (k = 0; found > 0 && k < t->ncolumns; k++)
		if (!dbsync__value_equal(&f->local[k], &remote[k]))
			found = 0;
	clear_local(m, f);
	return found;
}

/* The largest INTEGER key of `t` in the page (0 if none), the page read
 * once for every table. */
static int64_t page_max(struct merge *m, const dbsync__ctable *t)
{
	size_t k;

	if (!m->page_max) {
		m->page_max = calloc(m->tables.n + 1, sizeof(*m->page_max));
		if (!m->page_max)
			return -1;
		for (k = 0; k < m->page->nops; k++) {
			const dbsync__msg_op *op = &m->page->ops[k];
			dbsync__ctable *ot = dbsync__ctables_by_name(
				&m->tables, m->page->tables[op->table].name);
			int64_t *max = ot ? &m->page_max[ot - m->tables.t]
					  : NULL;

			if (max && op->pk.type == DBSYNC_TYPE_INTEGER &&
			    op->pk.i > *max)
				*max = op->pk.i;
		}
	}
	return m->page_max[t - m->tables.t];
}

/* Insert/insert: move the local row to a fresh key, remembering where. */
static int renumber(struct merge *m, dbsync__ctable *t, const dbsync__value *pk)
{
	struct renumbered *mv =
		realloc(m->renumbered, (m->nrenumbered + 1) * sizeof(*mv));
	int64_t to = 0, in_page = page_max(m, t);
	int rc;

	if (!mv || in_page < 0)
		return nomem(m);
	m->renumbered = mv;
	rc = dbsync__client_renumber(m->c, &m->tables, t, pk, in_page,
				     m->pending, &to);
	if (!rc) {
		mv[m->nrenumbered].tid = t->tid;
		mv[m->nrenumbered].from = pk->i;
		mv[m->nrenumbered++].to = to;
	}
	return rc;
}

/*
 * One remote operation meets the row's pending local state
 * (docs/conflicts.md has each case with an example):
 * - nothing pending, or the row was inserted and deleted here: apply;
 * - remote insert, local insert of the same INTEGER key: two different
 *   rows; the local one moves to a fresh key (client_renumber.c), then
 *   the remote one is applied;
 * - remote and local changes to the same row (update/update,
 *   update/delete, delete/update, insert/insert on a TEXT or BLOB key):
 *   the table's policy decides (direct);
 * - remote delete, local delete: nothing left to do on either side;
 * - remote delete of a row that pending local rows refer to: the row stays
 *   and is queued for re-insertion by the next push (dependency);
 * - remote row referring to a parent deleted here: the parent is restored
 *   first (reversed dependency, restore_parents).
 */
static int merge_op(struct merge *m, dbsync__ctable *t,
		    const dbsync__msg_table *mt, const dbsync__msg_op *op,
		    struct frame *f)
{
	const dbsync__value *remote = NULL;
	char state = local_state(m, t->tid, &op->pk);
	int rc, is_delete = op->op == 'd';

	if (!is_delete) {
		rc = dbsync__ctable_local_row(t, mt, op->row, f->remote,
					      &m->c->err);
		if (rc)
			return rc;
		remote = f->remote;
	}
	if ((state == 'i' || state == 'u') && !is_delete) {
		rc = same_as_local(m, t, remote, f);
		if (rc)
			return rc < 0 ? rc : drop_local(m, t->tid, &op->pk);
	}
	switch (state) {
	case '-':
		/* Inserted and deleted here, never pushed: those entries are
		 * the history of a row that no longer exists. Kept, they
		 * would turn a later local update of the pulled row into an
		 * insert of a second one. */
		rc = drop_local(m, t->tid, &op->pk);
		if (rc)
			return rc;
		return is_delete ? delete_row(m, t, &op->pk)
				 : put_remote(m, t, op->op, remote, f);
	case 'i':
		/* An INTEGER key is a number, not an identity: the remote
		 * side had another row under it (a remote 'u' is the rest of
		 * a remote insert whose first part arrived in an earlier
		 * page; a 'd' removed a row this node may never have seen,
		 * that other nodes may still edit). Both rows are kept
		 * apart: the local one moves to a fresh key. */
		if (t->integer_pk && op->pk.type == DBSYNC_TYPE_INTEGER) {
			rc = met(m, t, op->op, &op->pk,
				 DBSYNC_CONFLICT_INSERT_INSERT,
				 DBSYNC_RESOLUTION_KEEP_BOTH, remote, f);
			if (!rc)
				rc = renumber(m, t, &op->pk);
			if (rc || is_delete)
				return rc;
			return put_remote(m, t, op->op, remote, f);
		}
		/* A TEXT/BLOB key is one identity: a direct conflict. */
		return direct(m, t, op, state, remote, f,
			      is_delete ? DBSYNC_CONFLICT_DELETE_UPDATE
					: DBSYNC_CONFLICT_INSERT_INSERT,
			      DBSYNC_RESOLUTION_KEEP_LOCAL);
	case 'u':
		return direct(m, t, op, state, remote, f,
			      is_delete ? DBSYNC_CONFLICT_DELETE_UPDATE
					: DBSYNC_CONFLICT_UPDATE_UPDATE,
			      DBSYNC_RESOLUTION_KEEP_LOCAL);
	case 'd':
		if (!is_delete)
			return direct(m, t, op, state, remote, f,
				      DBSYNC_CONFLICT_UPDATE_DELETE,
				      DBSYNC_RESOLUTION_TAKE_REMOTE);
		rc = met(m, t, 'd', &op->pk, DBSYNC_CONFLICT_DELETE_DELETE,
			 DBSYNC_RESOLUTION_TAKE_REMOTE, NULL, f);
		return rc ? rc : drop_local(m, t->tid, &op->pk);
	default:
		if (is_delete && referenced(m, t->tid, &op->pk)) {
			/* Queued as an update: the server upserts it, and a
			 * node that re-created it first is the same row, not
			 * an insert/insert. */
			rc = met(m, t, 'd', &op->pk, DBSYNC_CONFLICT_DEPENDENCY,
				 DBSYNC_RESOLUTION_KEEP_LOCAL, NULL, f);
			return rc ? rc : requeue(m, t->tid, &op->pk, 'u');
		}
		if (is_delete)
			return delete_row(m, t, &op->pk);
		return put_remote(m, t, op->op, remote, f);
	}
}

/*
 * merge_op for a row that an earlier page may have moved aside on a unique
 * column (client_moved.c): the operation decides the row's values, and if
 * the merge keeps the row with the made-up value, the value it held comes
 * back (a collision when another row holds it now: the application
 * renames its row).
 */
static int merge_with_moved(struct merge *m, dbsync__ctable *t,
			    const dbsync__msg_table *mt,
			    const dbsync__msg_op *op, struct frame *f)
{
	dbsync__table_shape shape = {t->name, t->columns, t->ncolumns, 0};
	dbsync__moved *moved = NULL;
	size_t n = 0, k;
	int rc = 0;

	if (m->any_moved)
		rc = dbsync__moved_take(m->c->db, t->tid, &op->pk, &moved, &n,
					&m->c->err);
	if (!rc)
		rc = merge_op(m, t, mt, op, f);
	for (k = 0; !rc && k < n; k++) {
		rc = dbsync__moved_restore(m->c->db, &shape, &op->pk,
					   &moved[k], &m->c->err);
		if (rc == 1) {
			dbsync__unique_index one = {&moved[k].column, NULL, 1,
						    NULL};
			rc = collide(m, t, op->op, &op->pk, &one);
			rc = rc > 0 ? 0 : rc; /* the page ends with it */
		}
	}
	dbsync__moved_free(moved, n);
	return rc;
}

/* The rows of depth `depth`, allocated when first used; NULL: no memory. */
static struct frame *frame_at(struct merge *m, size_t depth)
{
	struct frame *f = &m->frames[depth];

	if (!f->remote) {
		f->remote = calloc(m->width, sizeof(*f->remote));
		f->local = calloc(m->width, sizeof(*f->local));
	}
	return f->remote && f->local ? f : NULL;
}

/* Apply page operation `index` unless it is applied or under way. */
static int apply_op(struct merge *m, size_t index)
{
	const dbsync__msg_op *op = &m->page->ops[index];
	const dbsync__msg_table *mt = &m->page->tables[op->table];
	dbsync__ctable *t;
	struct frame *f;
	int rc = 0;

	if (m->status[index] != OP_WAITING)
		return 0;
	m->status[index] = OP_APPLYING;
	t = dbsync__ctables_by_name(&m->tables, mt->name);
	if (t && t->direction != DBSYNC_DIRECTION_PUSH) { /* else not pulled */
		f = frame_at(m, m->depth);
		if (!f) {
			rc = nomem(m);
		} else {
			m->depth++;
			rc = merge_with_moved(m, t, mt, op, f);
			m->depth--;
		}
	}
	m->status[index] = OP_DONE;
	return rc;
}

/*
 * A parent kept against a remote delete keeps its own parents: when the
 * page also deletes them (a subtree of a tree, a grandparent), they are
 * referenced too, whatever order the page deletes them in. Follows the
 * page's deletes of referenced rows up their foreign keys, before any
 * change.
 */
static int extend_referenced(struct merge *m)
{
	struct frame *f = frame_at(m, 0);
	int grew = 1, rounds;
	size_t k, j;

	if (!f || !(m->kept_parents = dbsync__keyset_new()))
		return nomem(m);
	for (rounds = 0; grew && rounds < 64; rounds++) {
		grew = 0;
		for (k = 0; k < m->page->nops; k++) {
			const dbsync__msg_op *op = &m->page->ops[k];
			dbsync__ctable *t = dbsync__ctables_by_name(
				&m->tables, m->page->tables[op->table].name);
			int found;

			if (op->op != 'd' || !t || !t->nrefs ||
			    !referenced(m, t->tid, &op->pk))
				continue;
			found = read_local(m, t, &op->pk, f);
			for (j = 0; found > 0 && j < t->nrefs; j++) {
				const dbsync__value *v =
					&f->local[t->refs[j].column];
				int64_t ptid = m->tables.t[t->refs[j].parent].tid;

				if (v->type == DBSYNC_TYPE_NULL ||
				    referenced(m, ptid, v))
					continue;
				if (dbsync__keyset_add(m->kept_parents, ptid, v))
					found = nomem(m);
				grew = 1;
			}
			clear_local(m, f);
			if (found < 0)
				return found;
		}
	}
	return 0;
}

/* After the suppressed part: log the requeued operations, pending work
 * the next pages know of too. */
static int log_requeued(struct merge *m)
{
	sqlite3_stmt *st;
	size_t k;
	int rc;

	if (!m->nrequeue)
		return 0;
	rc = dbsync__sql_prepare(m->c->db,
				 "INSERT INTO dbsync_log(tid, pk, op)"
				 " VALUES (?1, ?2, ?3)",
				 &st, &m->c->err, "cannot merge the pull");
	for (k = 0; !rc && k < m->nrequeue; k++) {
		char op[2] = {m->requeue[k].op, 0};
		sqlite3_bind_int64(st, 1, m->requeue[k].tid);
		dbsync__sql_bind_value(st, 2, &m->requeue[k].pk);
		sqlite3_bind_text(st, 3, op, 1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = dbsync__error_sqlite(&m->c->err, m->c->db,
						  sqlite3_reset(st),
						  "cannot merge the pull");
		else if (dbsync__pending_logged(
				 m->pending, m->requeue[k].tid,
				 &m->requeue[k].pk, m->requeue[k].op,
				 sqlite3_last_insert_rowid(m->c->db)))
			rc = nomem(m);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static void merge_free(struct merge *m)
{
	size_t k;

	for (k = 0; k < m->nrequeue; k++)
		dbsync__value_clear(&m->requeue[k].pk);
	free(m->requeue);
	free(m->renumbered);
	for (k = 0; k <= MAX_DEPTH; k++) {
		free(m->frames[k].remote);
		free(m->frames[k].local);
	}
	free(m->status);
	free(m->refs);
	for (k = 0; m->uniques && k < m->tables.n; k++)
		dbsync__unique_free(&m->uniques[k]);
	free(m->uniques);
	dbsync_oplist_free(m->collisions);
	dbsync__keyset_free(m->kept_parents);
	free(m->page_max);
	dbsync__ctables_free(&m->tables);
}

int dbsync__merge_page(dbsync_client *c, const dbsync__pull_resp *p,
		       dbsync__pending *pending, dbsync_oplist **collisions)
{
	struct merge m;
	size_t k;
	int rc;

	*collisions = NULL;
	memset(&m, 0, sizeof(m));
	m.c = c;
	m.page = p;
	m.pending = pending;
	m.width = 1;
	/* Before the page writes anything (the mark included). */
	rc = dbsync__pending_begin(pending, c->db, &c->err);
	if (!rc)
		rc = dbsync__capture_suppress_begin(c->db, &m.mark, &c->err);
	if (!rc)
		rc = dbsync__ctables_load(c->db, &m.tables, &c->err);
	if (!rc)
		rc = dbsync__pending_load(pending, c->db, &m.tables, &c->err);
	for (k = 0; k < m.tables.n; k++)
		if (m.tables.t[k].ncolumns > m.width)
			m.width = m.tables.t[k].ncolumns;
	if (!rc)
		rc = extend_referenced(&m);
	if (!rc) {
		rc = dbsync__moved_any(c->db, &c->err);
		m.any_moved = rc > 0;
		rc = rc < 0 ? rc : 0;
	}
	if (!rc && !(m.status = calloc(p->nops ? p->nops : 1, 1)))
		rc = nomem(&m);
	for (k = 0; !rc && k < p->nops; k++)
		rc = apply_op(&m, k);
	if (!rc && m.collisions) {
		size_t n = dbsync_oplist_count(m.collisions);
		rc = dbsync__error_set(&c->err, DBSYNC_UNIQUE_CONFLICT,
				       "the pull stopped before changing "
				       "anything: %zu local row%s hold%s values "
				       "that pulled rows need on a unique "
				       "constraint (see the conflict report)",
				       n, n == 1 ? "" : "s", n == 1 ? "s" : "");
		*collisions = m.collisions;
		m.collisions = NULL;
	}
	if (!rc)
		rc = dbsync__pending_delete_dropped(pending, c->db, &c->err);
	if (!rc)
		rc = dbsync__capture_suppress_end(c->db, m.mark, &c->err);
	if (!rc)
		rc = log_requeued(&m);
	if (!rc)
		rc = dbsync__pending_refresh(pending, c->db, &m.tables,
					     &c->err);
	merge_free(&m);
	return rc;
}
