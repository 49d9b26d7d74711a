/*
 * client_renumber.c - the insert/insert conflict on an INTEGER key.
 *
 * A remote insert meets a pending local insert of the same key: both rows
 * are kept. The local row moves to a key above every key either side has
 * used (the table, the log, the page being merged), local rows that
 * referred to it by foreign key follow, and its pending log entries move
 * with it, so the next push inserts it under its new key. TEXT/BLOB keys
 * are identities and are never renumbered (a direct conflict instead).
 *
 * Apps that insert offline on two devices with SQLite's default keys
 * collide on every row, so a conflict must not cost a pass over the
 * pending log: the free key, the row's entries and the pending rows that
 * refer to it all come from what the merge holds (client_pending.c), and
 * every statement here works on one row by its key or seq, prepared once
 * per pull.
 */
#include <string.h>

#include "client.h"
#include "client_renumber.h"
#include "sqlutil.h"

static const char context[] = "cannot renumber a row";

struct renumbering {
	dbsync_client *c;
	dbsync__pending *pending;
	const dbsync__ctables *tables;
	int64_t from, to;
};

/* Step a statement whose bindings are set; 0 or the error. */
static int run(struct renumbering *r, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(&r->c->err, r->c->db, rc, context);
	return 0;
}

/* `UPDATE main.<table> SET <column> = ?2 WHERE <key> = ?1`, and with
 * `guarded` `AND <column> IN (?3, ?2)`. */
static int update_stmt(struct renumbering *r, const dbsync__ctable *t,
		       const char *column, int guarded, sqlite3_stmt **st)
{
	dbsync__buf b;
	int rc;

	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "UPDATE main.");
	dbsync__buf_ident(&b, t->name);
	dbsync__buf_append(&b, " SET ");
	dbsync__buf_ident(&b, column);
	dbsync__buf_append(&b, " = ?2 WHERE ");
	dbsync__buf_ident(&b, t->columns[0]);
	dbsync__buf_append(&b, " = ?1");
	if (guarded) {
		dbsync__buf_append(&b, " AND ");
		dbsync__buf_ident(&b, column);
		dbsync__buf_append(&b, " IN (?3, ?2)");
	}
	rc = b.failed ? dbsync__error_set(&r->c->err, DBSYNC_NOMEM,
					  "out of memory")
		      : dbsync__pending_stmt(r->pending, r->c->db, b.data, st,
					     &r->c->err);
	dbsync__buf_free(&b);
	return rc;
}

/* The row itself (its rekey is logged above the mark: suppressed). */
static int move_row(struct renumbering *r, const dbsync__ctable *t)
{
	sqlite3_stmt *st;
	int rc = update_stmt(r, t, t->columns[0], 0, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, r->from);
	sqlite3_bind_int64(st, 2, r->to);
	return run(r, st);
}

/* One of its pending log entries: the push inserts it under the new key. */
static int move_entry(void *payload, int64_t seq)
{
	struct renumbering *r = payload;
	sqlite3_stmt *st;
	int rc = dbsync__pending_stmt(r->pending, r->c->db,
				      "UPDATE dbsync_log SET pk = ?2"
				      " WHERE seq = ?1",
				      &st, &r->c->err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, r->to);
	return run(r, st);
}

/* A pending row referring to it follows: 1 if it did. It may hold the new
 * key already (a row that referred to itself, or a cascade). */
static int move_child(void *payload, int64_t ctid, size_t column,
		      const dbsync__value *cpk)
{
	struct renumbering *r = payload;
	const dbsync__ctable *child = NULL;
	sqlite3_stmt *st;
	size_t k;
	int rc;

	for (k = 0; k < r->tables->n && !child; k++)
		if (r->tables->t[k].tid == ctid)
			child = &r->tables->t[k];
	if (!child)
		return 0;
	rc = update_stmt(r, child, child->columns[column], 1, &st);
	if (rc)
		return rc;
	dbsync__sql_bind_value(st, 1, cpk);
	sqlite3_bind_int64(st, 2, r->to);
	sqlite3_bind_int64(st, 3, r->from);
	rc = run(r, st);
	sqlite3_clear_bindings(st);
	if (rc)
		return rc;
	return sqlite3_changes(r->c->db) > 0;
}

int dbsync__client_renumber(dbsync_client *c, const dbsync__ctables *tables,
			    const dbsync__ctable *t, const dbsync__value *pk,
			    int64_t page_max, dbsync__pending *pending,
			    int64_t *new_key)
{
	struct renumbering r = {c, pending, tables, pk->i, 0};
	int rc = dbsync__pending_next_key(pending, c->db, t, page_max, &r.to,
					  &c->err);

	if (!rc)
		rc = move_row(&r, t);
	if (!rc)
		rc = dbsync__pending_each_seq(pending, t->tid, pk, move_entry,
					      &r);
	/* Its state and the references it makes (a tree row refers to
	 * others of its table) first: then a row referring to itself is
	 * found under its new key below. */
	if (!rc && dbsync__pending_move(pending, t->tid, pk, r.to))
		rc = dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	if (!rc)
		rc = dbsync__pending_move_children(pending, t->tid, pk, r.to,
						   move_child, &r);
	if (rc == DBSYNC_NOMEM)
		rc = dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	*new_key = r.to;
	return rc;
}
