/*
 * server_auth.c - checks the HMAC signature of push, pull and repair
 * requests (docs/protocol.md, Authentication).
 *
 * Every rejection gives the same code and message, so a prober cannot tell
 * an unknown node from a bad signature or a replay; the reason is kept for
 * the server's own use only.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "server.h"

#define NONCE_HEX 32
#define SIGNATURE_HEX 64

static int reject(dbsync__error *err)
{
	return dbsync__error_set(err, DBSYNC_AUTH, "request signature rejected");
}

/* A decimal int64 made of digits only (no sign, no spaces), else -1. */
static int64_t parse_decimal(const char *s, size_t max_digits)
{
	int64_t v = 0;
	size_t n;

	if (!s || !*s)
		return -1;
	for (n = 0; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= max_digits)
			return -1;
		v = v * 10 + (s[n] - '0');
	}
	return v;
}

static int is_hex(const char *s, size_t len)
{
	size_t k;

	if (!s || strlen(s) != len)
		return 0;
	for (k = 0; k < len; k++)
		if (!((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f')))
			return 0;
	return 1;
}

int dbsync__server_authenticate(dbsync_server *s, dbsync__request *req,
				dbsync__error *err)
{
	const char *node_h = dbsync__request_header(req, "X-Dbsync-Node");
	const char *ts_h = dbsync__request_header(req, "X-Dbsync-Timestamp");
	const char *nonce = dbsync__request_header(req, "X-Dbsync-Nonce");
	const char *sig_h = dbsync__request_header(req, "X-Dbsync-Signature");
	unsigned char *secret = NULL, got[32], want_raw[32];
	char want[SIGNATURE_HEX + 1];
	dbsync__store *store;
	dbsync__error inner = {0};
	size_t secret_len = 0;
	int64_t node, ts, now = (int64_t)time(NULL);
	int rc;

	node = parse_decimal(node_h, 18);
	ts = parse_decimal(ts_h, 12);
	if (node <= 0 || ts < 0 || !is_hex(nonce, NONCE_HEX) ||
	    !is_hex(sig_h, SIGNATURE_HEX) ||
	    dbsync__hex_decode(sig_h, SIGNATURE_HEX, got, sizeof(got)) != 0)
		return reject(err);
	if (ts < now - s->auth_window_s || ts > now + s->auth_window_s)
		return reject(err);

	rc = dbsync__server_store_get(s, &store, &inner);
	if (rc)
		return dbsync__error_set(err, rc, "%s", inner.message);
	rc = s->ops->begin(store, 0, &inner);
	if (!rc)
		rc = s->ops->node_secret(store, node, &secret, &secret_len,
					 &inner);
	s->ops->rollback(store);
	if (rc == 0)
		rc = dbsync__crypto_sign(secret, secret_len, req->method,
					 req->path, ts_h, nonce, req->body,
					 req->body_len, want);
	free(secret);
	if (rc == 0)
		rc = dbsync__hex_decode(want, SIGNATURE_HEX, want_raw,
					sizeof(want_raw));
	if (rc == 0 && !dbsync__crypto_equal(got, want_raw, sizeof(got)))
		rc = DBSYNC_AUTH;
	/* Only a correctly signed request may spend a nonce: otherwise a
	 * prober could burn other nodes' nonces. */
	if (rc == 0) {
		rc = s->ops->begin(store, 1, &inner);
		if (!rc)
			rc = s->ops->nonce_use(store, node, nonce, now,
					       now - 2 * s->auth_window_s,
					       &inner);
		if (!rc)
			rc = s->ops->commit(store, &inner);
		if (rc)
			s->ops->rollback(store);
	}
	dbsync__server_store_put(s, store);
	if (rc == DBSYNC_AUTH || rc == DBSYNC_NOT_FOUND)
		return reject(err);
	if (rc)
		return dbsync__error_set(err, rc, "%s", inner.message);
	req->node_id = node;
	return 0;
}
