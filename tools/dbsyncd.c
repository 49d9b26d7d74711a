/*
 * dbsyncd - the dbsync HTTP server.
 *
 * A thin host: httpd.c (the library's libmicrohttpd wrapper) serves HTTP and
 * TLS, and dbsync_server_handle answers every request, health, metrics and
 * error bodies included. This file parses flags, prepares the store, logs
 * one line per request and stops cleanly on SIGTERM/SIGINT. Flags, log
 * format and exit codes are described in docs/operations.md; keep the two
 * in step.
 */
#include <dbsync.h>
#include <dbsync/server.h>

#include "http.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Documented in --help and docs/operations.md; never renumber. */
enum {
	EXIT_OK = 0,
	EXIT_FAILURE_ = 1, /* store, schema, tracking, listening */
	EXIT_USAGE = 2
};

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_MAX_BODY ((size_t)16 * 1024 * 1024)

struct options {
	const char *store;
	const char *listen;
	char **tables; /* from every --track, split at commas */
	size_t ntables;
	int track_all;
	const char *schema;
	const char *registration;
	const char *tls_cert;
	const char *tls_key;
	size_t max_body;
	unsigned threads;
	long timeout_s;
	const char *port_file;
	/* "HOST" part of --listen, for the startup line */
	char host[256];
};

static const char usage_text[] =
	"usage: dbsyncd --store sqlite:PATH|postgresql://... [OPTIONS]\n"
	"\n"
	"Serve the dbsync protocol over HTTP(S).\n"
	"\n"
	"  --store STORE          the central database (required): sqlite:PATH,\n"
	"                         or postgresql://USER@HOST/DB (a libpq URL)\n"
	"  --listen HOST:PORT     address to listen on (default " DEFAULT_LISTEN
	");\n"
	"                         port 0 picks a free port\n"
	"  --port-file FILE       write the bound port to FILE once listening\n"
	"  --track A,B,...        tables to synchronize (repeatable)\n"
	"  --track-all            synchronize every table with a primary key\n"
	"  --schema FILE.sql      run this SQL (DDL) before tracking\n"
	"  --registration POLICY  open, closed (default), token:SECRET or\n"
	"                         token-file:FILE (the token is FILE's first "
	"line)\n"
	"  --tls-cert FILE        PEM certificate (chain); needs --tls-key\n"
	"  --tls-key FILE         PEM private key; needs --tls-cert\n"
	"  --max-body BYTES       largest request body (default 16M; K, M, G "
	"suffixes)\n"
	"  --threads N            worker threads (default 4)\n"
	"  --timeout SECONDS      idle connection timeout (default 30)\n"
	"  -h, --help             show this help\n"
	"  --version              show the version\n"
	"\n"
	"Logs one line per request on stderr. Stops on SIGTERM or SIGINT.\n"
	"Exit codes: 0 stopped by a signal, 1 the store, schema, tracking or\n"
	"listening failed, 2 bad command line.\n";

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("dbsyncd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'dbsyncd --help'.\n", stderr);
	return EXIT_USAGE;
}

/* ---- flag values -------------------------------------------------------- */

/* Unsigned decimal with an optional binary K/M/G suffix; 0 is refused. */
static int parse_size(const char *s, size_t *out)
{
	unsigned long long v = 0, mult = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned)(*p - '0');
	}
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': mult = 1ULL << 10; p++; break;
	case 'm': case 'M': mult = 1ULL << 20; p++; break;
	case 'g': case 'G': mult = 1ULL << 30; p++; break;
	default: return -1;
	}
	if (*p != '\0' || v == 0 || v > (unsigned long long)SIZE_MAX / mult)
		return -1;
	*out = (size_t)(v * mult);
	return 0;
}

/* Decimal in [min, max]. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * HOST:PORT, HOST an address or name, or [IPv6] in brackets. Only the shape
 * is checked here; httpd.c resolves and binds.
 */
