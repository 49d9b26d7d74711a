/*
 * store_pg.c - the PostgreSQL store: connection, transactions, nodes and
 * nonces, versions, applying pushes. Reading for pulls and repairs is in
 * store_pg_read.c, value conversions in store_pg_value.c, the schema and
 * capture triggers in store_pg_schema.c.
 *
 * The schema is shaped like the SQLite store's (store_pg_schema.c):
 * dbsync_log is written by PL/pgSQL capture triggers in the writer's own
 * transaction, whoever the writer is (a push, psql, an application), and a
 * version covers a contiguous range (first_seq, last_seq] of it.
 *
 * Why a range stays complete although seqs come from a sequence and
 * concurrent transactions commit in any order: every writer of the log
 * holds the version lock in SHARED mode (pg_advisory_xact_lock_shared,
 * taken by the capture triggers before the statement touches a row, held
 * until its transaction ends), and a version is only made under the same
 * lock in EXCLUSIVE mode (fold_direct_writes, apply_begin, trim). So while
 * a version is made, no other transaction has uncommitted log entries, and
 * none can take a seq until the version is committed; dbsync_log_seq has
 * CACHE 1, so every later seq is larger. Hence "every entry above the last
 * version's last_seq" is exactly the committed, unversioned entries, and no
 * entry can ever appear inside a range already given to a version: a pull
 * reading a seq range never skips one that commits late. Seqs of rolled-back
 * transactions are merely gaps inside a range.
 *
 * The price: a direct write waits while a version is being made (the length
 * of a push), and making a version waits for open direct-write transactions
 * to end, up to lock_timeout (then DBSYNC_BUSY) - as the SQLite store waits
 * for its file lock. Pushes serialize on the exclusive lock: the base check,
 * the writes and the new version of one push happen under it, so of two
 * pushes on the same base exactly one wins, whichever process runs them.
 * Pulls read one REPEATABLE READ snapshot and take no lock, except the fold
 * of pending direct writes before it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oplog.h"
#include "rowsql.h"
#include "store_pg.h"

/* How long a statement waits for a lock (the version lock, a row an
 * application holds) before the request fails with DBSYNC_BUSY. */
#define LOCK_TIMEOUT "30s"
/* How long opening waits for the server, unless the URL says otherwise. */
#define CONNECT_TIMEOUT "10"

/* ---- errors and statements ------------------------------------------ */

const char *dbsync__pg_sqlstate(const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return st ? st : "";
}

/* The first line of a libpq message (they run on over several). */
static const char *first_line(const char *msg, char *out, size_t cap)
{
	size_t n;

	if (!msg)
		msg = "";
	n = strcspn(msg, "\n");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, msg, n);
	out[n] = '\0';
	return out;
}

int dbsync__pg_error(dbsync__error *err, PGconn *conn, const PGresult *res,
		     const char *context)
{
	const char *state = dbsync__pg_sqlstate(res);
	const char *msg =
		res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char line[200];
	int code = DBSYNC_DB;

	if (!msg)
		msg = conn ? PQerrorMessage(conn) : "";
	/* lock_timeout, deadlock, serialization failure, too many
	 * connections: the request may succeed when retried. */
	if (strcmp(state, "55P03") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "53300") == 0)
		code = DBSYNC_BUSY;
	else if (strcmp(state, "53200") == 0)
		code = DBSYNC_NOMEM;
	return dbsync__error_set(err, code, "%s: %s", context,
				 first_line(msg, line, sizeof(line)));
}

int dbsync__pg_exec(dbsync__store *s, const char *sql, int n,
		    const char *const *params, PGresult **out,
		    dbsync__error *err, const char *context)
{
	PGresult *res = PQexecParams(s->conn, sql, n, NULL, params, NULL, NULL,
				     0);
	ExecStatusType st = PQresultStatus(res);
	int rc;

	if (out)
		*out = NULL;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out)
			*out = res;
		else
			PQclear(res);
		return 0;
	}
	if (!res && PQstatus(s->conn) == CONNECTION_OK)
		rc = dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	else
		rc = dbsync__pg_error(err, s->conn, res, context);
	PQclear(res);
	return rc;
}

