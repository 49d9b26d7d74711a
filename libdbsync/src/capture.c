/* capture.c - generates, installs and refreshes the capture triggers. */
#include "capture.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlutil.h"

enum { TRIGGER_INSERT, TRIGGER_UPDATE, TRIGGER_REKEY, TRIGGER_DELETE,
       TRIGGER_COUNT };

static const char *const trigger_suffix[TRIGGER_COUNT] = {
	"insert", "update", "rekey", "delete"};

static void log_insert(dbsync__buf *b, int64_t tid, const char *row,
		       const char *pk, const char *op)
{
	dbsync__buf_printf(b,
			   " INSERT INTO dbsync_log(tid, pk, op) VALUES (%" PRId64
			   ", %s.",
			   tid, row);
	dbsync__buf_ident(b, pk);
	dbsync__buf_printf(b, ", '%s');", op);
}

/*
 * The SQL of one trigger; an empty string when the table needs none of that
 * kind (a table with only a key column has nothing to update). The text is
 * deterministic, so comparing it with sqlite_schema tells whether installed
 * triggers are current.
 */
static void trigger_sql(dbsync__buf *b, const dbsync__table *t, int64_t tid,
			int which)
{
	int i;

	if (which == TRIGGER_UPDATE && t->ncolumns == 0)
		return;
	dbsync__buf_printf(b, "CREATE TRIGGER dbsync_%" PRId64 "_%s AFTER ",
			   tid, trigger_suffix[which]);
	switch (which) {
	case TRIGGER_INSERT:
		dbsync__buf_append(b, "INSERT ON ");
		dbsync__buf_ident(b, t->name);
		dbsync__buf_append(b, " BEGIN");
		log_insert(b, tid, "NEW", t->pk, "i");
		break;
	case TRIGGER_UPDATE:
		/* Only real changes are logged: a no-op UPDATE compares equal
		 * on every column. A key change is the rekey trigger's.
		 * Comparisons are BINARY: under a column's NOCASE collation
		 * 'abc' -> 'ABC' would look unchanged, and an application's
		 * own collation would not exist in other programs. */
		dbsync__buf_append(b, "UPDATE ON ");
		dbsync__buf_ident(b, t->name);
		dbsync__buf_append(b, " WHEN OLD.");
		dbsync__buf_ident(b, t->pk);
		dbsync__buf_append(b, " IS NEW.");
		dbsync__buf_ident(b, t->pk);
		dbsync__buf_append(b, " COLLATE BINARY AND (");
		for (i = 0; i < t->ncolumns; i++) {
			dbsync__buf_append(b, i ? " OR OLD." : "OLD.");
			dbsync__buf_ident(b, t->columns[i]);
			dbsync__buf_append(b, " IS NOT NEW.");
			dbsync__buf_ident(b, t->columns[i]);
			dbsync__buf_append(b, " COLLATE BINARY");
		}
		dbsync__buf_append(b, ") BEGIN");
		log_insert(b, tid, "NEW", t->pk, "u");
		break;
	case TRIGGER_REKEY:
		/* A new key is a new row to everybody else: delete + insert. */
		dbsync__buf_append(b, "UPDATE OF ");
		dbsync__buf_ident(b, t->pk);
		dbsync__buf_append(b, " ON ");
		dbsync__buf_ident(b, t->name);
		dbsync__buf_append(b, " WHEN OLD.");
		dbsync__buf_ident(b, t->pk);
		dbsync__buf_append(b, " IS NOT NEW.");
		dbsync__buf_ident(b, t->pk);
		dbsync__buf_append(b, " COLLATE BINARY BEGIN");
		log_insert(b, tid, "OLD", t->pk, "d");
		log_insert(b, tid, "NEW", t->pk, "i");
		break;
	case TRIGGER_DELETE:
		dbsync__buf_append(b, "DELETE ON ");
		dbsync__buf_ident(b, t->name);
		dbsync__buf_append(b, " BEGIN");
		log_insert(b, tid, "OLD", t->pk, "d");
		break;
	}
	dbsync__buf_append(b, " END");
}

int dbsync__capture_remove(sqlite3 *db, int64_t tid, dbsync__error *err)
{
	int i, rc = 0;

	for (i = 0; i < TRIGGER_COUNT && !rc; i++) {
		char sql[96];
		snprintf(sql, sizeof(sql),
			 "DROP TRIGGER IF EXISTS dbsync_%" PRId64 "_%s", tid,
			 trigger_suffix[i]);
		rc = dbsync__sql_exec(db, sql, err,
				      "cannot remove the capture triggers");
	}
	return rc;
}

int dbsync__capture_install(sqlite3 *db, const dbsync__table *t, int64_t tid,
			    dbsync__error *err)
{
	int i, rc = dbsync__capture_remove(db, tid, err);

	for (i = 0; i < TRIGGER_COUNT && !rc; i++) {
		dbsync__buf b;

		dbsync__buf_init(&b);
		trigger_sql(&b, t, tid, i);
		if (b.failed)
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
		else if (b.len)
			rc = dbsync__sql_exec(
				db, b.data, err,
				"cannot install the capture triggers");
		dbsync__buf_free(&b);
	}
	return rc;
}

