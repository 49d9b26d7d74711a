/*
 * http_test.c - transport (libcurl) against httpd (libmicrohttpd), both
 * real, on loopback ports picked by the kernel.
 */
#include "harness.h"

#include "../libdbsync/src/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- the test server ---------------------------------------------------- */

static atomic_int handler_calls;

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0)
		;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static const char *find_header(const dbsync__http_exchange *x,
			       const char *name)
{
	size_t i;

	for (i = 0; i < x->nheaders; i++)
		if (strcasecmp(x->headers[i].name, name) == 0)
			return x->headers[i].value;
	return NULL;
}

static void reply(dbsync__http_exchange *x, int status, const char *text)
{
	x->status = status;
	x->response_body = strdup(text);
	x->response_len = strlen(text);
}

/*
 * /raw echoes the body; /info describes the request; /status/N answers N;
 * /sleep/MS waits first; /big/N sends N bytes; /zero and /badstatus leave
 * a status httpd must replace with 500; /empty has no body; /path/...
 * answers its own path.
 */
static void test_handler(void *payload, dbsync__http_exchange *x)
{
	const char *xt = find_header(x, "x-test");
	char buf[1024];

	(void)payload;
	atomic_fetch_add(&handler_calls, 1);
	if (strcmp(x->path, "/raw") == 0) {
		x->status = 200;
		x->response_body = malloc(x->body_len > 0 ? x->body_len : 1);
		memcpy(x->response_body, x->body, x->body_len);
		x->response_len = x->body_len;
		x->content_type = "application/octet-stream";
		x->extra[0].name = "X-Reply";
		x->extra[0].value = "raw";
		x->nextra = 1;
		return;
	}
	if (strcmp(x->path, "/info") == 0) {
		snprintf(buf, sizeof(buf),
			 "{\"method\":\"%s\",\"path\":\"%s\",\"x_test\":\"%s\","
			 "\"peer\":\"%s\",\"len\":%zu,\"nul\":%d,"
			 "\"has_host\":%d,\"empty\":\"%s\",\"type\":\"%s\"}",
			 x->method, x->path, xt != NULL ? xt : "-", x->peer,
			 x->body_len,
			 ((const char *)x->body)[x->body_len] == '\0',
			 find_header(x, "Host") != NULL,
			 find_header(x, "X-Empty") != NULL
				 ? find_header(x, "X-Empty")
				 : "absent",
			 find_header(x, "Content-Type") != NULL
				 ? find_header(x, "Content-Type")
				 : "-");
		reply(x, 200, buf);
		return;
	}
	if (strncmp(x->path, "/status/", 8) == 0) {
		int status = atoi(x->path + 8);

		snprintf(buf, sizeof(buf), "{\"status\":%d}", status);
		reply(x, status, buf);
		return;
	}
	if (strncmp(x->path, "/sleep/", 7) == 0) {
		sleep_ms(atol(x->path + 7));
		reply(x, 200, "{}");
		return;
	}
	if (strncmp(x->path, "/big/", 5) == 0) {
		size_t n = (size_t)atol(x->path + 5);

		x->status = 200;
		x->response_body = malloc(n > 0 ? n : 1);
		memset(x->response_body, 'x', n);
		x->response_len = n;
		x->content_type = "text/plain";
		return;
	}
	if (strcmp(x->path, "/zero") == 0) {
		reply(x, 200, "handler body, dropped");
		x->status = 0;
		return;
	}
	if (strcmp(x->path, "/badstatus") == 0) {
		reply(x, 42, "{}");
		return;
	}
	if (strncmp(x->path, "/path/", 6) == 0) {
		reply(x, 200, x->path);
		return;
	}
	if (strcmp(x->path, "/empty") == 0) {
		x->status = 200;
		return;
	}
	reply(x, 404, "{\"error\":\"no such path\"}");
}

/* What httpd answered itself (single-threaded tests read it). */
static struct {
	atomic_int calls;
	int status;
	char line[128]; /* "METHOD PATH PEER" */
	char body[256];
} refused;

static void observe_refused(void *payload, const dbsync__http_exchange *x)
{
	(void)payload;
	refused.status = x->status;
	snprintf(refused.line, sizeof(refused.line), "%s %s %s", x->method,
		 x->path, x->peer);
	snprintf(refused.body, sizeof(refused.body), "%.*s",
		 (int)x->response_len, x->response_body);
	atomic_fetch_add(&refused.calls, 1);
}

static dbsync__httpd *start_opts(const dbsync__httpd_options *opt)
{
	dbsync__httpd *d = NULL;
	dbsync__error err;

	ASSERT_OK(dbsync__httpd_start(&d, opt, test_handler, NULL, &err));
	ASSERT_NOT_NULL(d);
	ASSERT_GT_INT(dbsync__httpd_port(d), 0);
	return d;
}

static dbsync__httpd *start_server(size_t max_body)
{
	dbsync__httpd_options opt;

	memset(&opt, 0, sizeof(opt));
	opt.listen = "127.0.0.1:0";
	opt.max_body = max_body;
	opt.refused = observe_refused;
	return start_opts(&opt);
}

