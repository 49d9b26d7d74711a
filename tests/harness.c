/*
 * harness.c - runner, assertions and helpers for the dbsync C tests.
 * See harness.h for how a test file uses it.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- per-case state --------------------------------------------------- */

struct mem {
	struct mem *next;
	/* payload follows, aligned for anything */
	max_align_t align[];
};

struct handle {
	struct handle *next;
	int is_client;
	void *p;
};

static struct {
	jmp_buf jump;
	int running;
	pthread_t thread;
	char tmpdir[4096];
	struct mem *mem;
	struct handle *handles;
} cur;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- failing ---------------------------------------------------------- */

void th_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("  %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cur.running || !pthread_equal(pthread_self(), cur.thread)) {
		printf("  (assertion outside the case's thread: aborting)\n");
		fflush(stdout);
		abort();
	}
	longjmp(cur.jump, 1);
}

void th_note(const char *fmt, ...)
{
	va_list ap;

	printf("  note: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void th_assert_int(const char *file, int line, const char *a_expr,
		   const char *b_expr, const char *op, long long a, long long b)
{
	int ok;

	if (strcmp(op, "==") == 0)
		ok = a == b;
	else if (strcmp(op, "!=") == 0)
		ok = a != b;
	else if (strcmp(op, "<") == 0)
		ok = a < b;
	else if (strcmp(op, "<=") == 0)
		ok = a <= b;
	else if (strcmp(op, ">") == 0)
		ok = a > b;
	else
		ok = a >= b;
	if (!ok)
		th_fail(file, line, "expected %s %s %s, got %lld %s %lld",
			a_expr, op, b_expr, a, op, b);
}

static void print_str(const char *s)
{
	if (s == NULL)
		printf("NULL");
	else
		printf("\"%s\"", s);
}

void th_assert_str(const char *file, int line, const char *a_expr,
		   const char *b_expr, int want_equal, const char *a,
		   const char *b)
{
	int equal;

	if (a == NULL || b == NULL)
		equal = a == b;
	else
		equal = strcmp(a, b) == 0;
	if (equal == want_equal)
		return;
	printf("  %s:%d: expected %s %s %s\n    left:  ", file, line, a_expr,
	       want_equal ? "==" : "!=", b_expr);
	print_str(a);
	printf("\n    right: ");
	print_str(b);
	printf("\n");
	th_fail(file, line, "string comparison failed");
}

void th_assert_code(const char *file, int line, const char *expr, int got,
		    int want)
{
	if (got == want)
		return;
	th_fail(file, line,
		"%s returned %d (%s), expected %d (%s); last error: \"%s\"",
		expr, got, dbsync_error_name(got), want,
		dbsync_error_name(want), dbsync_last_error_message());
}

void th_assert_good_message(const char *file, int line, const char *expr,
			    const char *msg)
{
	static const char *const sql_words[] = {"SELECT ", "INSERT ",
						"UPDATE ", "DELETE ",
						"CREATE ", "DROP "};
	size_t k;

	if (msg == NULL)
		th_fail(file, line, "%s is NULL", expr);
	if (msg[0] == '\0')
		th_fail(file, line, "%s is empty", expr);
	if (strchr(msg, '\n') != NULL)
		th_fail(file, line, "%s is not one line: \"%s\"", expr, msg);
	if (strncmp(msg, "failed to", 9) == 0 ||
	    strncmp(msg, "Failed to", 9) == 0)
		th_fail(file, line, "%s starts with \"failed to\": \"%s\"",
			expr, msg);
	for (k = 0; k < sizeof(sql_words) / sizeof(sql_words[0]); k++)
		if (strstr(msg, sql_words[k]) != NULL)
			th_fail(file, line, "%s contains SQL: \"%s\"", expr,
				msg);
}

/* ---- memory ----------------------------------------------------------- */

void *th_alloc(size_t size)
{
	struct mem *m = malloc(sizeof(*m) + size + 1);

	if (m == NULL) {
		printf("  out of memory\n");
		abort();
	}
	memset(m->align, 0, size + 1);
	m->next = cur.mem;
	cur.mem = m;
	return m->align;
}

char *th_strdup(const char *s)
{
	size_t len = strlen(s);
	char *d = th_alloc(len + 1);

	memcpy(d, s, len + 1);
	return d;
}

char *th_fmt(const char *fmt, ...)
{
	va_list ap;
	int len;
	char *s;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	s = th_alloc((size_t)len + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)len + 1, fmt, ap);
	va_end(ap);
	return s;
}