/* A statement returning at most one int8; *found (may be NULL) says
 * whether it gave a non-NULL one. */
int dbsync__pg_query_int(dbsync__store *s, const char *sql, int n,
		     const char *const *params, int64_t *value, int *found,
		     dbsync__error *err, const char *context)
{
	PGresult *res;
	int rc = dbsync__pg_exec(s, sql, n, params, &res, err, context);
	int has;

	if (rc)
		return rc;
	has = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0);
	if (has)
		*value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (found)
		*found = has;
	PQclear(res);
	return 0;
}

void dbsync__pg_int_text(char *buf, size_t cap, int64_t v)
{
	snprintf(buf, cap, "%" PRId64, v);
}

void dbsync__pg_qualified(dbsync__buf *b, const dbsync__store *s,
			  const char *name)
{
	dbsync__buf_append(b, s->qschema);
	dbsync__buf_append(b, ".");
	dbsync__buf_ident(b, name);
}

static void free_params(char **p, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		free(p[k]);
	free(p);
}

/* ---- connection and transactions ------------------------------------ */

static void quiet(void *arg, const char *message)
{
	/* NOTICEs ("relation already exists, skipping") are not errors and
	 * must not land on the server's stderr. */
	(void)arg;
	(void)message;
}

/* Settings of our session; again after a reconnect. */
static int session_setup(dbsync__store *s, dbsync__error *err)
{
	PQsetNoticeProcessor(s->conn, quiet, NULL);
	return dbsync__pg_exec(s,
			       "SELECT set_config('lock_timeout', '" LOCK_TIMEOUT
			       "', false)",
			       0, NULL, NULL, err,
			       "cannot set up the PostgreSQL session");
}

/* A pooled connection the server dropped (restart, idle timeout) is
 * re-established at the next transaction instead of failing forever. */
static int ensure_connected(dbsync__store *s, dbsync__error *err)
{
	char line[200];

	if (PQstatus(s->conn) == CONNECTION_OK)
		return 0;
	PQreset(s->conn);
	if (PQstatus(s->conn) != CONNECTION_OK)
		return dbsync__error_set(
			err, DBSYNC_DB, "lost the connection to PostgreSQL: %s",
			first_line(PQerrorMessage(s->conn), line,
				   sizeof(line)));
	return session_setup(s, err);
}

void dbsync__pg_release_row(dbsync__store *s)
{
	PQclear(s->row_res);
	s->row_res = NULL;
	dbsync__pg_blobs_release(s);
}

/* What one entry of s->tables owns. */
static void table_free(struct dbsync__pg_table *t)
{
	size_t k;

	for (k = 0; k < t->ncolumns; k++)
		free(t->columns[k]);
	free(t->columns);
	free(t->upsert);
	free(t->del);
	free(t->select);
}

static void tables_clear(dbsync__store *s)
{
	size_t k;

	for (k = 0; k < s->ntables; k++)
		table_free(&s->tables[k]);
	free(s->tables);
	s->tables = NULL;
	s->ntables = 0;
}

static void pg_close(dbsync__store *s)
{
	if (!s)
		return;
	dbsync__pg_release_row(s);
	tables_clear(s);
	free(s->row_values);
	free(s->blobs);
	free(s->schema);
	free(s->qschema);
	sqlite3_close_v2(s->fold);
	PQfinish(s->conn);
	free(s);
}