static const char *url(dbsync__httpd *d, const char *path)
{
	return th_fmt("http://127.0.0.1:%d%s", dbsync__httpd_port(d), path);
}

static dbsync__http_request request(const char *method, const char *u)
{
	dbsync__http_request r;

	memset(&r, 0, sizeof(r));
	r.method = method;
	r.url = u;
	r.timeout_ms = 10000;
	return r;
}

static void begin(void)
{
	dbsync__error err;

	atomic_store(&handler_calls, 0);
	atomic_store(&refused.calls, 0);
	ASSERT_OK(dbsync__http_global_init(&err));
}

/* ---- raw sockets, for what curl never sends ---------------------------- */

static int raw_connect(int port)
{
	struct sockaddr_in sa;
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ASSERT(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ASSERT_EQ_INT(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void raw_send(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(fd, p, len, 0);

		if (n <= 0)
			return; /* the server may refuse early: fine */
		p += n;
		len -= (size_t)n;
	}
}

/* Everything the server sends until it closes (or 5 s of silence). */
static char *raw_recv_all(int fd)
{
	size_t cap = 65536, len = 0;
	char *buf = th_alloc(cap + 1);

	for (;;) {
		ssize_t n = recv(fd, buf + len, cap - len, 0);

		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == cap)
			break;
	}
	buf[len] = '\0';
	return buf;
}

static char *raw_exchange(int port, const void *data, size_t len)
{
	int fd = raw_connect(port);
	char *out;

	raw_send(fd, data, len);
	out = raw_recv_all(fd);
	close(fd);
	return out;
}

/* A loopback port nobody listens on (bound, then released). */
static int closed_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ASSERT_EQ_INT(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* ---- round trips -------------------------------------------------------- */

TEST(get_round_trip)
{
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;

	begin();
	d = start_server(0);
	r = request("GET", url(d, "/info?x=1&y=2"));
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	ASSERT_EQ_STR(resp.body,
		      "{\"method\":\"GET\",\"path\":\"/info\",\"x_test\":\"-\","
		      "\"peer\":\"127.0.0.1\",\"len\":0,\"nul\":1,"
		      "\"has_host\":1,\"empty\":\"absent\",\"type\":\"-\"}");
	ASSERT_EQ_INT(resp.body_len, strlen(resp.body));
	ASSERT_EQ_STR(resp.content_type, "application/json");
	dbsync__http_response_clear(&resp);
	ASSERT_NULL(resp.body);
	ASSERT_NULL(resp.content_type);
	ASSERT_EQ_INT(atomic_load(&handler_calls), 1);

	/* The path as sent: no query, no percent-decoding. */
	r.url = url(d, "/path/a%2Fb%00c?x=%41");
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_STR(resp.body, "/path/a%2Fb%00c");
	dbsync__http_response_clear(&resp);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

TEST(post_round_trip)
{
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;

	begin();
	d = start_server(0);
	r = request("POST", url(d, "/info"));
	r.body = "hello";
	r.body_len = 5;
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	ASSERT(th_contains(resp.body, "\"method\":\"POST\""));
	ASSERT(th_contains(resp.body, "\"len\":5,\"nul\":1"));
	dbsync__http_response_clear(&resp);

	r.url = url(d, "/raw");
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	ASSERT_EQ_STR(resp.body, "hello");
	ASSERT_EQ_STR(resp.content_type, "application/octet-stream");
	dbsync__http_response_clear(&resp);

	/* An empty POST reaches the handler with an empty body. */
	r.url = url(d, "/info");
	r.body = NULL;
	r.body_len = 0;
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT(th_contains(resp.body, "\"method\":\"POST\""));
	ASSERT(th_contains(resp.body, "\"len\":0"));
	dbsync__http_response_clear(&resp);

	/* No body from the handler: an empty, NUL-terminated body here. */
	r.url = url(d, "/empty");
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	ASSERT_NOT_NULL(resp.body);
	ASSERT_EQ_INT(resp.body_len, 0);
	ASSERT_EQ_STR(resp.body, "");
	ASSERT_EQ_STR(resp.content_type, "application/json");
	dbsync__http_response_clear(&resp);
	ASSERT_EQ_INT(atomic_load(&handler_calls), 4);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

TEST(binary_body)
{
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	unsigned char body[1024];
	size_t i;

	begin();
	for (i = 0; i < sizeof(body); i++)
		body[i] = (unsigned char)(i * 7);
	body[0] = 0;
	body[sizeof(body) - 1] = 0;
	d = start_server(0);
	r = request("POST", url(d, "/raw"));
	r.body = body;
	r.body_len = sizeof(body);
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	ASSERT_EQ_INT(resp.body_len, sizeof(body));
	ASSERT(memcmp(resp.body, body, sizeof(body)) == 0);
	ASSERT_EQ_INT(resp.body[resp.body_len], 0);
	dbsync__http_response_clear(&resp);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

TEST(large_body)
{
	const size_t size = 5u * 1024 * 1024;
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	unsigned char *body = th_alloc(size);
	th_rng rng;
	size_t i;

	begin();
	th_rng_init(&rng, th_seed());
	for (i = 0; i < size; i++)
		body[i] = (unsigned char)th_rng_next(&rng);
	d = start_server(0); /* 16 MiB default limit */
	r = request("POST", url(d, "/raw"));
	r.body = body;
	r.body_len = size;
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	ASSERT_EQ_INT(resp.body_len, size);
	ASSERT(memcmp(resp.body, body, size) == 0);
	dbsync__http_response_clear(&resp);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

TEST(header_round_trip)
{
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	const dbsync__header headers[] = {
		{"X-Test", "abc 123 =+/"},
		{"X-Empty", ""},
		{"Content-Type", "text/x-custom"},
	};

	begin();
	d = start_server(0);
	r = request("POST", url(d, "/info"));
	r.headers = headers;
	r.nheaders = 3;
	r.body = "{}";
	r.body_len = 2;
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	ASSERT(th_contains(resp.body, "\"x_test\":\"abc 123 =+/\""));
	ASSERT(th_contains(resp.body, "\"empty\":\"\""));
	ASSERT(th_contains(resp.body, "\"type\":\"text/x-custom\""));
	dbsync__http_response_clear(&resp);

	/* A POST without a Content-Type is sent as JSON, not as a form. */
	r.nheaders = 1;
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT(th_contains(resp.body, "\"type\":\"application/json\""));
	dbsync__http_response_clear(&resp);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

TEST(statuses_pass_through)
{
	static const int statuses[] = {200, 404, 409, 500};
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	size_t i;

	begin();
	d = start_server(0);
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		r = request("GET",
			    url(d, th_fmt("/status/%d", statuses[i])));
		ASSERT_OK(dbsync__http_send(&r, &resp, &err));
		ASSERT_EQ_INT(resp.status, statuses[i]);
		ASSERT_EQ_STR(resp.body,
			      th_fmt("{\"status\":%d}", statuses[i]));
		dbsync__http_response_clear(&resp);
	}

	/* A handler that leaves no valid status gets a 500 error body. */
	r = request("GET", url(d, "/zero"));
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 500);
	ASSERT_EQ_STR(resp.body, "{\"error\": {\"code\": -1, \"name\": "
				 "\"ERROR\", \"message\": \"internal "
				 "error\"}}");
	ASSERT_EQ_STR(resp.content_type, "application/json");
	dbsync__http_response_clear(&resp);
	r = request("GET", url(d, "/badstatus"));
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 500);
	dbsync__http_response_clear(&resp);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

/* ---- limits ------------------------------------------------------------- */

#define TOO_LARGE_1000                                                         \
	"{\"error\": {\"code\": -20, \"name\": \"TOO_LARGE\", \"message\": "   \
	"\"request body exceeds 1000 bytes\"}}"

TEST(body_over_limit_is_413)
{
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	char body[1001];

	begin();
	memset(body, 'a', sizeof(body));
	d = start_server(1000);
	r = request("POST", url(d, "/raw"));
	r.body = body;
	r.body_len = 1001;
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 413);
	ASSERT_EQ_STR(resp.body, TOO_LARGE_1000);
	ASSERT_EQ_STR(resp.content_type, "application/json");
	dbsync__http_response_clear(&resp);
	ASSERT_EQ_INT(atomic_load(&handler_calls), 0);
	/* The observer hears of it (dbsyncd logs such requests too). */
	ASSERT_EQ_INT(atomic_load(&refused.calls), 1);
	ASSERT_EQ_INT(refused.status, 413);
	ASSERT_EQ_STR(refused.line, "POST /raw 127.0.0.1");
	ASSERT_EQ_STR(refused.body, TOO_LARGE_1000);

	/* Exactly the limit passes. */
	r.body_len = 1000;
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	ASSERT_EQ_INT(resp.body_len, 1000);
	dbsync__http_response_clear(&resp);
	ASSERT_EQ_INT(atomic_load(&handler_calls), 1);
	ASSERT_EQ_INT(atomic_load(&refused.calls), 1);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

TEST(declared_length_refused_before_body)
{
	dbsync__httpd *d;
	char *out;
	const char *req = "POST /raw HTTP/1.1\r\nHost: x\r\n"
			  "Content-Length: 100000000\r\n\r\n";

	begin();
	d = start_server(1000);
	/* No body is sent: the answer must come from the headers alone. */
	out = raw_exchange(dbsync__httpd_port(d), req, strlen(req));
	ASSERT_MSG(strncmp(out, "HTTP/1.1 413", 12) == 0, "got: %.80s", out);
	ASSERT(th_contains(out, "\r\n\r\n" TOO_LARGE_1000));
	ASSERT_EQ_INT(atomic_load(&handler_calls), 0);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

static char *chunked_request(size_t chunks, size_t chunk_size)
{
	char *s = th_fmt("POST /info HTTP/1.1\r\nHost: x\r\n"
			 "Connection: close\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n");
	char *chunk = th_alloc(chunk_size + 1);
	size_t i;

	memset(chunk, 'c', chunk_size);
	chunk[chunk_size] = '\0';
	for (i = 0; i < chunks; i++)
		s = th_fmt("%s%zx\r\n%s\r\n", s, chunk_size, chunk);
	return th_fmt("%s0\r\n\r\n", s);
}

TEST(chunked_body_over_limit_is_413)
{
	dbsync__httpd *d;
	char *req, *out;

	begin();
	d = start_server(1000);
	req = chunked_request(2, 400);
	out = raw_exchange(dbsync__httpd_port(d), req, strlen(req));
	ASSERT_MSG(strncmp(out, "HTTP/1.1 200", 12) == 0, "got: %.80s", out);
	ASSERT(th_contains(out, "\"len\":800"));
	ASSERT_EQ_INT(atomic_load(&handler_calls), 1);

	req = chunked_request(3, 400);
	out = raw_exchange(dbsync__httpd_port(d), req, strlen(req));
	ASSERT_MSG(strncmp(out, "HTTP/1.1 413", 12) == 0, "got: %.80s", out);
	ASSERT(th_contains(out, "\r\n\r\n" TOO_LARGE_1000));
	ASSERT_EQ_INT(atomic_load(&handler_calls), 1);
	ASSERT_EQ_INT(atomic_load(&refused.calls), 1);
	ASSERT_EQ_STR(refused.line, "POST /info 127.0.0.1");

	/* Far past the limit the server stops reading and hangs up. */
	req = chunked_request(3, 1024 * 1024);
	out = raw_exchange(dbsync__httpd_port(d), req, strlen(req));
	ASSERT_EQ_STR(out, "");
	ASSERT_EQ_INT(atomic_load(&handler_calls), 1);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

TEST(response_over_max_is_too_large)
{
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;

	begin();
	d = start_server(0);
	r = request("GET", url(d, "/big/1000"));
	r.max_response = 1000;
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.body_len, 1000);
	ASSERT_EQ_STR(resp.content_type, "text/plain");
	dbsync__http_response_clear(&resp);

	r.url = url(d, "/big/1001");
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_TOO_LARGE);
	ASSERT_EQ_STR(err.message, "response body exceeds 1000 bytes");
	ASSERT_NULL(resp.body);
	dbsync__http_response_clear(&resp);

	r.url = url(d, "/big/3000000");
	r.max_response = 2000000;
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_TOO_LARGE);
	ASSERT_EQ_STR(err.message, "response body exceeds 2000000 bytes");
	dbsync__http_response_clear(&resp);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

/* ---- failures ----------------------------------------------------------- */

TEST(connection_refused)
{
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	int port;

	begin();
	port = closed_port();
	r = request("GET", th_fmt("http://127.0.0.1:%d/v1/health", port));
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_NETWORK);
	ASSERT_EQ_STR(err.message,
		      th_fmt("cannot connect to 127.0.0.1:%d: Connection "
			     "refused",
			     port));
	ASSERT_GOOD_MESSAGE(err.message);
	ASSERT_EQ_STR(dbsync_last_error_message(), err.message);
	ASSERT_EQ_INT(resp.curl_code, 7); /* CURLE_COULDNT_CONNECT */
	dbsync__http_response_clear(&resp);
	dbsync__http_global_cleanup();
}

TEST(timeout)
{
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	double t0;

	begin();
	d = start_server(0);
	r = request("GET", url(d, "/sleep/1200"));
	r.timeout_ms = 200;
	t0 = now_ms();
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_NETWORK);
	ASSERT_LT_INT(now_ms() - t0, 1000);
	ASSERT_EQ_STR(err.message,
		      th_fmt("request to 127.0.0.1:%d timed out after 200 ms",
			     dbsync__httpd_port(d)));
	dbsync__http_response_clear(&resp);

	dbsync__httpd_stop(d); /* waits for the sleeping handler */
	dbsync__http_global_cleanup();
}

struct one_shot {
	int listen_fd;
};

/* Accept one connection, read the request, hang up without answering. */
static void *hang_up(void *arg)
{
	struct one_shot *s = arg;
	char buf[4096];
	int fd = accept(s->listen_fd, NULL, NULL);

	if (fd >= 0) {
		(void)recv(fd, buf, sizeof(buf), 0);
		close(fd);
	}
	return NULL;
}

TEST(empty_reply)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	struct one_shot s;
	pthread_t t;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	int port;

	begin();
	s.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ_INT(bind(s.listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ASSERT_EQ_INT(listen(s.listen_fd, 4), 0);
	ASSERT_EQ_INT(getsockname(s.listen_fd, (struct sockaddr *)&sa, &len),
		      0);
	port = ntohs(sa.sin_port);
	ASSERT_EQ_INT(pthread_create(&t, NULL, hang_up, &s), 0);
	r = request("GET", th_fmt("http://127.0.0.1:%d/v1/health", port));
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_NETWORK);
	pthread_join(t, NULL);
	close(s.listen_fd);
	ASSERT_EQ_STR(err.message, th_fmt("empty reply from 127.0.0.1:%d",
					  port));
	dbsync__http_response_clear(&resp);
	dbsync__http_global_cleanup();
}

TEST(bad_requests_refused)
{
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	const dbsync__header bad_value[] = {{"X-Dbsync-Signature",
					     "deadbeef\r\nX-Evil: 1"}};
	const dbsync__header bad_name[] = {{"X Bad", "1"}};

	begin();
	r = request("PUT", "http://127.0.0.1:1/");
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_INVALID);
	ASSERT_EQ_STR(err.message, "unsupported HTTP method \"PUT\"");

	r = request("GET", "ftp://127.0.0.1/x");
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_INVALID);
	ASSERT_EQ_STR(err.message,
		      "unsupported URL scheme \"ftp\" (http or https "
		      "expected)");

	r = request("GET", "not a url");
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_INVALID);
	ASSERT_EQ_STR(err.message, "invalid server URL");

	/* A header value never appears in a message: it may be a secret. */
	r = request("GET", "http://127.0.0.1:1/");
	r.headers = bad_value;
	r.nheaders = 1;
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_INVALID);
	ASSERT_EQ_STR(err.message, "HTTP header \"X-Dbsync-Signature\" has a "
				   "line break in its value");
	r.headers = bad_name;
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_INVALID);
	ASSERT_EQ_STR(err.message, "invalid HTTP header name");

	r = request("POST", "http://127.0.0.1:1/");
	r.body_len = 3;
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_INVALID);
	ASSERT_CODE(dbsync__http_send(NULL, &resp, &err), DBSYNC_INVALID);
	ASSERT_NULL(resp.body);
	dbsync__http_response_clear(&resp);
	dbsync__http_response_clear(NULL);
	dbsync__http_global_cleanup();
}

