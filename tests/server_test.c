/*
 * server_test.c - the transport-agnostic server (dbsync_server_handle) on a
 * real SQLite store: routing, registration, authentication, push, pull,
 * paging and direct writes. Requests are signed exactly as docs/protocol.md
 * says; bodies are written out by hand so the wire format is checked too.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../libdbsync/src/crypto.h"
#include "../libdbsync/src/message.h"

static const char schema[] =
	"CREATE TABLE city(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
	"CREATE TABLE person(id INTEGER PRIMARY KEY, name TEXT,"
	" city_id INTEGER REFERENCES city(id));";

struct node {
	int64_t id;
	unsigned char *secret;
	size_t secret_len;
};

static dbsync_server *server_with_tables(const char *policy)
{
	dbsync_server *s = NULL;

	ASSERT_OK(dbsync_server_open(
		&s, th_fmt("sqlite:%s", th_path("server.db"))));
	ASSERT_OK(dbsync_server_exec(s, schema));
	ASSERT_OK(dbsync_server_track(s, "city"));
	ASSERT_OK(dbsync_server_track(s, "person"));
	ASSERT_OK(dbsync_server_set_registration(s, policy));
	return s;
}

static dbsync_response *call_h(dbsync_server *s, const char *method,
			       const char *path, const char *body,
			       const char **names, const char **values,
			       size_t n)
{
	dbsync_response *r = NULL;

	ASSERT_OK(dbsync_server_handle(&r, s, method, path, names, values, n,
				       body, body ? strlen(body) : 0));
	ASSERT_NOT_NULL(r);
	return r;
}

static dbsync_response *call(dbsync_server *s, const char *method,
			     const char *path, const char *body)
{
	return call_h(s, method, path, body, NULL, NULL, 0);
}

/* How a signed request may be spoiled, for the authentication tests. */
struct spoil {
	long ts_offset;
	const char *nonce;
	int flip_signature;
	int64_t node_override;
	int sign_other_body;
};

static dbsync_response *signed_call_spoiled(dbsync_server *s,
					    const struct node *n,
					    const char *path, const char *body,
					    const struct spoil *sp)
{
	static unsigned counter;
	const char *names[4] = {"X-Dbsync-Node", "X-Dbsync-Timestamp",
				"X-Dbsync-Nonce", "x-dbsync-signature"};
	const char *values[4];
	char ts[24], nonce[33], sig[65];
	unsigned char raw[16];
	const char *signed_body = sp && sp->sign_other_body ? "{}" : body;

	snprintf(ts, sizeof(ts), "%lld",
		 (long long)time(NULL) + (sp ? sp->ts_offset : 0));
	ASSERT_OK(dbsync__crypto_random(raw, sizeof(raw)));
	raw[0] = (unsigned char)counter++;
	dbsync__hex_encode(raw, sizeof(raw), nonce);
	if (sp && sp->nonce)
		snprintf(nonce, sizeof(nonce), "%s", sp->nonce);
	ASSERT_OK(dbsync__crypto_sign(n->secret, n->secret_len, "POST", path,
				      ts, nonce, signed_body,
				      strlen(signed_body), sig));
	if (sp && sp->flip_signature)
		sig[10] = sig[10] == 'a' ? 'b' : 'a';
	values[0] = th_fmt("%lld", (long long)(sp && sp->node_override
						       ? sp->node_override
						       : n->id));
	values[1] = ts;
	values[2] = nonce;
	values[3] = sig;
	return call_h(s, "POST", path, body, names, values, 4);
}

static dbsync_response *signed_call(dbsync_server *s, const struct node *n,
				    const char *path, const char *body)
{
	return signed_call_spoiled(s, n, path, body, NULL);
}

static const char *body_of(dbsync_response *r)
{
	return dbsync_response_body(r, NULL);
}

#define ASSERT_STATUS(r, want)                                                 \
	ASSERT_MSG(dbsync_response_status(r) == (want),                        \
		   "status %d, want %d: %s", dbsync_response_status(r),        \
		   (want), body_of(r))

