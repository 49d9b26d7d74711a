/*
 * httpd.c - the HTTP server over libmicrohttpd (the only MHD user).
 *
 * MHD owns sockets, parsing and threads; this file turns each complete
 * request into one dbsync__http_exchange for the handler and enforces the
 * body limit before any handler sees the body. Malformed requests are
 * answered by MHD itself (4xx) and never reach us.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_MAX_BODY ((size_t)16 * 1024 * 1024)
#define DEFAULT_THREADS 4u
#define DEFAULT_TIMEOUT_S 30L
#define MAX_PEM_SIZE ((long)1024 * 1024)
/* A chunked upload (no Content-Length) is only found too large while its
 * body arrives, when MHD no longer lets us answer; we discard up to this
 * much more and answer 413 at its end, or drop the connection. */
#define DRAIN_LIMIT ((size_t)1024 * 1024)

struct dbsync__httpd {
	struct MHD_Daemon *mhd;
	dbsync__httpd_handler handler;
	dbsync__httpd_observer refused;
	void *payload;
	size_t max_body;
	int port;
	char *cert_pem;
	char *key_pem;
};

/* Per-request state, kept in MHD's con_cls from the first call on. */
struct request {
	char *body;
	size_t len;
	size_t cap;
	size_t drained; /* bytes discarded after the body went over the limit */
	int too_large;
};

/* ---- responses --------------------------------------------------------- */

static enum MHD_Result queue_copy(struct MHD_Connection *conn,
				  unsigned status, const char *json)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	r = MHD_create_response_from_buffer(strlen(json), (void *)json,
					    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				    "application/json") != MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ok = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ok;
}

/* The error body of docs/protocol.md. */
static void format_error(char *json, size_t size, int code,
			 const char *message)
{
	snprintf(json, size,
		 "{\"error\": {\"code\": %d, \"name\": \"%s\", \"message\": "
		 "\"%s\"}}",
		 code, dbsync_error_name(code), message);
}

static enum MHD_Result queue_internal(struct MHD_Connection *conn)
{
	char json[256];

	format_error(json, sizeof(json), DBSYNC_ERROR, "internal error");
	return queue_copy(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, json);
}

static void peer_text(struct MHD_Connection *conn, char *out, size_t outlen)
{
	const union MHD_ConnectionInfo *info;
	const struct sockaddr *sa;

	snprintf(out, outlen, "unknown");
	info = MHD_get_connection_info(conn,
				       MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (info == NULL || info->client_addr == NULL)
		return;
	sa = info->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET,
			  &((const struct sockaddr_in *)(const void *)sa)
				   ->sin_addr,
			  out, (socklen_t)outlen);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)(const void *)sa)
				   ->sin6_addr,
			  out, (socklen_t)outlen);
}

/* Answer a request the handler never sees, and tell the observer. */
static enum MHD_Result refuse(dbsync__httpd *d, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      unsigned status, int code, const char *message)
{
	dbsync__http_exchange x;
	char json[256];
	char peer[INET6_ADDRSTRLEN + 1];
	enum MHD_Result ok;

	format_error(json, sizeof(json), code, message);
	ok = queue_copy(conn, status, json);
	if (ok == MHD_YES && d->refused != NULL) {
		peer_text(conn, peer, sizeof(peer));
		memset(&x, 0, sizeof(x));
		x.method = method;
		x.path = url;
		x.body = "";
		x.peer = peer;
		x.status = (int)status;
		x.response_body = json;
		x.response_len = strlen(json);
		x.content_type = "application/json";
		d->refused(d->payload, &x);
	}
	return ok;
}

static enum MHD_Result refuse_too_large(dbsync__httpd *d,
					struct MHD_Connection *conn,
					const char *url, const char *method)
{
	char message[64];

	snprintf(message, sizeof(message), "request body exceeds %zu bytes",
		 d->max_body);
	return refuse(d, conn, url, method, MHD_HTTP_CONTENT_TOO_LARGE,
		      DBSYNC_TOO_LARGE, message);
}

