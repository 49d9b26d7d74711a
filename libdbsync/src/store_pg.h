/*
 * store_pg.h - the PostgreSQL store's internals, shared by store_pg.c
 * (connection, transactions, versions, applying pushes),
 * store_pg_read.c (rows, pull changes, repair scans), store_pg_value.c
 * (value conversions) and store_pg_schema.c
 * (its tables, the capture triggers, describing user tables). These files
 * are the only users of libpq.
 *
 * Everything lives in one schema: the connection's current_schema() when
 * the store opens (`public` unless the URL sets a search_path through
 * `options=-c search_path=NAME`). Several processes may share it; see
 * store_pg.c for how versions stay contiguous seq ranges under concurrent
 * writers.
 */
#ifndef DBSYNC_STORE_PG_H
#define DBSYNC_STORE_PG_H

#include <libpq-fe.h>
#include <sqlite3.h>

#include "sqlutil.h"
#include "store.h"

/* Type OIDs of the built-in types read back (pg_type.h is a server
 * header, not installed with libpq). */
#define DBSYNC__PG_BOOL 16
#define DBSYNC__PG_BYTEA 17
#define DBSYNC__PG_INT8 20
#define DBSYNC__PG_INT2 21
#define DBSYNC__PG_INT4 23
#define DBSYNC__PG_OID 26
#define DBSYNC__PG_FLOAT4 700
#define DBSYNC__PG_FLOAT8 701
#define DBSYNC__PG_NUMERIC 1700

/* Advisory lock classes (the first key of the two-key form): "dbsy" for
 * the version lock, "dbsz" for schema setup. The second key is the oid of
 * the schema's dbsync_log table (version lock) or of the schema (setup),
 * so stores in different schemas never wait for each other. */
#define DBSYNC__PG_LOCK_VERSION 1684173689
#define DBSYNC__PG_LOCK_SETUP 1684173690

/* Statements of one tracked table, built from its column list. */
struct dbsync__pg_table {
	int64_t tid;
	char **columns; /* what the SQL was built from */
	size_t ncolumns;
	char *upsert, *del, *select;
	int has_unique; /* a unique index besides the key: upserts need a
			   savepoint to survive a collision */
};

struct dbsync__store {
	PGconn *conn;
	char *schema;	       /* current_schema() at open */
	char *qschema;	       /* the same, quoted as an identifier */
	unsigned int ns_oid;   /* its pg_namespace oid */
	char ns_param[24];     /* the same, as an int8 parameter */
	unsigned int log_oid;  /* dbsync_log's oid: the version lock's key */
	int locked;	       /* holds the version lock in this transaction */
	struct dbsync__pg_table *tables;
	size_t ntables;
	/* row(): the result its values point into, and decoded blobs. */
	PGresult *row_res;
	dbsync__value *row_values;
	size_t row_cap;
	unsigned char **blobs;
	size_t nblobs, blob_cap;
	sqlite3 *fold; /* in-memory dbsync_log for compressing pull pages */
};

/*
 * Run `sql` with `n` text parameters (NULL = SQL NULL). *out (if given)
 * receives the result, which the caller PQclear()s; otherwise it is
 * cleared here. Errors are recorded as "<context>: <server message>" with
 * a code from the SQLSTATE (see dbsync__pg_error).
 */
int dbsync__pg_exec(dbsync__store *s, const char *sql, int n,
		    const char *const *params, PGresult **out,
		    dbsync__error *err, const char *context);

/* Record the failure in `res` (or the connection's, if res is NULL):
 * lock timeouts, deadlocks and serialization failures are DBSYNC_BUSY,
 * out-of-memory DBSYNC_NOMEM, the rest DBSYNC_DB. */
int dbsync__pg_error(dbsync__error *err, PGconn *conn, const PGresult *res,
		     const char *context);

/* The SQLSTATE of a failed result, "" if none. */
const char *dbsync__pg_sqlstate(const PGresult *res);