/* The error body's code, checked to be a well-formed error document. */
static int error_code(dbsync_response *r)
{
	dbsync__error err = {0};
	size_t len;
	const char *body = dbsync_response_body(r, &len);
	int code = dbsync__msg_decode_error(body, len, &err);

	/* decode_error answers PROTOCOL for a non-error body, so a real
	 * PROTOCOL error must also say so by name. */
	ASSERT_MSG(code < 0 && (code != DBSYNC_PROTOCOL ||
				th_contains(body, "\"name\":\"PROTOCOL\"")),
		   "not an error body: %s", body);
	ASSERT_GOOD_MESSAGE(err.message);
	return code;
}

static struct node register_node(dbsync_server *s, const char *body)
{
	struct node n = {0};
	dbsync__error err = {0};
	dbsync_response *r = call(s, "POST", "/v1/register", body);
	size_t len;
	const char *b = dbsync_response_body(r, &len);

	ASSERT_STATUS(r, 200);
	ASSERT_OK(dbsync__msg_decode_register_resp(b, len, &n.id, &n.secret,
						   &n.secret_len, &err));
	ASSERT_GT_INT(n.id, 0);
	ASSERT_EQ_INT(n.secret_len, 32);
	dbsync_response_free(r);
	return n;
}

static void free_node(struct node *n)
{
	free(n->secret);
}

static int64_t pushed_version(dbsync_response *r)
{
	dbsync__error err = {0};
	int64_t v = -1;
	size_t len;
	const char *b = dbsync_response_body(r, &len);

	ASSERT_STATUS(r, 200);
	ASSERT_OK(dbsync__msg_decode_version_resp(b, len, &v, &err));
	return v;
}

