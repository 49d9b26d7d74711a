/*
 * server.c - the server handle: setup, the request router, responses and
 * metrics. The procedures live in server_register.c, server_push.c,
 * server_pull.c; authentication in server_auth.c.
 */
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto.h"
#include "message.h"

/* ---- setup ----------------------------------------------------------- */

static int enter(dbsync_server *s)
{
	if (!s)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "server handle is NULL");
	dbsync__error_clear(&s->err);
	return 0;
}

int dbsync_server_open(dbsync_server **out, const char *store)
{
	dbsync_server *s;
	dbsync__store *first = NULL;
	const char *location = NULL;
	const dbsync__store_ops *ops;
	int rc;

	if (!out)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "output pointer is NULL");
	*out = NULL;
	if (!store || !*store)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "store is NULL or empty");
	ops = dbsync__store_find(store, &location);
	if (!ops)
		/* Only the scheme is echoed: the rest may hold a password. */
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "unknown store kind \"%.*s\" (expected "
					 "sqlite:PATH or postgresql://...)",
					 (int)(strcspn(store, ":") < 32
						       ? strcspn(store, ":")
						       : 32),
					 store);
	s = calloc(1, sizeof(*s));
	if (!s || !(s->location = strdup(location)) ||
	    !(s->policy = strdup("closed"))) {
		if (s)
			free(s->location);
		free(s);
		return dbsync__error_set(NULL, DBSYNC_NOMEM, "out of memory");
	}
	s->ops = ops;
	pthread_mutex_init(&s->pool_lock, NULL);
	s->auth_window_s = 300;
	s->page_ops_default = 1000;
	s->page_ops_max = 10000;
	s->page_bytes_default = 4 << 20;
	s->page_bytes_max = 16 << 20;
	/* Opening one store now reports a bad path at once and creates the
	 * internal tables before any request. */
	rc = ops->open(&first, s->location, &s->err);
	if (rc) {
		dbsync__error_copy(NULL, &s->err);
		dbsync_server_free(s);
		return rc;
	}
	dbsync__server_store_put(s, first);
	*out = s;
	return 0;
}

void dbsync_server_free(dbsync_server *s)
{
	size_t k;

	if (!s)
		return;
	for (k = 0; k < s->nidle; k++)
		s->ops->close(s->idle[k]);
	free(s->idle);
	pthread_mutex_destroy(&s->pool_lock);
	free(s->location);
	free(s->policy);
	free(s->token);
	free(s);
}

int dbsync__server_store_get(dbsync_server *s, dbsync__store **out,
			     dbsync__error *err)
{
	pthread_mutex_lock(&s->pool_lock);
	*out = s->nidle ? s->idle[--s->nidle] : NULL;
	pthread_mutex_unlock(&s->pool_lock);
	if (*out)
		return 0;
	return s->ops->open(out, s->location, err);
}

