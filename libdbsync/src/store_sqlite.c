/*
 * store_sqlite.c - the embedded server store: one SQLite file.
 *
 * The server database is shaped like a client database (dbsync_tracked,
 * dbsync_log and the same capture triggers, so direct writes by any program
 * are logged atomically with them) plus versions, nodes and nonces. A
 * version covers a contiguous range of log entries: versions are made under
 * the write lock, in log order, so (first_seq, last_seq] ranges never
 * interleave and a pull reads a plain seq range.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "client_schema.h"
#include "meta.h"
#include "oplog.h"
#include "registry.h"
#include "rowsql.h"
#include "sqlutil.h"
#include "unique.h"
#include "store.h"

#define BUSY_TIMEOUT_MS 30000

struct table_stmts {
	int64_t tid;
	dbsync__rowsql sql;
};

struct dbsync__store {
	sqlite3 *db;
	struct table_stmts *stmts;
	size_t nstmts;
	sqlite3_stmt *row_stmt; /* the statement whose row row() handed out */
	dbsync__value *row_values;
	size_t row_cap;
};

static const char server_schema[] =
	"CREATE TABLE IF NOT EXISTS dbsync_versions("
	" id INTEGER PRIMARY KEY,"
	" node_id INTEGER,"
	" push_id TEXT,"
	" created INTEGER NOT NULL,"
	" first_seq INTEGER NOT NULL,"
	" last_seq INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX IF NOT EXISTS dbsync_versions_push"
	" ON dbsync_versions(node_id, push_id) WHERE push_id IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS dbsync_nodes("
	" id INTEGER PRIMARY KEY,"
	" secret BLOB NOT NULL,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS dbsync_nonces("
	" node_id INTEGER NOT NULL,"
	" nonce TEXT NOT NULL,"
	" ts INTEGER NOT NULL,"
	" PRIMARY KEY (node_id, nonce)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS dbsync_nonces_ts ON dbsync_nonces(ts);";

static void finalize_stmts(dbsync__store *s)
{
	size_t k;

	for (k = 0; k < s->nstmts; k++)
		dbsync__rowsql_finalize(&s->stmts[k].sql);
	free(s->stmts);
	s->stmts = NULL;
	s->nstmts = 0;
	s->row_stmt = NULL;
}

static void sq_close(dbsync__store *s)
{
	if (!s)
		return;
	finalize_stmts(s);
	free(s->row_values);
	sqlite3_close_v2(s->db);
	free(s);
}