/* Send what the handler left in `x`; takes its response body. */
static enum MHD_Result queue_exchange(struct MHD_Connection *conn,
				      dbsync__http_exchange *x)
{
	struct MHD_Response *r;
	enum MHD_Result ok;
	size_t i;
	int good;

	if (x->status < 100 || x->status > 599 ||
	    (x->response_body == NULL && x->response_len > 0)) {
		free(x->response_body);
		return queue_internal(conn);
	}
	if (x->response_body != NULL) {
		r = MHD_create_response_from_buffer_with_free_callback(
			x->response_len, x->response_body, free);
		if (r == NULL)
			free(x->response_body);
	} else {
		r = MHD_create_response_from_buffer(0, (void *)"",
						    MHD_RESPMEM_PERSISTENT);
	}
	x->response_body = NULL;
	if (r == NULL)
		return MHD_NO;
	good = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				       x->content_type != NULL
					       ? x->content_type
					       : "application/json") == MHD_YES;
	for (i = 0; good && i < x->nextra &&
		    i < sizeof(x->extra) / sizeof(x->extra[0]);
	     i++)
		good = x->extra[i].name != NULL && x->extra[i].value != NULL &&
		       MHD_add_response_header(r, x->extra[i].name,
					       x->extra[i].value) == MHD_YES;
	if (!good) {
		/* A header MHD refuses (line breaks...) is a handler bug. */
		MHD_destroy_response(r);
		return queue_internal(conn);
	}
	ok = MHD_queue_response(conn, (unsigned)x->status, r);
	MHD_destroy_response(r);
	return ok;
}

/* ---- requests ---------------------------------------------------------- */

struct header_list {
	dbsync__header *items;
	size_t n;
	size_t cap;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
				      const char *key, const char *value)
{
	struct header_list *l = cls;

	(void)kind;
	if (l->n < l->cap) {
		l->items[l->n].name = key;
		l->items[l->n].value = value != NULL ? value : "";
		l->n++;
	}
	return MHD_YES;
}

static enum MHD_Result run_handler(dbsync__httpd *d,
				   struct MHD_Connection *conn,
				   const char *url, const char *method,
				   struct request *rq)
{
	dbsync__http_exchange x;
	struct header_list hl;
	char peer[INET6_ADDRSTRLEN + 1];
	int count;
	enum MHD_Result ok;

	memset(&hl, 0, sizeof(hl));
	count = MHD_get_connection_values(conn, MHD_HEADER_KIND, NULL, NULL);
	if (count > 0) {
		hl.items = calloc((size_t)count, sizeof(*hl.items));
		if (hl.items == NULL)
			return MHD_NO;
		hl.cap = (size_t)count;
		MHD_get_connection_values(conn, MHD_HEADER_KIND,
					  collect_header, &hl);
	}
	peer_text(conn, peer, sizeof(peer));

	memset(&x, 0, sizeof(x));
	x.method = method;
	x.path = url;
	x.headers = hl.items;
	x.nheaders = hl.n;
	x.body = rq->body != NULL ? rq->body : "";
	x.body_len = rq->len;
	x.peer = peer;
	d->handler(d->payload, &x);
	free(hl.items);
	ok = queue_exchange(conn, &x);
	return ok;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind,
				    const char *key, const char *value)
{
	(void)kind;
	(void)value;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		(*(int *)cls)++;
	return MHD_YES;
}

/* The declared Content-Length, or -1 when there is none (chunked). */
static long long declared_length(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;
	char *end;

	if (v == NULL)
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	/* MHD already refused malformed values; huge ones saturate. */
	if (end == v || errno != 0 || n > (unsigned long long)LLONG_MAX)
		return LLONG_MAX;
	return (long long)n;
}

static int append(struct request *rq, const char *data, size_t n,
		  size_t max_body)
{
	size_t need = rq->len + n + 1; /* the handler gets a trailing NUL */

	if (need > rq->cap) {
		size_t cap = rq->cap ? rq->cap : 4096;
		char *grown;

		while (cap < need)
			cap *= 2;
		if (cap > max_body + 1)
			cap = max_body + 1;
		grown = realloc(rq->body, cap);
		if (grown == NULL)
			return -1;
		rq->body = grown;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	rq->body[rq->len] = '\0';
	return 0;
}

/* Paths reach the handler as sent: the signature covers those bytes, and
 * a decoded %00 would cut the string short. */
static size_t keep_escapes(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	return strlen(s);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	dbsync__httpd *d = cls;
	struct request *rq = *con_cls;
	long long declared;
	int lengths = 0;

	(void)version;
	if (rq == NULL) {
		/* Headers are in: refuse an announced oversize body now,
		 * before the client sends it (no 100 Continue either). */
		rq = calloc(1, sizeof(*rq));
		if (rq == NULL)
			return MHD_NO;
		*con_cls = rq;
		/* MHD takes the first of several lengths; a proxy in front
		 * may take another (request smuggling): refuse them all. */
		MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header,
					  &lengths);
		if (lengths > 1)
			return refuse(d, conn, url, method,
				      MHD_HTTP_BAD_REQUEST, DBSYNC_PROTOCOL,
				      "more than one Content-Length header");
		declared = declared_length(conn);
		if (declared >= 0 && (unsigned long long)declared > d->max_body)
			return refuse_too_large(d, conn, url, method);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (!rq->too_large && n > d->max_body - rq->len) {
			rq->too_large = 1;
			free(rq->body);
			rq->body = NULL;
			rq->len = rq->cap = 0;
		}
		if (rq->too_large) {
			rq->drained += n;
			return rq->drained > DRAIN_LIMIT ? MHD_NO : MHD_YES;
		}
		return append(rq, upload_data, n, d->max_body) == 0 ? MHD_YES
								    : MHD_NO;
	}
	if (rq->too_large)
		return refuse_too_large(d, conn, url, method);
	return run_handler(d, conn, url, method, rq);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rq != NULL) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