static const char push_two_cities[] =
	"{\"protocol\":1,\"push_id\":\"0123456789abcdef0123456789abcdef\","
	"\"base_version\":null,"
	"\"tables\":{\"city\":{\"columns\":[\"id\",\"name\"]},"
	"\"person\":{\"columns\":[\"name\",\"id\",\"city_id\"]}},"
	"\"operations\":["
	"{\"table\":\"person\",\"pk\":10,\"op\":\"i\",\"row\":[\"Ada\",10,1]},"
	"{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":[1,\"Oslo\"]},"
	"{\"table\":\"city\",\"pk\":2,\"op\":\"i\",\"row\":[2,\"Bergen\"]}]}";

static sqlite3 *server_db(void)
{
	return th_db_open(th_path("server.db"));
}

/* ---- routing and setup ------------------------------------------------- */

TEST(open_errors)
{
	dbsync_server *s = (dbsync_server *)&s;

	ASSERT_CODE(dbsync_server_open(&s, NULL), DBSYNC_INVALID);
	ASSERT_NULL(s);
	ASSERT_CODE(dbsync_server_open(&s, ""), DBSYNC_INVALID);
	ASSERT_CODE(dbsync_server_open(&s, "mysql://x"), DBSYNC_INVALID);
	ASSERT_GOOD_MESSAGE(dbsync_last_error_message());
	ASSERT_CODE(dbsync_server_open(&s, "sqlite:"), DBSYNC_INVALID);
	th_write_file(th_path("junk"), "not a database at all, really....",
		      33);
	ASSERT_CODE(dbsync_server_open(&s, th_fmt("sqlite:%s",
						  th_path("junk"))),
		    DBSYNC_DB);
	ASSERT_NULL(s);
	ASSERT_CODE(dbsync_server_open(NULL, "sqlite:x"), DBSYNC_INVALID);
	dbsync_server_free(NULL);
}

TEST(setup_errors)
{
	dbsync_server *s = server_with_tables("open");

	ASSERT_CODE(dbsync_server_track(s, "nope"), DBSYNC_NOT_FOUND);
	ASSERT_GOOD_MESSAGE(dbsync_server_error_message(s));
	ASSERT_CODE(dbsync_server_track(s, ""), DBSYNC_INVALID);
	ASSERT_CODE(dbsync_server_exec(s, "CREATE TABLE nopk(a);"), DBSYNC_OK);
	ASSERT_CODE(dbsync_server_track(s, "nopk"), DBSYNC_SCHEMA);
	ASSERT_CODE(dbsync_server_exec(s, "THIS IS NOT SQL"), DBSYNC_DB);
	ASSERT_CODE(dbsync_server_set_registration(s, "maybe"), DBSYNC_INVALID);
	ASSERT_CODE(dbsync_server_set_registration(s, "token:"),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_server_track(NULL, "city"), DBSYNC_INVALID);
	dbsync_server_free(s);
}

TEST(track_all_counts_tables_with_a_key)
{
	dbsync_server *s = NULL;
	int count = -1;

	ASSERT_OK(dbsync_server_open(
		&s, th_fmt("sqlite:%s", th_path("server.db"))));
	ASSERT_OK(dbsync_server_exec(s, "CREATE TABLE a(id INTEGER PRIMARY KEY);"
					"CREATE TABLE b(k TEXT PRIMARY KEY, v);"
					"CREATE TABLE c(x, y);"));
	ASSERT_OK(dbsync_server_track_all(s, &count));
	ASSERT_EQ_INT(count, 2);
	dbsync_server_free(s);
}

TEST(health_metrics_404_405)
{
	dbsync_server *s = server_with_tables("open");
	dbsync_response *r;

	r = call(s, "GET", "/v1/health", NULL);
	ASSERT_STATUS(r, 200);
	ASSERT(th_contains(body_of(r), "\"latest_version\":0"));
	dbsync_response_free(r);

	r = call(s, "GET", "/nope", NULL);
	ASSERT_STATUS(r, 404);
	ASSERT_EQ_INT(error_code(r), DBSYNC_NOT_FOUND);
	dbsync_response_free(r);

	r = call(s, "GET", "/v1/push", NULL);
	ASSERT_STATUS(r, 405);
	ASSERT_EQ_INT(dbsync_response_header_count(r), 1);
	ASSERT_EQ_STR(dbsync_response_header_name(r, 0), "Allow");
	ASSERT_EQ_STR(dbsync_response_header_value(r, 0), "POST");
	dbsync_response_free(r);

	r = call(s, "GET", "/metrics", NULL);
	ASSERT_STATUS(r, 200);
	ASSERT(th_contains(dbsync_response_content_type(r), "text/plain"));
	ASSERT(th_contains(body_of(r), "dbsync_requests_total{class=\"4xx\"} 2"));
	ASSERT(th_contains(body_of(r), "dbsync_request_duration_seconds_count"));
	dbsync_response_free(r);
	dbsync_server_free(s);
}

TEST(handle_argument_errors)
{
	dbsync_server *s = server_with_tables("open");
	dbsync_response *r = NULL;

	ASSERT_CODE(dbsync_server_handle(NULL, s, "GET", "/", NULL, NULL, 0,
					 NULL, 0),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_server_handle(&r, NULL, "GET", "/", NULL, NULL, 0,
					 NULL, 0),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_server_handle(&r, s, NULL, "/", NULL, NULL, 0, NULL,
					 0),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_server_handle(&r, s, "GET", "/", NULL, NULL, 2,
					 NULL, 0),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync_server_handle(&r, s, "POST", "/", NULL, NULL, 0,
					 NULL, 5),
		    DBSYNC_INVALID);
	ASSERT_NULL(r);
	dbsync_response_free(NULL);
	ASSERT_EQ_INT(dbsync_response_status(NULL), 0);
	dbsync_server_free(s);
}

/* ---- registration ------------------------------------------------------ */

static int refuse_all(const char *token, void *payload)
{
	(*(int *)payload)++;
	(void)token;
	return DBSYNC_REGISTRATION_REFUSED;
}

TEST(registration_policies)
{
	dbsync_server *s = server_with_tables("closed");
	dbsync_response *r;
	struct node a, b;
	int calls = 0;

	r = call(s, "POST", "/v1/register", "{\"protocol\":1}");
	ASSERT_STATUS(r, 403);
	ASSERT_EQ_INT(error_code(r), DBSYNC_REGISTRATION_REFUSED);
	dbsync_response_free(r);

	ASSERT_OK(dbsync_server_set_registration(s, "token:s3cret"));
	r = call(s, "POST", "/v1/register", "{\"protocol\":1,\"token\":\"x\"}");
	ASSERT_STATUS(r, 403);
	ASSERT(!th_contains(body_of(r), "s3cret"));
	dbsync_response_free(r);
	r = call(s, "POST", "/v1/register", "{\"protocol\":1}");
	ASSERT_STATUS(r, 403);
	dbsync_response_free(r);
	a = register_node(s, "{\"protocol\":1,\"token\":\"s3cret\"}");

	ASSERT_OK(dbsync_server_set_registration(s, "open"));
	b = register_node(s, "{\"protocol\":1}");
	ASSERT_NE_INT(a.id, b.id);
	ASSERT(memcmp(a.secret, b.secret, 32) != 0);

	ASSERT_OK(dbsync_server_on_register(s, refuse_all, &calls));
	r = call(s, "POST", "/v1/register", "{\"protocol\":1}");
	ASSERT_STATUS(r, 403);
	ASSERT_EQ_INT(calls, 1);
	dbsync_response_free(r);

	r = call(s, "POST", "/v1/register", "{\"protocol\":");
	ASSERT_STATUS(r, 400);
	ASSERT_EQ_INT(error_code(r), DBSYNC_PROTOCOL);
	dbsync_response_free(r);
	free_node(&a);
	free_node(&b);
	dbsync_server_free(s);
}

/* ---- authentication ----------------------------------------------------- */

TEST(unsigned_and_badly_signed_requests_get_401_and_change_nothing)
{
	dbsync_server *s = server_with_tables("open");
	struct node n = register_node(s, "{\"protocol\":1}");
	sqlite3 *db = server_db();
	const char *path = "/v1/push";
	struct spoil stale = {.ts_offset = -3600};
	struct spoil future = {.ts_offset = 3600};
	struct spoil flipped = {.flip_signature = 1};
	struct spoil unknown = {.node_override = 999};
	struct spoil other_body = {.sign_other_body = 1};
	const struct spoil *spoils[] = {&stale, &future, &flipped, &unknown,
					&other_body};
	dbsync_response *r;
	size_t k;

	r = call(s, "POST", path, push_two_cities);
	ASSERT_STATUS(r, 401);
	ASSERT_EQ_INT(error_code(r), DBSYNC_AUTH);
	dbsync_response_free(r);
	for (k = 0; k < sizeof(spoils) / sizeof(spoils[0]); k++) {
		r = signed_call_spoiled(s, &n, path, push_two_cities, spoils[k]);
		ASSERT_MSG(dbsync_response_status(r) == 401,
			   "spoil %zu: status %d", k, dbsync_response_status(r));
		ASSERT_EQ_INT(error_code(r), DBSYNC_AUTH);
		dbsync_response_free(r);
	}
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM city"), 0);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_versions"),
		      0);
	free_node(&n);
	dbsync_server_free(s);
}