/* ---- progress ----------------------------------------------------------- */

struct progress_log {
	int calls;
	int went_back;
	uint64_t sent, send_total, received, receive_total;
	uint64_t abort_after; /* abort once this much was received; 0: never */
};

static int on_progress(void *payload, uint64_t sent, uint64_t send_total,
		       uint64_t received, uint64_t receive_total)
{
	struct progress_log *p = payload;

	p->calls++;
	if (sent < p->sent || received < p->received)
		p->went_back = 1;
	p->sent = sent;
	p->received = received;
	if (send_total > 0)
		p->send_total = send_total;
	if (receive_total > 0)
		p->receive_total = receive_total;
	return p->abort_after > 0 && received >= p->abort_after;
}

TEST(progress_and_abort)
{
	const size_t size = 2u * 1024 * 1024;
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	struct progress_log log;
	char *body = th_alloc(size);

	begin();
	memset(body, 'p', size);
	memset(&log, 0, sizeof(log));
	d = start_server(0);
	r = request("POST", url(d, "/raw"));
	r.body = body;
	r.body_len = size;
	r.progress = on_progress;
	r.progress_payload = &log;
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.body_len, size);
	dbsync__http_response_clear(&resp);
	ASSERT_GT_INT(log.calls, 1);
	ASSERT_EQ_INT(log.went_back, 0);
	ASSERT_EQ_INT(log.sent, size);
	ASSERT_EQ_INT(log.send_total, size);
	ASSERT_EQ_INT(log.received, size);
	ASSERT_EQ_INT(log.receive_total, size);

	memset(&log, 0, sizeof(log));
	log.abort_after = 1;
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_CALLBACK);
	ASSERT_EQ_STR(err.message,
		      th_fmt("transfer to 127.0.0.1:%d aborted by the "
			     "progress callback",
			     dbsync__httpd_port(d)));
	ASSERT_LT_INT(log.received, size);
	dbsync__http_response_clear(&resp);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

