/*
 * transport.c - client requests over libcurl (the only curl user).
 *
 * One easy handle per request: the client sends a handful of requests per
 * sync, so a connection cache would buy little and would need a lifetime of
 * its own. Messages name the server as host:port only, never the path,
 * query, header values (signatures) or bodies.
 */
#include "http.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_MAX_RESPONSE ((size_t)256 * 1024 * 1024)

/* ---- global state ------------------------------------------------------ */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned global_refs;

int dbsync__http_global_init(dbsync__error *err)
{
	CURLcode rc = CURLE_OK;

	pthread_mutex_lock(&global_lock);
	if (global_refs == 0)
		rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc == CURLE_OK)
		global_refs++;
	pthread_mutex_unlock(&global_lock);
	if (rc != CURLE_OK)
		return dbsync__error_set(err,
					 rc == CURLE_OUT_OF_MEMORY
						 ? DBSYNC_NOMEM
						 : DBSYNC_ERROR,
					 "cannot initialize libcurl: %s",
					 curl_easy_strerror(rc));
	return 0;
}

void dbsync__http_global_cleanup(void)
{
	pthread_mutex_lock(&global_lock);
	if (global_refs > 0 && --global_refs == 0)
		curl_global_cleanup();
	pthread_mutex_unlock(&global_lock);
}

/* ---- one transfer ------------------------------------------------------ */

struct transfer {
	const dbsync__http_request *req;
	char *body;
	size_t len;
	size_t cap;
	size_t max;
	int too_large;
	int nomem;
};

static size_t on_write(char *data, size_t size, size_t nmemb, void *payload)
{
	struct transfer *t = payload;
	size_t n = size * nmemb;
	size_t need;

	if (n > t->max - t->len) {
		t->too_large = 1;
		return 0;
	}
	need = t->len + n + 1; /* room for the NUL */
	if (need > t->cap) {
		size_t cap = t->cap ? t->cap : 16384;
		char *grown;

		while (cap < need)
			cap = cap > SIZE_MAX / 2 ? need : cap * 2;
		if (cap > t->max + 1) /* max < INT64_MAX: no overflow */
			cap = t->max + 1;
		grown = realloc(t->body, cap);
		if (grown == NULL) {
			t->nomem = 1;
			return 0;
		}
		t->body = grown;
		t->cap = cap;
	}
	memcpy(t->body + t->len, data, n);
	t->len += n;
	t->body[t->len] = '\0';
	return n;
}

static int on_progress(void *payload, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct transfer *t = payload;

	return t->req->progress(t->req->progress_payload,
				(uint64_t)(ulnow > 0 ? ulnow : 0),
				(uint64_t)(ultotal > 0 ? ultotal : 0),
				(uint64_t)(dlnow > 0 ? dlnow : 0),
				(uint64_t)(dltotal > 0 ? dltotal : 0));
}

/* The URL's host, and "host:port" for messages; refuses URLs that do not
 * parse or are not http(s). */