TEST(replayed_nonce_is_refused)
{
	dbsync_server *s = server_with_tables("open");
	struct node n = register_node(s, "{\"protocol\":1}");
	struct spoil fixed = {.nonce = "00112233445566778899aabbccddeeff"};
	const char *pull = "{\"protocol\":1,\"after_version\":null}";
	dbsync_response *r;

	r = signed_call_spoiled(s, &n, "/v1/pull", pull, &fixed);
	ASSERT_STATUS(r, 200);
	dbsync_response_free(r);
	r = signed_call_spoiled(s, &n, "/v1/pull", pull, &fixed);
	ASSERT_STATUS(r, 401);
	dbsync_response_free(r);
	free_node(&n);
	dbsync_server_free(s);
}

/* ---- push ------------------------------------------------------------- */

TEST(push_applies_in_foreign_key_order_and_is_idempotent)
{
	dbsync_server *s = server_with_tables("open");
	struct node n = register_node(s, "{\"protocol\":1}");
	sqlite3 *db = server_db();
	dbsync_response *r;

	/* person 10 comes first in the message but needs city 1. */
	th_exec(db, "PRAGMA foreign_keys = ON");
	r = signed_call(s, &n, "/v1/push", push_two_cities);
	ASSERT_EQ_INT(pushed_version(r), 1);
	dbsync_response_free(r);
	ASSERT_EQ_STR(th_query_text(db, "SELECT group_concat(name) FROM"
					" (SELECT name FROM city ORDER BY id)"),
		      "Oslo,Bergen");
	ASSERT_EQ_INT(th_query_int(db, "SELECT city_id FROM person"), 1);
	ASSERT_EQ_INT(th_query_int(db, "PRAGMA foreign_key_check"), 0);

	/* The response was lost; the node retries the same push id. */
	r = signed_call(s, &n, "/v1/push", push_two_cities);
	ASSERT_EQ_INT(pushed_version(r), 1);
	dbsync_response_free(r);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM city"), 2);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_versions"),
		      1);
	free_node(&n);
	dbsync_server_free(s);
}

