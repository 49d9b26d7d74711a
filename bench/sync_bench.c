/*
 * sync_bench - push and pull throughput through a real dbsyncd on loopback.
 *
 * Every round:
 *   1. baseline: a plain SQLite insert of the N rows into a fresh database
 *      (prepared statement, one transaction, WAL, SQLite's defaults), timed
 *      from BEGIN to the end of COMMIT. It runs first in odd rounds and last
 *      in even rounds, so a drift in the machine's speed hits both sides;
 *   2. a dbsyncd child process (fork + exec) on a fresh store, listening on
 *      127.0.0.1 port 0, schema and tracking given on its command line,
 *      registration open;
 *   3. client A (a fresh database, `item` tracked, registered) receives the
 *      N rows through this program's own sqlite3 connection in one
 *      transaction, as an application would write them; then
 *      dbsync_client_push is timed;
 *   4. the server is stopped (SIGTERM) and started again on the same store,
 *      so its memory figure for the pull is the pull's alone;
 *   5. client B (a fresh database, same schema, registered) times
 *      dbsync_client_pull; its rows are then compared with A's, row by row.
 *
 * The push and the pull each run in a child process of their own (this
 * program executed again with a hidden --child option), so the client's peak
 * resident memory (VmHWM) is that of a process that opens a database and
 * syncs it, nothing else. The server's peak is VmHWM of the dbsyncd process
 * read right before it is stopped. CPU times of client and server are taken
 * around the timed call (getrusage in the child, /proc/PID/stat of dbsyncd).
 *
 * The figures are N / seconds ("ops/s", one operation per row) and the ratio
 * plain insert rate / sync rate ("x times slower"); per round and the median
 * of the rounds. The benchmark never fails on timing. See docs/benchmarks.md.
 */
#include <dbsync.h>
#include <sqlite3.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define TABLE "item"
#define TABLE_SQL                                                          \
	"CREATE TABLE IF NOT EXISTS " TABLE " (id INTEGER PRIMARY KEY,"    \
	" name TEXT, qty INTEGER, price REAL, note TEXT);\n"
#define INSERT_SQL                                                         \
	"INSERT INTO " TABLE " (id, name, qty, price, note)"               \
	" VALUES (?1, ?2, ?3, ?4, ?5)"

/* The target of the issue, in each direction. */
#define TARGET_OPS 100000.0

/* Row values as in capture_bench: 25 and 45 bytes of ASCII words drawn
 * from pools by a hash of the key. */

struct options {
	long long rows;
	int rounds;
	const char *dbsyncd;
	const char *dir;
	long long page_size; /* 0: the server's default */
	long timeout_s;	     /* per request, for the client */
};

/* What a child reports about its timed call. */
struct client_result {
	double seconds;
	double cpu;	       /* user + system of the child, during the call */
	long long hwm_kb;      /* VmHWM at the end */
	long long rss_kb;      /* VmRSS right before the call */
	long long bytes;       /* HTTP bytes sent + received (progress) */
	long long requests;    /* HTTP requests, as the progress callback saw */
};

struct round_result {
	double plain;	/* seconds */
	double tracked; /* the tracked insert into A (capture), for scale */
	struct client_result push, pull;
	double push_server_cpu, pull_server_cpu;
	long long push_server_hwm, pull_server_hwm;	/* kB */
	long long push_server_start, pull_server_start; /* kB, after start */
};

static char made_dir[PATH_MAX]; /* the directory this run created, if any */
static const char *work_dir;
static int keep_files;

/* ---- small helpers ---- */

static double mb(long long kb)
{
	return (double)kb / 1024.0;
}

/* A file in the work directory. */
static const char *path_in_dir(char *buf, size_t size, const char *name)
{
	return path_join(buf, size, work_dir, name);
}

static void remove_db(const char *name)
{
	char path[PATH_MAX];

	remove_db_files(path_in_dir(path, sizeof path, name), 0);
}

/* ---- the rows ---- */

static sqlite3 *open_work_db(const char *name)
{
	char path[PATH_MAX];

	return open_db(path_in_dir(path, sizeof path, name));
}

/* Insert the N rows into `name` in one transaction; seconds from BEGIN to
 * the end of COMMIT. */
