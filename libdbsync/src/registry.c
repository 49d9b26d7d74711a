/* registry.c - the tracked-table registry and user-table introspection. */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

#include "sqlutil.h"

static const char *const direction_names[] = {"both", "push", "pull"};

const char *dbsync__direction_name(dbsync_direction d)
{
	if ((int)d < 0 || (int)d > 2)
		return NULL;
	return direction_names[d];
}

int dbsync__direction_parse(const char *s, dbsync_direction *out)
{
	int i;

	for (i = 0; s && i < 3; i++)
		if (strcmp(s, direction_names[i]) == 0) {
			*out = (dbsync_direction)i;
			return 0;
		}
	return DBSYNC_INVALID;
}

static char *dup_text(sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	return strdup(s ? (const char *)s : "");
}

void dbsync__table_clear(dbsync__table *t)
{
	int i;

	free(t->name);
	free(t->pk);
	free(t->pk_type);
	for (i = 0; i < t->ncolumns; i++)
		free(t->columns[i]);
	free(t->columns);
	memset(t, 0, sizeof(*t));
}

static int has_prefix_nocase(const char *s, const char *prefix)
{
	return sqlite3_strnicmp(s, prefix, (int)strlen(prefix)) == 0;
}

/* Finds the table in sqlite_schema and refuses what cannot carry triggers. */
static int find_table(sqlite3 *db, const char *name, dbsync__table *out,
		      dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, is_view = 0, is_virtual = 0;

	rc = dbsync__sql_prepare(db,
				 "SELECT name, type, sql FROM sqlite_schema"
				 " WHERE name = ?1 COLLATE NOCASE"
				 " AND type IN ('table', 'view')",
				 &st, err, "cannot read the schema");
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *sql = (const char *)sqlite3_column_text(st, 2);
		out->name = dup_text(st, 0);
		is_view = strcmp((const char *)sqlite3_column_text(st, 1),
				 "view") == 0;
		is_virtual = sql && has_prefix_nocase(sql, "CREATE VIRTUAL");
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return dbsync__error_set(err, DBSYNC_NOT_FOUND,
					 "no such table: \"%s\"", name);
	if (rc != SQLITE_ROW)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the schema");
	if (!out->name)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (is_view)
		return dbsync__error_set(err, DBSYNC_SCHEMA,
					 "\"%s\" is a view; only tables can "
					 "be tracked", out->name);
	if (is_virtual)
		return dbsync__error_set(err, DBSYNC_SCHEMA,
					 "\"%s\" is a virtual table; only "
					 "ordinary tables can be tracked",
					 out->name);
	if (has_prefix_nocase(out->name, "sqlite_") ||
	    has_prefix_nocase(out->name, "dbsync_"))
		return dbsync__error_set(err, DBSYNC_SCHEMA,
					 "\"%s\" is an internal table and "
					 "cannot be tracked", out->name);
	return 0;
}

/* Reads the columns; exactly one must belong to the declared primary key. */
static int read_columns(sqlite3 *db, dbsync__table *out, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, npk = 0, cap = 0;

	rc = dbsync__sql_prepare(db,
				 "SELECT name, type, pk FROM pragma_table_info(?1)"
				 " ORDER BY cid",
				 &st, err, "cannot read the table's columns");
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, out->name, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 2) > 0) {
			if (npk++ == 0) {
				out->pk = dup_text(st, 0);
				out->pk_type = dup_text(st, 1);
			}
			continue;
		}
		if (out->ncolumns == cap) {
			int ncap = cap ? cap * 2 : 8;
			char **p = realloc(out->columns,
					   (size_t)ncap * sizeof(*p));
			if (!p) {
				rc = SQLITE_NOMEM;
				break;
			}
			out->columns = p;
			cap = ncap;
		}
		out->columns[out->ncolumns++] = dup_text(st, 0);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_NOMEM)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the table's columns");
	if (npk == 0)
		return dbsync__error_set(err, DBSYNC_SCHEMA,
					 "table \"%s\" has no declared primary "
					 "key; dbsync needs a single-column "
					 "primary key", out->name);
	if (npk > 1)
		return dbsync__error_set(err, DBSYNC_SCHEMA,
					 "table \"%s\" has a composite primary "
					 "key (%d columns); dbsync needs a "
					 "single-column primary key",
					 out->name, npk);
	return 0;
}

int dbsync__table_describe(sqlite3 *db, const char *name, dbsync__table *out,
			   dbsync__error *err)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = find_table(db, name, out, err);
	if (!rc)
		rc = read_columns(db, out, err);
	if (rc)
		dbsync__table_clear(out);
	return rc;
}

void dbsync__tracked_clear(dbsync__tracked *t)
{
	free(t->name);
	memset(t, 0, sizeof(*t));
}

int dbsync__registry_find(sqlite3 *db, const char *name, dbsync__tracked *out,
			  dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, found = 0;

	memset(out, 0, sizeof(*out));
	rc = dbsync__sql_prepare(db,
				 "SELECT tid, name, direction FROM dbsync_tracked"
				 " WHERE name = ?1",
				 &st, err, "cannot read the tracked tables");
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->tid = sqlite3_column_int64(st, 0);
		out->name = dup_text(st, 1);
		dbsync__direction_parse(
			(const char *)sqlite3_column_text(st, 2),
			&out->direction);
		found = 1;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the tracked tables");
	if (found && !out->name)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	return found;
}

int dbsync__registry_save(sqlite3 *db, const dbsync__table *t,
			  dbsync_direction direction, int64_t *tid,
			  dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc;

	rc = dbsync__sql_prepare(
		db,
		"INSERT INTO dbsync_tracked(name, direction, pk, pk_type)"
		" VALUES (?1, ?2, ?3, ?4)"
		" ON CONFLICT(name) DO UPDATE SET name = excluded.name,"
		" direction = excluded.direction, pk = excluded.pk,"
		" pk_type = excluded.pk_type"
		" RETURNING tid",
		&st, err, "cannot record the tracked table");
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, dbsync__direction_name(direction), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 3, t->pk, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, t->pk_type, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*tid = sqlite3_column_int64(st, 0);
	rc = rc == SQLITE_ROW ? sqlite3_reset(st) : rc;
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot record the tracked table");
	return 0;
}

/* Runs statements that each take the tid as ?1. */
static int run_for_tid(sqlite3 *db, const char *const *sql, size_t n,
		       int64_t tid, dbsync__error *err, const char *context)
{
	size_t i;

	for (i = 0; i < n; i++) {
		sqlite3_stmt *st;
		int rc = dbsync__sql_prepare(db, sql[i], &st, err, context);
		if (rc)
			return rc;
		sqlite3_bind_int64(st, 1, tid);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return dbsync__error_sqlite(err, db, rc, context);
	}
	return 0;
}

int dbsync__registry_remove(sqlite3 *db, int64_t tid, dbsync__error *err)
{
	static const char *const sql[] = {
		"DELETE FROM dbsync_log WHERE tid = ?1",
		"DELETE FROM dbsync_tracked WHERE tid = ?1",
	};
	return run_for_tid(db, sql, 2, tid, err, "cannot untrack the table");
}

int dbsync__registry_forget_pending(sqlite3 *db, int64_t tid,
				    dbsync__error *err)
{
	static const char *const sql[] = {
		"DELETE FROM dbsync_log WHERE tid = ?1 AND version IS NULL",
	};
	return run_for_tid(db, sql, 1, tid, err,
			   "cannot drop the table's pending operations");
}