TEST(stale_base_gets_pull_required)
{
	dbsync_server *s = server_with_tables("open");
	struct node a = register_node(s, "{\"protocol\":1}");
	struct node b = register_node(s, "{\"protocol\":1}");
	dbsync_response *r;

	r = signed_call(s, &a, "/v1/push", push_two_cities);
	ASSERT_EQ_INT(pushed_version(r), 1);
	dbsync_response_free(r);
	/* b pushes on base null too: the server moved on. */
	r = signed_call(s, &b, "/v1/push",
			"{\"protocol\":1,\"push_id\":"
			"\"ffffffffffffffffffffffffffffffff\",\"base_version\":"
			"null,\"tables\":{\"city\":{\"columns\":[\"id\","
			"\"name\"]}},\"operations\":[{\"table\":\"city\","
			"\"pk\":3,\"op\":\"i\",\"row\":[3,\"Turku\"]}]}");
	ASSERT_STATUS(r, 409);
	ASSERT_EQ_INT(error_code(r), DBSYNC_PULL_REQUIRED);
	dbsync_response_free(r);
	free_node(&a);
	free_node(&b);
	dbsync_server_free(s);
}

TEST(empty_push_is_a_success)
{
	dbsync_server *s = server_with_tables("open");
	struct node n = register_node(s, "{\"protocol\":1}");
	dbsync_response *r;

	r = signed_call(s, &n, "/v1/push",
			"{\"protocol\":1,\"push_id\":"
			"\"11111111111111111111111111111111\",\"base_version\":"
			"null,\"tables\":{},\"operations\":[]}");
	ASSERT_EQ_INT(pushed_version(r), 0);
	dbsync_response_free(r);
	free_node(&n);
	dbsync_server_free(s);
}

TEST(push_of_unknown_table_or_column_is_422_and_changes_nothing)
{
	dbsync_server *s = server_with_tables("open");
	struct node n = register_node(s, "{\"protocol\":1}");
	sqlite3 *db = server_db();
	dbsync_response *r;

	r = signed_call(s, &n, "/v1/push",
			"{\"protocol\":1,\"push_id\":"
			"\"22222222222222222222222222222222\",\"base_version\":"
			"null,\"tables\":{\"city; DROP TABLE city\":{\"columns\""
			":[\"id\"]}},\"operations\":[{\"table\":\"city; DROP "
			"TABLE city\",\"pk\":1,\"op\":\"d\"}]}");
	ASSERT_STATUS(r, 422);
	ASSERT_EQ_INT(error_code(r), DBSYNC_SCHEMA);
	dbsync_response_free(r);
	r = signed_call(s, &n, "/v1/push",
			"{\"protocol\":1,\"push_id\":"
			"\"33333333333333333333333333333333\",\"base_version\":"
			"null,\"tables\":{\"city\":{\"columns\":[\"id\","
			"\"nam\"]}},\"operations\":[{\"table\":\"city\",\"pk\":1,"
			"\"op\":\"i\",\"row\":[1,\"x\"]}]}");
	ASSERT_STATUS(r, 422);
	dbsync_response_free(r);
	/* A row that breaks a constraint (NOT NULL name) rolls back all. */
	r = signed_call(s, &n, "/v1/push",
			"{\"protocol\":1,\"push_id\":"
			"\"44444444444444444444444444444444\",\"base_version\":"
			"null,\"tables\":{\"city\":{\"columns\":[\"id\","
			"\"name\"]}},\"operations\":[{\"table\":\"city\",\"pk\":1,"
			"\"op\":\"i\",\"row\":[1,\"ok\"]},{\"table\":\"city\","
			"\"pk\":2,\"op\":\"i\",\"row\":[2,null]}]}");
	ASSERT_STATUS(r, 422);
	ASSERT_EQ_INT(error_code(r), DBSYNC_CONFLICT);
	ASSERT(!th_contains(body_of(r), "INSERT"));
	dbsync_response_free(r);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM city"), 0);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM dbsync_log"), 0);
	free_node(&n);
	dbsync_server_free(s);
}