static int check_listen(const char *listen, char *host, size_t hostsz)
{
	const char *colon = strrchr(listen, ':');
	size_t hlen;
	long port;

	if (!colon || colon == listen)
		return -1;
	hlen = (size_t)(colon - listen);
	if (hlen >= hostsz)
		return -1;
	if (listen[0] == '[') {
		if (hlen < 3 || listen[hlen - 1] != ']')
			return -1;
	} else if (memchr(listen, ':', hlen)) {
		return -1; /* a bare IPv6 address: the port is ambiguous */
	}
	if (strlen(colon + 1) > 5 || parse_long(colon + 1, 0, 65535, &port))
		return -1;
	memcpy(host, listen, hlen);
	host[hlen] = '\0';
	return 0;
}

/* Split one --track value at commas, trimming blanks, into opt->tables. */
static int add_tables(struct options *opt, const char *list)
{
	const char *p = list;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char **grown;
		char *name;

		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0)
			return usage_error("--track: empty table name in '%s'",
					   list);
		grown = realloc(opt->tables,
				(opt->ntables + 1) * sizeof *opt->tables);
		name = malloc(len + 1);
		if (!grown || !name) {
			free(name);
			if (grown)
				opt->tables = grown;
			fputs("dbsyncd: out of memory\n", stderr);
			return EXIT_FAILURE_;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		opt->tables = grown;
		opt->tables[opt->ntables++] = name;
		if (!end)
			return 0;
		p = end + 1;
	}
}

static void free_options(struct options *opt)
{
	size_t i;

	for (i = 0; i < opt->ntables; i++)
		free(opt->tables[i]);
	free(opt->tables);
}

/*
 * If argv[*i] is `flag` ("--flag VALUE" or "--flag=VALUE"), set *val and
 * return 1; 0 if it is another argument; -1 (reported) if the value is
 * missing.
 */
static int flag_value(const char *flag, int argc, char **argv, int *i,
		      const char **val)
{
	const char *arg = argv[*i];
	size_t n = strlen(flag);

	if (strncmp(arg, flag, n) != 0)
		return 0;
	if (arg[n] == '=') {
		*val = arg + n + 1;
		return 1;
	}
	if (arg[n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		usage_error("%s needs a value", flag);
		return -1;
	}
	*i += 1;
	*val = argv[*i];
	return 1;
}

/* The flags that take one value and may be given once. */
static const char *const single_flags[] = {
	"--store", "--listen", "--schema", "--registration", "--tls-cert",
	"--tls-key", "--max-body", "--threads", "--timeout", "--port-file"};
#define NSINGLE (sizeof single_flags / sizeof single_flags[0])

static int check_values(struct options *opt, const char *const *v)
{
	long n;

	opt->store = v[0];
	opt->listen = v[1] ? v[1] : DEFAULT_LISTEN;
	opt->schema = v[2];
	opt->registration = v[3] ? v[3] : "closed";
	opt->tls_cert = v[4];
	opt->tls_key = v[5];
	opt->port_file = v[9];

	if (!opt->store)
		return usage_error("--store is required (e.g. --store "
				   "sqlite:server.db)");
	if (opt->store[0] == '\0')
		return usage_error("--store is empty");
	if (check_listen(opt->listen, opt->host, sizeof opt->host))
		return usage_error("--listen '%s': expected HOST:PORT with PORT "
				   "0-65535 ([ADDRESS]:PORT for IPv6)",
				   opt->listen);
	/* The value is never echoed: it may be a mistyped secret. */
	if (strcmp(opt->registration, "open") != 0 &&
	    strcmp(opt->registration, "closed") != 0 &&
	    !(strncmp(opt->registration, "token:", 6) == 0 &&
	      opt->registration[6] != '\0') &&
	    !(strncmp(opt->registration, "token-file:", 11) == 0 &&
	      opt->registration[11] != '\0'))
		return usage_error("--registration: expected open, closed, "
				   "token:SECRET or token-file:FILE");
	if (!opt->tls_cert != !opt->tls_key)
		return usage_error("--tls-cert and --tls-key go together");
	if (opt->tls_cert && (!opt->tls_cert[0] || !opt->tls_key[0]))
		return usage_error("--tls-cert and --tls-key need file names");
	opt->max_body = DEFAULT_MAX_BODY;
	if (v[6] && parse_size(v[6], &opt->max_body))
		return usage_error("--max-body '%s': expected a positive number "
				   "of bytes (K, M, G suffixes allowed)",
				   v[6]);
	opt->threads = 0;
	if (v[7]) {
		if (parse_long(v[7], 1, 1024, &n))
			return usage_error("--threads '%s': expected 1-1024",
					   v[7]);
		opt->threads = (unsigned)n;
	}
	opt->timeout_s = 0;
	if (v[8] && parse_long(v[8], 1, 86400, &opt->timeout_s))
		return usage_error("--timeout '%s': expected 1-86400 seconds",
				   v[8]);
	if (opt->schema && !opt->schema[0])
		return usage_error("--schema needs a file name");
	if (opt->port_file && !opt->port_file[0])
		return usage_error("--port-file needs a file name");
	if (opt->track_all && opt->ntables > 0)
		return usage_error("--track and --track-all exclude each other");
	return -1;
}

/* Returns an exit code to leave with, or -1 to go on serving. */
static int parse_args(struct options *opt, int argc, char **argv)
{
	const char *values[NSINGLE] = {0};
	int i, r;
	size_t k;

	memset(opt, 0, sizeof *opt);
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL;

		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			fputs(usage_text, stdout);
			return EXIT_OK;
		}
		if (!strcmp(arg, "--version")) {
			printf("dbsyncd %s (libdbsync %s, SQLite %s)\n",
			       DBSYNC_VERSION, dbsync_version(),
			       dbsync_sqlite_version());
			return EXIT_OK;
		}
		if (!strcmp(arg, "--track-all")) {
			opt->track_all = 1;
			continue;
		}
		r = flag_value("--track", argc, argv, &i, &val);
		if (r < 0)
			return EXIT_USAGE;
		if (r > 0) {
			r = add_tables(opt, val);
			if (r)
				return r;
			continue;
		}
		for (k = 0; k < NSINGLE; k++) {
			r = flag_value(single_flags[k], argc, argv, &i, &val);
			if (r != 0)
				break;
		}
		if (r < 0)
			return EXIT_USAGE;
		if (r == 0) {
			if (arg[0] == '-')
				return usage_error("unknown option '%s'", arg);
			return usage_error("unexpected argument '%s'", arg);
		}
		if (values[k])
			return usage_error("%s given twice", single_flags[k]);
		values[k] = val;
	}
	return check_values(opt, values);
}

