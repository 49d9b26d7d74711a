/*
 * client_net_test.c - the client's connection settings (server URL,
 * timeouts, extra headers, progress) against an in-process HTTP server that
 * hands requests to a real dbsync_server and records what arrived.
 */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../libdbsync/src/http.h"

/* What the in-process server saw, and how it should misbehave. */
struct recorder {
	dbsync_server *server;
	pthread_mutex_t lock;
	char proxy_header[128]; /* value of X-Proxy-Token in the last request */
	int requests;
	long delay_ms; /* sleep before answering */
};

static void handle(void *payload, dbsync__http_exchange *x)
{
	struct recorder *rec = payload;
	const char **names = calloc(x->nheaders + 1, sizeof(char *));
	const char **values = calloc(x->nheaders + 1, sizeof(char *));
	dbsync_response *resp = NULL;
	size_t k, len;
	const char *body;

	pthread_mutex_lock(&rec->lock);
	rec->requests++;
	for (k = 0; k < x->nheaders; k++) {
		names[k] = x->headers[k].name;
		values[k] = x->headers[k].value;
		if (strcasecmp(names[k], "X-Proxy-Token") == 0)
			snprintf(rec->proxy_header, sizeof(rec->proxy_header),
				 "%s", values[k]);
	}
	pthread_mutex_unlock(&rec->lock);
	if (rec->delay_ms) {
		struct timespec ts = {rec->delay_ms / 1000,
				      (rec->delay_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (dbsync_server_handle(&resp, rec->server, x->method, x->path, names,
				 values, x->nheaders, x->body,
				 x->body_len) == 0) {
		body = dbsync_response_body(resp, &len);
		x->status = dbsync_response_status(resp);
		x->response_body = malloc(len + 1);
		memcpy(x->response_body, body, len + 1);
		x->response_len = len;
	}
	dbsync_response_free(resp);
	free(names);
	free(values);
}

struct fixture {
	struct recorder rec;
	dbsync__httpd *httpd;
	char url[64];
};

static void start(struct fixture *f)
{
	dbsync__httpd_options opt;
	dbsync__error err = {0};

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->rec.lock, NULL);
	ASSERT_OK(dbsync_server_open(&f->rec.server,
				     th_fmt("sqlite:%s", th_path("s.db"))));
	ASSERT_OK(dbsync_server_exec(f->rec.server,
				     "CREATE TABLE t(id INTEGER PRIMARY KEY, v)"));
	ASSERT_OK(dbsync_server_track(f->rec.server, "t"));
	ASSERT_OK(dbsync_server_set_registration(f->rec.server, "open"));
	memset(&opt, 0, sizeof(opt));
	opt.listen = "127.0.0.1:0";
	ASSERT_OK(dbsync__httpd_start(&f->httpd, &opt, handle, &f->rec, &err));
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d",
		 dbsync__httpd_port(f->httpd));
}

static void stop(struct fixture *f)
{
	dbsync__httpd_stop(f->httpd);
	dbsync_server_free(f->rec.server);
	pthread_mutex_destroy(&f->rec.lock);
}

static dbsync_client *client_for(const struct fixture *f)
{
	sqlite3 *db = th_db_open(th_path("c.db"));
	dbsync_client *c;

	th_exec(db, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v)");
	th_db_close(db);
	c = th_client_open(th_path("c.db"));
	ASSERT_OK(dbsync_client_track(c, "t", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_set_server(c, f->url));
	return c;
}

TEST(server_url_is_checked)
{
	dbsync_client *c = th_client_open(th_path("c.db"));

	ASSERT_CODE(dbsync_client_set_server(c, NULL), DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_set_server(c, "ftp://x"), DBSYNC_INVALID);
	ASSERT_GOOD_MESSAGE(dbsync_client_error_message(c));
	ASSERT_CODE(dbsync_client_set_server(c, "http://x/ a"), DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_set_server(c, "http://x/?q=1"),
		    DBSYNC_INVALID);
	/* Nothing set: network calls say so. */
	ASSERT_CODE(dbsync_client_register(c, NULL), DBSYNC_INVALID);
	ASSERT(th_contains(dbsync_client_error_message(c), "no server"));
	ASSERT_OK(dbsync_client_set_server(c, "https://sync.example.com///"));
	ASSERT_CODE(dbsync_client_set_server(NULL, "http://x"), DBSYNC_INVALID);
}

TEST(unregistered_client_cannot_push_or_pull)
{
	struct fixture f;
	dbsync_client *c;

	start(&f);
	c = client_for(&f);
	ASSERT_CODE(dbsync_client_push(c), DBSYNC_NOT_REGISTERED);
	ASSERT_GOOD_MESSAGE(dbsync_client_error_message(c));
	ASSERT_CODE(dbsync_client_pull(c), DBSYNC_NOT_REGISTERED);
	ASSERT_CODE(dbsync_client_sync(c, 0), DBSYNC_NOT_REGISTERED);
	ASSERT_CODE(dbsync_client_repair(c), DBSYNC_NOT_REGISTERED);
	ASSERT_EQ_INT(f.rec.requests, 0);
	ASSERT_EQ_INT(dbsync_client_node_id(c, NULL), 0);
	ASSERT_EQ_INT(dbsync_client_latest_version(c, NULL), 0);
	th_client_free(c);
	stop(&f);
}

TEST(extra_headers_are_sent_and_checked)
{
	struct fixture f;
	dbsync_client *c;
	int k;

	start(&f);
	c = client_for(&f);
	ASSERT_OK(dbsync_client_add_header(c, "X-Proxy-Token", "letmein"));
	ASSERT_OK(dbsync_client_register(c, NULL));
	ASSERT_EQ_STR(f.rec.proxy_header, "letmein");
	ASSERT_OK(dbsync_client_sync(c, 0));
	ASSERT_CODE(dbsync_client_add_header(c, "X-Dbsync-Node", "1"),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_add_header(c, "content-type", "text/x"),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_add_header(c, "Bad Name", "v"),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_add_header(c, "X-A", "two\r\nlines"),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_client_add_header(c, NULL, "v"), DBSYNC_INVALID);
	for (k = 0; k < 15; k++)
		ASSERT_OK(dbsync_client_add_header(c, th_fmt("X-H%d", k), "v"));
	ASSERT_CODE(dbsync_client_add_header(c, "X-One-Too-Many", "v"),
		    DBSYNC_TOO_LARGE);
	th_client_free(c);
	stop(&f);
}

TEST(request_timeout_is_a_network_error)
{
	struct fixture f;
	dbsync_client *c;

	start(&f);
	c = client_for(&f);
	ASSERT_CODE(dbsync_client_set_timeouts(c, -1, 0), DBSYNC_INVALID);
	ASSERT_OK(dbsync_client_set_timeouts(c, 1000, 200));
	f.rec.delay_ms = 1000;
	ASSERT_CODE(dbsync_client_register(c, NULL), DBSYNC_NETWORK);
	ASSERT_GOOD_MESSAGE(dbsync_client_error_message(c));
	ASSERT(th_contains(dbsync_client_error_message(c), "timed out"));
	f.rec.delay_ms = 0;
	ASSERT_OK(dbsync_client_set_timeouts(c, 0, 0));
	ASSERT_OK(dbsync_client_register(c, NULL));
	th_client_free(c);
	stop(&f);
}

TEST(stopped_server_is_a_network_error)
{
	struct fixture f;
	dbsync_client *c;

	start(&f);
	c = client_for(&f);
	ASSERT_OK(dbsync_client_register(c, NULL));
	stop(&f);
	th_exec(th_db_open(th_path("c.db")), "INSERT INTO t VALUES (1, 'x')");
	ASSERT_CODE(dbsync_client_sync(c, 0), DBSYNC_NETWORK);
	ASSERT_GOOD_MESSAGE(dbsync_client_error_message(c));
	/* Nothing was lost: the operation waits for the next sync. */
	ASSERT_EQ_STR(th_pending_str(c), "t:i:1");
	th_client_free(c);
}

struct progress_log {
	int calls;
	uint64_t last_ops;
};

static int count_progress(uint64_t bytes_done, uint64_t bytes_total,
			  uint64_t ops_done, uint64_t ops_total, void *payload)
{
	struct progress_log *p = payload;

	(void)bytes_done;
	(void)bytes_total;
	(void)ops_total;
	p->calls++;
	if (ops_done)
		p->last_ops = ops_done;
	return 0;
}

TEST(progress_reports_pages_and_page_size_is_checked)
{
	struct fixture f;
	struct progress_log p = {0};
	dbsync_client *c;
	sqlite3 *sdb;

	start(&f);
	sdb = th_db_open(th_path("s.db"));
	th_exec(sdb, "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1"
		     " FROM r WHERE i < 2500) INSERT INTO t SELECT i, i FROM r");
	th_db_close(sdb);
	c = client_for(&f);
	ASSERT_OK(dbsync_client_register(c, NULL));
	ASSERT_CODE(dbsync_client_set_page_size(c, -5), DBSYNC_INVALID);
	ASSERT_OK(dbsync_client_set_page_size(c, 1000));
	ASSERT_OK(dbsync_client_on_progress(c, count_progress, &p));
	ASSERT_OK(dbsync_client_pull(c));
	ASSERT_GE_INT(p.calls, 3);
	ASSERT_EQ_INT(p.last_ops, 2500);
	th_client_free(c);
	stop(&f);
}

static const th_case cases[] = {
	CASE(server_url_is_checked),
	CASE(unregistered_client_cannot_push_or_pull),
	CASE(extra_headers_are_sent_and_checked),
	CASE(request_timeout_is_a_network_error),
	CASE(stopped_server_is_a_network_error),
	CASE(progress_reports_pages_and_page_size_is_checked),
};
TH_MAIN(cases)