static double timed_insert(const char *name, long long rows)
{
	sqlite3 *db = open_work_db(name);
	sqlite3_stmt *stmt = NULL;
	double start, seconds;

	exec_sql(db, TABLE_SQL);
	check_sqlite(db, sqlite3_prepare_v2(db, INSERT_SQL, -1, &stmt, NULL),
		     INSERT_SQL);
	start = now_seconds();
	exec_sql(db, "BEGIN");
	insert_rows(db, stmt, rows);
	exec_sql(db, "COMMIT");
	seconds = now_seconds() - start;
	sqlite3_finalize(stmt);
	check_sqlite(db, sqlite3_close(db), "close");
	return seconds;
}

/* ---- clients ---- */

/* Counts HTTP bytes: curl's progress restarts at 0 with every request. */
struct transfer {
	long long done, current, requests;
};

static int on_progress(uint64_t bytes_done, uint64_t bytes_total,
		       uint64_t ops_done, uint64_t ops_total, void *payload)
{
	struct transfer *t = payload;

	(void)bytes_total;
	(void)ops_total;
	if (ops_done && !bytes_done)
		return 0; /* a pull page applied, not HTTP progress */
	if ((long long)bytes_done < t->current) {
		t->done += t->current; /* a new request began */
		t->requests++;
	}
	t->current = (long long)bytes_done;
	return 0;
}

/*
 * The child: open the client database, time push or pull, report on
 * stdout: "ok SECONDS CPU HWM_KB RSS_KB BYTES REQUESTS".
 */
static int child_main(int argc, char **argv)
{
	const char *what, *path, *url;
	long long page_size, timeout_s;
	struct transfer t = {0, 0, 0};
	dbsync_client *c = NULL;
	double start, cpu, seconds;
	long long rss;
	int rc;

	if (argc != 7)
		die("--child: internal use");
	what = argv[2];
	path = argv[3];
	url = argv[4];
	page_size = strtoll(argv[5], NULL, 10);
	timeout_s = strtoll(argv[6], NULL, 10);

	check_dbsync(NULL, dbsync_client_open(&c, path), "dbsync_client_open");
	check_dbsync(c, dbsync_client_set_server(c, url),
		     "dbsync_client_set_server");
	check_dbsync(c, dbsync_client_set_timeouts(c, 10000, timeout_s * 1000),
		     "dbsync_client_set_timeouts");
	if (page_size > 0)
		check_dbsync(c, dbsync_client_set_page_size(c, page_size),
			     "dbsync_client_set_page_size");
	check_dbsync(c, dbsync_client_on_progress(c, on_progress, &t),
		     "dbsync_client_on_progress");

	rss = proc_status_kb(0, "VmRSS");
	cpu = cpu_seconds();
	start = now_seconds();
	if (!strcmp(what, "push"))
		rc = dbsync_client_push(c);
	else
		rc = dbsync_client_pull(c);
	seconds = now_seconds() - start;
	cpu = cpu_seconds() - cpu;
	check_dbsync(c, rc, !strcmp(what, "push") ? "dbsync_client_push"
						  : "dbsync_client_pull");
	if (t.current) {
		t.done += t.current;
		t.requests++;
	}
	printf("ok %.9f %.9f %lld %lld %lld %lld\n", seconds, cpu,
	       proc_status_kb(0, "VmHWM"), rss, t.done, t.requests);
	dbsync_client_free(c);
	return 0;
}

