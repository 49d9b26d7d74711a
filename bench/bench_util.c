/* bench_util.c - helpers shared by the benchmarks (see bench_util.h). */
#include "bench_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

sqlite3 *open_db(const char *path)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
				 NULL);

	check_sqlite(db, rc, "open");
	sqlite3_busy_timeout(db, 5000);
	exec_sql(db, "PRAGMA journal_mode=WAL");
	return db;
}

void remove_db_files(const char *path, int quietly)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	char file[PATH_MAX + 16];

	for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
		snprintf(file, sizeof file, "%s%s", path, suffixes[i]);
		if (unlink(file) != 0 && errno != ENOENT && !quietly)
			die("cannot remove %s: %s", file, strerror(errno));
	}
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

double cpu_seconds(void)
{
	return clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
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

long long parse_count(const char *flag, const char *arg, long long min)
{
	char *end;
	long long v;

	if (!arg)
		die("%s needs a value", flag);
	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno || end == arg || *end || v < min)
		die("%s: expected an integer >= %lld, got \"%s\"", flag, min,
		    arg);
	return v;
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

void bind_row(sqlite3_stmt *stmt, long long id)
{
	uint64_t h = mix((uint64_t)id);

	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_text(stmt, 2, name_pool[h & (POOL_SIZE - 1)], NAME_LEN,
			  SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)((h >> 12) % 10000));
	sqlite3_bind_double(stmt, 4, (double)((h >> 28) % 100000) / 100.0);
	sqlite3_bind_text(stmt, 5, note_pool[(h >> 44) & (POOL_SIZE - 1)],
			  NOTE_LEN, SQLITE_STATIC);
}

void insert_rows(sqlite3 *db, sqlite3_stmt *stmt, long long count)
{
	long long changed = 0;

	for (long long id = 1; id <= count; id++) {
		bind_row(stmt, id);
		check_sqlite(db, sqlite3_step(stmt), "insert");
		sqlite3_reset(stmt);
		changed += sqlite3_changes(db);
	}
	if (changed != count)
		die("insert changed %lld rows, expected %lld", changed, count);
}

/* ---- files ---- */

const char *path_join(char *buf, size_t size, const char *dir,
		      const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/%s", dir, name) >= size)
		die("path too long: %s/%s", dir, name);
	return buf;
}

const char *make_work_dir(const char *requested, const char *prefix,
			  char *made)
{
	const char *tmp = getenv("TMPDIR");

	*made = '\0';
	if (requested) {
		if (mkdir(requested, 0755) != 0 && errno != EEXIST)
			die("--dir %s: %s", requested, strerror(errno));
		return requested;
	}
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(made, PATH_MAX, "%s/%s.XXXXXX", tmp, prefix) >=
	    PATH_MAX)
		die("$TMPDIR too long");
	if (!mkdtemp(made))
		die("cannot create a directory in %s: %s", tmp,
		    strerror(errno));
	return made;
}

/* ---- processes ---- */

long long proc_status_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	long long kb = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	else
		snprintf(path, sizeof path, "/proc/self/status");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, field, flen) && line[flen] == ':') {
			kb = strtoll(line + flen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

double pid_cpu_seconds(pid_t pid)
{
	char path[64], buf[4096];
	unsigned long long utime = 0, stime = 0;
	const char *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command name in parentheses: state is field 3, utime 14
	 * and stime 15. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				"%llu %llu",
			 &utime, &stime) != 2)
		return 0;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- dbsyncd ---- */

void default_dbsyncd(char *buf)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	char *slash;

	if (len <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	self[len] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if ((size_t)snprintf(buf, PATH_MAX, "%s/../tools/dbsyncd", self) >=
	    PATH_MAX)
		die("path too long");
}

/* The servers running, stopped at exit if the program dies first. */
#define MAX_SERVERS 8
static pid_t running[MAX_SERVERS];

static void forget_server(pid_t pid)
{
	for (int i = 0; i < MAX_SERVERS; i++)
		if (running[i] == pid)
			running[i] = 0;
}

void server_start(struct bench_server *s, const char *dbsyncd,
		  const char *dir, const char *tables)
{
	char store[PATH_MAX + 8], path[PATH_MAX], port_file[PATH_MAX],
		schema[PATH_MAX], log[PATH_MAX];
	double deadline;
	int slot = 0;
	pid_t pid;

	while (slot < MAX_SERVERS && running[slot])
		slot++;
	if (slot == MAX_SERVERS)
		die("more than %d servers at once", MAX_SERVERS);
	snprintf(store, sizeof store, "sqlite:%s",
		 path_join(path, sizeof path, dir, "server.db"));
	path_join(port_file, sizeof port_file, dir, "dbsyncd.port");
	path_join(schema, sizeof schema, dir, "schema.sql");
	path_join(log, sizeof log, dir, "dbsyncd.log");
	unlink(port_file);

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		char *argv[] = {(char *)dbsyncd,
				"--store",
				store,
				"--listen",
				"127.0.0.1:0",
				"--port-file",
				port_file,
				"--schema",
				schema,
				"--track",
				(char *)tables,
				"--registration",
				"open",
				NULL};

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(dbsyncd, argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", bench_name, dbsyncd,
			strerror(errno));
		_exit(127);
	}
	s->pid = running[slot] = pid;
	s->port = 0;

	/* Listening once the port file exists (written through a rename). */
	deadline = now_seconds() + 30;
	while (!s->port) {
		FILE *f = fopen(port_file, "r");
		int status;

		if (f) {
			if (fscanf(f, "%d", &s->port) != 1)
				s->port = 0;
			fclose(f);
		}
		if (s->port)
			break;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			forget_server(pid);
			die("dbsyncd exited before listening (status %d); see "
			    "%s",
			    WIFEXITED(status) ? WEXITSTATUS(status) : -1, log);
		}
		if (now_seconds() > deadline)
			die("dbsyncd did not listen within 30 s; see %s", log);
		nanosleep(&(struct timespec){0, 5000000}, NULL);
	}
	snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d", s->port);
	s->start_rss_kb = proc_status_kb(pid, "VmRSS");
	s->cpu_mark = pid_cpu_seconds(pid);
}

void server_stop(struct bench_server *s)
{
	int status;

	if (kill(s->pid, SIGTERM) != 0)
		die("kill dbsyncd: %s", strerror(errno));
	if (waitpid(s->pid, &status, 0) != s->pid)
		die("waitpid dbsyncd: %s", strerror(errno));
	forget_server(s->pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("dbsyncd did not stop cleanly (status 0x%x)", status);
}

void servers_kill(void)
{
	for (int i = 0; i < MAX_SERVERS; i++)
		if (running[i] > 0) {
			kill(running[i], SIGTERM);
			waitpid(running[i], NULL, 0);
			running[i] = 0;
		}
}

void make_client(const char *path, const char *schema_sql,
		 const char *const *tables, const char *url)
{
	dbsync_client *c = NULL;
	sqlite3 *db;

	remove_db_files(path, 0);
	db = open_db(path);
	exec_sql(db, schema_sql);
	check_sqlite(db, sqlite3_close(db), "close");
	check_dbsync(NULL, dbsync_client_open(&c, path), "dbsync_client_open");
	for (; *tables; tables++)
		check_dbsync(c,
			     dbsync_client_track(c, *tables,
						 DBSYNC_DIRECTION_BOTH),
			     "dbsync_client_track");
	check_dbsync(c, dbsync_client_set_server(c, url),
		     "dbsync_client_set_server");
	check_dbsync(c, dbsync_client_register(c, NULL),
		     "dbsync_client_register");
	dbsync_client_free(c);
}