static int url_target(const char *url, char *hostout, size_t hostlen,
		      char *out, size_t outlen, dbsync__error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = 0;

	if (u == NULL)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
		    CURLUE_OK) {
		rc = dbsync__error_set(err, DBSYNC_INVALID,
				       "invalid server URL");
	} else if (strcmp(scheme, "http") != 0 &&
		   strcmp(scheme, "https") != 0) {
		rc = dbsync__error_set(err, DBSYNC_INVALID,
				       "unsupported URL scheme \"%.16s\" "
				       "(http or https expected)",
				       scheme);
	} else {
		snprintf(hostout, hostlen, "%s", host);
		snprintf(out, outlen, "%s:%s", host, port);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

static int build_headers(const dbsync__http_request *req, int is_post,
			 struct curl_slist **out, dbsync__error *err)
{
	/* An empty "Expect:" stops curl from waiting for 100-continue. */
	struct curl_slist *list = curl_slist_append(NULL, "Expect:");
	int has_type = 0;
	size_t i;

	if (list == NULL)
		goto nomem;
	for (i = 0; i < req->nheaders; i++) {
		const dbsync__header *h = &req->headers[i];
		struct curl_slist *grown;
		size_t len;
		char *line;

		if (h->name == NULL || h->value == NULL || h->name[0] == '\0' ||
		    strpbrk(h->name, ":\r\n \t") != NULL) {
			curl_slist_free_all(list);
			return dbsync__error_set(err, DBSYNC_INVALID,
						 "invalid HTTP header name");
		}
		if (strpbrk(h->value, "\r\n") != NULL) {
			/* Name only: the value may be a signature. */
			curl_slist_free_all(list);
			return dbsync__error_set(
				err, DBSYNC_INVALID,
				"HTTP header \"%.64s\" has a line break in its "
				"value",
				h->name);
		}
		if (strcasecmp(h->name, "Content-Type") == 0)
			has_type = 1;
		len = strlen(h->name) + strlen(h->value) + 3;
		line = malloc(len);
		if (line == NULL)
			goto nomem;
		/* curl drops "Name:" with nothing after it; "Name;" is its
		 * spelling of an empty value. */
		if (h->value[0] == '\0')
			snprintf(line, len, "%s;", h->name);
		else
			snprintf(line, len, "%s: %s", h->name, h->value);
		grown = curl_slist_append(list, line);
		free(line);
		if (grown == NULL)
			goto nomem;
		list = grown;
	}
	if (is_post && !has_type) {
		/* Not curl's form type: every dbsync body is JSON. */
		struct curl_slist *grown = curl_slist_append(
			list, "Content-Type: application/json");

		if (grown == NULL)
			goto nomem;
		list = grown;
	}
	*out = list;
	return 0;
nomem:
	curl_slist_free_all(list);
	return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
}

static int is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CLIENTCERT:
	case CURLE_USE_SSL_FAILED:
		return 1;
	default:
		return 0;
	}
}

/* Messages are one line: curl's buffer sometimes ends with a newline. */
static void one_line(char *s)
{
	size_t n = strlen(s);
	size_t i;

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
			 s[n - 1] == ' '))
		s[--n] = '\0';
	for (i = 0; i < n; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\t')
			s[i] = ' ';
}

/* curl's error buffer, or its generic text when the buffer is empty. */
static const char *curl_reason(CURLcode rc, const char *errbuf)
{
	return errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
}

/* The OS error behind a socket failure (strerror_r: other threads may be
 * sending too), else curl's words. */
static const char *os_reason(CURL *h, CURLcode rc, const char *errbuf,
			     char buf[128])
{
	long oserr = 0;

	if (curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr) == CURLE_OK &&
	    oserr > 0 && strerror_r((int)oserr, buf, 128) == 0)
		return buf;
	return curl_reason(rc, errbuf);
}

static int map_error(CURL *h, CURLcode rc, const struct transfer *t,
		     const char *host, const char *target, long timeout_ms,
		     const char *errbuf, dbsync__error *err)
{
	curl_off_t connected = 0;
	char buf[128];

	if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return dbsync__error_set(err, DBSYNC_TOO_LARGE,
					 "response body exceeds %zu bytes",
					 t->max);
	if (t->nomem || rc == CURLE_OUT_OF_MEMORY)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (is_tls_error(rc))
		return dbsync__error_set(err, DBSYNC_TLS, "TLS with %s: %s",
					 target, curl_reason(rc, errbuf));
	switch (rc) {
	case CURLE_ABORTED_BY_CALLBACK:
		return dbsync__error_set(err, DBSYNC_CALLBACK,
					 "transfer to %s aborted by the "
					 "progress callback",
					 target);
	case CURLE_COULDNT_RESOLVE_HOST:
		return dbsync__error_set(err, DBSYNC_NETWORK,
					 "cannot resolve host \"%s\"", host);
	case CURLE_COULDNT_CONNECT:
		return dbsync__error_set(err, DBSYNC_NETWORK,
					 "cannot connect to %s: %s", target,
					 os_reason(h, rc, errbuf, buf));
	case CURLE_OPERATION_TIMEDOUT:
		curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
		return dbsync__error_set(err, DBSYNC_NETWORK,
					 "%s %s timed out after %ld ms",
					 connected > 0 ? "request to"
						       : "connection to",
					 target, timeout_ms);
	case CURLE_SEND_ERROR:
		return dbsync__error_set(err, DBSYNC_NETWORK,
					 "connection to %s broken while "
					 "sending: %s",
					 target, os_reason(h, rc, errbuf, buf));
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return dbsync__error_set(err, DBSYNC_NETWORK,
					 "connection to %s broken while "
					 "receiving: %s",
					 target, os_reason(h, rc, errbuf, buf));
	case CURLE_GOT_NOTHING:
		return dbsync__error_set(err, DBSYNC_NETWORK,
					 "empty reply from %s", target);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return dbsync__error_set(err, DBSYNC_INVALID,
					 "invalid server URL: %s",
					 curl_reason(rc, errbuf));
	default:
		return dbsync__error_set(err, DBSYNC_NETWORK,
					 "request to %s: %s", target,
					 curl_reason(rc, errbuf));
	}
}