/* ---- concurrency -------------------------------------------------------- */

struct worker {
	pthread_t thread;
	int id;
	int port;
	int ok;
	char failure[400];
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char u[64], body[64], want[64];
	int i;

	snprintf(u, sizeof(u), "http://127.0.0.1:%d/raw", w->port);
	for (i = 0; i < 50; i++) {
		dbsync__http_request r;
		dbsync__http_response resp;
		dbsync__error err;
		int n = snprintf(body, sizeof(body), "worker %d request %d",
				 w->id, i);

		memset(&r, 0, sizeof(r));
		r.method = "POST";
		r.url = u;
		r.body = body;
		r.body_len = (size_t)n;
		r.timeout_ms = 20000;
		snprintf(want, sizeof(want), "%s", body);
		if (dbsync__http_send(&r, &resp, &err) != 0) {
			snprintf(w->failure, sizeof(w->failure), "%d/%d: %s",
				 w->id, i, err.message);
			dbsync__http_response_clear(&resp);
			return NULL;
		}
		if (resp.status != 200 || strcmp(resp.body, want) != 0) {
			snprintf(w->failure, sizeof(w->failure),
				 "%d/%d: status %ld body %.64s", w->id, i,
				 resp.status, resp.body);
			dbsync__http_response_clear(&resp);
			return NULL;
		}
		dbsync__http_response_clear(&resp);
		w->ok++;
	}
	return NULL;
}

