/*
 * client_merge.c - merging one pulled page with the pending local
 * operations (docs/conflicts.md).
 *
 * Runs inside the page's write transaction (client_pull.c) with capture
 * suppressed: the library's own writes are not pending work. Remote changes
 * that meet pending local operations on the same row are resolved in
 * apply_op; every conflict met goes to the handle's report.
 */
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "client_merge.h"
#include "client_renumber.h"
#include "client_tables.h"
#include "oplist.h"
#include "oplog.h"
#include "sqlutil.h"
#include "value.h"

/* Forget the local operations on one row that no push has carried yet:
 * the merge resolved them. */
static int drop_local(dbsync_client *c, int64_t tid, const dbsync__value *pk)
{
	sqlite3_stmt *st;
	int rc = dbsync__sql_prepare(c->db,
				     "DELETE FROM dbsync_log WHERE tid = ?1"
				     " AND pk = ?2 AND version IS NULL",
				     &st, &c->err, "cannot merge the pull");

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tid);
	dbsync__sql_bind_value(st, 2, pk);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(&c->err, c->db, rc,
					    "cannot merge the pull");
	return 0;
}

/* Everything one page's merge works with. */
struct merge {
	dbsync_client *c;
	const dbsync__pull_resp *page;
	dbsync__ctables tables;
	dbsync__keyset *pending;    /* rows with pending local operations */
	dbsync__keyset *referenced; /* rows pending local rows refer to */
	dbsync__value *row, *parent_row;
	int64_t mark;
	/* Parents kept against a remote delete: re-inserted by the next
	 * push (logged after the suppressed part of the transaction). */
	int64_t *kept_tid;
	dbsync__value *kept_pk;
	size_t nkept;
};

/* Add a conflict to the handle's report (dbsync_client_conflicts). */
static int report(struct merge *m, const dbsync__ctable *t, char remote_op,
		  const dbsync__value *pk, int kind, int resolution)
{
	dbsync_client *c = m->c;
	int table;

	if (!c->conflicts && !(c->conflicts = dbsync__oplist_new()))
		return dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	table = dbsync__oplist_table(c->conflicts, t->name);
	if (table < 0 ||
	    dbsync__oplist_add(c->conflicts, table, remote_op, 0, pk->type,
			       pk->i, pk->f, pk->p, pk->len))
		return dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	dbsync__oplist_set_conflict(c->conflicts, kind, resolution);
	return 0;
}

static int write_row(struct merge *m, dbsync__ctable *t, char op,
		     const dbsync__value *pk, const dbsync__value *row)
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
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(&m->c->err, m->c->db, rc,
					    "cannot apply a pulled change");
	return 0;
}

/*
 * Reversed dependency: a remote row refers to a parent deleted here. The
 * parent comes back from the page's parent rows and the local delete is
 * dropped (otherwise the push would orphan the remote row).
 */
static int restore_parents(struct merge *m, const dbsync__ctable *t,
			   const dbsync__value *row)
{
	size_t k, j;
	int rc = 0;

	for (k = 0; k < t->nrefs && !rc; k++) {
		dbsync__ctable *pt = &m->tables.t[t->refs[k].parent];
		const dbsync__value *v = &row[t->refs[k].column];

		if (v->type == DBSYNC_TYPE_NULL ||
		    dbsync__keyset_state(m->pending, pt->tid, v) != 'd')
			continue;
		for (j = 0; j < m->page->nparents; j++) {
			const dbsync__msg_op *po = &m->page->parents[j];
			const dbsync__msg_table *mt =
				&m->page->tables[po->table];
			if (sqlite3_stricmp(mt->name, pt->name) != 0 ||
			    !dbsync__value_equal(&po->pk, v))
				continue;
			rc = dbsync__ctable_local_row(pt, mt, po->row,
						      m->parent_row, &m->c->err);
			if (!rc)
				rc = write_row(m, pt, 'i', v, m->parent_row);
			if (!rc)
				rc = report(m, pt, 'p', v,
					    DBSYNC_CONFLICT_REVERSED_DEPENDENCY,
					    DBSYNC_RESOLUTION_TAKE_REMOTE);
			if (!rc)
				rc = drop_local(m->c, pt->tid, v);
			dbsync__keyset_forget(m->pending, pt->tid, v);
			break;
		}
	}
	return rc;
}