static int read_schema(dbsync__store *s, dbsync__error *err)
{
	PGresult *res;
	dbsync__buf b;
	int rc = dbsync__pg_exec(
		s,
		"SELECT current_schema(), (SELECT oid FROM pg_namespace"
		" WHERE nspname = current_schema())::int8",
		0, NULL, &res, err, "cannot read the PostgreSQL schema");

	if (rc)
		return rc;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return dbsync__error_set(err, DBSYNC_SCHEMA,
					 "no schema to keep the store in: "
					 "the search_path names no existing "
					 "schema");
	}
	s->schema = strdup(PQgetvalue(res, 0, 0));
	s->ns_oid = (unsigned int)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
	dbsync__pg_int_text(s->ns_param, sizeof(s->ns_param),
			    (int64_t)s->ns_oid);
	PQclear(res);
	dbsync__buf_init(&b);
	dbsync__buf_ident(&b, s->schema ? s->schema : "");
	s->qschema = b.failed ? NULL : b.data;
	if (!s->schema || !s->qschema) {
		dbsync__buf_free(&b);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	return 0;
}

static int pg_open(dbsync__store **out, const char *location,
		   dbsync__error *err)
{
	/* The URL comes last: what it sets wins over these defaults. */
	const char *const keys[] = {"connect_timeout", "application_name",
				    "dbname", NULL};
	const char *const values[] = {CONNECT_TIMEOUT, "dbsyncd", location,
				      NULL};
	dbsync__store *s;
	char line[200];
	int rc;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	s->conn = PQconnectdbParams(keys, values, 1);
	if (!s->conn) {
		free(s);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		/* libpq's message names host and port, never the password. */
		rc = dbsync__error_set(err, DBSYNC_DB,
				       "cannot connect to PostgreSQL: %s",
				       first_line(PQerrorMessage(s->conn),
						  line, sizeof(line)));
	} else {
		rc = session_setup(s, err);
		if (!rc)
			rc = read_schema(s, err);
		if (!rc)
			rc = dbsync__pg_schema_ensure(s, err);
	}
	if (rc) {
		pg_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int pg_begin(dbsync__store *s, int write, dbsync__error *err)
{
	int rc = ensure_connected(s, err);

	dbsync__pg_release_row(s);
	s->locked = 0;
	if (rc)
		return rc;
	if (PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	/* Writers see what others committed up to each statement (they run
	 * under the version lock where it matters); readers one snapshot. */
	return dbsync__pg_exec(s,
			       write ? "BEGIN ISOLATION LEVEL READ COMMITTED"
				     : "BEGIN ISOLATION LEVEL REPEATABLE READ,"
				       " READ ONLY",
			       0, NULL, NULL, err,
			       write ? "cannot start a write transaction"
				     : "cannot start a read transaction");
}

static int pg_commit(dbsync__store *s, dbsync__error *err)
{
	PGresult *res;
	const char *state;
	int rc = 0;

	dbsync__pg_release_row(s);
	s->locked = 0;
	res = PQexec(s->conn, "COMMIT");
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		/* COMMIT of a failed transaction answers ROLLBACK. */
		if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
			rc = dbsync__error_set(err, DBSYNC_DB,
					       "cannot commit: the transaction "
					       "had failed and was rolled "
					       "back");
		PQclear(res);
		return rc;
	}
	/* Deferred constraints are checked here. */
	state = dbsync__pg_sqlstate(res);
	if (strcmp(state, "23503") == 0)
		rc = dbsync__error_set(err, DBSYNC_CONFLICT,
				       "the push breaks a foreign key (a row "
				       "refers to one that does not exist)");
	else if (strcmp(state, "23505") == 0)
		rc = dbsync__error_set(err, DBSYNC_UNIQUE_CONFLICT,
				       "the push collides with another row on "
				       "a unique constraint");
	else if (strncmp(state, "23", 2) == 0)
		rc = dbsync__error_set(err, DBSYNC_CONFLICT,
				       "the push violates a constraint");
	else
		rc = dbsync__pg_error(err, s->conn, res, "cannot commit");
	PQclear(res);
	return rc;
}

static void pg_rollback(dbsync__store *s)
{
	PGTransactionStatusType st = PQtransactionStatus(s->conn);

	dbsync__pg_release_row(s);
	s->locked = 0;
	if (st == PQTRANS_INTRANS || st == PQTRANS_INERROR)
		PQclear(PQexec(s->conn, "ROLLBACK"));
}

static int pg_exec_sql(dbsync__store *s, const char *sql, dbsync__error *err)
{
	PGresult *res;
	ExecStatusType st;
	int rc = ensure_connected(s, err);

	if (rc)
		return rc;
	/* Several statements run as one implicit transaction. */
	res = PQexec(s->conn, sql);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	    st != PGRES_EMPTY_QUERY)
		rc = dbsync__pg_error(err, s->conn, res, "schema failed");
	PQclear(res);
	tables_clear(s); /* the schema may have changed under them */
	return rc;
}

/* ---- nodes and nonces ------------------------------------------------- */

static int pg_node_create(dbsync__store *s, const void *secret, size_t len,
			  int64_t now, int64_t *id, dbsync__error *err)
{
	dbsync__value v = {DBSYNC_TYPE_BLOB, 0, 0, secret, len};
	char when[24], *hex;
	const char *params[2];
	int nomem = 0, found = 0, rc;

	hex = dbsync__pg_param(&v, &nomem);
	if (!hex)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	dbsync__pg_int_text(when, sizeof(when), now);
	params[0] = hex;
	params[1] = when;
	rc = dbsync__pg_query_int(s,
		       "INSERT INTO dbsync_nodes(secret, created)"
		       " VALUES ($1::bytea, $2::int8) RETURNING id",
		       2, params, id, &found, err, "cannot register the node");
	free(hex);
	if (!rc && !found)
		rc = dbsync__error_set(err, DBSYNC_DB,
				       "cannot register the node");
	return rc;
}

static int pg_node_secret(dbsync__store *s, int64_t id, unsigned char **secret,
			  size_t *len, dbsync__error *err)
{
	PGresult *res;
	unsigned char *raw;
	char key[24];
	const char *params[1] = {key};
	size_t n = 0;
	int rc;

	*secret = NULL;
	dbsync__pg_int_text(key, sizeof(key), id);
	rc = dbsync__pg_exec(s,
			     "SELECT secret FROM dbsync_nodes WHERE id = $1::int8",
			     1, params, &res, err, "cannot read the node");
	if (rc)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return dbsync__error_set(err, DBSYNC_NOT_FOUND, "unknown node");
	}
	raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0),
			      &n);
	PQclear(res);
	if (raw) {
		*secret = malloc(n ? n : 1);
		if (*secret)
			memcpy(*secret, raw, n);
		PQfreemem(raw);
	}
	if (!*secret)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	*len = n;
	return 0;
}

