/*
 * harness.h - the dbsync C test harness.
 *
 * A test file defines its cases with TEST(name), lists them in a table with
 * CASE(name) (one per line: tests/CMakeLists.txt reads those lines to
 * register one ctest test per case) and ends with TH_MAIN(table):
 *
 *     TEST(open_works) { ASSERT_EQ_INT(1 + 1, 2); }
 *
 *     static const th_case cases[] = {
 *             CASE(open_works),
 *     };
 *     TH_MAIN(cases)
 *
 * The binary runs every case, or only those named on the command line
 * (`--list` prints the names). Its last line is "N passed, N failed"; the
 * exit status is 0 only if nothing failed.
 *
 * Every case gets a fresh temporary directory (th_tmpdir(), under $TMPDIR or
 * /tmp), removed after the case unless DBSYNC_TEST_KEEP is set. Memory from
 * th_alloc/th_strdup/th_fmt and the th_* query helpers lives until the case
 * ends.
 *
 * A failed ASSERT prints file:line, the expression and the values, and ends
 * the current case at once (longjmp back to the runner). ASSERTs belong on
 * the thread that runs the case: a worker thread should record what it saw
 * and let the case assert after joining it (an ASSERT failing on another
 * thread aborts the process).
 */
#ifndef DBSYNC_TEST_HARNESS_H
#define DBSYNC_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include <dbsync.h>

typedef struct {
	const char *name;
	void (*fn)(void);
} th_case;

#define TEST(name) static void test_##name(void)
#define CASE(name) { #name, test_##name }
#define TH_MAIN(table)                                                         \
	int main(int argc, char **argv)                                        \
	{                                                                      \
		return th_main(argc, argv, table,                              \
			       sizeof(table) / sizeof((table)[0]));            \
	}

int th_main(int argc, char **argv, const th_case *cases, size_t ncases);

/* ---- failing ---------------------------------------------------------- */

/* Print "file:line: <printf message>" and end the current case. */
#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 3, 4)))
#endif
void th_fail(const char *file, int line, const char *fmt, ...);

/* Print a note in the case's output (e.g. the seed of a random test). */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
void th_note(const char *fmt, ...);

void th_assert_int(const char *file, int line, const char *a_expr,
		   const char *b_expr, const char *op, long long a, long long b);
void th_assert_str(const char *file, int line, const char *a_expr,
		   const char *b_expr, int want_equal, const char *a,
		   const char *b);
void th_assert_code(const char *file, int line, const char *expr, int got,
		    int want);

#define ASSERT(cond)                                                           \
	do {                                                                   \
		if (!(cond))                                                   \
			th_fail(__FILE__, __LINE__, "assertion failed: %s",    \
				#cond);                                        \
	} while (0)

#define ASSERT_MSG(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond))                                                   \
			th_fail(__FILE__, __LINE__, __VA_ARGS__);              \
	} while (0)

#define TH_CMP_INT_(a, op, b)                                                  \
	th_assert_int(__FILE__, __LINE__, #a, #b, #op, (long long)(a),         \
		      (long long)(b))
#define ASSERT_EQ_INT(a, b) TH_CMP_INT_(a, ==, b)
#define ASSERT_NE_INT(a, b) TH_CMP_INT_(a, !=, b)
#define ASSERT_LT_INT(a, b) TH_CMP_INT_(a, <, b)
#define ASSERT_LE_INT(a, b) TH_CMP_INT_(a, <=, b)
#define ASSERT_GT_INT(a, b) TH_CMP_INT_(a, >, b)
#define ASSERT_GE_INT(a, b) TH_CMP_INT_(a, >=, b)

