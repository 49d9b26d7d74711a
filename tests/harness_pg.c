/*
 * harness_pg.c - the PostgreSQL side of the test harness: a fresh schema
 * per case in the `test` database (never anything else in it), SQL run
 * there as an application would, and a copy of a store's tables into a
 * SQLite file so tests read server contents with the same queries whatever
 * the store.
 *
 * The server comes from $DBSYNC_TEST_PG_URL (default
 * postgresql://postgres@127.0.0.1:5432/test). Tests that need PostgreSQL
 * fail, never skip, when it cannot be reached: the README's `./dev test`
 * starts it.
 */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#define MAX_SCHEMAS 16
#define MAX_CONNS 32

static struct {
	char *schemas[MAX_SCHEMAS]; /* made by this case: dropped after it */
	PGconn *conns[MAX_CONNS];
	int counter;
	int swept;
	int copies;
} pg;

const char *th_store_kind(void)
{
	const char *k = getenv("DBSYNC_TEST_STORE");

	return k && strcmp(k, "postgresql") == 0 ? "postgresql" : "sqlite";
}

const char *th_pg_url(void)
{
	const char *u = getenv("DBSYNC_TEST_PG_URL");

	return u && *u ? u : "postgresql://postgres@127.0.0.1:5432/test";
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A connection of our own (not tracked: closed by the caller). */
static PGconn *connect_raw(void)
{
	PGconn *c = PQconnectdb(th_pg_url());

	if (PQstatus(c) != CONNECTION_OK) {
		char *msg = th_strdup(PQerrorMessage(c));
		PQfinish(c);
		th_fail(__FILE__, __LINE__,
			"PostgreSQL is needed by this test and cannot be "
			"reached at %s (start it: ./dev test does): %s",
			th_pg_url(), msg);
	}
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

static void run_on(PGconn *c, const char *sql, const char *file, int line)
{
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		char *msg = th_strdup(PQerrorMessage(c));
		PQclear(r);
		th_fail(file, line, "PostgreSQL: %s: %s", msg, sql);
	}
	PQclear(r);
}

static const char *quoted(const char *name)
{
	size_t n = strlen(name), k, j = 0;
	char *q = th_alloc(2 * n + 3);

	q[j++] = '"';
	for (k = 0; k < n; k++) {
		if (name[k] == '"')
			q[j++] = '"';
		q[j++] = name[k];
	}
	q[j++] = '"';
	q[j] = '\0';
	return q;
}

/* Schemas left by test processes that died (a crash, a ctest timeout). */
static void sweep(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT nspname FROM pg_namespace"
				" WHERE nspname LIKE 'dbsync\\_t\\_%'");
	int k;

	for (k = 0; PQresultStatus(r) == PGRES_TUPLES_OK && k < PQntuples(r);
	     k++) {
		const char *name = PQgetvalue(r, k, 0);
		long pid = strtol(name + strlen("dbsync_t_"), NULL, 10);

		if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
			PQclear(PQexec(c, th_fmt("DROP SCHEMA IF EXISTS %s"
						 " CASCADE",
						 quoted(name))));
	}
	PQclear(r);
}

const char *th_pg_schema_new(void)
{
	PGconn *c = connect_raw();
	char *name;
	size_t k;

	if (!pg.swept) {
		sweep(c);
		pg.swept = 1;
	}
	name = th_fmt("dbsync_t_%ld_%d", (long)getpid(), ++pg.counter);
	PQclear(PQexec(c, th_fmt("DROP SCHEMA IF EXISTS %s CASCADE",
				 quoted(name))));
	run_on(c, th_fmt("CREATE SCHEMA %s", quoted(name)), __FILE__,
	       __LINE__);
	PQfinish(c);
	for (k = 0; k < MAX_SCHEMAS; k++)
		if (!pg.schemas[k]) {
			pg.schemas[k] = strdup(name);
			break;
		}
	return name;
}

const char *th_pg_store_url(const char *schema)
{
	const char *url = th_pg_url();

	return th_fmt("%s%soptions=-csearch_path%%3D%s", url,
		      strchr(url, '?') ? "&" : "?", schema);
}

void *th_pg_connect(const char *schema)
{
	PGconn *c = connect_raw();
	size_t k;

	run_on(c, th_fmt("SET search_path TO %s", quoted(schema)), __FILE__,
	       __LINE__);
	for (k = 0; k < MAX_CONNS; k++)
		if (!pg.conns[k]) {
			pg.conns[k] = c;
			return c;
		}
	PQfinish(c);
	th_fail(__FILE__, __LINE__, "too many PostgreSQL connections");
}

void th_pg_close(void *conn)
{
	size_t k;

	for (k = 0; k < MAX_CONNS; k++)
		if (pg.conns[k] == conn)
			pg.conns[k] = NULL;
	PQfinish(conn);
}

void th_pg_exec_at(const char *file, int line, void *conn, const char *sql)
{
	run_on(conn, sql, file, line);
}

int th_pg_exec_rc(void *conn, const char *sql, char **sqlstate)
{
	PGresult *r = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(r);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (sqlstate)
		*sqlstate = th_strdup(state ? state : "");
	PQclear(r);
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
}

char *th_pg_query_text_at(const char *file, int line, void *conn,
			  const char *sql)
{
	PGresult *r = PQexec(conn, sql);
	char *v = NULL;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char *msg = th_strdup(PQerrorMessage(conn));
		PQclear(r);
		th_fail(file, line, "PostgreSQL: %s: %s", msg, sql);
	}
	if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = th_strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* ---- a store's tables as a SQLite file --------------------------------- */