static int pg_nonce_use(dbsync__store *s, int64_t node, const char *nonce,
			int64_t now, int64_t oldest, dbsync__error *err)
{
	char n[24], t[24], o[24];
	const char *old[1] = {o}, *params[3] = {n, nonce, t};
	PGresult *res;
	int rc, used;

	dbsync__pg_int_text(n, sizeof(n), node);
	dbsync__pg_int_text(t, sizeof(t), now);
	dbsync__pg_int_text(o, sizeof(o), oldest);
	rc = dbsync__pg_exec(s, "DELETE FROM dbsync_nonces WHERE ts < $1::int8",
			     1, old, NULL, err, "cannot record the nonce");
	if (rc)
		return rc;
	/* The primary key makes a nonce single-use across every process:
	 * of two concurrent inserts, the second waits and then skips. */
	rc = dbsync__pg_exec(s,
			     "INSERT INTO dbsync_nonces(node_id, nonce, ts)"
			     " VALUES ($1::int8, $2, $3::int8)"
			     " ON CONFLICT DO NOTHING",
			     3, params, &res, err, "cannot record the nonce");
	if (rc)
		return rc;
	used = strcmp(PQcmdTuples(res), "0") == 0;
	PQclear(res);
	if (used)
		return dbsync__error_set(err, DBSYNC_AUTH,
					 "request signature rejected");
	return 0;
}