TEST(concurrent_requests)
{
	struct worker w[8];
	dbsync__httpd *d;
	int i;

	begin();
	d = start_server(0);
	for (i = 0; i < 8; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		w[i].port = dbsync__httpd_port(d);
		ASSERT_EQ_INT(pthread_create(&w[i].thread, NULL, worker_run,
					     &w[i]),
			      0);
	}
	for (i = 0; i < 8; i++)
		pthread_join(w[i].thread, NULL);
	for (i = 0; i < 8; i++) {
		ASSERT_MSG(w[i].failure[0] == '\0', "%s", w[i].failure);
		ASSERT_EQ_INT(w[i].ok, 50);
	}
	ASSERT_EQ_INT(atomic_load(&handler_calls), 400);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

/* ---- the server's own errors and robustness ----------------------------- */

TEST(listen_errors)
{
	static const char *const bad[] = {
		"nonsense", "127.0.0.1", "127.0.0.1:", ":8080",
		"127.0.0.1:65536", "127.0.0.1:12a", "example.com:80",
		"256.1.1.1:80", "127.0.0.1:-1", "::1:80", "[::1]", "[]:80",
		"[127.0.0.1]:80", "[::1:80",
	};
	dbsync__httpd_options opt;
	dbsync__httpd *d, *other = NULL;
	dbsync__error err;
	size_t i;

	begin();
	memset(&opt, 0, sizeof(opt));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		opt.listen = bad[i];
		d = (dbsync__httpd *)&opt; /* must be reset to NULL */
		ASSERT_CODE(dbsync__httpd_start(&d, &opt, test_handler, NULL,
						&err),
			    DBSYNC_INVALID);
		ASSERT_NULL(d);
		ASSERT_EQ_STR(err.message,
			      th_fmt("invalid listen address \"%s\" "
				     "(HOST:PORT with an IP address or "
				     "localhost expected)",
				     bad[i]));
	}
	opt.listen = NULL;
	ASSERT_CODE(dbsync__httpd_start(&d, &opt, test_handler, NULL, &err),
		    DBSYNC_INVALID);
	opt.listen = "localhost:0";
	ASSERT_CODE(dbsync__httpd_start(&d, &opt, NULL, NULL, &err),
		    DBSYNC_INVALID);

	d = start_opts(&opt); /* localhost works */
	opt.listen = th_fmt("127.0.0.1:%d", dbsync__httpd_port(d));
	ASSERT_CODE(dbsync__httpd_start(&other, &opt, test_handler, NULL,
					&err),
		    DBSYNC_NETWORK);
	ASSERT_NULL(other);
	ASSERT_EQ_STR(err.message,
		      th_fmt("cannot listen on 127.0.0.1:%d: Address already "
			     "in use",
			     dbsync__httpd_port(d)));
	dbsync__httpd_stop(d);
	dbsync__httpd_stop(NULL);
	dbsync__http_global_cleanup();
}