/* ---- hooks -------------------------------------------------------------- */

struct hook_log {
	int before, after;
	int64_t veto_node, last_version;
	size_t last_ops;
};

static int before_push(int64_t node, int64_t version, size_t ops,
		       char *reason, size_t size, void *payload)
{
	struct hook_log *h = payload;

	(void)version;
	(void)ops;
	h->before++;
	if (node == h->veto_node) {
		snprintf(reason, size, "node %lld is read-only today",
			 (long long)node);
		return DBSYNC_PUSH_REJECTED;
	}
	return 0;
}

static int after_push(int64_t node, int64_t version, size_t ops,
		      char *reason, size_t size, void *payload)
{
	struct hook_log *h = payload;

	(void)node;
	(void)reason;
	(void)size;
	h->after++;
	h->last_version = version;
	h->last_ops = ops;
	return 0;
}

TEST(push_hooks_veto_and_observe)
{
	dbsync_server *s = server_with_tables("open");
	struct node a = register_node(s, "{\"protocol\":1}");
	struct node b = register_node(s, "{\"protocol\":1}");
	struct hook_log h = {0};
	sqlite3 *db = server_db();
	dbsync_response *r;

	h.veto_node = b.id;
	ASSERT_OK(dbsync_server_on_push(s, before_push, after_push, &h));
	r = signed_call(s, &b, "/v1/push", push_two_cities);
	ASSERT_STATUS(r, 422);
	ASSERT_EQ_INT(error_code(r), DBSYNC_PUSH_REJECTED);
	ASSERT(th_contains(body_of(r), "read-only today"));
	dbsync_response_free(r);
	ASSERT_EQ_INT(th_query_int(db, "SELECT count(*) FROM city"), 0);
	ASSERT_EQ_INT(h.after, 0);

	r = signed_call(s, &a, "/v1/push", push_two_cities);
	ASSERT_EQ_INT(pushed_version(r), 1);
	dbsync_response_free(r);
	ASSERT_EQ_INT(h.before, 2);
	ASSERT_EQ_INT(h.after, 1);
	ASSERT_EQ_INT(h.last_version, 1);
	ASSERT_EQ_INT(h.last_ops, 3);
	/* A retry is not a new push: no hook runs again. */
	r = signed_call(s, &a, "/v1/push", push_two_cities);
	ASSERT_EQ_INT(pushed_version(r), 1);
	dbsync_response_free(r);
	ASSERT_EQ_INT(h.after, 1);
	ASSERT_CODE(dbsync_server_on_push(NULL, NULL, NULL, NULL),
		    DBSYNC_INVALID);
	free_node(&a);
	free_node(&b);
	dbsync_server_free(s);
}

/* ---- pull ------------------------------------------------------------- */

static dbsync__pull_resp pull_page(dbsync_server *s, const struct node *n,
				   const char *body)
{
	dbsync__pull_resp p;
	dbsync__error err = {0};
	dbsync_response *r = signed_call(s, n, "/v1/pull", body);
	size_t len;
	const char *b = dbsync_response_body(r, &len);

	memset(&p, 0, sizeof(p));
	ASSERT_STATUS(r, 200);
	ASSERT_OK(dbsync__msg_decode_pull_resp(b, len, &p, &err));
	dbsync_response_free(r);
	return p;
}