/* ---- start / stop ------------------------------------------------------ */

/* Where to listen, parsed from "HOST:PORT". */
struct listen_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} u;
	socklen_t len;
	unsigned port;
	char host[INET6_ADDRSTRLEN + 2]; /* for messages, v6 in brackets */
};

/* HOST is an IPv4 literal, "localhost" or an IPv6 literal in brackets:
 * no name lookups, so a server never binds somewhere DNS chose. */
static int parse_listen(const char *listen, struct listen_addr *a,
			dbsync__error *err)
{
	const char *colon = listen != NULL ? strrchr(listen, ':') : NULL;
	char host[INET6_ADDRSTRLEN + 2];
	size_t hostlen;
	const char *p;
	long port = 0;

	memset(a, 0, sizeof(*a));
	if (colon == NULL || colon == listen || colon[1] == '\0')
		goto bad;
	hostlen = (size_t)(colon - listen);
	if (hostlen >= sizeof(host))
		goto bad;
	memcpy(host, listen, hostlen);
	host[hostlen] = '\0';
	for (p = colon + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - colon > 5)
			goto bad;
		port = port * 10 + (*p - '0');
	}
	if (port > 65535)
		goto bad;
	a->port = (unsigned)port;
	if (host[0] == '[' && host[hostlen - 1] == ']' && hostlen > 2) {
		host[hostlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a->u.v6.sin6_addr) != 1)
			goto bad;
		a->u.v6.sin6_family = AF_INET6;
		a->u.v6.sin6_port = htons((uint16_t)port);
		a->len = sizeof(a->u.v6);
		host[hostlen - 1] = ']';
	} else {
		if (strcmp(host, "localhost") == 0)
			a->u.v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (inet_pton(AF_INET, host, &a->u.v4.sin_addr) != 1)
			goto bad;
		a->u.v4.sin_family = AF_INET;
		a->u.v4.sin_port = htons((uint16_t)port);
		a->len = sizeof(a->u.v4);
	}
	memcpy(a->host, host, hostlen + 1);
	return 0;
bad:
	return dbsync__error_set(err, DBSYNC_INVALID,
				 "invalid listen address \"%.64s\" (HOST:PORT "
				 "with an IP address or localhost expected)",
				 listen != NULL ? listen : "");
}

static void wipe_free(char *p)
{
	if (p != NULL) {
		volatile char *v = p;
		size_t n = strlen(p);

		while (n-- > 0)
			*v++ = 0;
		free(p);
	}
}

static int read_pem(const char *path, const char *what, char **out,
		    dbsync__error *err)
{
	char reason[128];
	FILE *f;
	long size;
	char *buf = NULL;
	size_t got;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
		goto os_error;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto os_error;
	if (size == 0 || size > MAX_PEM_SIZE) {
		fclose(f);
		return dbsync__error_set(err, DBSYNC_INVALID,
					 "TLS %s \"%s\" is %s", what, path,
					 size == 0 ? "empty" : "too large");
	}
	buf = malloc((size_t)size + 1);
	if (buf == NULL) {
		fclose(f);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	got = fread(buf, 1, (size_t)size, f);
	if (got != (size_t)size)
		goto os_error;
	fclose(f);
	buf[got] = '\0';
	*out = buf;
	return 0;
os_error:
	if (strerror_r(errno, reason, sizeof(reason)) != 0)
		snprintf(reason, sizeof(reason), "read error");
	if (f != NULL)
		fclose(f);
	wipe_free(buf);
	return dbsync__error_set(err, DBSYNC_INVALID,
				 "cannot read TLS %s \"%s\": %s", what, path,
				 reason);
}

/* MHD says only "no": find out whether the address is the reason, so the
 * message can name it (port in use, address not local). */
static int bind_error(const struct listen_addr *a, char *reason,
		      size_t reasonlen)
{
	int fd = socket(a->u.sa.sa_family, SOCK_STREAM, 0);
	int one = 1;
	int rc = 0;

	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->u.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &a->u.sa, a->len) != 0 ||
	    listen(fd, 1) != 0) {
		if (strerror_r(errno, reason, reasonlen) != 0)
			snprintf(reason, reasonlen, "bind error");
		rc = 1;
	}
	close(fd);
	return rc;
}