TEST(ipv6_loopback)
{
	dbsync__httpd_options opt;
	dbsync__httpd *d = NULL;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	int rc;

	begin();
	memset(&opt, 0, sizeof(opt));
	opt.listen = "[::1]:0";
	rc = dbsync__httpd_start(&d, &opt, test_handler, NULL, &err);
	if (rc == DBSYNC_NETWORK) {
		th_note("no IPv6 loopback here: %s", err.message);
		dbsync__http_global_cleanup();
		return;
	}
	ASSERT_OK(rc);
	r = request("GET", th_fmt("http://[::1]:%d/info",
				  dbsync__httpd_port(d)));
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	ASSERT(th_contains(resp.body, "\"peer\":\"::1\""));
	dbsync__http_response_clear(&resp);
	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

TEST(malformed_requests_answered)
{
	static const char *const junk[] = {
		"GARBAGE\r\n\r\n",
		"GET /info HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
		"POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: "
		"99999999999999999999999999\r\n\r\n",
		"POST /info HTTP/1.1\r\nHost: x\r\nContent-Length: "
		"12abc\r\n\r\n",
		"POST /info HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
		"chunked\r\n\r\nzz\r\nxx\r\n",
		"GET /info HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
		"GET /info HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET /%00%ff HTTP/1.1\r\nHost: x\r\nHost: y\r\n"
		"Connection: close\r\n\r\n",
		"\x01\x02\x03\xff\xfe\r\n\r\n",
	};
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	char *big;
	size_t i;
	int port;

	begin();
	d = start_server(1000);
	port = dbsync__httpd_port(d);
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		char *out = raw_exchange(port, junk[i], strlen(junk[i]));

		ASSERT_MSG(out[0] == '\0' || strncmp(out, "HTTP/1.", 7) == 0,
			   "junk %zu got: %.80s", i, out);
	}
	/* Two lengths: a smuggling attempt, refused before the handler. */
	{
		const char *twice = "POST /info HTTP/1.1\r\nHost: x\r\n"
				    "Content-Length: 0\r\nContent-Length: 5"
				    "\r\n\r\nhello";
		char *out = raw_exchange(port, twice, strlen(twice));

		ASSERT_MSG(strncmp(out, "HTTP/1.1 400", 12) == 0, "got: %.80s",
			   out);
		ASSERT_EQ_INT(refused.status, 400);
		ASSERT_EQ_STR(refused.line, "POST /info 127.0.0.1");
		ASSERT(th_contains(out, "\r\n\r\n{\"error\": {\"code\": -8, "
					"\"name\": \"PROTOCOL\", \"message\": "
					"\"more than one Content-Length "
					"header\"}}"));
	}
	ASSERT_EQ_INT(atomic_load(&handler_calls), 1); /* the two Hosts */

	/* A 200 KB header line: MHD refuses it without our help. */
	big = th_alloc(200 * 1024 + 64);
	strcpy(big, "GET /info HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(big + strlen(big), 'b', 200 * 1024);
	big[200 * 1024 + 36] = '\0';
	strcat(big, "\r\n\r\n");
	(void)raw_exchange(port, big, strlen(big));

	/* Still serving. */
	r = request("GET", url(d, "/info"));
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	dbsync__http_response_clear(&resp);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

TEST(stop_frees_everything)
{
	dbsync__httpd *d;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	const char *partial = "POST /info HTTP/1.1\r\nHost: x\r\n"
			      "Content-Length: 500\r\n\r\nonly part";
	const char *headers_only = "GET /info HTTP/1.1\r\nHost: x\r\nX-A";
	int fd1, fd2;

	begin();
	d = start_server(0);
	dbsync__httpd_stop(d); /* never used */

	d = start_server(0);
	r = request("GET", url(d, "/info"));
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	dbsync__http_response_clear(&resp);
	/* Requests in flight when the server stops: their state is freed
	 * (the sanitizer build reports any leak). */
	fd1 = raw_connect(dbsync__httpd_port(d));
	raw_send(fd1, partial, strlen(partial));
	fd2 = raw_connect(dbsync__httpd_port(d));
	raw_send(fd2, headers_only, strlen(headers_only));
	sleep_ms(100);
	dbsync__httpd_stop(d);
	close(fd1);
	close(fd2);
	ASSERT_EQ_INT(atomic_load(&handler_calls), 1);
	dbsync__http_global_cleanup();
}

TEST(global_init_is_counted)
{
	dbsync__error err;

	ASSERT_OK(dbsync__http_global_init(&err));
	ASSERT_OK(dbsync__http_global_init(&err));
	dbsync__http_global_cleanup();
	dbsync__http_global_cleanup();
	dbsync__http_global_cleanup(); /* one too many: harmless */
	ASSERT_OK(dbsync__http_global_init(&err));
	dbsync__http_global_cleanup();
}

/* ---- TLS ---------------------------------------------------------------- */

static int run_openssl(const char *const argv[])
{
	return th_run(argv);
}

/* A throwaway CA and a server certificate for 127.0.0.1 and localhost. */
static void make_certs(void)
{
	const char *ca_cnf = th_path("ca.cnf");
	const char *srv_cnf = th_path("srv.cnf");
	const char *ext = th_path("ext.cnf");
	const char *ca_conf =
		"[req]\ndistinguished_name = dn\nprompt = no\n"
		"x509_extensions = v3_ca\n"
		"[dn]\nCN = dbsync test CA\n"
		"[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
		"keyUsage = critical,keyCertSign,cRLSign\n"
		"subjectKeyIdentifier = hash\n";
	const char *srv_conf = "[req]\ndistinguished_name = dn\nprompt = no\n"
			       "[dn]\nCN = localhost\n";
	const char *ext_conf = "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
			       "basicConstraints = critical,CA:FALSE\n"
			       "keyUsage = critical,digitalSignature\n"
			       "extendedKeyUsage = serverAuth\n"
			       "authorityKeyIdentifier = keyid\n";

	th_write_file(ca_cnf, ca_conf, strlen(ca_conf));
	th_write_file(srv_cnf, srv_conf, strlen(srv_conf));
	th_write_file(ext, ext_conf, strlen(ext_conf));
	{
		const char *const argv[] = {
			"openssl", "req", "-x509", "-config", ca_cnf,
			"-newkey", "ec", "-pkeyopt",
			"ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
			th_path("ca.key"), "-out", th_path("ca.pem"), "-days",
			"2", NULL};
		ASSERT_EQ_INT(run_openssl(argv), 0);
	}
	{
		const char *const argv[] = {
			"openssl", "req", "-new", "-config", srv_cnf, "-newkey",
			"ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
			"-nodes", "-keyout", th_path("server.key"), "-out",
			th_path("server.csr"), NULL};
		ASSERT_EQ_INT(run_openssl(argv), 0);
	}
	{
		const char *const argv[] = {
			"openssl", "x509", "-req", "-in",
			th_path("server.csr"), "-CA", th_path("ca.pem"),
			"-CAkey", th_path("ca.key"), "-set_serial", "2",
			"-days", "2", "-extfile", ext, "-out",
			th_path("server.pem"), NULL};
		ASSERT_EQ_INT(run_openssl(argv), 0);
	}
}

static dbsync__httpd *start_tls(void)
{
	dbsync__httpd_options opt;

	memset(&opt, 0, sizeof(opt));
	opt.listen = "127.0.0.1:0";
	opt.tls_cert = th_path("server.pem");
	opt.tls_key = th_path("server.key");
	return start_opts(&opt);
}

TEST(tls)
{
	dbsync__httpd *d, *plain;
	dbsync__http_request r;
	dbsync__http_response resp;
	dbsync__error err;
	int port;

	begin();
	make_certs();
	d = start_tls();
	port = dbsync__httpd_port(d);

	r = request("POST", th_fmt("https://127.0.0.1:%d/info", port));
	r.body = "secret body";
	r.body_len = 11;
	r.ca_file = th_path("ca.pem");
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	ASSERT(th_contains(resp.body, "\"len\":11"));
	dbsync__http_response_clear(&resp);

	r.url = th_fmt("https://localhost:%d/info", port);
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	dbsync__http_response_clear(&resp);

	/* Verification is on by default: the system store does not know
	 * the throwaway CA. */
	r.url = th_fmt("https://127.0.0.1:%d/info", port);
	r.ca_file = NULL;
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_TLS);
	ASSERT_GOOD_MESSAGE(err.message);
	ASSERT_MSG(strncmp(err.message,
			   th_fmt("TLS with 127.0.0.1:%d: ", port),
			   strlen(th_fmt("TLS with 127.0.0.1:%d: ", port))) ==
			   0,
		   "message: %s", err.message);
	ASSERT(!th_contains(err.message, "secret body"));
	ASSERT_NE_INT(resp.curl_code, 0);
	th_note("unknown CA: %s", err.message);
	dbsync__http_response_clear(&resp);

	/* A CA file that does not exist is a TLS error too. */
	r.ca_file = th_path("missing.pem");
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_TLS);
	dbsync__http_response_clear(&resp);

	r.ca_file = NULL;
	r.insecure = 1;
	ASSERT_OK(dbsync__http_send(&r, &resp, &err));
	ASSERT_EQ_INT(resp.status, 200);
	dbsync__http_response_clear(&resp);

	/* https:// to a plain HTTP server fails the handshake. */
	plain = start_server(0);
	r.url = th_fmt("https://127.0.0.1:%d/info", dbsync__httpd_port(plain));
	r.insecure = 0;
	r.ca_file = th_path("ca.pem");
	ASSERT_CODE(dbsync__http_send(&r, &resp, &err), DBSYNC_TLS);
	dbsync__http_response_clear(&resp);
	dbsync__httpd_stop(plain);

	dbsync__httpd_stop(d);
	dbsync__http_global_cleanup();
}