int dbsync__http_send(const dbsync__http_request *req,
		      dbsync__http_response *resp, dbsync__error *err)
{
	char host[256];
	char target[300];
	char errbuf[CURL_ERROR_SIZE];
	struct transfer t;
	struct curl_slist *headers = NULL;
	long connect_ms, timeout_ms, status = 0;
	int is_post, rc;
	CURLcode cc = CURLE_OK;
	CURL *h;
	char *ctype = NULL;

	if (resp == NULL)
		return dbsync__error_set(err, DBSYNC_INVALID,
					 "no response to fill");
	memset(resp, 0, sizeof(*resp));
	if (req == NULL || req->url == NULL || req->method == NULL)
		return dbsync__error_set(err, DBSYNC_INVALID,
					 "request without method or URL");
	if (strcmp(req->method, "GET") == 0)
		is_post = 0;
	else if (strcmp(req->method, "POST") == 0)
		is_post = 1;
	else
		return dbsync__error_set(err, DBSYNC_INVALID,
					 "unsupported HTTP method \"%.16s\"",
					 req->method);
	if (req->body == NULL && req->body_len > 0)
		return dbsync__error_set(err, DBSYNC_INVALID,
					 "request body is NULL");
	rc = url_target(req->url, host, sizeof(host), target, sizeof(target),
			err);
	if (rc != 0)
		return rc;
	rc = build_headers(req, is_post, &headers, err);
	if (rc != 0)
		return rc;

	connect_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
						 : DEFAULT_CONNECT_TIMEOUT_MS;
	timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
	memset(&t, 0, sizeof(t));
	t.req = req;
	t.max = req->max_response > 0 ? req->max_response
				      : DEFAULT_MAX_RESPONSE;
	if (t.max > (size_t)INT64_MAX - 1)
		t.max = (size_t)INT64_MAX - 1;
	errbuf[0] = '\0';

	h = curl_easy_init();
	if (h == NULL) {
		curl_slist_free_all(headers);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}

#define SET(opt, val)                                                          \
	do {                                                                   \
		if (cc == CURLE_OK)                                            \
			cc = curl_easy_setopt(h, opt, val);                    \
	} while (0)
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_USERAGENT, "dbsync/" DBSYNC_VERSION);
	SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms);
	SET(CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
	if (req->ca_file != NULL)
		SET(CURLOPT_CAINFO, req->ca_file);
	SET(CURLOPT_WRITEFUNCTION, on_write);
	SET(CURLOPT_WRITEDATA, &t);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t.max);
	if (req->progress != NULL) {
		SET(CURLOPT_XFERINFOFUNCTION, on_progress);
		SET(CURLOPT_XFERINFODATA, &t);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
	if (is_post) {
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(CURLOPT_POSTFIELDS, req->body_len > 0 ? req->body : "");
	} else {
		SET(CURLOPT_HTTPGET, 1L);
	}
#undef SET
	if (cc != CURLE_OK) {
		rc = dbsync__error_set(err, cc == CURLE_OUT_OF_MEMORY
						    ? DBSYNC_NOMEM
						    : DBSYNC_ERROR,
				       "cannot set up the request: %s",
				       curl_easy_strerror(cc));
		goto done;
	}

	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		resp->curl_code = (int)cc;
		one_line(errbuf);
		rc = map_error(h, cc, &t, host, target, timeout_ms, errbuf,
			       err);
		goto done;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
	if (ctype != NULL) {
		resp->content_type = strdup(ctype);
		if (resp->content_type == NULL) {
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
			goto done;
		}
	}
	if (t.body == NULL) {
		t.body = malloc(1);
		if (t.body == NULL) {
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
			goto done;
		}
		t.body[0] = '\0';
	}
	resp->status = status;
	resp->body = t.body;
	resp->body_len = t.len;
	t.body = NULL;
	rc = 0;
done:
	free(t.body);
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	return rc;
}

void dbsync__http_response_clear(dbsync__http_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	free(resp->content_type);
	memset(resp, 0, sizeof(*resp));
}