/* ---- files -------------------------------------------------------------- */

/* The whole file, NUL-terminated, in *out (malloc'd). Sets errno. */
static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *grown;
	size_t len = 0, cap = 0, n;

	if (!f)
		return -1;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			grown = realloc(buf, cap);
			if (!grown) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return -1;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		errno = EIO;
		return -1;
	}
	fclose(f);
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* Write "PORT\n" to `path` through a rename, so a reader that polls for
 * the file never sees it half-written. */
static int write_port_file(const char *path, int port)
{
	size_t len = strlen(path) + 32;
	char *tmp = malloc(len);
	FILE *f;
	int ok;

	if (!tmp)
		return -1;
	snprintf(tmp, len, "%s.%ld.tmp", path, (long)getpid());
	f = fopen(tmp, "w");
	if (!f) {
		free(tmp);
		return -1;
	}
	ok = fprintf(f, "%d\n", port) > 0;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		int saved = errno;

		unlink(tmp);
		free(tmp);
		errno = saved;
		return -1;
	}
	free(tmp);
	return 0;
}

/* ---- the request log ---------------------------------------------------- */

/* Append `s` (at most `max` bytes of it) with bytes that could break or
 * forge a log line (blanks, controls, non-ASCII, backslash) as \xHH. */
static void append_escaped(char *buf, size_t cap, size_t *len, const char *s,
			   size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (!s || !*s)
		s = "-";
	for (i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (*len + 5 >= cap)
			break;
		if (c <= 0x20 || c >= 0x7f || c == '\\') {
			buf[(*len)++] = '\\';
			buf[(*len)++] = 'x';
			buf[(*len)++] = hex[c >> 4];
			buf[(*len)++] = hex[c & 15];
		} else {
			buf[(*len)++] = (char)c;
		}
	}
	if (s[i] && *len + 4 < cap) {
		memcpy(buf + *len, "...", 3); /* cut: very long path */
		*len += 3;
	}
	buf[*len] = '\0';
}

