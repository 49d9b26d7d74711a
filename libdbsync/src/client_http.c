/*
 * client_http.c - how the client speaks to the server: URL, headers,
 * request signatures (docs/protocol.md), and error bodies turned back into
 * the server's error codes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "crypto.h"
#include "message.h"
#include "meta.h"

#define MAX_HEADERS 16

struct signature {
	char node[24], ts[24], nonce[33], sig[65];
};

static int sign(dbsync_client *c, const char *path, const void *body,
		size_t len, struct signature *s)
{
	unsigned char raw[16];
	char *secret = NULL;
	size_t secret_len = 0;
	int64_t node = 0;
	int rc;

	rc = dbsync__meta_get_int(c->db, DBSYNC__META_NODE_ID, &node, &c->err);
	if (rc == 1)
		rc = dbsync__meta_get_bytes(c->db, DBSYNC__META_SECRET, &secret,
					    &secret_len, &c->err);
	if (rc == 0)
		return dbsync__error_set(&c->err, DBSYNC_NOT_REGISTERED,
					 "this database is not registered with "
					 "a server; register first");
	if (rc < 0)
		return rc;
	snprintf(s->node, sizeof(s->node), "%lld", (long long)node);
	snprintf(s->ts, sizeof(s->ts), "%lld", (long long)time(NULL));
	rc = dbsync__crypto_random(raw, sizeof(raw));
	if (!rc) {
		dbsync__hex_encode(raw, sizeof(raw), s->nonce);
		rc = dbsync__crypto_sign(secret, secret_len, "POST", path,
					 s->ts, s->nonce, body, len, s->sig);
	}
	free(secret);
	if (rc)
		return dbsync__error_set(&c->err, DBSYNC_ERROR,
					 "cannot sign the request");
	return 0;
}

static int progress(void *payload, uint64_t sent, uint64_t send_total,
		    uint64_t received, uint64_t receive_total)
{
	dbsync_client *c = payload;

	return c->progress(sent + received, send_total + receive_total, 0, 0,
			   c->progress_payload);
}

int dbsync__client_post(dbsync_client *c, const char *path, const void *body,
			size_t len, int signed_request,
			dbsync__http_response *resp)
{
	dbsync__header headers[MAX_HEADERS + 6];
	dbsync__http_request req;
	struct signature s;
	char *url;
	size_t n = 0, k;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!c->server_url)
		return dbsync__error_set(&c->err, DBSYNC_INVALID,
					 "no server set; call "
					 "dbsync_client_set_server first");
	if (signed_request && (rc = sign(c, path, body, len, &s)))
		return rc;
	if (!c->http_ready) {
		rc = dbsync__http_global_init(&c->err);
		if (rc)
			return rc;
		c->http_ready = 1;
	}
	url = malloc(strlen(c->server_url) + strlen(path) + 1);
	if (!url)
		return dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	strcpy(url, c->server_url);
	strcat(url, path);

	headers[n++] = (dbsync__header){"Content-Type", "application/json"};
	if (signed_request) {
		headers[n++] = (dbsync__header){"X-Dbsync-Node", s.node};
		headers[n++] = (dbsync__header){"X-Dbsync-Timestamp", s.ts};
		headers[n++] = (dbsync__header){"X-Dbsync-Nonce", s.nonce};
		headers[n++] = (dbsync__header){"X-Dbsync-Signature", s.sig};
	}
	for (k = 0; k < c->nheaders; k++)
		headers[n++] = c->headers[k];
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.nheaders = n;
	req.body = body;
	req.body_len = len;
	req.connect_timeout_ms = c->connect_ms;
	req.timeout_ms = c->request_ms;
	req.ca_file = c->ca_file;
	if (c->progress) {
		req.progress = progress;
		req.progress_payload = c;
	}
	rc = dbsync__http_send(&req, resp, &c->err);
	free(url);
	if (rc)
		return rc;
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	rc = dbsync__msg_decode_error(resp->body, resp->body_len, &c->err);
	/* PROTOCOL is both a code the server may send and the decoder's
	 * answer to a body that is no error document (a proxy's page). */
	if (rc == DBSYNC_PROTOCOL &&
	    !(resp->body && strstr(resp->body, "\"name\":\"PROTOCOL\"")))
		rc = dbsync__error_set(&c->err, DBSYNC_HTTP,
				       "server answered HTTP %ld without a "
				       "dbsync error body",
				       resp->status);
	return rc;
}