static int sq_open(dbsync__store **out, const char *location,
		   dbsync__error *err)
{
	dbsync__store *s;
	int rc;

	*out = NULL;
	if (!location || !*location)
		return dbsync__error_set(err, DBSYNC_INVALID,
					 "sqlite store needs a path "
					 "(sqlite:PATH)");
	s = calloc(1, sizeof(*s));
	if (!s)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	rc = sqlite3_open_v2(location, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		rc = dbsync__error_sqlite(err, s->db, rc,
					  "cannot open the store");
	} else {
		sqlite3_extended_result_codes(s->db, 1);
		sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
		/* WAL lets pulls read while a push writes. */
		rc = dbsync__sql_exec(s->db,
				      "PRAGMA journal_mode = WAL;"
				      "PRAGMA foreign_keys = ON",
				      err, "cannot open the store");
		if (!rc)
			rc = dbsync__client_schema_ensure(s->db, err);
		if (!rc)
			rc = dbsync__sql_exec(s->db, server_schema, err,
					      "cannot create the server tables");
		if (!rc)
			rc = dbsync__capture_refresh(s->db, err);
	}
	if (rc) {
		dbsync__error_prefix(err, location);
		sq_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int sq_begin(dbsync__store *s, int write, dbsync__error *err)
{
	return write ? dbsync__sql_begin_write(s->db, err)
		     : dbsync__sql_begin_read(s->db, err);
}

/* A row handed out by sq_row keeps its statement open; it must not
 * outlive the transaction, or the connection keeps reading an old
 * snapshot and its next write fails with SQLITE_BUSY_SNAPSHOT. */
static void release_row(dbsync__store *s)
{
	if (s->row_stmt) {
		sqlite3_reset(s->row_stmt);
		s->row_stmt = NULL;
	}
}

static int sq_commit(dbsync__store *s, dbsync__error *err)
{
	int rc;

	release_row(s);
	rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	/* Foreign keys are deferred in a push: a dangling reference or a
	 * parent deleted under its children shows up here. */
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return dbsync__error_set(err, DBSYNC_CONFLICT,
					 "the push breaks a foreign key "
					 "(a row refers to one that does not "
					 "exist)");
	if (rc != SQLITE_OK)
		return dbsync__error_sqlite(err, s->db, rc, "cannot commit");
	return 0;
}

static void sq_rollback(dbsync__store *s)
{
	release_row(s);
	dbsync__sql_rollback(s->db);
}

static int sq_exec(dbsync__store *s, const char *sql, dbsync__error *err)
{
	int rc = dbsync__sql_begin_write(s->db, err);

	if (!rc)
		rc = dbsync__sql_exec(s->db, sql, err, "schema failed");
	if (!rc)
		rc = dbsync__sql_commit(s->db, err);
	if (rc)
		dbsync__sql_rollback(s->db);
	finalize_stmts(s); /* the schema may have changed under them */
	return rc;
}

static int sq_track(dbsync__store *s, const char *table, dbsync__error *err)
{
	dbsync__table t;
	int64_t tid;
	int rc = dbsync__sql_begin_write(s->db, err);

	if (rc)
		return rc;
	rc = dbsync__table_describe(s->db, table, &t, err);
	if (!rc) {
		rc = dbsync__registry_save(s->db, &t, DBSYNC_DIRECTION_BOTH,
					   &tid, err);
		if (!rc)
			rc = dbsync__capture_install(s->db, &t, tid, err);
		dbsync__table_clear(&t);
	}
	if (!rc)
		rc = dbsync__sql_commit(s->db, err);
	if (rc)
		dbsync__sql_rollback(s->db);
	finalize_stmts(s);
	return rc;
}

/* Single-column foreign keys that refer to a primary key (the parent's
 * "to" column is empty or is its key). */
static int read_refs(sqlite3 *db, dbsync__store_table *t, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, nomem = 0;

	rc = dbsync__sql_prepare(
		db,
		"SELECT f.\"table\", f.\"from\" FROM pragma_foreign_key_list(?1) f"
		" WHERE (SELECT count(*) FROM pragma_foreign_key_list(?1) g"
		"        WHERE g.id = f.id) = 1"
		" AND (f.\"to\" IS NULL OR f.\"to\" = (SELECT name FROM"
		"      pragma_table_info(f.\"table\") WHERE pk = 1"
		"      AND (SELECT count(*) FROM pragma_table_info(f.\"table\")"
		"           WHERE pk > 0) = 1) COLLATE NOCASE)",
		&st, err, "cannot read a table's references");
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	while (!nomem && (rc = sqlite3_step(st)) == SQLITE_ROW)
		nomem = dbsync__store_add_ref(
			t, (const char *)sqlite3_column_text(st, 1),
			(const char *)sqlite3_column_text(st, 0),
			sqlite3_stricmp);
	sqlite3_finalize(st);
	if (nomem)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read a table's references");
	return 0;
}

/* Columns (pk included, in order) and referenced tables of one table. */
static int describe(sqlite3 *db, dbsync__store_table *t, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, nomem = 0;

	rc = dbsync__sql_prepare(db,
				 "SELECT name, pk FROM pragma_table_info(?1)"
				 " ORDER BY cid",
				 &st, err, "cannot read a table's columns");
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	while (!nomem && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *col = (const char *)sqlite3_column_text(st, 0);
		if (sqlite3_column_int(st, 1) > 0) {
			t->pk_index = t->ncolumns;
			t->pk = strdup(col);
			nomem = !t->pk;
		}
		nomem = nomem || dbsync__store_push_string(&t->columns,
							   &t->ncolumns, col);
	}
	sqlite3_finalize(st);
	if (nomem)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read a table's columns");
	if (!t->pk)
		return dbsync__error_set(err, DBSYNC_SCHEMA,
					 "tracked table \"%s\" lost its primary "
					 "key", t->name);

	rc = dbsync__sql_prepare(db,
				 "SELECT DISTINCT \"table\" FROM"
				 " pragma_foreign_key_list(?1)"
				 " WHERE \"table\" <> ?1 COLLATE NOCASE",
				 &st, err, "cannot read a table's references");
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	while (!nomem && (rc = sqlite3_step(st)) == SQLITE_ROW)
		nomem = dbsync__store_push_string(
			&t->parents, &t->nparents,
			(const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (nomem)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read a table's references");
	return read_refs(db, t, err);
}

static int sq_tables(dbsync__store *s, dbsync__store_table **out, size_t *n,
		     dbsync__error *err)
{
	dbsync__store_table *list = NULL;
	sqlite3_stmt *st;
	size_t count = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = dbsync__sql_prepare(s->db,
				 "SELECT tid, name FROM dbsync_tracked"
				 " WHERE name IN (SELECT name FROM sqlite_schema"
				 " WHERE type = 'table') ORDER BY tid",
				 &st, err, "cannot read the tracked tables");
	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dbsync__store_table *p =
			realloc(list, (count + 1) * sizeof(*p));
		if (!p) {
			rc = SQLITE_NOMEM;
			break;
		}
		list = p;
		memset(&list[count], 0, sizeof(*list));
		list[count].tid = sqlite3_column_int64(st, 0);
		list[count].name =
			strdup((const char *)sqlite3_column_text(st, 1));
		if (!list[count++].name) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE) {
		size_t k;
		rc = 0;
		for (k = 0; k < count && !rc; k++)
			rc = describe(s->db, &list[k], err);
	} else if (rc == SQLITE_NOMEM) {
		rc = dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	} else {
		rc = dbsync__error_sqlite(err, s->db, rc,
					  "cannot read the tracked tables");
	}
	if (rc) {
		dbsync__store_tables_free(list, count);
		return rc;
	}
	dbsync__store_tables_order(list, count);
	*out = list;
	*n = count;
	return 0;
}

static int sq_candidates(dbsync__store *s, char ***out, size_t *n,
			 dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, nomem = 0;

	*out = NULL;
	*n = 0;
	rc = dbsync__sql_prepare(
		s->db,
		"SELECT m.name FROM sqlite_schema m"
		" WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
		" AND m.name NOT LIKE 'dbsync\\_%' ESCAPE '\\'"
		" AND m.sql NOT LIKE 'CREATE VIRTUAL%'"
		" AND (SELECT count(*) FROM pragma_table_info(m.name)"
		"      WHERE pk > 0) = 1"
		" ORDER BY m.name",
		&st, err, "cannot list the tables");
	if (rc)
		return rc;
	while (!nomem && (rc = sqlite3_step(st)) == SQLITE_ROW)
		nomem = dbsync__store_push_string(
			out, n, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (nomem || rc != SQLITE_DONE) {
		dbsync__store_strings_clear(out, n);
		return nomem ? dbsync__error_set(err, DBSYNC_NOMEM,
						 "out of memory")
			     : dbsync__error_sqlite(err, s->db, rc,
						    "cannot list the tables");
	}
	return 0;
}

/* Run a statement that returns at most one integer; *found says if it did. */
static int query_int(sqlite3 *db, const char *sql, const int64_t *args,
		     int nargs, int64_t *value, int *found, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, k;

	rc = dbsync__sql_prepare(db, sql, &st, err, "store query failed");
	if (rc)
		return rc;
	for (k = 0; k < nargs; k++)
		sqlite3_bind_int64(st, k + 1, args[k]);
	rc = sqlite3_step(st);
	if (found)
		*found = rc == SQLITE_ROW &&
			 sqlite3_column_type(st, 0) != SQLITE_NULL;
	if (rc == SQLITE_ROW && value)
		*value = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc, "store query failed");
	return 0;
}

static int sq_node_create(dbsync__store *s, const void *secret, size_t len,
			  int64_t now, int64_t *id, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc;

	rc = dbsync__sql_prepare(s->db,
				 "INSERT INTO dbsync_nodes(secret, created)"
				 " VALUES (?1, ?2)",
				 &st, err, "cannot register the node");
	if (rc)
		return rc;
	sqlite3_bind_blob(st, 1, secret, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, s->db, rc,
					    "cannot register the node");
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

static int sq_node_secret(dbsync__store *s, int64_t id, unsigned char **secret,
			  size_t *len, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc;

	*secret = NULL;
	rc = dbsync__sql_prepare(s->db,
				 "SELECT secret FROM dbsync_nodes WHERE id = ?1",
				 &st, err, "cannot read the node");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(st, 0);
		*secret = malloc(*len ? *len : 1);
		if (*secret)
			memcpy(*secret, sqlite3_column_blob(st, 0), *len);
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return dbsync__error_set(err, DBSYNC_NOT_FOUND, "unknown node");
	if (rc != SQLITE_ROW)
		return dbsync__error_sqlite(err, s->db, rc,
					    "cannot read the node");
	if (!*secret)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	return 0;
}

static int sq_nonce_use(dbsync__store *s, int64_t node, const char *nonce,
			int64_t now, int64_t oldest, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc;

	rc = dbsync__sql_prepare(s->db,
				 "DELETE FROM dbsync_nonces WHERE ts < ?1",
				 &st, err, "cannot record the nonce");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, oldest);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, s->db, rc,
					    "cannot record the nonce");
	rc = dbsync__sql_prepare(s->db,
				 "INSERT INTO dbsync_nonces(node_id, nonce, ts)"
				 " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
				 &st, err, "cannot record the nonce");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, node);
	sqlite3_bind_text(st, 2, nonce, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, s->db, rc,
					    "cannot record the nonce");
	if (sqlite3_changes(s->db) == 0)
		return dbsync__error_set(err, DBSYNC_AUTH,
					 "request signature rejected");
	return 0;
}

static int last_versioned_seq(sqlite3 *db, int64_t *seq, dbsync__error *err)
{
	*seq = 0;
	return query_int(db, "SELECT max(last_seq) FROM dbsync_versions", NULL,
			 0, seq, NULL, err);
}

static int max_seq(sqlite3 *db, int64_t *seq, dbsync__error *err)
{
	*seq = 0;
	return query_int(db, "SELECT max(seq) FROM dbsync_log", NULL, 0, seq,
			 NULL, err);
}

/* Make a version of the log entries above `first_after`, if any. */
static int make_version(sqlite3 *db, int64_t first_after, int has_node,
			int64_t node, const char *push_id, int64_t now,
			int64_t *version, dbsync__error *err)
{
	sqlite3_stmt *st;
	int64_t last;
	int rc;

	*version = 0;
	rc = max_seq(db, &last, err);
	if (rc || last <= first_after)
		return rc;
	rc = dbsync__sql_prepare(db,
				 "INSERT INTO dbsync_versions(node_id, push_id,"
				 " created, first_seq, last_seq)"
				 " VALUES (?1, ?2, ?3, ?4, ?5)",
				 &st, err, "cannot record the version");
	if (rc)
		return rc;
	if (has_node)
		sqlite3_bind_int64(st, 1, node);
	if (push_id)
		sqlite3_bind_text(st, 2, push_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, first_after + 1);
	sqlite3_bind_int64(st, 5, last);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot record the version");
	*version = sqlite3_last_insert_rowid(db);
	return 0;
}

static int sq_fold_direct_writes(dbsync__store *s, int64_t now,
				 dbsync__error *err)
{
	int64_t after, version;
	int rc = last_versioned_seq(s->db, &after, err);

	if (!rc)
		rc = make_version(s->db, after, 0, 0, NULL, now, &version, err);
	return rc;
}

static int sq_latest_version(dbsync__store *s, int64_t *version,
			     dbsync__error *err)
{
	*version = 0;
	return query_int(s->db, "SELECT max(id) FROM dbsync_versions", NULL, 0,
			 version, NULL, err);
}

static int sq_find_push(dbsync__store *s, int64_t node, const char *push_id,
			int64_t *version, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, found;

	rc = dbsync__sql_prepare(s->db,
				 "SELECT id FROM dbsync_versions"
				 " WHERE node_id = ?1 AND push_id = ?2",
				 &st, err, "cannot look up the push");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, node);
	sqlite3_bind_text(st, 2, push_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	found = rc == SQLITE_ROW;
	if (found)
		*version = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, s->db, rc,
					    "cannot look up the push");
	return found;
}