TEST(tls_files_checked)
{
	dbsync__httpd_options opt;
	dbsync__httpd *d = NULL;
	dbsync__error err;

	begin();
	memset(&opt, 0, sizeof(opt));
	opt.listen = "127.0.0.1:0";
	opt.tls_cert = th_path("missing.pem");
	opt.tls_key = th_path("missing.key");
	ASSERT_CODE(dbsync__httpd_start(&d, &opt, test_handler, NULL, &err),
		    DBSYNC_INVALID);
	ASSERT_EQ_STR(err.message,
		      th_fmt("cannot read TLS certificate \"%s\": No such file "
			     "or directory",
			     opt.tls_cert));
	ASSERT_NULL(d);

	opt.tls_key = NULL;
	ASSERT_CODE(dbsync__httpd_start(&d, &opt, test_handler, NULL, &err),
		    DBSYNC_INVALID);
	ASSERT_EQ_STR(err.message, "TLS needs both a certificate and a key");

	th_write_file(th_path("junk.pem"), "not a pem\n", 10);
	th_write_file(th_path("empty.pem"), "", 0);
	opt.tls_cert = th_path("junk.pem");
	opt.tls_key = th_path("empty.pem");
	ASSERT_CODE(dbsync__httpd_start(&d, &opt, test_handler, NULL, &err),
		    DBSYNC_INVALID);
	ASSERT_EQ_STR(err.message,
		      th_fmt("TLS key \"%s\" is empty", opt.tls_key));

	opt.tls_key = th_path("junk.pem");
	ASSERT_CODE(dbsync__httpd_start(&d, &opt, test_handler, NULL, &err),
		    DBSYNC_INVALID);
	ASSERT_EQ_STR(err.message,
		      th_fmt("TLS certificate \"%s\" or key \"%s\" was refused",
			     opt.tls_cert, opt.tls_key));
	ASSERT_NULL(d);
	dbsync__http_global_cleanup();
}

static const th_case cases[] = {
	CASE(get_round_trip),
	CASE(post_round_trip),
	CASE(binary_body),
	CASE(large_body),
	CASE(header_round_trip),
	CASE(statuses_pass_through),
	CASE(body_over_limit_is_413),
	CASE(declared_length_refused_before_body),
	CASE(chunked_body_over_limit_is_413),
	CASE(response_over_max_is_too_large),
	CASE(connection_refused),
	CASE(timeout),
	CASE(empty_reply),
	CASE(bad_requests_refused),
	CASE(progress_and_abort),
	CASE(concurrent_requests),
	CASE(listen_errors),
	CASE(ipv6_loopback),
	CASE(malformed_requests_answered),
	CASE(stop_frees_everything),
	CASE(global_init_is_counted),
	CASE(tls),
	CASE(tls_files_checked),
};
TH_MAIN(cases)