/* 1 if every trigger of `tid` in sqlite_schema is exactly what `t` needs. */
static int triggers_current(sqlite3 *db, const dbsync__table *t, int64_t tid,
			    dbsync__error *err)
{
	sqlite3_stmt *st;
	int i, rc, current = 1;

	rc = dbsync__sql_prepare(db,
				 "SELECT sql FROM sqlite_schema"
				 " WHERE type = 'trigger' AND name = ?1",
				 &st, err, "cannot read the capture triggers");
	if (rc)
		return rc;
	for (i = 0; i < TRIGGER_COUNT && current; i++) {
		char name[64];
		dbsync__buf want;
		const char *have;

		snprintf(name, sizeof(name), "dbsync_%" PRId64 "_%s", tid,
			 trigger_suffix[i]);
		dbsync__buf_init(&want);
		trigger_sql(&want, t, tid, i);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		have = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0)
					: NULL;
		if (want.failed)
			current = -1;
		else if (want.len == 0)
			current = have == NULL;
		else
			current = have && strcmp(have, want.data) == 0;
		dbsync__buf_free(&want);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			break;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the capture triggers");
	if (current < 0)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	return current;
}

/* A table whose triggers are stale, found by a pass over the registry. */
struct stale {
	int64_t tid;
	char *name;
};

static int find_stale(sqlite3 *db, struct stale **out, int *count,
		      dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, n = 0, cap = 0;
	struct stale *list = NULL;

	rc = dbsync__sql_prepare(db,
				 "SELECT tid, name FROM dbsync_tracked"
				 " WHERE direction <> 'pull' ORDER BY tid",
				 &st, err, "cannot read the tracked tables");
	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dbsync__table t;
		dbsync__error ignored;
		int64_t tid = sqlite3_column_int64(st, 0);
		const char *name = (const char *)sqlite3_column_text(st, 1);
		int current;

		/* A dropped table has no triggers to refresh until it is
		 * created again. */
		if (dbsync__table_describe(db, name, &t, &ignored))
			continue;
		current = triggers_current(db, &t, tid, err);
		dbsync__table_clear(&t);
		if (current < 0) {
			rc = current;
			break;
		}
		if (current)
			continue;
		if (n == cap) {
			struct stale *p;
			cap = cap ? cap * 2 : 4;
			p = realloc(list, (size_t)cap * sizeof(*p));
			if (!p) {
				rc = dbsync__error_set(err, DBSYNC_NOMEM,
						       "out of memory");
				break;
			}
			list = p;
		}
		list[n].tid = tid;
		list[n].name = strdup(name);
		if (!list[n++].name) {
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc < 0) {
		while (n > 0)
			free(list[--n].name);
		free(list);
		return rc;
	}
	if (rc != SQLITE_DONE) {
		while (n > 0)
			free(list[--n].name);
		free(list);
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the tracked tables");
	}
	*out = list;
	*count = n;
	return 0;
}

int dbsync__capture_refresh(sqlite3 *db, dbsync__error *err)
{
	struct stale *stale = NULL;
	int i, n = 0, rc;

	rc = find_stale(db, &stale, &n, err);
	if (rc || n == 0)
		return rc;
	rc = dbsync__sql_begin_write(db, err);
	for (i = 0; i < n && !rc; i++) {
		dbsync__table t;
		/* Described again under the write lock: the schema may have
		 * moved since the read above. */
		if (dbsync__table_describe(db, stale[i].name, &t, err) == 0) {
			rc = dbsync__capture_install(db, &t, stale[i].tid, err);
			dbsync__table_clear(&t);
		} else {
			dbsync__error_clear(err);
		}
	}
	if (!rc)
		rc = dbsync__sql_commit(db, err);
	if (rc)
		dbsync__sql_rollback(db);
	for (i = 0; i < n; i++)
		free(stale[i].name);
	free(stale);
	return rc;
}

int dbsync__capture_suppress_begin(sqlite3 *db, int64_t *mark,
				   dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_get_autocommit(db))
		return dbsync__error_set(err, DBSYNC_ERROR,
					 "capture suppression needs an open "
					 "write transaction");
	/* The mark is an entry of its own on top of the log: seq is a rowid
	 * (max + 1), so once the caller drops the newest pending entries, a
	 * trigger would reuse their numbers below a mark merely read. The
	 * entry names no table and no operation: every reader skips it. */
	rc = dbsync__sql_prepare(db,
				 "INSERT INTO dbsync_log(seq) SELECT"
				 " coalesce(max(seq), 0) + 1 FROM dbsync_log",
				 &st, err, "cannot mark the operations log");
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot mark the operations log");
	*mark = sqlite3_last_insert_rowid(db);
	return 0;
}

int dbsync__capture_suppress_end(sqlite3 *db, int64_t mark,
				 dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc;

	rc = dbsync__sql_prepare(db, "DELETE FROM dbsync_log WHERE seq >= ?1",
				 &st, err, "cannot clean the operations log");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, mark);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot clean the operations log");
	return 0;
}