static int sq_apply_begin(dbsync__store *s, int64_t *mark, dbsync__error *err)
{
	/* Foreign keys are checked at commit, so rows of a self-referencing
	 * table may arrive children-first (SQLite resets this at commit). */
	int rc = dbsync__sql_exec(s->db, "PRAGMA defer_foreign_keys = ON", err,
				  "cannot apply the push");
	return rc ? rc : max_seq(s->db, mark, err);
}

static int sq_apply_end(dbsync__store *s, int64_t mark, int64_t node,
			const char *push_id, int64_t now, int64_t *version,
			dbsync__error *err)
{
	return make_version(s->db, mark, 1, node, push_id, now, version, err);
}

static int table_stmts(dbsync__store *s, const dbsync__store_table *t,
		       struct table_stmts **out, dbsync__error *err)
{
	struct table_stmts *p;
	size_t k;
	int rc;

	for (k = 0; k < s->nstmts; k++)
		if (s->stmts[k].tid == t->tid) {
			*out = &s->stmts[k];
			return 0;
		}
	p = realloc(s->stmts, (s->nstmts + 1) * sizeof(*p));
	if (!p)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	s->stmts = p;
	p = &s->stmts[s->nstmts];
	memset(p, 0, sizeof(*p));
	p->tid = t->tid;
	{
		dbsync__rowsql_table rt = {t->name, t->pk, t->columns,
					   t->ncolumns, t->pk_index};
		rc = dbsync__rowsql_prepare(s->db, &rt, &p->sql, err);
	}
	if (rc) {
		dbsync__rowsql_finalize(&p->sql);
		return rc;
	}
	s->nstmts++;
	*out = p;
	return 0;
}