/* Dependency: remember a parent kept against a remote delete. */
static int keep_parent(struct merge *m, const dbsync__ctable *t,
		       const dbsync__value *pk)
{
	int64_t *tids = realloc(m->kept_tid, (m->nkept + 1) * sizeof(*tids));
	dbsync__value *pks;

	if (tids)
		m->kept_tid = tids;
	pks = tids ? realloc(m->kept_pk, (m->nkept + 1) * sizeof(*pks)) : NULL;
	if (pks)
		m->kept_pk = pks;
	if (!tids || !pks || dbsync__value_copy(&pks[m->nkept], pk))
		return dbsync__error_set(&m->c->err, DBSYNC_NOMEM,
					 "out of memory");
	tids[m->nkept++] = t->tid;
	return 0;
}

/*
 * Apply one remote operation, meeting the row's pending local state
 * (docs/conflicts.md), local wins:
 * - nothing pending, or the row was inserted and deleted here: apply;
 * - remote insert, local insert of the same INTEGER key: two different
 *   rows; the local one moves to a fresh key (client_renumber.c), then
 *   the remote one is applied;
 * - remote update, local update/insert: keep the local row (it is pushed);
 * - remote update, local delete: the row comes back from the remote copy
 *   and the local delete is dropped;
 * - remote delete, local update/insert: the row stays (the push re-creates
 *   it: the server applies an update of a missing row as an upsert);
 * - remote delete, local delete: nothing left to do on either side;
 * - remote delete of a row that pending local rows refer to: the row stays
 *   and is queued for re-insertion by the next push (dependency);
 * - remote row referring to a parent deleted here: the parent is restored
 *   first (reversed dependency).
 */
static int apply_op(struct merge *m, const dbsync__msg_op *op)
{
	const dbsync__msg_table *mt = &m->page->tables[op->table];
	dbsync__ctable *t = dbsync__ctables_by_name(&m->tables, mt->name);
	int rc;

	if (!t || t->direction == DBSYNC_DIRECTION_PUSH)
		return 0; /* not pulled here */
	switch (dbsync__keyset_state(m->pending, t->tid, &op->pk)) {
	case 'i':
		/* A remote 'u' here is the rest of a remote insert whose
		 * first part arrived in an earlier page. */
		if (t->integer_pk && op->pk.type == DBSYNC_TYPE_INTEGER &&
		    op->op != 'd') {
			rc = report(m, t, op->op, &op->pk,
				    DBSYNC_CONFLICT_INSERT_INSERT,
				    DBSYNC_RESOLUTION_KEEP_BOTH);
			if (!rc)
				rc = dbsync__client_renumber(m->c, &m->tables, t,
							     &op->pk, m->page,
							     m->mark,
							     m->pending);
			if (rc)
				return rc;
			break;
		}
		/* A TEXT/BLOB key is one identity: a direct conflict. */
		return report(m, t, op->op, &op->pk,
			      op->op == 'd' ? DBSYNC_CONFLICT_DELETE_UPDATE
					    : DBSYNC_CONFLICT_INSERT_INSERT,
			      DBSYNC_RESOLUTION_KEEP_LOCAL);
	case 'u':
		return report(m, t, op->op, &op->pk,
			      op->op == 'd' ? DBSYNC_CONFLICT_DELETE_UPDATE
					    : DBSYNC_CONFLICT_UPDATE_UPDATE,
			      DBSYNC_RESOLUTION_KEEP_LOCAL);
	case 'd':
		rc = report(m, t, op->op, &op->pk,
			    op->op == 'd' ? DBSYNC_CONFLICT_DELETE_DELETE
					  : DBSYNC_CONFLICT_UPDATE_DELETE,
			    DBSYNC_RESOLUTION_TAKE_REMOTE);
		if (!rc)
			rc = drop_local(m->c, t->tid, &op->pk);
		dbsync__keyset_forget(m->pending, t->tid, &op->pk);
		if (rc || op->op == 'd')
			return rc;
		break;
	default:
		if (op->op == 'd' &&
		    dbsync__keyset_state(m->referenced, t->tid, &op->pk)) {
			rc = report(m, t, 'd', &op->pk,
				    DBSYNC_CONFLICT_DEPENDENCY,
				    DBSYNC_RESOLUTION_KEEP_LOCAL);
			return rc ? rc : keep_parent(m, t, &op->pk);
		}
		break;
	}
	if (op->op == 'd')
		return write_row(m, t, 'd', &op->pk, NULL);
	rc = dbsync__ctable_local_row(t, mt, op->row, m->row, &m->c->err);
	if (!rc)
		rc = restore_parents(m, t, m->row);
	if (!rc)
		rc = write_row(m, t, op->op, &op->pk, m->row);
	return rc;
}

/* The parents that pending local rows refer to: a remote delete of one of
 * them is a dependency conflict. Read once per page, from the pending
 * rows only (never a whole table). */