TEST(pull_returns_versions_and_current_rows)
{
	dbsync_server *s = server_with_tables("open");
	struct node a = register_node(s, "{\"protocol\":1}");
	struct node b = register_node(s, "{\"protocol\":1}");
	dbsync__pull_resp p;
	dbsync_response *r;
	size_t k, cities = 0;

	r = signed_call(s, &a, "/v1/push", push_two_cities);
	ASSERT_EQ_INT(pushed_version(r), 1);
	dbsync_response_free(r);

	p = pull_page(s, &b, "{\"protocol\":1,\"after_version\":null}");
	ASSERT_EQ_INT(p.target_version, 1);
	ASSERT_EQ_INT(p.nversions, 1);
	ASSERT_EQ_INT(p.versions[0].node_id, a.id);
	ASSERT_EQ_STR(p.versions[0].push_id,
		      "0123456789abcdef0123456789abcdef");
	ASSERT_EQ_INT(p.nops, 3);
	ASSERT_NULL(p.cursor);
	for (k = 0; k < p.nops; k++) {
		ASSERT_EQ_INT(p.ops[k].op, 'i');
		if (strcmp(p.tables[p.ops[k].table].name, "city") == 0)
			cities++;
	}
	ASSERT_EQ_INT(cities, 2);
	dbsync__pull_resp_clear(&p);

	/* Nothing after version 1. */
	p = pull_page(s, &b, "{\"protocol\":1,\"after_version\":1}");
	ASSERT_EQ_INT(p.nops, 0);
	ASSERT_EQ_INT(p.nversions, 0);
	dbsync__pull_resp_clear(&p);
	free_node(&a);
	free_node(&b);
	dbsync_server_free(s);
}

TEST(pull_sends_parent_rows_of_its_rows)
{
	dbsync_server *s = server_with_tables("open");
	struct node n = register_node(s, "{\"protocol\":1}");
	sqlite3 *db = server_db();
	dbsync__pull_resp p;
	size_t k;

	/* Version 1: the cities; version 2: a person in Oslo. */
	th_exec(db, "INSERT INTO city VALUES (1, 'Oslo'), (2, 'Bergen')");
	p = pull_page(s, &n, "{\"protocol\":1,\"after_version\":null}");
	dbsync__pull_resp_clear(&p);
	th_exec(db, "INSERT INTO person VALUES (10, 'Ada', 1),"
		    " (11, 'Nobody', NULL)");
	p = pull_page(s, &n, "{\"protocol\":1,\"after_version\":1}");
	ASSERT_EQ_INT(p.nops, 2);
	ASSERT_EQ_INT(p.nparents, 1);
	k = p.parents[0].table;
	ASSERT_EQ_STR(p.tables[k].name, "city");
	ASSERT_EQ_INT(p.parents[0].pk.i, 1);
	ASSERT_EQ_STR(p.parents[0].row[1].p, "Oslo");
	dbsync__pull_resp_clear(&p);
	free_node(&n);
	dbsync_server_free(s);
}

TEST(direct_writes_are_versioned_and_pulled)
{
	dbsync_server *s = server_with_tables("open");
	struct node n = register_node(s, "{\"protocol\":1}");
	sqlite3 *db = server_db();
	dbsync__pull_resp p;

	th_exec(db, "INSERT INTO city VALUES (7, 'Tromsø')");
	th_exec(db, "BEGIN; INSERT INTO city VALUES (8, 'Never'); ROLLBACK");
	th_exec(db, "UPDATE city SET name = 'Tromso' WHERE id = 7");
	p = pull_page(s, &n, "{\"protocol\":1,\"after_version\":null}");
	ASSERT_EQ_INT(p.target_version, 1);
	ASSERT_EQ_INT(p.nversions, 1);
	ASSERT_EQ_INT(p.versions[0].has_node, 0);
	ASSERT_EQ_INT(p.nops, 1);
	ASSERT_EQ_INT(p.ops[0].op, 'i');
	ASSERT_EQ_INT(p.ops[0].pk.i, 7);
	ASSERT_EQ_STR(p.ops[0].row[1].p, "Tromso");
	dbsync__pull_resp_clear(&p);
	free_node(&n);
	dbsync_server_free(s);
}