static int sq_apply(dbsync__store *s, const dbsync__store_table *t, char op,
		    const dbsync__value *pk, const dbsync__value *row,
		    dbsync__error *err)
{
	struct table_stmts *ts;
	sqlite3_stmt *st;
	size_t k;
	int rc = table_stmts(s, t, &ts, err);

	if (rc)
		return rc;
	if (s->row_stmt) {
		sqlite3_reset(s->row_stmt);
		s->row_stmt = NULL;
	}
	if (op == 'i' || op == 'u') {
		st = ts->sql.upsert;
		for (k = 0; k < t->ncolumns; k++)
			dbsync__sql_bind_value(st, (int)k + 1, &row[k]);
	} else {
		st = ts->sql.del;
		dbsync__sql_bind_value(st, 1, pk);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE)
		return dbsync__error_set(err, DBSYNC_UNIQUE_CONFLICT,
					 "operation on \"%s\" collides with "
					 "another row on a unique constraint: %s",
					 t->name, sqlite3_errmsg(s->db));
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return dbsync__error_set(err, DBSYNC_CONFLICT,
					 "operation on \"%s\" violates a "
					 "constraint: %s",
					 t->name, sqlite3_errmsg(s->db));
	if ((rc & 0xff) == SQLITE_MISMATCH)
		return dbsync__error_set(err, DBSYNC_CONFLICT,
					 "operation on \"%s\": a value does "
					 "not fit its column (an INTEGER "
					 "PRIMARY KEY takes integers only)",
					 t->name);
	return dbsync__error_sqlite(err, s->db, rc, "cannot apply the push");
}