/* Type OIDs (pg_type.h is a server header). */
enum { T_BOOL = 16, T_BYTEA = 17, T_INT8 = 20, T_INT2 = 21, T_INT4 = 23,
       T_FLOAT4 = 700, T_FLOAT8 = 701 };

static void copy_table(PGconn *c, sqlite3 *db, const char *schema,
		       const char *table)
{
	PGresult *r = PQexec(c, th_fmt("SELECT * FROM %s.%s", quoted(schema),
				       quoted(table)));
	char *create, *insert;
	sqlite3_stmt *st = NULL;
	int cols, rows, i, k;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		char *msg = th_strdup(PQerrorMessage(c));
		PQclear(r);
		th_fail(__FILE__, __LINE__, "cannot copy %s: %s", table, msg);
	}
	cols = PQnfields(r);
	rows = PQntuples(r);
	create = th_fmt("CREATE TABLE %s(", quoted(table));
	insert = th_fmt("INSERT INTO %s VALUES (", quoted(table));
	for (k = 0; k < cols; k++) {
		unsigned t = PQftype(r, k);
		const char *aff = t == T_INT2 || t == T_INT4 || t == T_INT8 ||
						  t == T_BOOL
					  ? "INTEGER"
				  : t == T_FLOAT4 || t == T_FLOAT8 ? "REAL"
				  : t == T_BYTEA		   ? "BLOB"
								   : "TEXT";
		create = th_fmt("%s%s%s %s", create, k ? ", " : "",
				quoted(PQfname(r, k)), aff);
		insert = th_fmt("%s%s?", insert, k ? ", " : "");
	}
	th_exec(db, th_fmt("%s)", create));
	ASSERT_EQ_INT(sqlite3_prepare_v2(db, th_fmt("%s)", insert), -1, &st,
					 NULL),
		      SQLITE_OK);
	th_exec(db, "BEGIN");
	for (i = 0; i < rows; i++) {
		for (k = 0; k < cols; k++) {
			unsigned t = PQftype(r, k);
			const char *v = PQgetvalue(r, i, k);

			if (PQgetisnull(r, i, k))
				sqlite3_bind_null(st, k + 1);
			else if (t == T_INT2 || t == T_INT4 || t == T_INT8)
				sqlite3_bind_int64(st, k + 1,
						   strtoll(v, NULL, 10));
			else if (t == T_BOOL)
				sqlite3_bind_int(st, k + 1, v[0] == 't');
			else if (t == T_FLOAT4 || t == T_FLOAT8)
				sqlite3_bind_double(st, k + 1,
						    strtod(v, NULL));
			else if (t == T_BYTEA) {
				size_t n = 0;
				unsigned char *b = PQunescapeBytea(
					(const unsigned char *)v, &n);
				sqlite3_bind_blob(st, k + 1, b, (int)n,
						  SQLITE_TRANSIENT);
				PQfreemem(b);
			} else
				sqlite3_bind_text(st, k + 1, v, -1,
						  SQLITE_TRANSIENT);
		}
		ASSERT_EQ_INT(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	th_exec(db, "COMMIT");
	sqlite3_finalize(st);
	PQclear(r);
}

const char *th_pg_copy(const char *schema)
{
	const char *path = th_path(th_fmt("pg-copy-%d.db", ++pg.copies));
	PGconn *c = connect_raw();
	sqlite3 *db = th_db_open(path);
	PGresult *r = PQexecParams(c,
				   "SELECT c.relname FROM pg_class c"
				   " JOIN pg_namespace n ON n.oid = c.relnamespace"
				   " WHERE n.nspname = $1 AND c.relkind = 'r'"
				   " ORDER BY 1",
				   1, NULL, &schema, NULL, NULL, 0);
	int k;

	for (k = 0; PQresultStatus(r) == PGRES_TUPLES_OK && k < PQntuples(r);
	     k++)
		copy_table(c, db, schema, PQgetvalue(r, k, 0));
	PQclear(r);
	PQfinish(c);
	th_db_close(db);
	return path;
}

const char *th_server_db(const th_server *s)
{
	return s->pg_schema ? th_pg_copy(s->pg_schema) : s->store;
}

void th_server_exec_at(const char *file, int line, const th_server *s,
		       const char *sql)
{
	if (s->pg_schema) {
		void *c = th_pg_connect(s->pg_schema);
		th_pg_exec_at(file, line, c, sql);
		th_pg_close(c);
	} else {
		sqlite3 *db = th_db_open(s->store);
		th_exec_at(file, line, db, sql);
		th_db_close(db);
	}
}

/* Called by the runner after every case, once its servers stopped. */
void th__pg_end_case(void);
void th__pg_end_case(void)
{
	PGconn *c = NULL;
	size_t k;

	for (k = 0; k < MAX_CONNS; k++)
		if (pg.conns[k]) {
			PQfinish(pg.conns[k]);
			pg.conns[k] = NULL;
		}
	for (k = 0; k < MAX_SCHEMAS; k++) {
		if (!pg.schemas[k])
			continue;
		if (!c)
			c = PQconnectdb(th_pg_url());
		if (PQstatus(c) == CONNECTION_OK) {
			PQsetNoticeProcessor(c, quiet, NULL);
			PQclear(PQexec(c, th_fmt("DROP SCHEMA IF EXISTS %s"
						 " CASCADE",
						 quoted(pg.schemas[k]))));
		}
		free(pg.schemas[k]);
		pg.schemas[k] = NULL;
	}
	PQfinish(c);
}