/*
 * One line per request: completion time (UTC), peer, method, path, status,
 * response bytes, time spent answering. Headers and bodies are never
 * logged: they carry signatures, tokens and secrets. One write(2) per line
 * keeps lines from concurrent workers whole.
 */
static void log_request(const dbsync__http_exchange *x, double ms)
{
	/* Room for every field at its cap, each byte escaped (4x); within
	 * PIPE_BUF, so a pipe takes the line in one piece. */
	char line[3072];
	size_t len;
	struct timespec now;
	struct tm tm;
	ssize_t w;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	len = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	len += (size_t)snprintf(line + len, sizeof line - len, ".%03ldZ ",
				now.tv_nsec / 1000000);
	append_escaped(line, sizeof line, &len, x->peer, 64);
	line[len++] = ' ';
	append_escaped(line, sizeof line, &len, x->method, 32);
	line[len++] = ' ';
	append_escaped(line, sizeof line, &len, x->path, 512);
	len += (size_t)snprintf(line + len, sizeof line - len,
				" %d %zu %.3fms\n", x->status,
				x->response_len, ms);
	if (len >= sizeof line) {
		len = sizeof line - 1;
		line[len - 1] = '\n';
	}
	for (size_t off = 0; off < len; off += (size_t)w) {
		w = write(STDERR_FILENO, line + off, len - off);
		if (w < 0 && errno == EINTR) {
			w = 0;
			continue;
		}
		if (w <= 0)
			break;
	}
}

/* ---- serving ------------------------------------------------------------ */

/* Only when the library could not produce a response at all (out of
 * memory): a 500 with the protocol's error shape. */
static void answer_failure(dbsync__http_exchange *x, int code)
{
	int n;

	if (code >= 0)
		code = DBSYNC_ERROR;
	x->status = 500;
	x->content_type = "application/json";
	x->nextra = 0;
	x->response_len = 0;
	x->response_body = malloc(256);
	if (!x->response_body)
		return;
	n = snprintf(x->response_body, 256,
		     "{\"error\": {\"code\": %d, \"name\": \"%s\", "
		     "\"message\": \"%s\"}}",
		     code, dbsync_error_name(code), dbsync_strerror(code));
	x->response_len = n > 0 && n < 256 ? (size_t)n : 0;
}

/*
 * http.h wants extra response headers as strings that outlive the handler,
 * while the library's are borrowed from the response freed below. The few
 * distinct ones (`Allow: POST`...) are kept for the life of the process;
 * past the cap a header is dropped rather than memory grown without bound.
 */
#define INTERN_MAX 64
static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static char *interned[INTERN_MAX];
static size_t ninterned;

static const char *intern(const char *s)
{
	const char *found = NULL;
	size_t i;

	if (!s)
		return NULL;
	pthread_mutex_lock(&intern_lock);
	for (i = 0; i < ninterned && !found; i++)
		if (strcmp(interned[i], s) == 0)
			found = interned[i];
	if (!found && ninterned < INTERN_MAX) {
		char *copy = strdup(s);

		if (copy)
			found = interned[ninterned++] = copy;
	}
	pthread_mutex_unlock(&intern_lock);
	return found;
}

/* After the last request. */
static void intern_free(void)
{
	while (ninterned > 0)
		free(interned[--ninterned]);
}

