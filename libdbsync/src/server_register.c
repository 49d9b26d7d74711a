/* server_register.c - POST /v1/register: a node gets an id and a secret. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "message.h"
#include "server.h"

#define SECRET_BYTES 32

/* The policy's verdict on `token` (NULL if none was sent). */
static int admitted(dbsync_server *s, const char *token)
{
	if (strcmp(s->policy, "closed") == 0)
		return 0;
	if (strcmp(s->policy, "token") == 0) {
		size_t n = strlen(s->token);
		unsigned char want[32], got[32];
		/* Compare digests: constant time whatever the lengths. */
		if (!token)
			return 0;
		dbsync__crypto_sha256(s->token, n, want);
		dbsync__crypto_sha256(token, strlen(token), got);
		if (!dbsync__crypto_equal(want, got, sizeof(want)))
			return 0;
	}
	return !s->register_fn ||
	       s->register_fn(token, s->register_payload) == 0;
}

void dbsync__server_register(dbsync_server *s, dbsync__request *req,
			     dbsync_response *resp)
{
	dbsync__register_req r = {0};
	dbsync__error err = {0};
	dbsync__store *store;
	unsigned char secret[SECRET_BYTES];
	int64_t node = 0;
	char *body = NULL;
	size_t len = 0;
	int rc;

	rc = dbsync__msg_decode_register(req->body, req->body_len, &r, &err);
	if (rc) {
		dbsync__register_req_clear(&r);
		dbsync__respond_failure(resp, &err);
		return;
	}
	if (!admitted(s, r.token)) {
		dbsync__register_req_clear(&r);
		dbsync__respond_error(resp, 403, DBSYNC_REGISTRATION_REFUSED,
				      "registration refused");
		return;
	}
	dbsync__register_req_clear(&r);
	rc = dbsync__crypto_random(secret, sizeof(secret));
	if (rc) {
		dbsync__respond_error(resp, 500, DBSYNC_ERROR,
				      "internal error");
		return;
	}
	rc = dbsync__server_store_get(s, &store, &err);
	if (!rc) {
		rc = s->ops->begin(store, 1, &err);
		if (!rc)
			rc = s->ops->node_create(store, secret, sizeof(secret),
						 (int64_t)time(NULL), &node,
						 &err);
		if (!rc)
			rc = s->ops->commit(store, &err);
		if (rc)
			s->ops->rollback(store);
		dbsync__server_store_put(s, store);
	}
	if (!rc)
		rc = dbsync__msg_encode_register_resp(node, secret,
						      sizeof(secret), &body,
						      &len);
	memset(secret, 0, sizeof(secret));
	if (rc) {
		dbsync__respond_failure(resp, &err);
		return;
	}
	atomic_fetch_add(&s->metrics.registers, 1);
	dbsync__respond_json(resp, 200, body, len);
}