/* ---- versions ----------------------------------------------------------- */

static int version_lock(dbsync__store *s, dbsync__error *err)
{
	char key[24];
	const char *params[1] = {key};
	int rc;

	if (s->locked)
		return 0;
	dbsync__pg_int_text(key, sizeof(key), (int64_t)s->log_oid);
	/* The same key as the capture triggers' shared lock. */
	rc = dbsync__pg_exec(s,
			     "SELECT pg_advisory_xact_lock(1684173689,"
			     " $1::int8::oid::int4)",
			     1, params, NULL, err,
			     "cannot take the version lock");
	s->locked = !rc;
	return rc;
}

/* A version of the log entries above `first_after`, if there are any
 * (*version 0 if not). Under the version lock. */
static int make_version(dbsync__store *s, int64_t first_after, int has_node,
			int64_t node, const char *push_id, int64_t now,
			int64_t *version, dbsync__error *err)
{
	char after[24], who[24], when[24];
	const char *params[4] = {after, has_node ? who : NULL, push_id, when};
	int found = 0, rc;

	*version = 0;
	dbsync__pg_int_text(after, sizeof(after), first_after);
	dbsync__pg_int_text(who, sizeof(who), node);
	dbsync__pg_int_text(when, sizeof(when), now);
	rc = dbsync__pg_query_int(s,
		       "INSERT INTO dbsync_versions(id, node_id, push_id,"
		       " created, first_seq, last_seq)"
		       " SELECT coalesce((SELECT max(id) FROM dbsync_versions),"
		       " 0) + 1, $2::int8, $3, $4::int8, $1::int8 + 1, m"
		       " FROM (SELECT max(seq) AS m FROM dbsync_log"
		       " WHERE seq > $1::int8) l WHERE m IS NOT NULL"
		       " RETURNING id",
		       4, params, version, &found, err,
		       "cannot record the version");
	if (!rc && !found)
		*version = 0;
	return rc;
}

static int pg_fold_direct_writes(dbsync__store *s, int64_t now,
				 dbsync__error *err)
{
	int64_t after = 0, version;
	int rc = version_lock(s, err);

	if (!rc)
		rc = dbsync__pg_query_int(s,
			       "SELECT coalesce(max(last_seq), 0)"
			       " FROM dbsync_versions",
			       0, NULL, &after, NULL, err,
			       "cannot read the versions");
	if (!rc)
		rc = make_version(s, after, 0, 0, NULL, now, &version, err);
	return rc;
}

static int pg_latest_version(dbsync__store *s, int64_t *version,
			     dbsync__error *err)
{
	*version = 0;
	return dbsync__pg_query_int(s, "SELECT coalesce(max(id), 0) FROM dbsync_versions",
			 0, NULL, version, NULL, err,
			 "cannot read the versions");
}

static int pg_find_push(dbsync__store *s, int64_t node, const char *push_id,
			int64_t *version, dbsync__error *err)
{
	char who[24];
	const char *params[2] = {who, push_id};
	int found = 0, rc;

	dbsync__pg_int_text(who, sizeof(who), node);
	rc = dbsync__pg_query_int(s,
		       "SELECT id FROM dbsync_versions"
		       " WHERE node_id = $1::int8 AND push_id = $2",
		       2, params, version, &found, err,
		       "cannot look up the push");
	return rc ? rc : found;
}

static int pg_apply_begin(dbsync__store *s, int64_t *mark, dbsync__error *err)
{
	int rc = version_lock(s, err);

	/* Only constraints declared DEFERRABLE move to commit; the others
	 * hold through the push's order (parents first, children's deletes
	 * first). */
	if (!rc)
		rc = dbsync__pg_exec(s, "SET CONSTRAINTS ALL DEFERRED", 0, NULL,
				     NULL, err, "cannot apply the push");
	*mark = 0;
	if (!rc)
		rc = dbsync__pg_query_int(s,
			       "SELECT greatest((SELECT max(seq) FROM"
			       " dbsync_log), (SELECT max(last_seq) FROM"
			       " dbsync_versions), 0)",
			       0, NULL, mark, NULL, err,
			       "cannot read the operations log");
	return rc;
}