static void answer(dbsync__http_exchange *x, const dbsync_response *resp)
{
	size_t len = 0, i, n = dbsync_response_header_count(resp);
	const char *body = dbsync_response_body(resp, &len);
	const size_t cap = sizeof x->extra / sizeof x->extra[0];

	x->nextra = 0;
	for (i = 0; i < n && x->nextra < cap; i++) {
		const char *name = intern(dbsync_response_header_name(resp, i));
		const char *value =
			intern(dbsync_response_header_value(resp, i));

		if (name && value) {
			x->extra[x->nextra].name = name;
			x->extra[x->nextra].value = value;
			x->nextra++;
		}
	}

	x->status = dbsync_response_status(resp);
	x->content_type = dbsync_response_content_type(resp);
	x->response_body = malloc(len + 1);
	if (!x->response_body) {
		answer_failure(x, DBSYNC_NOMEM);
		return;
	}
	if (len)
		memcpy(x->response_body, body, len);
	x->response_body[len] = '\0';
	x->response_len = len;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void handle(void *payload, dbsync__http_exchange *x)
{
	dbsync_server *server = payload;
	dbsync_response *resp = NULL;
	const char **names = NULL, **values;
	struct timespec t0;
	size_t i;
	int rc = DBSYNC_NOMEM;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	names = malloc((x->nheaders + 1) * 2 * sizeof *names);
	if (names) {
		values = names + x->nheaders + 1;
		for (i = 0; i < x->nheaders; i++) {
			names[i] = x->headers[i].name;
			values[i] = x->headers[i].value;
		}
		rc = dbsync_server_handle(&resp, server, x->method, x->path,
					  names, values, x->nheaders,
					  x->body ? x->body : "",
					  x->body ? x->body_len : 0);
		free(names);
	}
	if (rc == DBSYNC_OK && resp)
		answer(x, resp);
	else
		answer_failure(x, rc);
	dbsync_response_free(resp);
	log_request(x, ms_since(&t0));
}

/* Requests httpd answered itself (413, a doubled Content-Length) are
 * logged like the rest: one line per request. */
static void refused(void *payload, const dbsync__http_exchange *x)
{
	(void)payload;
	log_request(x, 0.0);
}

/* ---- setup -------------------------------------------------------------- */

/*
 * The store name with any password hidden, for the startup line:
 * "scheme://user:PASS@host" and "password=PASS" (URL query or key=value
 * connection strings).
 */
static void redact_store(const char *store, char *out, size_t cap)
{
	char *p, *auth, *end, *at, *colon;

	snprintf(out, cap, "%s", store);
	auth = strstr(out, "://");
	if (auth) {
		auth += 3;
		end = auth + strcspn(auth, "/?#");
		at = NULL;
		for (p = auth; p < end; p++)
			if (*p == '@')
				at = p;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon && at - colon > 1 && strlen(out) + 4 < cap) {
			memmove(colon + 4, at, strlen(at) + 1);
			memcpy(colon + 1, "***", 3);
		} else if (colon && at - colon > 1) {
			colon[1] = '\0'; /* no room to mask it: cut the rest */
			return;
		}
	}
	for (p = out; (p = strstr(p, "password=")) != NULL;) {
		p += 9;
		end = p + strcspn(p, "& ");
		if (end > p && strlen(out) + 3 < cap) {
			memmove(p + 3, end, strlen(end) + 1);
			memcpy(p, "***", 3);
		} else if (end > p) {
			*p = '\0'; /* no room to mask it: cut the rest */
			break;
		}
		p += end > p ? 3 : 0;
	}
}

/* Open the store, run the schema, track tables, set the registration
 * policy. Returns 0 or EXIT_FAILURE_ (reported). */
static int prepare(dbsync_server **out, const struct options *opt,
		   int *ntracked, const char *shown_store)
{
	dbsync_server *server = NULL;
	char *sql = NULL, *policy = NULL;
	const char *what = NULL;
	size_t i;
	int rc;

	*out = NULL;
	if (dbsync_server_open(&server, opt->store) != DBSYNC_OK) {
		fprintf(stderr, "dbsyncd: store %s: %s\n", shown_store,
			dbsync_last_error_message());
		return EXIT_FAILURE_;
	}
	if (opt->schema) {
		if (read_file(opt->schema, &sql)) {
			fprintf(stderr, "dbsyncd: --schema %s: %s\n",
				opt->schema, strerror(errno));
			goto fail;
		}
		rc = dbsync_server_exec(server, sql);
		free(sql);
		if (rc != DBSYNC_OK) {
			fprintf(stderr, "dbsyncd: --schema %s: %s\n",
				opt->schema,
				dbsync_server_error_message(server));
			goto fail;
		}
	}
	*ntracked = 0;
	if (opt->track_all) {
		if (dbsync_server_track_all(server, ntracked) != DBSYNC_OK) {
			what = "--track-all";
			goto library_fail;
		}
	}
	for (i = 0; i < opt->ntables; i++) {
		if (dbsync_server_track(server, opt->tables[i]) != DBSYNC_OK) {
			fprintf(stderr, "dbsyncd: --track %s: %s\n",
				opt->tables[i],
				dbsync_server_error_message(server));
			goto fail;
		}
		++*ntracked;
	}
	if (strncmp(opt->registration, "token-file:", 11) == 0) {
		const char *path = opt->registration + 11;
		char *token = NULL;
		size_t len;

		if (read_file(path, &token)) {
			fprintf(stderr, "dbsyncd: --registration token-file:%s: "
					"%s\n", path, strerror(errno));
			goto fail;
		}
		len = strcspn(token, "\r\n");
		policy = malloc(len + 7);
		if (len == 0 || !policy) {
			fprintf(stderr, "dbsyncd: --registration token-file:%s: "
					"%s\n", path,
				len ? "out of memory"
				    : "the first line is empty");
			free(token);
			goto fail;
		}
		memcpy(policy, "token:", 6);
		memcpy(policy + 6, token, len);
		policy[6 + len] = '\0';
		/* Leave no copy of the token behind in freed memory. */
		memset(token, 0, strlen(token));
		free(token);
	}
	rc = dbsync_server_set_registration(server,
					    policy ? policy
						   : opt->registration);
	if (policy) {
		memset(policy, 0, strlen(policy));
		free(policy);
	}
	if (rc != DBSYNC_OK) {
		what = "--registration";
		goto library_fail;
	}
	*out = server;
	return 0;

library_fail:
	fprintf(stderr, "dbsyncd: %s: %s\n", what,
		dbsync_server_error_message(server));
fail:
	dbsync_server_free(server);
	return EXIT_FAILURE_;
}