/* Run this program again as a child that pushes or pulls `name`. */
static struct client_result run_client(const struct options *o,
				       const char *what, const char *name,
				       const struct bench_server *s)
{
	char self[PATH_MAX], path[PATH_MAX], page[32], timeout[32], line[512];
	struct client_result r;
	ssize_t len;
	int fds[2], status;
	size_t got = 0;
	pid_t pid;

	len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0)
		die("readlink /proc/self/exe: %s", strerror(errno));
	self[len] = '\0';
	path_in_dir(path, sizeof path, name);
	snprintf(page, sizeof page, "%lld",
		 !strcmp(what, "pull") ? o->page_size : 0);
	snprintf(timeout, sizeof timeout, "%ld", o->timeout_s);
	if (pipe(fds) != 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		char *argv[] = {self,		"--child", (char *)what, path,
				(char *)s->url, page,	   timeout,	 NULL};

		close(fds[0]);
		dup2(fds[1], 1);
		close(fds[1]);
		execv(self, argv);
		_exit(127);
	}
	close(fds[1]);
	while (got < sizeof line - 1) {
		ssize_t n = read(fds[0], line + got, sizeof line - 1 - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	line[got] = '\0';
	close(fds[0]);
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("the %s child failed (status 0x%x)", what, status);
	memset(&r, 0, sizeof r);
	if (sscanf(line, "ok %lf %lf %lld %lld %lld %lld", &r.seconds, &r.cpu,
		   &r.hwm_kb, &r.rss_kb, &r.bytes, &r.requests) != 6)
		die("the %s child said \"%s\"", what, line);
	return r;
}

/* Untimed checks after a round: both logs empty, B's rows equal A's. */
static void verify(const struct options *o)
{
	char path[PATH_MAX], *sql;
	sqlite3 *db = open_work_db("b.db");
	long long n, differ, pending_a, pending_b;

	n = query_int(db, "SELECT count(*) FROM " TABLE);
	if (n != o->rows)
		die("client B has %lld rows after the pull, expected %lld", n,
		    o->rows);
	sql = sqlite3_mprintf("ATTACH %Q AS a",
			      path_in_dir(path, sizeof path, "a.db"));
	exec_sql(db, sql);
	sqlite3_free(sql);
	differ = query_int(db, "SELECT count(*) FROM"
			       " (SELECT * FROM a." TABLE
			       " EXCEPT SELECT * FROM main." TABLE ")");
	if (differ)
		die("%lld rows of client B differ from client A's", differ);
	pending_a = query_int(db, "SELECT count(*) FROM a.dbsync_log");
	pending_b = query_int(db, "SELECT count(*) FROM main.dbsync_log");
	if (pending_a || pending_b)
		die("log entries left after the sync: %lld in A, %lld in B",
		    pending_a, pending_b);
	check_sqlite(db, sqlite3_close(db), "close");
}

static void write_schema(void)
{
	char path[PATH_MAX];
	FILE *f = fopen(path_in_dir(path, sizeof path, "schema.sql"), "w");

	if (!f || fputs(TABLE_SQL, f) < 0 || fclose(f) != 0)
		die("cannot write %s", path);
}

/* A fresh client database in the work directory, `item` tracked,
 * registered with the server. Untimed. */
static void make_work_client(const char *name, const struct bench_server *s)
{
	static const char *const tables[] = {TABLE, NULL};
	char path[PATH_MAX];

	make_client(path_in_dir(path, sizeof path, name), TABLE_SQL, tables,
		    s->url);
}

static void run_round(const struct options *o, int round,
		      struct round_result *res)
{
	struct bench_server s;
	sqlite3 *db;
	sqlite3_stmt *stmt = NULL;
	double start;
	int plain_first = round % 2 == 0;

	remove_db("server.db");
	remove_db("plain.db");
	if (plain_first)
		res->plain = timed_insert("plain.db", o->rows);

	/* Push: client A's rows, written by the application. */
	server_start(&s, o->dbsyncd, work_dir, TABLE);
	res->push_server_start = s.start_rss_kb;
	make_work_client("a.db", &s);
	db = open_work_db("a.db");
	check_sqlite(db, sqlite3_prepare_v2(db, INSERT_SQL, -1, &stmt, NULL),
		     INSERT_SQL);
	start = now_seconds();
	exec_sql(db, "BEGIN");
	insert_rows(db, stmt, o->rows);
	exec_sql(db, "COMMIT");
	res->tracked = now_seconds() - start;
	sqlite3_finalize(stmt);
	exec_sql(db, "PRAGMA wal_checkpoint(TRUNCATE)");
	check_sqlite(db, sqlite3_close(db), "close");

	s.cpu_mark = pid_cpu_seconds(s.pid);
	res->push = run_client(o, "push", "a.db", &s);
	res->push_server_cpu = pid_cpu_seconds(s.pid) - s.cpu_mark;
	res->push_server_hwm = proc_status_kb(s.pid, "VmHWM");
	server_stop(&s);

	/* Pull: a fresh server process on the same store, a fresh client. */
	server_start(&s, o->dbsyncd, work_dir, TABLE);
	res->pull_server_start = s.start_rss_kb;
	make_work_client("b.db", &s);
	s.cpu_mark = pid_cpu_seconds(s.pid);
	res->pull = run_client(o, "pull", "b.db", &s);
	res->pull_server_cpu = pid_cpu_seconds(s.pid) - s.cpu_mark;
	res->pull_server_hwm = proc_status_kb(s.pid, "VmHWM");
	server_stop(&s);

	if (!plain_first)
		res->plain = timed_insert("plain.db", o->rows);
	verify(o);
}

static double ops(const struct options *o, double seconds)
{
	return seconds > 0 ? (double)o->rows / seconds : 0;
}

static void print_round(const struct options *o, int round,
			const struct round_result *r)
{
	char a[32], b[32], c[32];
	double plain = ops(o, r->plain);

	printf("round %d: plain insert %.3f s = %s ops/s%s; tracked insert "
	       "into A %.3f s\n",
	       round + 1, r->plain, group((long long)plain, a),
	       round % 2 == 0 ? " (first)" : " (last)", r->tracked);
	printf("  push %.3f s = %s ops/s, %.1fx slower than the plain insert;"
	       " client CPU %.2f s, server CPU %.2f s; %s bytes in %lld "
	       "request(s)\n",
	       r->push.seconds, group((long long)ops(o, r->push.seconds), b),
	       plain / ops(o, r->push.seconds), r->push.cpu, r->push_server_cpu,
	       group(r->push.bytes, c), r->push.requests);
	printf("  pull %.3f s = %s ops/s, %.1fx slower than the plain insert;"
	       " client CPU %.2f s, server CPU %.2f s; %s bytes in %lld "
	       "request(s)\n",
	       r->pull.seconds, group((long long)ops(o, r->pull.seconds), b),
	       plain / ops(o, r->pull.seconds), r->pull.cpu, r->pull_server_cpu,
	       group(r->pull.bytes, c), r->pull.requests);
	printf("  peak memory (VmHWM): pull client %.1f MB (%.1f MB before the "
	       "pull), pull server %.1f MB (%.1f MB after start); push client "
	       "%.1f MB, push server %.1f MB\n",
	       mb(r->pull.hwm_kb), mb(r->pull.rss_kb), mb(r->pull_server_hwm),
	       mb(r->pull_server_start), mb(r->push.hwm_kb),
	       mb(r->push_server_hwm));
	fflush(stdout);
}

static void print_summary(const struct options *o,
			  const struct round_result *res)
{
	double plain[1000], push[1000], pull[1000], push_ratio[1000],
		pull_ratio[1000], v[1000];
	double m_push, m_pull;
	char a[32], b[32];
	int n = o->rounds;

	for (int r = 0; r < n; r++) {
		plain[r] = ops(o, res[r].plain);
		push[r] = ops(o, res[r].push.seconds);
		pull[r] = ops(o, res[r].pull.seconds);
		push_ratio[r] = plain[r] / push[r];
		pull_ratio[r] = plain[r] / pull[r];
	}
	m_push = median(push, n);
	m_pull = median(pull, n);
	printf("median of %d rounds (ratios: median of the per-round "
	       "ratios):\n",
	       n);
	printf("plain insert  %s ops/s\n", group((long long)median(plain, n), a));
	printf("push          %s ops/s  %.1fx slower than the plain insert  "
	       "target >= %s ops/s  %s\n",
	       group((long long)m_push, a), median(push_ratio, n),
	       group((long long)TARGET_OPS, b),
	       m_push >= TARGET_OPS ? "MET" : "NOT MET");
	printf("pull          %s ops/s  %.1fx slower than the plain insert  "
	       "target >= %s ops/s  %s\n",
	       group((long long)m_pull, a), median(pull_ratio, n),
	       group((long long)TARGET_OPS, b),
	       m_pull >= TARGET_OPS ? "MET" : "NOT MET");
	/* Client and server take turns (one request at a time), so their
	 * CPU times add up to what the sync costs without disk waits and
	 * without the other processes of a busy machine. */
	for (int r = 0; r < n; r++)
		v[r] = ops(o, res[r].push.cpu + res[r].push_server_cpu);
	printf("in CPU time of client + server (no disk waits, no other "
	       "processes): push %s ops/s",
	       group((long long)median(v, n), a));
	for (int r = 0; r < n; r++)
		v[r] = ops(o, res[r].pull.cpu + res[r].pull_server_cpu);
	printf(", pull %s ops/s\n", group((long long)median(v, n), a));
	for (int r = 0; r < n; r++)
		v[r] = (double)res[r].pull.hwm_kb;
	printf("peak memory during the pull: client %.1f MB (median; max",
	       mb((long long)median(v, n)));
	{
		long long mc = 0, ms = 0;

		for (int r = 0; r < n; r++) {
			if (res[r].pull.hwm_kb > mc)
				mc = res[r].pull.hwm_kb;
			if (res[r].pull_server_hwm > ms)
				ms = res[r].pull_server_hwm;
			v[r] = (double)res[r].pull_server_hwm;
		}
		printf(" %.1f MB), server %.1f MB (median; max %.1f MB)\n",
		       mb(mc), mb((long long)median(v, n)), mb(ms));
	}
	fflush(stdout);
}

/* ---- main ---- */

static void cleanup(void)
{
	servers_kill();
	if (!work_dir || keep_files)
		return;
	{
		static const char *const dbs[] = {"server.db", "a.db", "b.db",
						  "plain.db"};
		char path[PATH_MAX];

		for (size_t i = 0; i < sizeof dbs / sizeof *dbs; i++)
			remove_db_files(path_in_dir(path, sizeof path, dbs[i]),
					1);
		unlink(path_in_dir(path, sizeof path, "schema.sql"));
		unlink(path_in_dir(path, sizeof path, "dbsyncd.log"));
		unlink(path_in_dir(path, sizeof path, "dbsyncd.port"));
		rmdir(made_dir);
	}
}

static void usage(FILE *f)
{
	fputs("usage: sync_bench [options]\n"
	      "  --rows N          rows pushed and pulled (default 100000)\n"
	      "  --rounds R        rounds (default 3)\n"
	      "  --dbsyncd PATH    the server (default: ../tools/dbsyncd next "
	      "to this\n"
	      "                    program)\n"
	      "  --dir DIR         directory for the databases and the server's "
	      "log,\n"
	      "                    kept (default: a new directory under "
	      "$TMPDIR or /tmp,\n"
	      "                    removed at the end)\n"
	      "  --page-size N     operations per pull page asked for (default: "
	      "the\n"
	      "                    server's default)\n"
	      "  --timeout S       client timeout per request in seconds "
	      "(default 3600)\n",
	      f);
}

int main(int argc, char **argv)
{
	bench_name = "sync_bench";
	static char default_path[PATH_MAX];
	struct options o = {.rows = 100000, .rounds = 3, .timeout_s = 3600};
	struct round_result *res;
	char a[32], page[48] = "the server's default";

	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child_main(argc, argv);

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "--rows"))
			o.rows = parse_count(arg, v, 1), i++;
		else if (!strcmp(arg, "--rounds"))
			o.rounds = (int)parse_count(arg, v, 1), i++;
		else if (!strcmp(arg, "--page-size"))
			o.page_size = parse_count(arg, v, 0), i++;
		else if (!strcmp(arg, "--timeout"))
			o.timeout_s = (long)parse_count(arg, v, 1), i++;
		else if (!strcmp(arg, "--dbsyncd") || !strcmp(arg, "--dir")) {
			if (!v)
				die("%s needs a value", arg);
			*(!strcmp(arg, "--dir") ? &o.dir : &o.dbsyncd) = v;
			i++;
		} else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			die("unknown option %s", arg);
		}
	}
	if (o.rounds > 1000)
		die("--rounds: at most 1000");
	if (!o.dbsyncd) {
		default_dbsyncd(default_path);
		o.dbsyncd = default_path;
	}
	if (access(o.dbsyncd, X_OK) != 0)
		die("no dbsyncd at %s (build it, or give --dbsyncd PATH)",
		    o.dbsyncd);
	o.dir = make_work_dir(o.dir, "sync_bench", made_dir);
	work_dir = o.dir;
	keep_files = !*made_dir; /* a --dir is the caller's: files kept */
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	fill_pools();
	write_schema();

	res = calloc((size_t)o.rounds, sizeof *res);
	if (!res)
		die("out of memory");
	if (o.page_size)
		snprintf(page, sizeof page, "%lld operations", o.page_size);
	printf("sync_bench: dbsync %s, SQLite %s, %s rows, %d rounds, pull "
	       "page size %s, dbsyncd %s, directory %s\n",
	       dbsync_version(), sqlite3_libversion(), group(o.rows, a),
	       o.rounds, page, o.dbsyncd, o.dir);
	printf("journal_mode WAL, SQLite's defaults otherwise (synchronous "
	       "FULL); dbsyncd on 127.0.0.1, plain HTTP, registration open\n");
	fflush(stdout);

	for (int r = 0; r < o.rounds; r++) {
		run_round(&o, r, &res[r]);
		print_round(&o, r, &res[r]);
	}
	print_summary(&o, res);
	free(res);
	return 0;
}