static int sq_unique_free(dbsync__store *s, const dbsync__store_table *t,
			  const dbsync__value *pk, dbsync__error *err)
{
	dbsync__table_shape shape = {t->name, t->columns, t->ncolumns,
				     t->pk_index};
	dbsync__unique_indexes u;
	size_t k;
	int rc;

	memset(&u, 0, sizeof(u));
	if (s->row_stmt) {
		sqlite3_reset(s->row_stmt);
		s->row_stmt = NULL;
	}
	rc = dbsync__unique_load(s->db, &shape, &u, err);
	for (k = 0; !rc && k < u.n; k++)
		rc = dbsync__unique_move_aside(s->db, &shape, &u.idx[k], pk,
					       err);
	dbsync__unique_free(&u);
	return rc;
}

static int sq_row(dbsync__store *s, const dbsync__store_table *t,
		  const dbsync__value *pk, const dbsync__value **values,
		  dbsync__error *err)
{
	struct table_stmts *ts;
	size_t k;
	int rc = table_stmts(s, t, &ts, err);

	if (rc)
		return rc;
	if (s->row_stmt)
		sqlite3_reset(s->row_stmt);
	s->row_stmt = NULL;
	if (t->ncolumns > s->row_cap) {
		dbsync__value *p = realloc(s->row_values,
					   t->ncolumns * sizeof(*p));
		if (!p)
			return dbsync__error_set(err, DBSYNC_NOMEM,
						 "out of memory");
		s->row_values = p;
		s->row_cap = t->ncolumns;
	}
	dbsync__sql_bind_value(ts->sql.select, 1, pk);
	rc = sqlite3_step(ts->sql.select);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(ts->sql.select);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		rc = dbsync__error_sqlite(err, s->db, rc, "cannot read a row");
		sqlite3_reset(ts->sql.select);
		return rc;
	}
	for (k = 0; k < t->ncolumns; k++)
		dbsync__sql_column_value(ts->sql.select, (int)k, &s->row_values[k]);
	/* The values point into the statement's row: keep it until the
	 * next call. */
	s->row_stmt = ts->sql.select;
	*values = s->row_values;
	return 1;
}