static void free_daemon(dbsync__httpd *d)
{
	wipe_free(d->key_pem);
	free(d->cert_pem);
	free(d);
}

int dbsync__httpd_start(dbsync__httpd **out, const dbsync__httpd_options *opt,
			dbsync__httpd_handler handler, void *payload,
			dbsync__error *err)
{
	struct listen_addr a;
	dbsync__httpd *d;
	unsigned int flags =
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	unsigned int threads;
	const union MHD_DaemonInfo *info;
	char reason[128];
	int rc;

	if (out == NULL)
		return dbsync__error_set(err, DBSYNC_INVALID,
					 "no place for the server handle");
	*out = NULL;
	if (opt == NULL || handler == NULL)
		return dbsync__error_set(err, DBSYNC_INVALID,
					 "server options and handler are "
					 "required");
	rc = parse_listen(opt->listen, &a, err);
	if (rc != 0)
		return rc;
	if (a.u.sa.sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if ((opt->tls_cert == NULL) != (opt->tls_key == NULL))
		return dbsync__error_set(err, DBSYNC_INVALID,
					 "TLS needs both a certificate and a "
					 "key");

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	d->handler = handler;
	d->refused = opt->refused;
	d->payload = payload;
	d->max_body = opt->max_body > 0 ? opt->max_body : DEFAULT_MAX_BODY;
	if (d->max_body > SIZE_MAX / 4)
		d->max_body = SIZE_MAX / 4;
	threads = opt->threads > 0 ? opt->threads : DEFAULT_THREADS;
	if (opt->tls_cert != NULL) {
		if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
			free_daemon(d);
			return dbsync__error_set(err, DBSYNC_INVALID,
						 "this libmicrohttpd has no "
						 "TLS support");
		}
		rc = read_pem(opt->tls_cert, "certificate", &d->cert_pem, err);
		if (rc == 0)
			rc = read_pem(opt->tls_key, "key", &d->key_pem, err);
		if (rc != 0) {
			free_daemon(d);
			return rc;
		}
		flags |= MHD_USE_TLS;
	}

	d->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, d, MHD_OPTION_SOCK_ADDR,
		&a.u.sa, MHD_OPTION_THREAD_POOL_SIZE,
		threads, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned int)(opt->timeout_s > 0 ? opt->timeout_s
						  : DEFAULT_TIMEOUT_S),
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
		MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes, NULL,
		d->cert_pem != NULL ? MHD_OPTION_HTTPS_MEM_CERT
				    : MHD_OPTION_END,
		d->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, d->key_pem,
		MHD_OPTION_END);
	if (d->mhd == NULL) {
		if (bind_error(&a, reason, sizeof(reason)))
			rc = dbsync__error_set(err, DBSYNC_NETWORK,
					       "cannot listen on %s:%u: %s",
					       a.host, a.port, reason);
		else if (d->cert_pem != NULL)
			rc = dbsync__error_set(err, DBSYNC_INVALID,
					       "TLS certificate \"%s\" or key "
					       "\"%s\" was refused",
					       opt->tls_cert, opt->tls_key);
		else
			rc = dbsync__error_set(err, DBSYNC_NETWORK,
					       "cannot start the HTTP server "
					       "on %s:%u",
					       a.host, a.port);
		free_daemon(d);
		return rc;
	}
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
	d->port = info != NULL ? (int)info->port : (int)a.port;
	*out = d;
	return 0;
}

int dbsync__httpd_port(const dbsync__httpd *d)
{
	return d != NULL ? d->port : 0;
}

void dbsync__httpd_stop(dbsync__httpd *d)
{
	if (d == NULL)
		return;
	MHD_stop_daemon(d->mhd);
	free_daemon(d);
}