int th_contains(const char *haystack, const char *needle)
{
	return strstr(haystack, needle) != NULL;
}

/* ---- files ------------------------------------------------------------ */

const char *th_tmpdir(void)
{
	return cur.tmpdir;
}

const char *th_path(const char *name)
{
	return th_fmt("%s/%s", cur.tmpdir, name);
}

void th_write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ASSERT_MSG(f != NULL, "cannot create %s: %s", path, strerror(errno));
	if (len > 0 && fwrite(data, 1, len, f) != len) {
		fclose(f);
		th_fail(__FILE__, __LINE__, "cannot write %s", path);
	}
	ASSERT_MSG(fclose(f) == 0, "cannot close %s", path);
}

void *th_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long size;
	void *buf;

	ASSERT_MSG(f != NULL, "cannot open %s: %s", path, strerror(errno));
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		th_fail(__FILE__, __LINE__, "cannot size %s", path);
	}
	buf = th_alloc((size_t)size + 1);
	if (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		th_fail(__FILE__, __LINE__, "cannot read %s", path);
	}
	fclose(f);
	((char *)buf)[size] = '\0'; /* so text files can be searched */
	if (len)
		*len = (size_t)size;
	return buf;
}

static int remove_entry(const char *path, const struct stat *sb, int flag,
			struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		printf("  warning: cannot remove %s: %s\n", path,
		       strerror(errno));
	return 0;
}

static int make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	snprintf(cur.tmpdir, sizeof(cur.tmpdir), "%s/dbsync-test-XXXXXX",
		 base);
	if (mkdtemp(cur.tmpdir) == NULL) {
		printf("  cannot create a temporary directory under %s: %s\n",
		       base, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- randomness ------------------------------------------------------- */

uint64_t th_seed(void)
{
	const char *env = getenv("DBSYNC_TEST_SEED");
	uint64_t seed;

	if (env != NULL && env[0] != '\0') {
		seed = strtoull(env, NULL, 0);
	} else {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000007u ^
		       (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
	}
	th_note("seed %llu (replay with DBSYNC_TEST_SEED=%llu)",
		(unsigned long long)seed, (unsigned long long)seed);
	return seed;
}

void th_rng_init(th_rng *r, uint64_t seed)
{
	r->s = seed;
}

/* splitmix64: tiny, fast, and fine for choosing test operations. */
uint64_t th_rng_next(th_rng *r)
{
	uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

uint32_t th_rng_below(th_rng *r, uint32_t n)
{
	return (uint32_t)(th_rng_next(r) % n);
}

/* ---- processes -------------------------------------------------------- */

int th_run(const char *const argv[])
{
	pid_t pid;
	int status;
	int rc;

	fflush(stdout);
	fflush(stderr);
	rc = posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv,
			  environ);
	if (rc != 0) {
		printf("  cannot run %s: %s\n", argv[0], strerror(rc));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	printf("  %s killed by signal %d\n", argv[0],
	       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return -1;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : fallback;
}

const char *th_sqlite3_shell(void)
{
	return env_or("DBSYNC_TEST_SQLITE3", "sqlite3");
}

const char *th_python3(void)
{
	return env_or("DBSYNC_TEST_PYTHON3", "python3");
}

/* ---- handles closed at the end of a case ------------------------------ */

static void track_handle(void *p, int is_client)
{
	struct handle *h = malloc(sizeof(*h));

	if (h == NULL)
		abort();
	h->p = p;
	h->is_client = is_client;
	h->next = cur.handles;
	cur.handles = h;
}

static int untrack_handle(void *p)
{
	struct handle **pp;

	for (pp = &cur.handles; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->p == p) {
			struct handle *h = *pp;
			*pp = h->next;
			free(h);
			return 1;
		}
	}
	return 0;
}

static void close_handles(void)
{
	while (cur.handles != NULL) {
		struct handle *h = cur.handles;
		cur.handles = h->next;
		if (h->is_client)
			dbsync_client_free(h->p);
		else
			sqlite3_close_v2(h->p);
		free(h);
	}
}

/* ---- SQLite ----------------------------------------------------------- */

sqlite3 *th_db_open(const char *path)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
				 NULL);

	if (rc != SQLITE_OK) {
		char *msg = th_strdup(db ? sqlite3_errmsg(db) : "?");
		sqlite3_close_v2(db);
		th_fail(__FILE__, __LINE__, "sqlite3_open_v2(%s): %s", path,
			msg);
	}
	track_handle(db, 0);
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	th_exec(db, "PRAGMA foreign_keys = ON");
	return db;
}

void th_db_close(sqlite3 *db)
{
	if (db == NULL)
		return;
	untrack_handle(db);
	ASSERT_EQ_INT(sqlite3_close(db), SQLITE_OK);
}

int th_exec_rc(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

void th_exec_at(const char *file, int line, sqlite3 *db, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);

	if (rc != SQLITE_OK) {
		char *msg = th_strdup(err ? err : sqlite3_errstr(rc));
		sqlite3_free(err);
		th_fail(file, line, "SQL failed (%d: %s): %s", rc, msg, sql);
	}
}

static sqlite3_stmt *prepare_first_row(const char *file, int line,
				       sqlite3 *db, const char *sql, int *has)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK) {
		char *msg = th_strdup(sqlite3_errmsg(db));
		th_fail(file, line, "cannot prepare (%s): %s", msg, sql);
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		char *msg = th_strdup(sqlite3_errmsg(db));
		sqlite3_finalize(st);
		th_fail(file, line, "query failed (%d: %s): %s", rc, msg, sql);
	}
	*has = rc == SQLITE_ROW;
	return st;
}

