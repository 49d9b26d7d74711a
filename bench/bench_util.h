/* bench_util.h - what the benchmarks share: failing loudly, SQL helpers,
 * clocks, deterministic text, number formatting, medians, option parsing,
 * the work directory, /proc figures, dbsyncd child processes and fresh
 * registered clients. */
#ifndef DBSYNC_BENCH_UTIL_H
#define DBSYNC_BENCH_UTIL_H

#include <dbsync.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The program's name for messages (set first thing in main). */
extern const char *bench_name;

/* Print "<bench_name>: <message>" on stderr and exit 1. */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* die() unless rc is OK, ROW or DONE. */
void check_sqlite(sqlite3 *db, int rc, const char *what);
/* die() on a negative dbsync code, with the handle's (or thread's) message. */
void check_dbsync(dbsync_client *client, int rc, const char *what);
void exec_sql(sqlite3 *db, const char *sql);
/* Open (creating) a database file in WAL mode with a 5 s busy timeout. */
sqlite3 *open_db(const char *path);
/* Remove a database file and its -wal, -shm and -journal; `quietly`
 * ignores errors (at exit, where dying again is not an option). */
void remove_db_files(const char *path, int quietly);
/* The first column of the first row of `sql` as an integer (0 if none). */
long long query_int(sqlite3 *db, const char *sql);

double clock_seconds(clockid_t clock);
double now_seconds(void); /* monotonic */
double cpu_seconds(void);  /* of this process */

/* splitmix64: a cheap, well-mixed hash. */
uint64_t mix(uint64_t x);
/* `len` letters of capitalized words (3 to 9 letters) from `state`. */
void fill_text(char *out, size_t len, uint64_t *state);
/* "1234567" -> "1,234,567" into buf (at least 32 bytes). */
const char *group(long long n, char *buf);
double median(const double *values, int n);

/* The integer value of option `flag`; die() unless it is one >= min. */
long long parse_count(const char *flag, const char *arg, long long min);

/* Row values of both benchmarks: 25 and 45 bytes of ASCII words drawn from
 * pools by a hash of the key. */
#define NAME_LEN 25
#define NOTE_LEN 45
#define POOL_SIZE 4096 /* power of two */
extern char name_pool[POOL_SIZE][NAME_LEN + 1];
extern char note_pool[POOL_SIZE][NOTE_LEN + 1];
void fill_pools(void);

/* Bind the values of row `id` to ?1..?5 = (id, name, qty, price, note). */
void bind_row(sqlite3_stmt *stmt, long long id);
/* Insert rows 1..count of (id, name, qty, price, note) with `stmt`, each
 * statement checked to change one row. */
void insert_rows(sqlite3 *db, sqlite3_stmt *stmt, long long count);

/* ---- files ---- */

/* "DIR/NAME" into buf; die() if it does not fit. */
const char *path_join(char *buf, size_t size, const char *dir,
		      const char *name);
/* The directory to work in: `requested` (created if missing) when given,
 * else a new PREFIX.XXXXXX under $TMPDIR or /tmp whose path is also left
 * in `made` (PATH_MAX bytes), for the caller to remove at the end. */
const char *make_work_dir(const char *requested, const char *prefix,
			  char *made);

/* ---- processes ---- */

/* A "Vm...:  N kB" field of /proc/PID/status (pid 0: this process), or
 * -1. */
long long proc_status_kb(pid_t pid, const char *field);
/* User + system CPU seconds of a process, from /proc/PID/stat. */
double pid_cpu_seconds(pid_t pid);

/* ---- dbsyncd ---- */

/* ../tools/dbsyncd next to this program (where the build puts it), into
 * buf (PATH_MAX bytes). */
void default_dbsyncd(char *buf);

/* A dbsyncd child process. */
struct bench_server {
	pid_t pid;
	int port;
	char url[64];
	double cpu_mark;	/* CPU seconds at the caller's mark */
	long long start_rss_kb; /* VmRSS once listening */
};

/*
 * Start `dbsyncd` on 127.0.0.1, port 0, registration open, with the store
 * sqlite:DIR/server.db, the DDL of DIR/schema.sql, `tables` (comma-
 * separated) tracked and its log in DIR/dbsyncd.log; return once it
 * listens (it writes DIR/dbsyncd.port).
 */
void server_start(struct bench_server *s, const char *dbsyncd,
		  const char *dir, const char *tables);
/* SIGTERM and wait: die() unless it stops cleanly. */
void server_stop(struct bench_server *s);
/* Stop every server still running, quietly (at exit). */
void servers_kill(void);

/* A fresh client database at `path` (any old one removed): `schema_sql`
 * run, the NULL-terminated `tables` tracked in both directions, registered
 * with the server at `url`. */
void make_client(const char *path, const char *schema_sql,
		 const char *const *tables, const char *url);

#endif