/* last_seq of the newest version at or below `version` (0 if none). */
static int seq_of_version(sqlite3 *db, int64_t version, int64_t *seq,
			  dbsync__error *err)
{
	*seq = 0;
	return query_int(db,
			 "SELECT last_seq FROM dbsync_versions WHERE id <= ?1"
			 " ORDER BY id DESC LIMIT 1",
			 &version, 1, seq, NULL, err);
}

static int sq_changes(dbsync__store *s, int64_t after, int64_t target,
		      int64_t cursor, size_t max,
		      int (*fn)(void *payload, const dbsync__store_change *c),
		      void *payload, int *more, int64_t *next,
		      dbsync__error *err)
{
	int64_t lo = 0, hi = 0;
	int rc = 0;

	*more = 0;
	if (after > 0)
		rc = seq_of_version(s->db, after, &lo, err);
	if (!rc)
		rc = seq_of_version(s->db, target, &hi, err);
	if (rc)
		return rc;
	if (cursor > lo)
		lo = cursor;
	return dbsync__store_fold_changes(s->db, lo, hi, max, fn, payload, more,
					  next, err);
}

static int sq_versions(dbsync__store *s, int64_t after, int64_t target,
		       int (*fn)(void *payload, const dbsync__store_version *v),
		       void *payload, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, stop = 0;

	rc = dbsync__sql_prepare(s->db,
				 "SELECT id, node_id, push_id, created"
				 " FROM dbsync_versions"
				 " WHERE id > ?1 AND id <= ?2 ORDER BY id",
				 &st, err, "cannot read the versions");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, target);
	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		dbsync__store_version v;
		const unsigned char *push = sqlite3_column_text(st, 2);

		memset(&v, 0, sizeof(v));
		v.id = sqlite3_column_int64(st, 0);
		v.has_node = sqlite3_column_type(st, 1) != SQLITE_NULL;
		v.node_id = sqlite3_column_int64(st, 1);
		if (push)
			snprintf(v.push_id, sizeof(v.push_id), "%s",
				 (const char *)push);
		v.created = sqlite3_column_int64(st, 3);
		stop = fn(payload, &v);
	}
	sqlite3_finalize(st);
	if (stop)
		return stop;
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, s->db, rc,
					    "cannot read the versions");
	return 0;
}

static int without_rowid(sqlite3 *db, const char *table, int *yes,
			 dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc = dbsync__sql_prepare(db,
				     "SELECT wr FROM pragma_table_list"
				     " WHERE name = ?1 AND schema = 'main'",
				     &st, err, "cannot read the table list");
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*yes = rc == SQLITE_ROW && sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the table list");
	return 0;
}

