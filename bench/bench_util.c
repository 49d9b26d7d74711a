/* bench_util.c - helpers shared by the benchmarks (see bench_util.h). */
#include "bench_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bench_name = "bench";

void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", bench_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void check_sqlite(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
		die("%s: %s (SQLite code %d)", what, sqlite3_errmsg(db), rc);
}

void check_dbsync(dbsync_client *client, int rc, const char *what)
{
	if (rc < 0)
		die("%s: %s: %s", what, dbsync_error_name(rc),
		    client ? dbsync_client_error_message(client)
			   : dbsync_last_error_message());
}

void exec_sql(sqlite3 *db, const char *sql)
{
	check_sqlite(db, sqlite3_exec(db, sql, NULL, NULL, NULL), sql);
}

long long query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	long long value = 0;
	int rc;

	check_sqlite(db, sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), sql);
	rc = sqlite3_step(stmt);
	check_sqlite(db, rc, sql);
	if (rc == SQLITE_ROW)
		value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return value;
}

double clock_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double now_seconds(void)
{
	return clock_seconds(CLOCK_MONOTONIC);
}

uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void fill_text(char *out, size_t len, uint64_t *state)
{
	static const char letters[] = "abcdefghijklmnopqrstuvwxyz";
	size_t word = 0;

	for (size_t i = 0; i < len; i++) {
		*state = mix(*state);
		/* words of 3 to 9 letters separated by single spaces */
		if (word >= 3 && i + 1 < len && (*state >> 40) % 7 == 0) {
			out[i] = ' ';
			word = 0;
			continue;
		}
		out[i] = letters[(*state >> 16) % 26];
		if (word == 0)
			out[i] = (char)(out[i] - 'a' + 'A');
		word++;
	}
	out[len] = '\0';
}

const char *group(long long n, char *buf)
{
	char digits[32];
	int len = snprintf(digits, sizeof digits, "%lld", n < 0 ? -n : n);
	size_t o = 0;

	if (n < 0)
		buf[o++] = '-';
	for (int i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double median(const double *values, int n)
{
	double *sorted = malloc((size_t)n * sizeof *sorted);
	double m;

	if (!sorted)
		die("out of memory");
	memcpy(sorted, values, (size_t)n * sizeof *sorted);
	qsort(sorted, (size_t)n, sizeof *sorted, compare_doubles);
	m = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	free(sorted);
	return m;
}

char name_pool[POOL_SIZE][NAME_LEN + 1];
char note_pool[POOL_SIZE][NOTE_LEN + 1];

void fill_pools(void)
{
	uint64_t state = 20240611;

	for (size_t i = 0; i < POOL_SIZE; i++) {
		fill_text(name_pool[i], NAME_LEN, &state);
		fill_text(note_pool[i], NOTE_LEN, &state);
	}
}

void insert_rows(sqlite3 *db, sqlite3_stmt *stmt, long long count)
{
	long long changed = 0;

	for (long long id = 1; id <= count; id++) {
		uint64_t h = mix((uint64_t)id);

		sqlite3_bind_int64(stmt, 1, id);
		sqlite3_bind_text(stmt, 2, name_pool[h & (POOL_SIZE - 1)],
				  NAME_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, (sqlite3_int64)((h >> 12) % 10000));
		sqlite3_bind_double(stmt, 4,
				    (double)((h >> 28) % 100000) / 100.0);
		sqlite3_bind_text(stmt, 5,
				  note_pool[(h >> 44) & (POOL_SIZE - 1)],
				  NOTE_LEN, SQLITE_STATIC);
		check_sqlite(db, sqlite3_step(stmt), "insert");
		sqlite3_reset(stmt);
		changed += sqlite3_changes(db);
	}
	if (changed != count)
		die("insert changed %lld rows, expected %lld", changed, count);
}
