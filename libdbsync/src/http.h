/*
 * http.h - HTTP on both sides, behind two small interfaces.
 *
 * transport.c (the only libcurl user) sends client requests; httpd.c (the
 * only libmicrohttpd user) serves requests to a handler. Neither knows the
 * protocol: they move methods, paths, headers and bodies.
 */
#ifndef DBSYNC_HTTP_H
#define DBSYNC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* One header. */
typedef struct dbsync__header {
	const char *name;
	const char *value;
} dbsync__header;

/* ---- client side (transport.c) ----------------------------------------- */

/* Progress of a transfer: bytes sent/received so far and, when known, the
 * totals (0 = unknown). Return non-zero to abort the transfer. */
typedef int (*dbsync__http_progress)(void *payload, uint64_t sent,
				     uint64_t send_total, uint64_t received,
				     uint64_t receive_total);

typedef struct dbsync__http_request {
	const char *method;	 /* "GET" or "POST" */
	const char *url;	 /* http:// or https:// */
	const dbsync__header *headers;
	size_t nheaders;
	const void *body;	 /* POST body (may be NULL with body_len 0) */
	size_t body_len;
	long connect_timeout_ms; /* 0: 10 s */
	long timeout_ms;	 /* whole request; 0: 60 s */
	const char *ca_file;	 /* PEM bundle to verify the server; NULL: system */
	int insecure;		 /* 1 disables certificate verification (tests) */
	size_t max_response;	 /* 0: 256 MiB */
	dbsync__http_progress progress;
	void *progress_payload;
} dbsync__http_request;

typedef struct dbsync__http_response {
	long status;
	char *body; /* malloc'd, NUL-terminated (the NUL is not counted) */
	size_t body_len;
	char *content_type; /* malloc'd or NULL */
	int curl_code;	    /* CURLcode behind a failure, else 0 (the
			       underlying cause, for callers that keep it) */
} dbsync__http_response;

/* curl's global state, reference counted: called by every handle that may
 * send (client open/free), never from two threads at once for the first
 * call (documented in docs/c-api.md). */
int dbsync__http_global_init(dbsync__error *err);
void dbsync__http_global_cleanup(void);

/*
 * Send `req` and wait for the whole response. Any HTTP status is a success
 * here (the caller interprets it); failures are DBSYNC_NETWORK (resolve,
 * connect, timeout, reset), DBSYNC_TLS (handshake, certificate), DBSYNC_TOO_LARGE
 * (response over max_response), DBSYNC_CALLBACK (progress aborted),
 * DBSYNC_NOMEM, and DBSYNC_INVALID for a request that cannot be sent
 * (method other than GET/POST, URL not http(s), header with a line break).
 * A POST without a Content-Type header is sent as application/json.
 * `resp` is cleared first; free it with dbsync__http_response_clear even
 * after a failure.
 */
int dbsync__http_send(const dbsync__http_request *req,
		      dbsync__http_response *resp, dbsync__error *err);
void dbsync__http_response_clear(dbsync__http_response *resp);

/* ---- server side (httpd.c) --------------------------------------------- */

typedef struct dbsync__http_exchange {
	/* request, borrowed for the duration of the handler call */
	const char *method;
	const char *path; /* as sent (not percent-decoded), without the
			     query string */
	const dbsync__header *headers; /* names as sent: compare them
					  case-insensitively */
	size_t nheaders;
	const void *body; /* never NULL; a NUL follows the body_len bytes */
	size_t body_len;
	const char *peer; /* client address as text */
	/* response, filled by the handler; `body` malloc'd (httpd frees it) */
	int status;
	char *response_body;
	size_t response_len;
	const char *content_type; /* static string; NULL: application/json */
	dbsync__header extra[4];  /* extra response headers (static strings) */
	size_t nextra;
} dbsync__http_exchange;

/* Called once per complete request, possibly from several threads at once. */
typedef void (*dbsync__httpd_handler)(void *payload, dbsync__http_exchange *x);

/* Told about a request httpd answered itself without calling the handler
 * (413 body too large, 400 several Content-Length headers), e.g. to log it:
 * method, path, peer and the answer (status, response_body/len,
 * content_type) are set, headers and body are empty. Same payload as the
 * handler; read-only, valid for the call only. */
typedef void (*dbsync__httpd_observer)(void *payload,
				       const dbsync__http_exchange *x);

typedef struct dbsync__httpd_options {
	const char *listen;	/* "HOST:PORT", HOST an IPv4 literal,
				   "localhost" or "[IPv6 literal]" (no name
				   lookups); port 0 picks a free one */
	const char *tls_cert;	/* PEM file paths; both or neither */
	const char *tls_key;
	size_t max_body;	/* larger bodies get 413 without calling the
				   handler; 0: 16 MiB */
	unsigned threads;	/* worker threads; 0: 4 */
	long timeout_s;		/* idle connection timeout; 0: 30 */
	dbsync__httpd_observer refused; /* optional, may be NULL */
} dbsync__httpd_options;

typedef struct dbsync__httpd dbsync__httpd;

/*
 * Start serving. Requests with a body over max_body are answered 413 with
 * the JSON error body of docs/protocol.md (code TOO_LARGE) before the
 * handler sees them: at once when Content-Length announces it, at the end
 * of a chunked body (dropping the connection if it runs more than 1 MiB
 * past the limit). Requests with several Content-Length headers get 400
 * (PROTOCOL); other malformed requests get MHD's own 4xx.
 * Errors: DBSYNC_INVALID (bad listen address, TLS files unreadable or
 * refused), DBSYNC_NETWORK (cannot bind).
 */
int dbsync__httpd_start(dbsync__httpd **out, const dbsync__httpd_options *opt,
			dbsync__httpd_handler handler, void *payload,
			dbsync__error *err);

/* The port actually bound (useful with port 0). */
int dbsync__httpd_port(const dbsync__httpd *d);

/* Stop accepting, finish requests in flight, free. Accepts NULL. */
void dbsync__httpd_stop(dbsync__httpd *d);

#endif