/* Strings; NULL equals only NULL. */
#define ASSERT_EQ_STR(a, b)                                                    \
	th_assert_str(__FILE__, __LINE__, #a, #b, 1, (a), (b))
#define ASSERT_NE_STR(a, b)                                                    \
	th_assert_str(__FILE__, __LINE__, #a, #b, 0, (a), (b))

#define ASSERT_NULL(p)                                                         \
	do {                                                                   \
		if ((p) != NULL)                                               \
			th_fail(__FILE__, __LINE__,                            \
				"expected NULL: %s = %p", #p,                  \
				(const void *)(p));                            \
	} while (0)
#define ASSERT_NOT_NULL(p)                                                     \
	do {                                                                   \
		if ((p) == NULL)                                               \
			th_fail(__FILE__, __LINE__,                            \
				"expected non-NULL: %s", #p);                  \
	} while (0)

/* A dbsync call returns exactly `code`; on mismatch prints both codes'
 * names and the thread's last error message. */
#define ASSERT_CODE(expr, code)                                                \
	th_assert_code(__FILE__, __LINE__, #expr, (expr), (code))
#define ASSERT_OK(expr) ASSERT_CODE(expr, DBSYNC_OK)

/* ---- per-case resources ---------------------------------------------- */

/* The case's temporary directory. */
const char *th_tmpdir(void);
/* th_tmpdir() + "/" + name. */
const char *th_path(const char *name);

void *th_alloc(size_t size);
char *th_strdup(const char *s);
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
char *th_fmt(const char *fmt, ...);

/* Whether `haystack` contains `needle` (both non-NULL). */
int th_contains(const char *haystack, const char *needle);

/* Write `len` bytes to a new file (replacing it); asserts. */
void th_write_file(const char *path, const void *data, size_t len);
/* Read a whole file into case memory, NUL-terminated; *len (may be NULL)
 * gets its size. Asserts. */
void *th_read_file(const char *path, size_t *len);

/* ---- deterministic randomness ---------------------------------------- */

/* A seed from $DBSYNC_TEST_SEED, else from the clock; printed as a note so a
 * failing run can be replayed. */
uint64_t th_seed(void);
typedef struct {
	uint64_t s;
} th_rng;
void th_rng_init(th_rng *r, uint64_t seed);
uint64_t th_rng_next(th_rng *r);
/* Uniform in [0, n), n > 0. */
uint32_t th_rng_below(th_rng *r, uint32_t n);

/* ---- processes -------------------------------------------------------- */

/* Run argv[0] (searched in PATH) with the given arguments and wait for it;
 * returns its exit status, or -1 if it was killed by a signal / could not
 * start. Its output goes to this process's output. */
int th_run(const char *const argv[]);

/* The sqlite3 shell and python3 to run ($DBSYNC_TEST_SQLITE3 and
 * $DBSYNC_TEST_PYTHON3, set by ctest, else looked up in PATH). */
const char *th_sqlite3_shell(void);
const char *th_python3(void);

/* ---- a real dbsyncd --------------------------------------------------- */

/* A dbsyncd process on a free loopback port, stopped (SIGTERM) when the
 * case ends. Its stderr (the request log) goes to th_path("<name>.log"). */
typedef struct {
	int pid;
	int port;
	char url[64];
	const char *store;   /* the store's file (NULL on PostgreSQL) */
	const char *log;     /* the request log */
	const char *store_url; /* what --store was given */
	const char *pg_schema; /* the PostgreSQL store's schema, or NULL */
} th_server;

/* Start dbsyncd ($DBSYNC_TEST_DBSYNCD) on a new store with `schema_sql`
 * (may be NULL) and the extra arguments `args` (NULL-ended, e.g. "--track",
 * "city,person", NULL); waits until it listens. The store is a new file
 * th_path(name).db, or, when $DBSYNC_TEST_STORE is "postgresql", a new
 * schema of its own (th_pg_schema_new). */
th_server *th_server_start(const char *name, const char *schema_sql,
			   const char *const *args);
/* The same on a given store URL (e.g. a second server on one PostgreSQL
 * schema); `pg_schema` names that schema, NULL for SQLite. */
th_server *th_server_start_url(const char *name, const char *store_url,
			       const char *pg_schema, const char *schema_sql,
			       const char *const *args);

/* A SQLite file holding the server's tables as they are now, to read with
 * the th_* SQLite helpers: the store itself for SQLite, a fresh copy of the
 * schema's tables for PostgreSQL (integer/float/bytea columns keep their
 * type, the rest is text). */
const char *th_server_db(const th_server *s);
/* Run SQL on the server's database as an application would (a direct
 * write); asserts success. The SQL must suit the store. */
#define th_server_exec(srv, sql)                                               \
	th_server_exec_at(__FILE__, __LINE__, (srv), (sql))
void th_server_exec_at(const char *file, int line, const th_server *s,
		       const char *sql);

/* ---- PostgreSQL (harness_pg.c) ----------------------------------------- */

/* "postgresql" when $DBSYNC_TEST_STORE says so, else "sqlite". */
const char *th_store_kind(void);
/* $DBSYNC_TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/test. */
const char *th_pg_url(void);
/* A new empty schema in that database, dropped (CASCADE) when the case
 * ends; schemas of dead test processes are swept. Fails the case when
 * PostgreSQL cannot be reached. */
const char *th_pg_schema_new(void);
/* The store URL of a dbsyncd keeping everything in `schema`. */
const char *th_pg_store_url(const char *schema);
/* A libpq connection (PGconn *) with search_path `schema`, closed when the
 * case ends unless closed earlier. */
void *th_pg_connect(const char *schema);
void th_pg_close(void *conn);
#define th_pg_exec(conn, sql) th_pg_exec_at(__FILE__, __LINE__, (conn), (sql))
void th_pg_exec_at(const char *file, int line, void *conn, const char *sql);
/* Run SQL; 0 or -1, with the SQLSTATE in *sqlstate (case memory). */
int th_pg_exec_rc(void *conn, const char *sql, char **sqlstate);
#define th_pg_query_text(conn, sql)                                            \
	th_pg_query_text_at(__FILE__, __LINE__, (conn), (sql))
char *th_pg_query_text_at(const char *file, int line, void *conn,
			  const char *sql);
/* The tables of `schema` copied into a new SQLite file (see th_server_db). */
const char *th_pg_copy(const char *schema);
/* Stop it (SIGTERM, wait) and return its exit status. */
int th_server_stop(th_server *s);

/* ---- SQLite through our own connection -------------------------------- */

/* Open our own connection (busy timeout 10 s, foreign keys on); asserts.
 * Closed automatically when the case ends. */
sqlite3 *th_db_open(const char *path);
void th_db_close(sqlite3 *db);
/* Run SQL (several statements allowed); asserts success. */
#define th_exec(db, sql) th_exec_at(__FILE__, __LINE__, (db), (sql))
void th_exec_at(const char *file, int line, sqlite3 *db, const char *sql);
/* Run SQL; return the SQLite result code instead of asserting. */
int th_exec_rc(sqlite3 *db, const char *sql);
/* First column of the first row as an integer (0 if no row); asserts. */
#define th_query_int(db, sql) th_query_int_at(__FILE__, __LINE__, (db), (sql))
int64_t th_query_int_at(const char *file, int line, sqlite3 *db,
			const char *sql);
/* First column of the first row as text in case memory (NULL if no row or
 * NULL value); asserts. */
#define th_query_text(db, sql)                                                 \
	th_query_text_at(__FILE__, __LINE__, (db), (sql))
char *th_query_text_at(const char *file, int line, sqlite3 *db,
		       const char *sql);

/* ---- dbsync helpers --------------------------------------------------- */

/* Open a client; asserts success. Freed automatically when the case ends
 * unless freed earlier with th_client_free. */
#define th_client_open(path) th_client_open_at(__FILE__, __LINE__, (path))
dbsync_client *th_client_open_at(const char *file, int line, const char *path);

/* A registered client of the server at `url` on a new database
 * th_path(name).db: `schema` run first, then the tables of the
 * comma-separated `tables` tracked both ways. Asserts every step. */
dbsync_client *th_sync_client(const char *url, const char *name,
			      const char *schema, const char *tables);
void th_client_free(dbsync_client *client);

/* One pending operation, copied out of an oplist into case memory. */
typedef struct {
	const char *table;
	char command;
	int type; /* dbsync_type */
	int64_t i;
	double f;
	const unsigned char *bytes; /* text (NUL-terminated) or blob */
	size_t size;
	int64_t seq;
} th_op;

/* dbsync_client_pending copied into case memory; asserts success. Also
 * checks the list's invariants: seq strictly increasing, commands in
 * {i,u,d}, at most one operation per (table, pk). */
#define th_pending(client, n) th_pending_at(__FILE__, __LINE__, (client), (n))
th_op *th_pending_at(const char *file, int line, dbsync_client *client,
		     size_t *n);

/*
 * The pending operations as one string, "table:cmd:pk" joined by single
 * spaces, in push order: integer keys in decimal, text keys 'quoted', blob
 * keys x'hex', float keys %.17g. "" when nothing is pending.
 */
#define th_pending_str(client)                                                 \
	th_pending_str_at(__FILE__, __LINE__, (client))
char *th_pending_str_at(const char *file, int line, dbsync_client *client);
/* The same, sorted by table, then key (for order-free comparisons). */
#define th_pending_sorted_str(client)                                          \
	th_pending_sorted_str_at(__FILE__, __LINE__, (client))
char *th_pending_sorted_str_at(const char *file, int line,
			       dbsync_client *client);
char *th_ops_str(const th_op *ops, size_t n);
/* The same, sorted by table, then key (for order-free comparisons). */
char *th_ops_sorted_str(const th_op *ops, size_t n);

/* Index of the operation on (table, integer pk), or -1. */
long th_ops_find_int(const th_op *ops, size_t n, const char *table,
		     int64_t pk);

/* Assert an error message follows the house rules: non-empty, one line, no
 * "failed to" prefix, no SQL. */
#define ASSERT_GOOD_MESSAGE(msg)                                               \
	th_assert_good_message(__FILE__, __LINE__, #msg, (msg))
void th_assert_good_message(const char *file, int line, const char *expr,
			    const char *msg);

#endif