void dbsync__server_store_put(dbsync_server *s, dbsync__store *store)
{
	dbsync__store **p;

	pthread_mutex_lock(&s->pool_lock);
	if (s->nidle == s->idle_cap) {
		size_t cap = s->idle_cap ? s->idle_cap * 2 : 4;
		p = realloc(s->idle, cap * sizeof(*p));
		if (p) {
			s->idle = p;
			s->idle_cap = cap;
		}
	}
	if (s->nidle < s->idle_cap) {
		s->idle[s->nidle++] = store;
		store = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	if (store)
		s->ops->close(store);
}

/* Run a setup step on a pooled store, recording errors on the handle. */
static int with_store(dbsync_server *s,
		      int (*fn)(dbsync_server *, dbsync__store *, const void *,
				void *),
		      const void *in, void *out)
{
	dbsync__store *store;
	int rc = dbsync__server_store_get(s, &store, &s->err);

	if (rc)
		return rc;
	rc = fn(s, store, in, out);
	dbsync__server_store_put(s, store);
	return rc;
}

static int do_exec(dbsync_server *s, dbsync__store *st, const void *sql,
		   void *unused)
{
	(void)unused;
	return s->ops->exec(st, sql, &s->err);
}

int dbsync_server_exec(dbsync_server *s, const char *sql)
{
	int rc = enter(s);

	if (rc)
		return rc;
	if (!sql)
		return dbsync__error_set(&s->err, DBSYNC_INVALID, "SQL is NULL");
	return with_store(s, do_exec, sql, NULL);
}

static int do_track(dbsync_server *s, dbsync__store *st, const void *table,
		    void *unused)
{
	(void)unused;
	return s->ops->track(st, table, &s->err);
}

int dbsync_server_track(dbsync_server *s, const char *table)
{
	int rc = enter(s);

	if (rc)
		return rc;
	if (!table || !*table)
		return dbsync__error_set(&s->err, DBSYNC_INVALID,
					 "table name is NULL or empty");
	return with_store(s, do_track, table, NULL);
}

static int do_track_all(dbsync_server *s, dbsync__store *st, const void *in,
			void *out)
{
	char **names = NULL;
	size_t n = 0, k;
	int rc = s->ops->candidates(st, &names, &n, &s->err);

	(void)in;
	for (k = 0; k < n && !rc; k++)
		rc = s->ops->track(st, names[k], &s->err);
	for (k = 0; k < n; k++)
		free(names[k]);
	free(names);
	if (!rc && out) {
		dbsync__store_table *t;
		size_t nt;
		rc = s->ops->tables(st, &t, &nt, &s->err);
		if (!rc) {
			*(int *)out = (int)nt;
			dbsync__store_tables_free(t, nt);
		}
	}
	return rc;
}

int dbsync_server_track_all(dbsync_server *s, int *count)
{
	int rc = enter(s);

	if (rc)
		return rc;
	return with_store(s, do_track_all, NULL, count);
}

int dbsync_server_set_registration(dbsync_server *s, const char *policy)
{
	char *p, *token = NULL;
	int rc = enter(s);

	if (rc)
		return rc;
	if (!policy)
		return dbsync__error_set(&s->err, DBSYNC_INVALID,
					 "registration policy is NULL");
	if (strncmp(policy, "token:", 6) == 0) {
		if (!policy[6])
			return dbsync__error_set(&s->err, DBSYNC_INVALID,
						 "registration token is empty");
		token = strdup(policy + 6);
		p = strdup("token");
	} else if (strcmp(policy, "open") == 0 ||
		   strcmp(policy, "closed") == 0) {
		p = strdup(policy);
	} else {
		/* Do not echo it: it may be a mistyped secret. */
		return dbsync__error_set(&s->err, DBSYNC_INVALID,
					 "unknown registration policy "
					 "(expected open, closed or "
					 "token:SECRET)");
	}
	if (!p || (strncmp(policy, "token:", 6) == 0 && !token)) {
		free(p);
		free(token);
		return dbsync__error_set(&s->err, DBSYNC_NOMEM, "out of memory");
	}
	free(s->policy);
	free(s->token);
	s->policy = p;
	s->token = token;
	return 0;
}

int dbsync_server_on_register(dbsync_server *s, dbsync_register_fn fn,
			      void *payload)
{
	int rc = enter(s);

	if (rc)
		return rc;
	s->register_fn = fn;
	s->register_payload = payload;
	return 0;
}

int dbsync_server_on_push(dbsync_server *s, dbsync_push_hook before,
			  dbsync_push_hook after, void *payload)
{
	int rc = enter(s);

	if (rc)
		return rc;
	s->before_push = before;
	s->after_push = after;
	s->push_payload = payload;
	return 0;
}

static int do_trim(dbsync_server *s, dbsync__store *st, const void *in,
		   void *unused)
{
	int64_t through = *(const int64_t *)in;
	int rc = s->ops->begin(st, 1, &s->err);

	(void)unused;
	if (!rc)
		rc = s->ops->trim(st, through, &s->err);
	if (!rc)
		rc = s->ops->commit(st, &s->err);
	if (rc)
		s->ops->rollback(st);
	return rc;
}

int dbsync_server_trim(dbsync_server *s, int64_t through_version)
{
	int rc = enter(s);

	if (rc)
		return rc;
	if (through_version < 0)
		return dbsync__error_set(&s->err, DBSYNC_INVALID,
					 "version cannot be negative");
	return with_store(s, do_trim, &through_version, NULL);
}

const char *dbsync_server_error_message(const dbsync_server *s)
{
	return s ? s->err.message : "";
}

int dbsync_server_error_code(const dbsync_server *s)
{
	return s ? s->err.code : 0;
}

int dbsync__server_describe_tables(const dbsync__store_table *t, size_t n,
				   struct dbsync__pull_resp *r)
{
	size_t k, c;

	r->tables = calloc(n ? n : 1, sizeof(*r->tables));
	if (!r->tables)
		return DBSYNC_NOMEM;
	for (k = 0; k < n; k++) {
		dbsync__msg_table *m = &r->tables[r->ntables++];
		m->name = strdup(t[k].name);
		m->pk = strdup(t[k].pk);
		m->columns = calloc(t[k].ncolumns, sizeof(char *));
		if (!m->name || !m->pk || !m->columns)
			return DBSYNC_NOMEM;
		for (c = 0; c < t[k].ncolumns; c++) {
			if (!(m->columns[c] = strdup(t[k].columns[c])))
				return DBSYNC_NOMEM;
			m->ncolumns = c + 1;
		}
	}
	return 0;
}

/* ---- responses ------------------------------------------------------- */

void dbsync__respond_json(dbsync_response *resp, int status, char *body,
			  size_t len)
{
	free(resp->body);
	resp->status = status;
	resp->body = body;
	resp->len = len;
	resp->content_type = "application/json";
}

static int status_for(int code)
{
	switch (code) {
	case DBSYNC_PROTOCOL:
	case DBSYNC_INVALID:
		return 400;
	case DBSYNC_AUTH:
	case DBSYNC_NOT_REGISTERED:
		return 401;
	case DBSYNC_REGISTRATION_REFUSED:
		return 403;
	case DBSYNC_NOT_FOUND:
		return 404;
	case DBSYNC_PULL_REQUIRED:
		return 409;
	case DBSYNC_REPAIR_REQUIRED:
		return 410;
	case DBSYNC_TOO_LARGE:
		return 413;
	case DBSYNC_SCHEMA:
	case DBSYNC_CONFLICT:
	case DBSYNC_UNIQUE_CONFLICT:
	case DBSYNC_PUSH_REJECTED:
		return 422;
	case DBSYNC_BUSY:
		return 503;
	default:
		return 500;
	}
}

void dbsync__respond_error(dbsync_response *resp, int status, int code,
			   const char *fmt, ...)
{
	char message[DBSYNC__ERRMSG_MAX];
	char *body = NULL;
	size_t len = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	if (dbsync__msg_encode_error(code, message, &body, &len) != 0) {
		body = NULL;
		len = 0;
	}
	dbsync__respond_json(resp, status, body, len);
}

void dbsync__respond_failure(dbsync_response *resp, const dbsync__error *err)
{
	int code = err->code ? err->code : DBSYNC_ERROR;
	int status = status_for(code);

	/* Internal failures keep their details in the server, not the
	 * answer: no SQL, paths or SQLite messages leave it. */
	if (status >= 500)
		dbsync__respond_error(resp, status, code, "%s",
				      code == DBSYNC_BUSY
					      ? "server is busy, retry later"
					      : "internal error");
	else
		dbsync__respond_error(resp, status, code, "%s", err->message);
}

const char *dbsync__request_header(const dbsync__request *r, const char *name)
{
	size_t k;

	for (k = 0; k < r->nheaders; k++)
		if (r->header_names[k] && r->header_values[k] &&
		    strcasecmp(r->header_names[k], name) == 0)
			return r->header_values[k];
	return NULL;
}

/* ---- health and metrics ---------------------------------------------- */

static void health(dbsync_server *s, dbsync_response *resp)
{
	dbsync__store *store;
	dbsync__error err = {0};
	int64_t latest = 0;
	char *body;
	int rc = dbsync__server_store_get(s, &store, &err);

	if (!rc) {
		rc = s->ops->begin(store, 0, &err);
		if (!rc)
			rc = s->ops->latest_version(store, &latest, &err);
		s->ops->rollback(store);
		dbsync__server_store_put(s, store);
	}
	if (rc) {
		dbsync__respond_failure(resp, &err);
		return;
	}
	body = malloc(96);
	if (!body) {
		resp->status = 500;
		return;
	}
	snprintf(body, 96,
		 "{\"status\":\"ok\",\"protocol\":%d,\"latest_version\":%lld}",
		 DBSYNC__PROTOCOL_VERSION, (long long)latest);
	dbsync__respond_json(resp, 200, body, strlen(body));
}

/* Upper bounds of the latency histogram buckets, in microseconds. */
static const unsigned long long latency_bounds_us[12] = {
	1000,	 2500,	  5000,	   10000,   25000,   50000,
	100000, 250000, 500000, 1000000, 2500000, 10000000};

static void observe(dbsync__metrics *m, int status, unsigned long long us)
{
	size_t k;

	atomic_fetch_add(&m->requests, 1);
	if (status >= 100 && status < 600)
		atomic_fetch_add(&m->by_class[status / 100], 1);
	for (k = 0; k < 12; k++)
		if (us <= latency_bounds_us[k])
			atomic_fetch_add(&m->latency_bucket[k], 1);
	atomic_fetch_add(&m->latency_count, 1);
	atomic_fetch_add(&m->latency_sum_us, us);
}

static void metrics(dbsync_server *s, dbsync_response *resp)
{
	dbsync__metrics *m = &s->metrics;
	size_t cap = 4096, len = 0, k;
	char *body = malloc(cap);

	if (!body) {
		resp->status = 500;
		return;
	}
#define EMIT(...)                                                              \
	do {                                                                   \
		int n_ = snprintf(body + len, cap - len, __VA_ARGS__);         \
		if (n_ > 0 && (size_t)n_ < cap - len)                          \
			len += (size_t)n_;                                     \
	} while (0)
	EMIT("# HELP dbsync_requests_total HTTP requests answered.\n"
	     "# TYPE dbsync_requests_total counter\n");
	for (k = 1; k < 6; k++)
		EMIT("dbsync_requests_total{class=\"%zuxx\"} %llu\n", k,
		     (unsigned long long)atomic_load(&m->by_class[k]));
	EMIT("# TYPE dbsync_registrations_total counter\n"
	     "dbsync_registrations_total %llu\n",
	     (unsigned long long)atomic_load(&m->registers));
	EMIT("# TYPE dbsync_pushes_total counter\ndbsync_pushes_total %llu\n",
	     (unsigned long long)atomic_load(&m->pushes));
	EMIT("# TYPE dbsync_pulls_total counter\ndbsync_pulls_total %llu\n",
	     (unsigned long long)atomic_load(&m->pulls));
	EMIT("# TYPE dbsync_repairs_total counter\ndbsync_repairs_total %llu\n",
	     (unsigned long long)atomic_load(&m->repairs));
	EMIT("# TYPE dbsync_ops_applied_total counter\n"
	     "dbsync_ops_applied_total %llu\n",
	     (unsigned long long)atomic_load(&m->ops_applied));
	EMIT("# TYPE dbsync_ops_sent_total counter\ndbsync_ops_sent_total %llu\n",
	     (unsigned long long)atomic_load(&m->ops_sent));
	EMIT("# TYPE dbsync_conflicts_total counter\n"
	     "dbsync_conflicts_total %llu\n",
	     (unsigned long long)atomic_load(&m->conflicts));
	EMIT("# TYPE dbsync_auth_failures_total counter\n"
	     "dbsync_auth_failures_total %llu\n",
	     (unsigned long long)atomic_load(&m->auth_failures));
	EMIT("# HELP dbsync_request_duration_seconds Time to answer a "
	     "request.\n# TYPE dbsync_request_duration_seconds histogram\n");
	for (k = 0; k < 12; k++)
		EMIT("dbsync_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
		     latency_bounds_us[k] / 1e6,
		     (unsigned long long)atomic_load(&m->latency_bucket[k]));
	EMIT("dbsync_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	     "dbsync_request_duration_seconds_sum %.6f\n"
	     "dbsync_request_duration_seconds_count %llu\n",
	     (unsigned long long)atomic_load(&m->latency_count),
	     atomic_load(&m->latency_sum_us) / 1e6,
	     (unsigned long long)atomic_load(&m->latency_count));
#undef EMIT
	free(resp->body);
	resp->status = 200;
	resp->body = body;
	resp->len = len;
	resp->content_type = "text/plain; version=0.0.4";
}

/* ---- routing ----------------------------------------------------------- */

struct route {
	const char *path;
	const char *method;
	void (*fn)(dbsync_server *, dbsync__request *, dbsync_response *);
};

static void route_health(dbsync_server *s, dbsync__request *r,
			 dbsync_response *resp)
{
	(void)r;
	health(s, resp);
}

static void route_metrics(dbsync_server *s, dbsync__request *r,
			  dbsync_response *resp)
{
	(void)r;
	metrics(s, resp);
}

static const struct route routes[] = {
	{"/v1/register", "POST", dbsync__server_register},
	{"/v1/push", "POST", dbsync__server_push},
	{"/v1/pull", "POST", dbsync__server_pull},
	{"/v1/repair", "POST", dbsync__server_repair},
	{"/v1/health", "GET", route_health},
	{"/metrics", "GET", route_metrics},
};

static unsigned long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000ULL +
	       (unsigned long long)ts.tv_nsec / 1000ULL;
}