int main(int argc, char **argv)
{
	struct options opt;
	dbsync__httpd_options hopt;
	dbsync__httpd *httpd = NULL;
	dbsync__error err;
	dbsync_server *server = NULL;
	char shown_store[1024];
	sigset_t stop;
	int rc, sig, port, ntracked = 0;

	rc = parse_args(&opt, argc, argv);
	if (rc >= 0) {
		free_options(&opt);
		return rc;
	}
	redact_store(opt.store, shown_store, sizeof shown_store);
	rc = prepare(&server, &opt, &ntracked, shown_store);
	if (rc) {
		free_options(&opt);
		return rc;
	}

	/*
	 * Block the stop signals before the workers exist, so they inherit
	 * the mask and only sigwait below ever sees them: shutdown then runs
	 * in this thread, with no work inside a signal handler. A client
	 * hanging up must not kill the process either.
	 */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&hopt, 0, sizeof hopt);
	hopt.listen = opt.listen;
	hopt.tls_cert = opt.tls_cert;
	hopt.tls_key = opt.tls_key;
	hopt.max_body = opt.max_body;
	hopt.threads = opt.threads;
	hopt.timeout_s = opt.timeout_s;
	hopt.refused = refused;
	memset(&err, 0, sizeof err);
	if (dbsync__httpd_start(&httpd, &hopt, handle, server, &err) != 0) {
		fprintf(stderr, "dbsyncd: --listen %s: %s\n", opt.listen,
			err.message[0] ? err.message
				       : dbsync_strerror(err.code));
		dbsync_server_free(server);
		free_options(&opt);
		return EXIT_FAILURE_;
	}
	port = dbsync__httpd_port(httpd);
	if (opt.port_file && write_port_file(opt.port_file, port)) {
		fprintf(stderr, "dbsyncd: --port-file %s: %s\n", opt.port_file,
			strerror(errno));
		dbsync__httpd_stop(httpd);
		dbsync_server_free(server);
		free_options(&opt);
		return EXIT_FAILURE_;
	}
	fprintf(stderr,
		"dbsyncd: listening on %s://%s:%d (store %s, %d tables "
		"tracked)\n",
		opt.tls_cert ? "https" : "http", opt.host, port, shown_store,
		ntracked);

	do {
		rc = sigwait(&stop, &sig);
	} while (rc == EINTR);
	fprintf(stderr, "dbsyncd: %s received, stopping\n",
		sig == SIGINT ? "SIGINT" : "SIGTERM");

	dbsync__httpd_stop(httpd);
	dbsync_server_free(server);
	intern_free();
	if (opt.port_file)
		unlink(opt.port_file);
	free_options(&opt);
	fprintf(stderr, "dbsyncd: stopped\n");
	return EXIT_OK;
}
