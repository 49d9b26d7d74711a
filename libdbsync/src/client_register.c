/* client_register.c - dbsync_client_register: get a node id and secret. */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "message.h"
#include "meta.h"
#include "sqlutil.h"

int dbsync__client_do_register(dbsync_client *c, const char *token)
{
	dbsync__http_response resp;
	unsigned char *secret = NULL;
	size_t secret_len = 0, len = 0;
	int64_t node = 0;
	char *body = NULL;
	int rc;

	if (dbsync__msg_encode_register(token, &body, &len))
		return dbsync__error_set(&c->err, DBSYNC_INVALID,
					 "the token cannot be sent (it must be "
					 "text)");
	rc = dbsync__client_post(c, "/v1/register", body, len, 0, &resp);
	free(body);
	if (!rc)
		rc = dbsync__msg_decode_register_resp(resp.body, resp.body_len,
						      &node, &secret,
						      &secret_len, &c->err);
	dbsync__http_response_clear(&resp);
	if (rc)
		return rc;
	/* A new identity starts a new history with the server: whatever was
	 * merged under the old one is the new node's starting point. */
	rc = dbsync__sql_begin_write(c->db, &c->err);
	if (!rc)
		rc = dbsync__meta_set_int(c->db, DBSYNC__META_NODE_ID, node,
					  &c->err);
	if (!rc)
		rc = dbsync__meta_set_bytes(c->db, DBSYNC__META_SECRET, secret,
					    secret_len, 1, &c->err);
	if (!rc)
		rc = dbsync__sql_commit(c->db, &c->err);
	if (rc)
		dbsync__sql_rollback(c->db);
	memset(secret, 0, secret_len);
	free(secret);
	return rc;
}