static void route(dbsync_server *s, dbsync__request *req,
		  dbsync_response *resp)
{
	size_t k, plen = strcspn(req->path, "?");

	for (k = 0; k < sizeof(routes) / sizeof(routes[0]); k++) {
		if (strlen(routes[k].path) != plen ||
		    strncmp(routes[k].path, req->path, plen) != 0)
			continue;
		if (strcmp(routes[k].method, req->method) != 0) {
			dbsync__respond_error(resp, 405, DBSYNC_INVALID,
					      "method not allowed here; use %s",
					      routes[k].method);
			resp->header_names[0] = "Allow";
			resp->header_values[0] = routes[k].method;
			resp->nheaders = 1;
			return;
		}
		routes[k].fn(s, req, resp);
		return;
	}
	dbsync__respond_error(resp, 404, DBSYNC_NOT_FOUND, "no such endpoint");
}

int dbsync_server_handle(dbsync_response **out, dbsync_server *s,
			 const char *method, const char *path,
			 const char *const *header_names,
			 const char *const *header_values, size_t nheaders,
			 const void *body, size_t body_len)
{
	dbsync__request req;
	dbsync_response *resp;
	unsigned long long start = now_us();

	if (!out)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "output pointer is NULL");
	*out = NULL;
	if (!s || !method || !path || (nheaders && (!header_names ||
						    !header_values)) ||
	    (body_len && !body))
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "handle needs a server, a method, a "
					 "path, and headers/body matching "
					 "their counts");
	resp = calloc(1, sizeof(*resp));
	if (!resp)
		return dbsync__error_set(NULL, DBSYNC_NOMEM, "out of memory");
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.path = path;
	req.header_names = header_names;
	req.header_values = header_values;
	req.nheaders = nheaders;
	req.body = body ? body : "";
	req.body_len = body_len;
	route(s, &req, resp);
	if (!resp->status)
		dbsync__respond_error(resp, 500, DBSYNC_ERROR, "internal error");
	if (!resp->body) {
		/* Even the error body could not be built: answer bare. */
		resp->body = strdup("");
		resp->len = 0;
		if (!resp->body) {
			free(resp);
			return dbsync__error_set(NULL, DBSYNC_NOMEM,
						 "out of memory");
		}
	}
	if (!resp->content_type)
		resp->content_type = "application/json";
	if (resp->status == 422)
		atomic_fetch_add(&s->metrics.conflicts, 1);
	if (resp->status == 401)
		atomic_fetch_add(&s->metrics.auth_failures, 1);
	observe(&s->metrics, resp->status, now_us() - start);
	*out = resp;
	return 0;
}

int dbsync_response_status(const dbsync_response *r)
{
	return r ? r->status : 0;
}

const char *dbsync_response_body(const dbsync_response *r, size_t *len)
{
	if (len)
		*len = r ? r->len : 0;
	return r ? r->body : NULL;
}

const char *dbsync_response_content_type(const dbsync_response *r)
{
	return r ? r->content_type : NULL;
}

size_t dbsync_response_header_count(const dbsync_response *r)
{
	return r ? r->nheaders : 0;
}

const char *dbsync_response_header_name(const dbsync_response *r, size_t i)
{
	return r && i < r->nheaders ? r->header_names[i] : NULL;
}

const char *dbsync_response_header_value(const dbsync_response *r, size_t i)
{
	return r && i < r->nheaders ? r->header_values[i] : NULL;
}

void dbsync_response_free(dbsync_response *r)
{
	if (!r)
		return;
	free(r->body);
	free(r);
}