static int pg_apply_end(dbsync__store *s, int64_t mark, int64_t node,
			const char *push_id, int64_t now, int64_t *version,
			dbsync__error *err)
{
	return make_version(s, mark, 1, node, push_id, now, version, err);
}

/* ---- rows ------------------------------------------------------------- */

static int same_columns(const struct dbsync__pg_table *c,
			const dbsync__store_table *t)
{
	size_t k;

	if (c->ncolumns != t->ncolumns)
		return 0;
	for (k = 0; k < t->ncolumns; k++)
		if (strcmp(c->columns[k], t->columns[k]) != 0)
			return 0;
	return 1;
}

static void append_columns(dbsync__buf *b, const dbsync__store_table *t)
{
	size_t k;

	for (k = 0; k < t->ncolumns; k++) {
		if (k)
			dbsync__buf_append(b, ", ");
		dbsync__buf_ident(b, t->columns[k]);
	}
}

void dbsync__pg_select_all(dbsync__buf *b, const dbsync__store *s,
			   const dbsync__store_table *t)
{
	dbsync__buf_append(b, "SELECT ");
	append_columns(b, t);
	dbsync__buf_append(b, " FROM ");
	dbsync__pg_qualified(b, s, t->name);
}

static void append_where_key(dbsync__buf *b, const dbsync__store_table *t)
{
	dbsync__buf_append(b, " WHERE ");
	dbsync__buf_ident(b, t->pk);
	dbsync__buf_append(b, " = $1");
}

static int build_sql(dbsync__store *s, const dbsync__store_table *t,
		     struct dbsync__pg_table *c)
{
	dbsync__buf b;
	size_t k;
	int first = 1;

	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "INSERT INTO ");
	dbsync__pg_qualified(&b, s, t->name);
	dbsync__buf_append(&b, " (");
	append_columns(&b, t);
	dbsync__buf_append(&b, ") VALUES (");
	for (k = 0; k < t->ncolumns; k++)
		dbsync__buf_printf(&b, k ? ", $%zu" : "$%zu", k + 1);
	dbsync__buf_append(&b, ") ON CONFLICT (");
	dbsync__buf_ident(&b, t->pk);
	/* An unchanged row is rewritten but not logged: the capture
	 * trigger's WHEN compares old and new. */
	dbsync__buf_append(&b, t->ncolumns == 1 ? ") DO NOTHING"
						: ") DO UPDATE SET ");
	for (k = 0; k < t->ncolumns && t->ncolumns > 1; k++) {
		if (k == t->pk_index)
			continue;
		if (!first)
			dbsync__buf_append(&b, ", ");
		first = 0;
		dbsync__buf_ident(&b, t->columns[k]);
		dbsync__buf_append(&b, " = EXCLUDED.");
		dbsync__buf_ident(&b, t->columns[k]);
	}
	if (b.failed)
		return DBSYNC_NOMEM;
	c->upsert = b.data;

	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "DELETE FROM ");
	dbsync__pg_qualified(&b, s, t->name);
	append_where_key(&b, t);
	if (b.failed)
		return DBSYNC_NOMEM;
	c->del = b.data;

	dbsync__buf_init(&b);
	dbsync__pg_select_all(&b, s, t);
	append_where_key(&b, t);
	if (b.failed)
		return DBSYNC_NOMEM;
	c->select = b.data;
	return 0;
}

static int has_unique_index(dbsync__store *s, const char *table, int *yes,
			    dbsync__error *err)
{
	const char *params[2] = {table, s->ns_param};
	int64_t v = 0;
	int rc;

	rc = dbsync__pg_query_int(s,
		       "SELECT count(*) FROM pg_index i JOIN pg_class c"
		       " ON c.oid = i.indrelid WHERE c.relname = $1"
		       " AND c.relnamespace = $2::int8::oid AND i.indisunique"
		       " AND NOT i.indisprimary",
		       2, params, &v, NULL, err, "cannot read a table's indexes");
	*yes = v > 0;
	return rc;
}

