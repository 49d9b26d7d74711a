/*
 * client_renumber.c - the insert/insert conflict on an INTEGER key.
 *
 * A remote insert meets a pending local insert of the same key: both rows
 * are kept. The local row moves to a key above every key either side has
 * used (the table, the log, the page being merged), local rows that
 * referred to it by foreign key follow, and its pending log entries move
 * with it, so the next push inserts it under its new key. TEXT/BLOB keys
 * are identities and are never renumbered (a direct conflict instead).
 */
#include <inttypes.h>
#include <string.h>

#include "client.h"
#include "client_renumber.h"
#include "sqlutil.h"

static int run(dbsync_client *c, dbsync__buf *b, int64_t bind1, int64_t bind2)
{
	sqlite3_stmt *st;
	int rc;

	if (b->failed)
		return dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	rc = dbsync__sql_prepare(c->db, b->data, &st, &c->err,
				 "cannot renumber a row");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, bind1);
	sqlite3_bind_int64(st, 2, bind2);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return dbsync__error_sqlite(&c->err, c->db, rc,
					    "cannot renumber a row");
	return 0;
}

/* The largest integer key of `t` here: in the table and in its log. */
static int local_max(dbsync_client *c, const dbsync__ctable *t, int64_t *max)
{
	sqlite3_stmt *st;
	dbsync__buf b;
	int rc;

	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "SELECT max(coalesce((SELECT max(");
	dbsync__buf_ident(&b, t->columns[0]);
	dbsync__buf_append(&b, ") FROM main.");
	dbsync__buf_ident(&b, t->name);
	dbsync__buf_printf(&b, "), 0), coalesce((SELECT max(pk) FROM dbsync_log"
			       " WHERE tid = %" PRId64 " AND typeof(pk) ="
			       " 'integer'), 0))",
			   t->tid);
	rc = b.failed ? dbsync__error_set(&c->err, DBSYNC_NOMEM,
					  "out of memory")
		      : dbsync__sql_prepare(c->db, b.data, &st, &c->err,
					    "cannot renumber a row");
	dbsync__buf_free(&b);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	*max = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return dbsync__error_sqlite(&c->err, c->db, rc,
					    "cannot renumber a row");
	return 0;
}

/* The largest integer key of the table in the page being merged. */
static int64_t page_max(const dbsync__pull_resp *p, const char *table)
{
	int64_t max = 0;
	size_t k;

	for (k = 0; k < p->nops; k++)
		if (p->ops[k].pk.type == DBSYNC_TYPE_INTEGER &&
		    p->ops[k].pk.i > max &&
		    sqlite3_stricmp(p->tables[p->ops[k].table].name, table) ==
			    0)
			max = p->ops[k].pk.i;
	return max;
}

/* Local rows of `child` whose column `col` refers to old: they follow.
 * Only rows with pending operations of their own can refer to a row that
 * exists only here. */
static int move_children(dbsync_client *c, const dbsync__ctable *child,
			 const char *col, int64_t old_key, int64_t new_key,
			 int64_t mark)
{
	dbsync__buf b;
	int rc;

	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "UPDATE main.");
	dbsync__buf_ident(&b, child->name);
	dbsync__buf_append(&b, " SET ");
	dbsync__buf_ident(&b, col);
	dbsync__buf_append(&b, " = ?2 WHERE ");
	dbsync__buf_ident(&b, col);
	dbsync__buf_append(&b, " = ?1 AND ");
	dbsync__buf_ident(&b, child->columns[0]);
	dbsync__buf_printf(&b, " IN (SELECT pk FROM dbsync_log WHERE tid = %"
			       PRId64 " AND seq <= %" PRId64 " AND (version"
			       " IS NULL OR version < 0))",
			   child->tid, mark);
	rc = run(c, &b, old_key, new_key);
	dbsync__buf_free(&b);
	return rc;
}

/* Every tracked table's single-column foreign keys to `t`'s key. */
static int follow_references(dbsync_client *c, dbsync__ctables *tables,
			     const dbsync__ctable *t, int64_t old_key,
			     int64_t new_key, int64_t mark)
{
	size_t k;
	int rc = 0;

	for (k = 0; k < tables->n && !rc; k++) {
		const dbsync__ctable *child = &tables->t[k];
		sqlite3_stmt *st;

		rc = dbsync__sql_prepare(
			c->db,
			"SELECT f.\"from\" FROM pragma_foreign_key_list(?1) f"
			" WHERE f.\"table\" = ?2 COLLATE NOCASE"
			" AND (f.\"to\" IS NULL OR f.\"to\" = ?3 COLLATE NOCASE)"
			" AND (SELECT count(*) FROM pragma_foreign_key_list(?1) g"
			"      WHERE g.id = f.id) = 1",
			&st, &c->err, "cannot read the foreign keys");
		if (rc)
			break;
		sqlite3_bind_text(st, 1, child->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, t->columns[0], -1, SQLITE_STATIC);
		while (!rc && sqlite3_step(st) == SQLITE_ROW)
			rc = move_children(
				c, child, (const char *)sqlite3_column_text(st, 0),
				old_key, new_key, mark);
		sqlite3_finalize(st);
	}
	return rc;
}

int dbsync__client_renumber(dbsync_client *c, dbsync__ctables *tables,
			    const dbsync__ctable *t, const dbsync__value *pk,
			    const dbsync__pull_resp *page, int64_t mark,
			    dbsync__keyset *pending, int64_t *new_key)
{
	dbsync__value moved = {DBSYNC_TYPE_INTEGER, 0, 0, NULL, 0};
	int64_t max = 0, in_page;
	dbsync__buf b;
	int rc = local_max(c, t, &max);

	if (rc)
		return rc;
	in_page = page_max(page, t->name);
	if (in_page > max)
		max = in_page;
	if (max == INT64_MAX)
		return dbsync__error_set(&c->err, DBSYNC_CONFLICT,
					 "no free key left in \"%s\"", t->name);
	moved.i = max + 1;

	/* The row itself (its rekey is logged above the mark: suppressed). */
	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "UPDATE main.");
	dbsync__buf_ident(&b, t->name);
	dbsync__buf_append(&b, " SET ");
	dbsync__buf_ident(&b, t->columns[0]);
	dbsync__buf_append(&b, " = ?2 WHERE ");
	dbsync__buf_ident(&b, t->columns[0]);
	dbsync__buf_append(&b, " = ?1");
	rc = run(c, &b, pk->i, moved.i);
	dbsync__buf_free(&b);
	if (!rc)
		rc = follow_references(c, tables, t, pk->i, moved.i, mark);
	/* Its pending entries: the push inserts it under the new key. */
	if (!rc) {
		dbsync__buf_init(&b);
		dbsync__buf_printf(&b, "UPDATE dbsync_log SET pk = ?2 WHERE"
				       " tid = %" PRId64 " AND pk = ?1 AND seq <="
				       " %" PRId64 " AND version IS NULL",
				   t->tid, mark);
		rc = run(c, &b, pk->i, moved.i);
		dbsync__buf_free(&b);
	}
	if (!rc && dbsync__keyset_move(pending, t->tid, pk, &moved))
		rc = dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	*new_key = moved.i;
	return rc;
}