/* One of `res`'s fields as a dbsync value of the type its column type
 * maps to (integers, bool -> INTEGER; float, numeric with a fraction ->
 * FLOAT; bytea -> BLOB; anything else -> TEXT). Text points into `res`; a
 * blob is decoded into memory the store frees at the next row()/scan row
 * (dbsync__pg_blobs_release). 0 or DBSYNC_NOMEM. */
int dbsync__pg_value(dbsync__store *s, const PGresult *res, int row, int col,
		     unsigned int type, dbsync__value *v);
void dbsync__pg_blobs_release(dbsync__store *s);

/* A value as a text parameter: malloc'd, NULL for SQL NULL; *nomem set on
 * allocation failure. */
char *dbsync__pg_param(const dbsync__value *v, int *nomem);

/* `v` in decimal, as an int8 parameter; `cap` 24 holds any. */
void dbsync__pg_int_text(char *buf, size_t cap, int64_t v);

/* Append "schema"."name" to `b`. */
void dbsync__pg_qualified(dbsync__buf *b, const dbsync__store *s,
			  const char *name);

/* Append "SELECT <every column of t> FROM "schema"."table"". */
void dbsync__pg_select_all(dbsync__buf *b, const dbsync__store *s,
			   const dbsync__store_table *t);

/* Shared by store_pg.c and store_pg_read.c. */
/* A statement giving at most one int8; *found (may be NULL) says whether
 * it gave a non-NULL one. */
int dbsync__pg_query_int(dbsync__store *s, const char *sql, int n,
			 const char *const *params, int64_t *value, int *found,
			 dbsync__error *err, const char *context);
/* The statements of tracked table `t`, built on first use and again when
 * its columns moved. */
int dbsync__pg_table_stmts(dbsync__store *s, const dbsync__store_table *t,
			   struct dbsync__pg_table **out, dbsync__error *err);
/* Forget the row row() handed out (and its decoded blobs). */
void dbsync__pg_release_row(dbsync__store *s);
/* last_seq of the newest version at or below `version` (0 if none). */
int dbsync__pg_seq_of_version(dbsync__store *s, int64_t version,
			      int64_t *seq, dbsync__error *err);
/* The store ops of store_pg_read.c. */
int dbsync__pg_row(dbsync__store *s, const dbsync__store_table *t,
		   const dbsync__value *pk, const dbsync__value **values,
		   dbsync__error *err);
int dbsync__pg_changes(dbsync__store *s, int64_t after, int64_t target,
		       int64_t cursor, size_t max,
		       int (*fn)(void *payload, const dbsync__store_change *c),
		       void *payload, int *more, int64_t *next,
		       dbsync__error *err);
int dbsync__pg_versions(dbsync__store *s, int64_t after, int64_t target,
			int (*fn)(void *payload,
				  const dbsync__store_version *v),
			void *payload, dbsync__error *err);
int dbsync__pg_scan(dbsync__store *s, const dbsync__store_table *t,
		    const dbsync__value *after, size_t max,
		    int (*fn)(void *payload, const dbsync__value *key,
			      const dbsync__value *row),
		    void *payload, int *more, dbsync__error *err);

/* Schema setup at open: the internal tables, current capture triggers. */
int dbsync__pg_schema_ensure(dbsync__store *s, dbsync__error *err);
/* The store ops of store_pg_schema.c. */
int dbsync__pg_track(dbsync__store *s, const char *table, dbsync__error *err);
int dbsync__pg_tables(dbsync__store *s, dbsync__store_table **out, size_t *n,
		      dbsync__error *err);
int dbsync__pg_candidates(dbsync__store *s, char ***out, size_t *n,
			  dbsync__error *err);
/* Move row `pk` of `t` off every value it holds on a unique index (the
 * unique_free op). */
int dbsync__pg_unique_free(dbsync__store *s, const dbsync__store_table *t,
			   const dbsync__value *pk, dbsync__error *err);
/* The oid of tracked table `name` in the store's schema (0 if absent). */
int dbsync__pg_table_oid(dbsync__store *s, const char *name,
			 unsigned int *oid, dbsync__error *err);

#endif