int64_t th_query_int_at(const char *file, int line, sqlite3 *db,
			const char *sql)
{
	int has;
	sqlite3_stmt *st = prepare_first_row(file, line, db, sql, &has);
	int64_t v = has ? sqlite3_column_int64(st, 0) : 0;

	sqlite3_finalize(st);
	return v;
}

char *th_query_text_at(const char *file, int line, sqlite3 *db,
		       const char *sql)
{
	int has;
	sqlite3_stmt *st = prepare_first_row(file, line, db, sql, &has);
	char *v = NULL;

	if (has && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = th_strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

/* ---- dbsync ----------------------------------------------------------- */

dbsync_client *th_client_open_at(const char *file, int line, const char *path)
{
	dbsync_client *c = NULL;
	int rc = dbsync_client_open(&c, path);

	if (rc != DBSYNC_OK)
		th_fail(file, line, "dbsync_client_open(%s) = %d (%s): %s",
			path, rc, dbsync_error_name(rc),
			dbsync_last_error_message());
	if (c == NULL)
		th_fail(file, line, "dbsync_client_open returned OK and NULL");
	track_handle(c, 1);
	return c;
}

dbsync_client *th_sync_client(const char *url, const char *name,
			      const char *schema, const char *tables)
{
	const char *path = th_fmt("%s.db", th_path(name));
	char *list = th_strdup(tables), *table, *save = NULL;
	sqlite3 *db = th_db_open(path);
	dbsync_client *c;

	th_exec(db, schema);
	th_db_close(db);
	c = th_client_open(path);
	ASSERT_OK(dbsync_client_set_server(c, url));
	for (table = strtok_r(list, ",", &save); table;
	     table = strtok_r(NULL, ",", &save))
		ASSERT_OK(dbsync_client_track(c, table, DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_register(c, NULL));
	return c;
}

void th_client_free(dbsync_client *client)
{
	untrack_handle(client);
	dbsync_client_free(client);
}

static int op_same_key(const th_op *a, const th_op *b)
{
	if (strcmp(a->table, b->table) != 0 || a->type != b->type)
		return 0;
	switch (a->type) {
	case DBSYNC_TYPE_INTEGER:
		return a->i == b->i;
	case DBSYNC_TYPE_FLOAT:
		return a->f == b->f;
	default:
		return a->size == b->size &&
		       (a->size == 0 || memcmp(a->bytes, b->bytes, a->size) == 0);
	}
}

th_op *th_pending_at(const char *file, int line, dbsync_client *client,
		     size_t *n)
{
	dbsync_oplist *list = NULL;
	int rc = dbsync_client_pending(&list, client);
	size_t count, k, j;
	th_op *ops;

	if (rc != DBSYNC_OK)
		th_fail(file, line, "dbsync_client_pending = %d (%s): %s", rc,
			dbsync_error_name(rc),
			dbsync_client_error_message(client));
	if (list == NULL)
		th_fail(file, line, "dbsync_client_pending gave OK and NULL");
	count = dbsync_oplist_count(list);
	ops = th_alloc(sizeof(*ops) * (count + 1));
	for (k = 0; k < count; k++) {
		const char *t = dbsync_oplist_table(list, k);
		const void *b;
		size_t size = 0;

		ops[k].table = th_strdup(t ? t : "(null)");
		ops[k].command = dbsync_oplist_command(list, k);
		ops[k].type = (int)dbsync_oplist_pk_type(list, k);
		ops[k].i = dbsync_oplist_pk_int(list, k);
		ops[k].f = dbsync_oplist_pk_float(list, k);
		ops[k].seq = dbsync_oplist_seq(list, k);
		b = dbsync_oplist_pk_bytes(list, k, &size);
		if (b != NULL) {
			unsigned char *copy = th_alloc(size + 1);
			memcpy(copy, b, size);
			ops[k].bytes = copy;
			ops[k].size = size;
		}
	}
	dbsync_oplist_free(list);
	*n = count;

	for (k = 0; k < count; k++) {
		if (ops[k].command != 'i' && ops[k].command != 'u' &&
		    ops[k].command != 'd')
			th_fail(file, line, "pending op %zu has command %d", k,
				ops[k].command);
		if (k > 0 && ops[k].seq <= ops[k - 1].seq)
			th_fail(file, line,
				"pending seq not increasing at %zu: %lld then "
				"%lld",
				k, (long long)ops[k - 1].seq,
				(long long)ops[k].seq);
	}
	/* Quadratic, so only for lists a test can afford to look at. */
	if (count <= 2000)
		for (k = 0; k < count; k++)
			for (j = k + 1; j < count; j++)
				if (op_same_key(&ops[k], &ops[j]))
					th_fail(file, line,
						"pending ops %zu and %zu are "
						"on the same row: %s",
						k, j, th_ops_str(ops, count));
	return ops;
}

static char *op_str(const th_op *op)
{
	switch (op->type) {
	case DBSYNC_TYPE_INTEGER:
		return th_fmt("%s:%c:%lld", op->table, op->command,
			      (long long)op->i);
	case DBSYNC_TYPE_FLOAT:
		return th_fmt("%s:%c:%.17g", op->table, op->command, op->f);
	case DBSYNC_TYPE_TEXT:
		return th_fmt("%s:%c:'%s'", op->table, op->command,
			      op->bytes ? (const char *)op->bytes : "(null)");
	case DBSYNC_TYPE_BLOB: {
		char *hex = th_alloc(op->size * 2 + 1);
		size_t k;
		for (k = 0; k < op->size; k++)
			snprintf(hex + 2 * k, 3, "%02x", op->bytes[k]);
		return th_fmt("%s:%c:x'%s'", op->table, op->command, hex);
	}
	default:
		return th_fmt("%s:%c:?type%d", op->table, op->command,
			      op->type);
	}
}

static char *join(char **parts, size_t n)
{
	size_t len = 1, k;
	char *s, *p;

	for (k = 0; k < n; k++)
		len += strlen(parts[k]) + 1;
	s = p = th_alloc(len);
	for (k = 0; k < n; k++) {
		size_t l = strlen(parts[k]);
		if (k > 0)
			*p++ = ' ';
		memcpy(p, parts[k], l);
		p += l;
	}
	*p = '\0';
	return s;
}

char *th_ops_str(const th_op *ops, size_t n)
{
	char **parts = th_alloc(sizeof(*parts) * (n + 1));
	size_t k;

	for (k = 0; k < n; k++)
		parts[k] = op_str(&ops[k]);
	return join(parts, n);
}

static int cmp_ops(const void *pa, const void *pb)
{
	const th_op *a = pa, *b = pb;
	int c = strcmp(a->table, b->table);

	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	switch (a->type) {
	case DBSYNC_TYPE_INTEGER:
		return a->i < b->i ? -1 : a->i > b->i;
	case DBSYNC_TYPE_FLOAT:
		return a->f < b->f ? -1 : a->f > b->f;
	default: {
		size_t m = a->size < b->size ? a->size : b->size;
		c = m ? memcmp(a->bytes, b->bytes, m) : 0;
		if (c != 0)
			return c;
		return a->size < b->size ? -1 : a->size > b->size;
	}
	}
}

char *th_ops_sorted_str(const th_op *ops, size_t n)
{
	th_op *copy = th_alloc(sizeof(*copy) * (n + 1));

	if (n > 0) {
		memcpy(copy, ops, sizeof(*copy) * n);
		qsort(copy, n, sizeof(*copy), cmp_ops);
	}
	return th_ops_str(copy, n);
}

char *th_pending_str_at(const char *file, int line, dbsync_client *client)
{
	size_t n;
	th_op *ops = th_pending_at(file, line, client, &n);

	return th_ops_str(ops, n);
}

char *th_pending_sorted_str_at(const char *file, int line,
			       dbsync_client *client)
{
	size_t n;
	th_op *ops = th_pending_at(file, line, client, &n);

	return th_ops_sorted_str(ops, n);
}

long th_ops_find_int(const th_op *ops, size_t n, const char *table,
		     int64_t pk)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (ops[k].type == DBSYNC_TYPE_INTEGER && ops[k].i == pk &&
		    strcmp(ops[k].table, table) == 0)
			return (long)k;
	return -1;
}

/* ---- runner ----------------------------------------------------------- */

void th__stop_servers(void);
void th__pg_end_case(void);

static void end_case(int failed)
{
	const char *keep = getenv("DBSYNC_TEST_KEEP");

	th__stop_servers(); /* before their memory goes */
	th__pg_end_case();  /* schemas go once their servers are gone */
	close_handles();
	while (cur.mem != NULL) {
		struct mem *m = cur.mem;
		cur.mem = m->next;
		free(m);
	}
	if (cur.tmpdir[0] != '\0') {
		if ((keep != NULL && keep[0] != '\0') ||
		    (failed && getenv("DBSYNC_TEST_KEEP_FAILED") != NULL))
			printf("  kept %s\n", cur.tmpdir);
		else
			nftw(cur.tmpdir, remove_entry, 16,
			     FTW_DEPTH | FTW_PHYS);
		cur.tmpdir[0] = '\0';
	}
}

/* Returns 1 if the case passed. */
static int run_case(const th_case *c)
{
	/* volatile: read after longjmp. */
	volatile double start = now_ms();
	volatile int failed = 0;

	printf("--- %s\n", c->name);
	fflush(stdout);
	if (make_tmpdir() != 0) {
		printf("FAIL %s\n", c->name);
		return 0;
	}
	cur.thread = pthread_self();
	cur.running = 1;
	if (setjmp(cur.jump) == 0)
		c->fn();
	else
		failed = 1;
	cur.running = 0;
	end_case(failed);
	printf("%s %s (%.0f ms)\n", failed ? "FAIL" : "ok  ", c->name,
	       now_ms() - start);
	fflush(stdout);
	return !failed;
}

int th_main(int argc, char **argv, const th_case *cases, size_t ncases)
{
	int passed = 0, failed = 0, i;
	size_t k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* A test that kills a child must not die of a broken pipe itself. */
	signal(SIGPIPE, SIG_IGN);

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (k = 0; k < ncases; k++)
			printf("%s\n", cases[k].name);
		return 0;
	}
	if (argc == 1) {
		for (k = 0; k < ncases; k++) {
			if (run_case(&cases[k]))
				passed++;
			else
				failed++;
		}
	} else {
		for (i = 1; i < argc; i++) {
			for (k = 0; k < ncases; k++)
				if (strcmp(argv[i], cases[k].name) == 0)
					break;
			if (k == ncases) {
				printf("no test named \"%s\" (--list shows "
				       "them)\n",
				       argv[i]);
				failed++;
				continue;
			}
			if (run_case(&cases[k]))
				passed++;
			else
				failed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

/* ---- a real dbsyncd ---------------------------------------------------- */

#define MAX_SERVERS 8
static th_server *servers[MAX_SERVERS];

th_server *th_server_start(const char *name, const char *schema_sql,
			   const char *const *args)
{
	const char *schema;

	if (strcmp(th_store_kind(), "postgresql") != 0)
		return th_server_start_url(
			name, th_fmt("sqlite:%s.db", th_path(name)), NULL,
			schema_sql, args);
	schema = th_pg_schema_new();
	return th_server_start_url(name, th_pg_store_url(schema), schema,
				   schema_sql, args);
}

th_server *th_server_start_url(const char *name, const char *store_url,
			       const char *pg_schema, const char *schema_sql,
			       const char *const *args)
{
	const char *bin = env_or("DBSYNC_TEST_DBSYNCD", "dbsyncd");
	const char *argv[40];
	th_server *s = th_alloc(sizeof(*s));
	char *port_file = th_fmt("%s.port", th_path(name));
	size_t n = 0, k;
	pid_t pid;
	int fd, tries;

	memset(s, 0, sizeof(*s));
	s->store_url = th_strdup(store_url);
	s->pg_schema = pg_schema ? th_strdup(pg_schema) : NULL;
	if (strncmp(store_url, "sqlite:", 7) == 0)
		s->store = th_strdup(store_url + 7);
	s->log = th_fmt("%s.log", th_path(name));
	argv[n++] = bin;
	argv[n++] = "--store";
	argv[n++] = s->store_url;
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--port-file";
	argv[n++] = port_file;
	if (schema_sql) {
		const char *schema = th_fmt("%s.sql", th_path(name));
		th_write_file(schema, schema_sql, strlen(schema_sql));
		argv[n++] = "--schema";
		argv[n++] = schema;
	}
	for (k = 0; args && args[k] && n < 38; k++)
		argv[n++] = args[k];
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		/* If the test dies (a ctest timeout kills it), so does its
		 * server: no stray dbsyncd outlives a test run. */
		int log = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (log < 0 || dup2(log, 2) < 0)
			_exit(126);
		execvp(bin, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0)
		th_fail(__FILE__, __LINE__, "cannot start %s: %s", bin,
			strerror(errno));
	s->pid = (int)pid;
	for (k = 0; k < MAX_SERVERS; k++)
		if (!servers[k]) {
			servers[k] = s;
			break;
		}
	/* Up to 30 s (a loaded CI machine) for the port file: the server
	 * writes it once it listens. */
	for (tries = 0; tries < 3000 && !s->port; tries++) {
		char buf[16] = {0};
		fd = open(port_file, O_RDONLY);
		if (fd >= 0) {
			ssize_t got = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			if (got > 0 && buf[got - 1] == '\n')
				s->port = atoi(buf);
		}
		if (!s->port) {
			int status;
			if (waitpid(pid, &status, WNOHANG) == pid) {
				s->pid = 0;
				th_fail(__FILE__, __LINE__,
					"dbsyncd exited early; log: %s",
					(char *)th_read_file(s->log, NULL));
			}
			nanosleep(&(struct timespec){0, 10000000L}, NULL);
		}
	}
	if (!s->port)
		th_fail(__FILE__, __LINE__, "dbsyncd did not start listening");
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
	return s;
}

int th_server_stop(th_server *s)
{
	int status = -1;
	size_t k;

	for (k = 0; k < MAX_SERVERS; k++)
		if (servers[k] == s)
			servers[k] = NULL;
	if (!s->pid)
		return -1;
	kill((pid_t)s->pid, SIGTERM);
	while (waitpid((pid_t)s->pid, &status, 0) < 0 && errno == EINTR)
		;
	s->pid = 0;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Called by the runner after every case. */
void th__stop_servers(void)
{
	size_t k;

	for (k = 0; k < MAX_SERVERS; k++)
		if (servers[k])
			th_server_stop(servers[k]);
}