static int sq_scan(dbsync__store *s, const dbsync__store_table *t,
		   const dbsync__value *after, size_t max,
		   int (*fn)(void *payload, const dbsync__value *key,
			     const dbsync__value *row),
		   void *payload, int *more, dbsync__error *err)
{
	dbsync__value *row, rowid;
	dbsync__buf b;
	sqlite3_stmt *st;
	size_t k, n = 0;
	int rc, by_key, stop = 0;

	*more = 0;
	rc = without_rowid(s->db, t->name, &by_key, err);
	if (rc)
		return rc;
	/* A cursor, never an offset: rows deleted between two pages must
	 * not move the rows after them. ROWID tables resume after a rowid,
	 * WITHOUT ROWID tables after a key (the comparison and ORDER BY use
	 * the key column's affinity and collation, so they agree). The row
	 * after the last handed out tells whether more remain. */
	dbsync__buf_init(&b);
	dbsync__buf_append(&b, by_key ? "SELECT NULL" : "SELECT rowid");
	for (k = 0; k < t->ncolumns; k++) {
		dbsync__buf_append(&b, ", ");
		dbsync__buf_ident(&b, t->columns[k]);
	}
	dbsync__buf_append(&b, " FROM ");
	dbsync__buf_ident(&b, t->name);
	if (after) {
		dbsync__buf_append(&b, " WHERE ");
		if (by_key)
			dbsync__buf_ident(&b, t->pk);
		else
			dbsync__buf_append(&b, "rowid");
		dbsync__buf_append(&b, " > ?1");
	}
	dbsync__buf_append(&b, " ORDER BY ");
	if (by_key)
		dbsync__buf_ident(&b, t->pk);
	else
		dbsync__buf_append(&b, "rowid");
	dbsync__buf_append(&b, " LIMIT ?2");
	rc = b.failed ? dbsync__error_set(err, DBSYNC_NOMEM, "out of memory")
		      : dbsync__sql_prepare(s->db, b.data, &st, err,
					    "cannot read a table");
	dbsync__buf_free(&b);
	if (rc)
		return rc;
	row = calloc(t->ncolumns ? t->ncolumns : 1, sizeof(*row));
	if (!row) {
		sqlite3_finalize(st);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	if (after)
		dbsync__sql_bind_value(st, 1, after);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max + 1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == max) {
			*more = 1;
			break;
		}
		for (k = 0; k < t->ncolumns; k++)
			dbsync__sql_column_value(st, (int)k + 1, &row[k]);
		n++;
		memset(&rowid, 0, sizeof(rowid));
		rowid.type = DBSYNC_TYPE_INTEGER;
		rowid.i = sqlite3_column_int64(st, 0);
		stop = fn(payload, by_key ? &row[t->pk_index] : &rowid, row);
		if (stop)
			break;
	}
	sqlite3_finalize(st);
	free(row);
	if (stop == DBSYNC_NOMEM)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (stop)
		return stop; /* 1: the caller's page is full */
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	return dbsync__error_sqlite(err, s->db, rc, "cannot read a table");
}

static int sq_trimmed(dbsync__store *s, int64_t *through, dbsync__error *err)
{
	int rc = dbsync__meta_get_int(s->db, "trimmed_through", through, err);

	if (rc == 0)
		*through = 0;
	return rc < 0 ? rc : 0;
}

static int sq_trim(dbsync__store *s, int64_t through, dbsync__error *err)
{
	int64_t seq = 0, done = 0, latest = 0;
	int rc = sq_trimmed(s, &done, err);

	if (!rc)
		rc = sq_latest_version(s, &latest, err);
	if (!rc && through > latest)
		through = latest;
	if (rc || through <= done)
		return rc;
	rc = seq_of_version(s->db, through, &seq, err);
	if (!rc) {
		sqlite3_stmt *st;
		/* The newest entry stays: rowids come from max(seq) + 1, and
		 * versions are seq ranges, so seq must never go back. It is
		 * never read again (nodes behind the trim repair instead). */
		rc = dbsync__sql_prepare(s->db,
					 "DELETE FROM dbsync_log WHERE seq <= ?1"
					 " AND seq < (SELECT max(seq)"
					 " FROM dbsync_log)",
					 &st, err, "cannot trim the log");
		if (!rc) {
			sqlite3_bind_int64(st, 1, seq);
			rc = sqlite3_step(st);
			sqlite3_finalize(st);
			rc = rc == SQLITE_DONE
				     ? 0
				     : dbsync__error_sqlite(err, s->db, rc,
							    "cannot trim the log");
		}
	}
	if (!rc)
		rc = dbsync__meta_set_int(s->db, "trimmed_through", through,
					  err);
	return rc;
}

const dbsync__store_ops dbsync__store_sqlite = {
	.kind = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.exec = sq_exec,
	.track = sq_track,
	.tables = sq_tables,
	.candidates = sq_candidates,
	.node_create = sq_node_create,
	.node_secret = sq_node_secret,
	.nonce_use = sq_nonce_use,
	.fold_direct_writes = sq_fold_direct_writes,
	.latest_version = sq_latest_version,
	.find_push = sq_find_push,
	.apply_begin = sq_apply_begin,
	.apply = sq_apply,
	.unique_free = sq_unique_free,
	.apply_end = sq_apply_end,
	.changes = sq_changes,
	.versions = sq_versions,
	.row = sq_row,
	.scan = sq_scan,
	.trim = sq_trim,
	.trimmed = sq_trimmed,
};
