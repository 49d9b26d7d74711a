/* bench_util.h - what the benchmarks share: failing loudly, SQL helpers,
 * clocks, deterministic text, number formatting, medians. */
#ifndef DBSYNC_BENCH_UTIL_H
#define DBSYNC_BENCH_UTIL_H

#include <dbsync.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
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
/* The first column of the first row of `sql` as an integer (0 if none). */
long long query_int(sqlite3 *db, const char *sql);

double clock_seconds(clockid_t clock);
double now_seconds(void); /* monotonic */

/* splitmix64: a cheap, well-mixed hash. */
uint64_t mix(uint64_t x);
/* `len` letters of capitalized words (3 to 9 letters) from `state`. */
void fill_text(char *out, size_t len, uint64_t *state);
/* "1234567" -> "1,234,567" into buf (at least 32 bytes). */
const char *group(long long n, char *buf);
double median(const double *values, int n);

/* Row values of both benchmarks: 25 and 45 bytes of ASCII words drawn from
 * pools by a hash of the key. */
#define NAME_LEN 25
#define NOTE_LEN 45
#define POOL_SIZE 4096 /* power of two */
extern char name_pool[POOL_SIZE][NAME_LEN + 1];
extern char note_pool[POOL_SIZE][NOTE_LEN + 1];
void fill_pools(void);

/* Insert rows 1..count of (id, name, qty, price, note) with `stmt`, each
 * statement checked to change one row. */
void insert_rows(sqlite3 *db, sqlite3_stmt *stmt, long long count);

#endif