static int load_referenced(struct merge *m)
{
	size_t k, j;
	int rc = 0;

	m->referenced = dbsync__keyset_new();
	if (!m->referenced)
		return dbsync__error_set(&m->c->err, DBSYNC_NOMEM,
					 "out of memory");
	for (k = 0; k < m->tables.n && !rc; k++) {
		const dbsync__ctable *t = &m->tables.t[k];

		for (j = 0; j < t->nrefs && !rc; j++) {
			const dbsync__ctable *pt = &m->tables.t[t->refs[j].parent];
			sqlite3_stmt *st;
			dbsync__buf b;

			dbsync__buf_init(&b);
			dbsync__buf_append(&b, "SELECT DISTINCT u.");
			dbsync__buf_ident(&b, t->columns[t->refs[j].column]);
			dbsync__buf_append(&b, " FROM dbsync_log l JOIN main.");
			dbsync__buf_ident(&b, t->name);
			dbsync__buf_append(&b, " u ON u.");
			dbsync__buf_ident(&b, t->columns[0]);
			dbsync__buf_append(&b, " = l.pk WHERE l.tid = ?1 AND"
					       " l.seq <= ?2 AND (l.version IS"
					       " NULL OR l.version < 0)");
			rc = b.failed ? dbsync__error_set(&m->c->err,
							  DBSYNC_NOMEM,
							  "out of memory")
				      : dbsync__sql_prepare(m->c->db, b.data, &st,
							    &m->c->err,
							    "cannot merge the "
							    "pull");
			dbsync__buf_free(&b);
			if (rc)
				break;
			sqlite3_bind_int64(st, 1, t->tid);
			sqlite3_bind_int64(st, 2, m->mark);
			while (!rc && sqlite3_step(st) == SQLITE_ROW) {
				dbsync__value v;
				dbsync__sql_column_value(st, 0, &v);
				if (v.type != DBSYNC_TYPE_NULL &&
				    dbsync__keyset_add(m->referenced, pt->tid,
						       &v))
					rc = dbsync__error_set(&m->c->err,
							       DBSYNC_NOMEM,
							       "out of memory");
			}
			sqlite3_finalize(st);
		}
	}
	return rc;
}

/* After the suppressed part: log the kept parents as pending inserts. */
static int log_kept_parents(struct merge *m)
{
	sqlite3_stmt *st;
	size_t k;
	int rc;

	if (!m->nkept)
		return 0;
	rc = dbsync__sql_prepare(m->c->db,
				 "INSERT INTO dbsync_log(tid, pk, op)"
				 " VALUES (?1, ?2, 'i')",
				 &st, &m->c->err, "cannot merge the pull");
	for (k = 0; !rc && k < m->nkept; k++) {
		sqlite3_bind_int64(st, 1, m->kept_tid[k]);
		dbsync__sql_bind_value(st, 2, &m->kept_pk[k]);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = dbsync__error_sqlite(&m->c->err, m->c->db,
						  sqlite3_reset(st),
						  "cannot merge the pull");
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc;
}

static void merge_free(struct merge *m)
{
	size_t k;

	for (k = 0; k < m->nkept; k++)
		dbsync__value_clear(&m->kept_pk[k]);
	free(m->kept_pk);
	free(m->kept_tid);
	free(m->row);
	free(m->parent_row);
	dbsync__keyset_free(m->pending);
	dbsync__keyset_free(m->referenced);
	dbsync__ctables_free(&m->tables);
}


int dbsync__merge_page(dbsync_client *c, const dbsync__pull_resp *p)
{
	struct merge m;
	size_t k, width = 1;
	int rc;

	memset(&m, 0, sizeof(m));
	m.c = c;
	m.page = p;
	rc = dbsync__capture_suppress_begin(c->db, &m.mark, &c->err);
	if (!rc)
		rc = dbsync__ctables_load(c->db, &m.tables, &c->err);
	if (!rc)
		rc = dbsync__oplog_pending_keys(c->db, &m.pending, &c->err);
	if (!rc)
		rc = load_referenced(&m);
	for (k = 0; k < m.tables.n; k++)
		if (m.tables.t[k].ncolumns > width)
			width = m.tables.t[k].ncolumns;
	if (!rc) {
		m.row = calloc(width, sizeof(*m.row));
		m.parent_row = calloc(width, sizeof(*m.parent_row));
		if (!m.row || !m.parent_row)
			rc = dbsync__error_set(&c->err, DBSYNC_NOMEM,
					       "out of memory");
	}
	for (k = 0; !rc && k < p->nops; k++)
		rc = apply_op(&m, &p->ops[k]);
	if (!rc)
		rc = dbsync__capture_suppress_end(c->db, m.mark, &c->err);
	if (!rc)
		rc = log_kept_parents(&m);
	merge_free(&m);
	return rc;
}