/* The statements of `t`, built on first use and when its columns moved. */
int dbsync__pg_table_stmts(dbsync__store *s, const dbsync__store_table *t,
		       struct dbsync__pg_table **out, dbsync__error *err)
{
	struct dbsync__pg_table *c = NULL, *p;
	size_t k;
	int rc;

	for (k = 0; k < s->ntables; k++)
		if (s->tables[k].tid == t->tid) {
			if (same_columns(&s->tables[k], t)) {
				*out = &s->tables[k];
				return 0;
			}
			c = &s->tables[k];
			break;
		}
	if (!c) {
		p = realloc(s->tables, (s->ntables + 1) * sizeof(*p));
		if (!p)
			return dbsync__error_set(err, DBSYNC_NOMEM,
						 "out of memory");
		s->tables = p;
		c = &s->tables[s->ntables++];
	} else {
		table_free(c);
	}
	memset(c, 0, sizeof(*c));
	c->tid = t->tid;
	rc = build_sql(s, t, c);
	c->columns = calloc(t->ncolumns ? t->ncolumns : 1, sizeof(char *));
	for (k = 0; !rc && c->columns && k < t->ncolumns; k++) {
		if (!(c->columns[k] = strdup(t->columns[k])))
			rc = DBSYNC_NOMEM;
		c->ncolumns = k + 1;
	}
	if (rc || !c->columns) {
		/* Leave an entry that never matches: rebuilt next time. */
		c->tid = -1;
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	rc = has_unique_index(s, t->name, &c->has_unique, err);
	if (rc) {
		c->tid = -1;
		return rc;
	}
	*out = c;
	return 0;
}

/* A failed write as the push's error. */
static int apply_error(dbsync__store *s, const dbsync__store_table *t,
		       PGresult *res, int recoverable, dbsync__error *err)
{
	const char *state = dbsync__pg_sqlstate(res);
	const char *msg =
		res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char line[160];

	first_line(msg, line, sizeof(line));
	if (strcmp(state, "23505") == 0 && recoverable)
		return dbsync__error_set(err, DBSYNC_UNIQUE_CONFLICT,
					 "operation on \"%s\" collides with "
					 "another row on a unique constraint: "
					 "%s",
					 t->name, line);
	if (strncmp(state, "23", 2) == 0)
		return dbsync__error_set(err, DBSYNC_CONFLICT,
					 "operation on \"%s\" violates a "
					 "constraint: %s",
					 t->name, line);
	if (strncmp(state, "22", 2) == 0)
		return dbsync__error_set(err, DBSYNC_CONFLICT,
					 "operation on \"%s\": a value does "
					 "not fit its column (%s)",
					 t->name, line);
	return dbsync__pg_error(err, s->conn, res, "cannot apply the push");
}

static int pg_apply(dbsync__store *s, const dbsync__store_table *t, char op,
		    const dbsync__value *pk, const dbsync__value *row,
		    dbsync__error *err)
{
	struct dbsync__pg_table *c;
	PGresult *res;
	char **params;
	size_t n, k;
	int rc = dbsync__pg_table_stmts(s, t, &c, err), nomem = 0, savepoint, upsert;

	if (rc)
		return rc;
	dbsync__pg_release_row(s);
	upsert = op == 'i' || op == 'u';
	n = upsert ? t->ncolumns : 1;
	params = calloc(n, sizeof(*params));
	if (!params)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	for (k = 0; k < n; k++)
		params[k] = dbsync__pg_param(upsert ? &row[k] : pk, &nomem);
	if (nomem) {
		free_params(params, n);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	/* A failed statement aborts a PostgreSQL transaction: an upsert that
	 * may meet another row's unique value runs in a savepoint, so the
	 * push can go on and retry it (server_push.c). */
	savepoint = upsert && c->has_unique;
	if (savepoint)
		rc = dbsync__pg_exec(s, "SAVEPOINT dbsync_apply", 0, NULL, NULL,
				     err, "cannot apply the push");
	if (rc) {
		free_params(params, n);
		return rc;
	}
	res = PQexecParams(s->conn, upsert ? c->upsert : c->del, (int)n, NULL,
			   (const char *const *)params, NULL, NULL, 0);
	free_params(params, n);
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return savepoint ? dbsync__pg_exec(s,
						   "RELEASE SAVEPOINT"
						   " dbsync_apply",
						   0, NULL, NULL, err,
						   "cannot apply the push")
				 : 0;
	}
	rc = apply_error(s, t, res, savepoint, err);
	PQclear(res);
	if (savepoint)
		PQclear(PQexec(s->conn, "ROLLBACK TO SAVEPOINT dbsync_apply"));
	return rc;
}

static int pg_unique_free(dbsync__store *s, const dbsync__store_table *t,
			  const dbsync__value *pk, dbsync__error *err)
{
	dbsync__pg_release_row(s);
	return dbsync__pg_unique_free(s, t, pk, err);
}

/* ---- trim ------------------------------------------------------------- */

static int pg_trimmed(dbsync__store *s, int64_t *through, dbsync__error *err)
{
	*through = 0;
	return dbsync__pg_query_int(s,
			 "SELECT value::int8 FROM dbsync_meta"
			 " WHERE key = 'trimmed_through'",
			 0, NULL, through, NULL, err, "cannot read the trim");
}

static int pg_trim(dbsync__store *s, int64_t through, dbsync__error *err)
{
	int64_t seq = 0, done = 0, latest = 0;
	char buf[24];
	const char *params[1] = {buf};
	int rc = version_lock(s, err);

	if (!rc)
		rc = pg_trimmed(s, &done, err);
	if (!rc)
		rc = pg_latest_version(s, &latest, err);
	if (!rc && through > latest)
		through = latest;
	if (rc || through <= done)
		return rc;
	rc = dbsync__pg_seq_of_version(s, through, &seq, err);
	/* Unlike SQLite's rowid, a sequence never goes back: the whole
	 * range can go, the newest entry included. */
	dbsync__pg_int_text(buf, sizeof(buf), seq);
	if (!rc)
		rc = dbsync__pg_exec(s,
				     "DELETE FROM dbsync_log WHERE seq <= $1::int8",
				     1, params, NULL, err,
				     "cannot trim the log");
	dbsync__pg_int_text(buf, sizeof(buf), through);
	if (!rc)
		rc = dbsync__pg_exec(s,
				     "INSERT INTO dbsync_meta(key, value)"
				     " VALUES ('trimmed_through', $1)"
				     " ON CONFLICT (key) DO UPDATE"
				     " SET value = EXCLUDED.value",
				     1, params, NULL, err,
				     "cannot trim the log");
	return rc;
}

const dbsync__store_ops dbsync__store_pg = {
	.kind = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.exec = pg_exec_sql,
	.track = dbsync__pg_track,
	.tables = dbsync__pg_tables,
	.candidates = dbsync__pg_candidates,
	.node_create = pg_node_create,
	.node_secret = pg_node_secret,
	.nonce_use = pg_nonce_use,
	.fold_direct_writes = pg_fold_direct_writes,
	.latest_version = pg_latest_version,
	.find_push = pg_find_push,
	.apply_begin = pg_apply_begin,
	.apply = pg_apply,
	.unique_free = pg_unique_free,
	.apply_end = pg_apply_end,
	.changes = dbsync__pg_changes,
	.versions = dbsync__pg_versions,
	.row = dbsync__pg_row,
	.scan = dbsync__pg_scan,
	.trim = pg_trim,
	.trimmed = pg_trimmed,
};