TEST(pull_pages_cover_everything_once)
{
	dbsync_server *s = server_with_tables("open");
	struct node n = register_node(s, "{\"protocol\":1}");
	sqlite3 *db = server_db();
	dbsync__pull_resp p;
	char *seen = th_alloc(2501);
	const char *cursor = NULL;
	size_t total = 0, pages = 0, k;
	int64_t target = -1;

	memset(seen, 0, 2501);
	th_exec(db, "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1"
		    " FROM r WHERE i < 2500) INSERT INTO city SELECT i, 'c'"
		    " || i FROM r");
	do {
		char *body = cursor
			? th_fmt("{\"protocol\":1,\"after_version\":null,"
				 "\"target_version\":%lld,\"cursor\":\"%s\","
				 "\"max_operations\":1000}",
				 (long long)target, cursor)
			: th_fmt("{\"protocol\":1,\"after_version\":null,"
				 "\"max_operations\":1000}");
		p = pull_page(s, &n, body);
		if (target < 0)
			target = p.target_version;
		ASSERT_EQ_INT(p.target_version, target);
		ASSERT_LE_INT(p.nops, 1000);
		for (k = 0; k < p.nops; k++) {
			int64_t id = p.ops[k].pk.i;
			ASSERT(id >= 1 && id <= 2500);
			ASSERT_MSG(!seen[id], "row %lld sent twice",
				   (long long)id);
			seen[id] = 1;
		}
		total += p.nops;
		pages++;
		cursor = p.cursor ? th_strdup(p.cursor) : NULL;
		dbsync__pull_resp_clear(&p);
	} while (cursor);
	ASSERT_EQ_INT(total, 2500);
	ASSERT_EQ_INT(pages, 3);
	free_node(&n);
	dbsync_server_free(s);
}

TEST(pull_errors)
{
	dbsync_server *s = server_with_tables("open");
	struct node n = register_node(s, "{\"protocol\":1}");
	dbsync_response *r;

	r = signed_call(s, &n, "/v1/pull",
			"{\"protocol\":1,\"after_version\":5}");
	ASSERT_STATUS(r, 410);
	ASSERT_EQ_INT(error_code(r), DBSYNC_REPAIR_REQUIRED);
	dbsync_response_free(r);
	r = signed_call(s, &n, "/v1/pull",
			"{\"protocol\":1,\"after_version\":null,\"cursor\":"
			"\"x\"}");
	ASSERT_STATUS(r, 400);
	dbsync_response_free(r);
	r = signed_call(s, &n, "/v1/pull", "[]");
	ASSERT_STATUS(r, 400);
	ASSERT_EQ_INT(error_code(r), DBSYNC_PROTOCOL);
	dbsync_response_free(r);
	free_node(&n);
	dbsync_server_free(s);
}

static const th_case cases[] = {
	CASE(open_errors),
	CASE(setup_errors),
	CASE(track_all_counts_tables_with_a_key),
	CASE(health_metrics_404_405),
	CASE(handle_argument_errors),
	CASE(registration_policies),
	CASE(unsigned_and_badly_signed_requests_get_401_and_change_nothing),
	CASE(replayed_nonce_is_refused),
	CASE(push_applies_in_foreign_key_order_and_is_idempotent),
	CASE(stale_base_gets_pull_required),
	CASE(empty_push_is_a_success),
	CASE(push_of_unknown_table_or_column_is_422_and_changes_nothing),
	CASE(push_hooks_veto_and_observe),
	CASE(pull_returns_versions_and_current_rows),
	CASE(pull_sends_parent_rows_of_its_rows),
	CASE(direct_writes_are_versioned_and_pulled),
	CASE(pull_pages_cover_everything_once),
	CASE(pull_errors),
};
TH_MAIN(cases)
