/*
 * client_pull.c - dbsync_client_pull: fetch the versions after the node's
 * and merge them, one page per write transaction.
 *
 * Each page is merged (client_merge.c) and, in the same transaction, the
 * pull's progress (target version and cursor) is saved: after a crash the
 * next pull resumes after the last page applied. What the merge knows of
 * the pending local work is kept from one page to the next
 * (client_pending.c).
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "client_merge.h"
#include "message.h"
#include "meta.h"
#include "oplist.h"
#include "sqlutil.h"

/* The pull request for the next page, from the saved progress. */
static int next_request(dbsync_client *c, char **body, size_t *len,
			int *first_page)
{
	dbsync__pull_req q;
	int rc;

	memset(&q, 0, sizeof(q));
	rc = dbsync__meta_get_int(c->db, DBSYNC__META_LATEST, &q.after_version,
				  &c->err);
	q.has_after = rc == 1;
	if (rc >= 0)
		rc = dbsync__meta_get_int(c->db, DBSYNC__META_PULL_TARGET,
					  &q.target_version, &c->err);
	q.has_target = rc == 1;
	if (rc >= 0)
		rc = dbsync__meta_get_bytes(c->db, DBSYNC__META_PULL_CURSOR,
					    &q.cursor, NULL, &c->err);
	*first_page = q.cursor == NULL;
	q.max_operations = c->page_ops;
	if (rc >= 0 && dbsync__msg_encode_pull(&q, body, len))
		rc = dbsync__error_set(&c->err, DBSYNC_NOMEM, "out of memory");
	dbsync__pull_req_clear(&q);
	return rc < 0 ? rc : 0;
}

/* If a version is this node's push still marked in flight, the push was
 * applied and only its answer was lost: settle it now. */
static int recognize_own_push(dbsync_client *c, const dbsync__pull_resp *p)
{
	char *push_id = NULL;
	int64_t node = 0;
	size_t k;
	int rc;

	rc = dbsync__meta_get_bytes(c->db, DBSYNC__META_PUSH_ID, &push_id, NULL,
				    &c->err);
	if (rc == 1)
		rc = dbsync__meta_get_int(c->db, DBSYNC__META_NODE_ID, &node,
					  &c->err);
	for (k = 0; rc == 1 && k < p->nversions; k++) {
		const dbsync__msg_version *v = &p->versions[k];
		if (v->has_node && v->node_id == node &&
		    strcmp(v->push_id, push_id) == 0) {
			rc = dbsync__sql_exec(c->db,
					      "DELETE FROM dbsync_log"
					      " WHERE version = -1",
					      &c->err, "cannot record the push");
			if (!rc)
				rc = dbsync__meta_delete(c->db,
							 DBSYNC__META_PUSH_ID,
							 &c->err);
			break;
		}
	}
	free(push_id);
	return rc < 0 ? rc : 0;
}

/* One page, one transaction: rows, then the progress that covers them. */
static int apply_page(dbsync_client *c, const dbsync__pull_resp *p,
		      int first_page, dbsync__pending *pending)
{
	size_t reported = c->conflicts ? dbsync_oplist_count(c->conflicts) : 0;
	dbsync_oplist *collisions = NULL;
	int rc;

	rc = dbsync__sql_begin_write(c->db, &c->err);
	if (rc)
		return rc;
	if (first_page)
		rc = recognize_own_push(c, p);
	if (!rc)
		rc = dbsync__sql_exec(c->db, "PRAGMA defer_foreign_keys = ON",
				      &c->err, "cannot apply the pull");
	if (!rc)
		rc = dbsync__merge_page(c, p, pending, &collisions);
	if (!rc && p->cursor) {
		rc = dbsync__meta_set_int(c->db, DBSYNC__META_PULL_TARGET,
					  p->target_version, &c->err);
		if (!rc)
			rc = dbsync__meta_set_bytes(c->db,
						    DBSYNC__META_PULL_CURSOR,
						    p->cursor, strlen(p->cursor),
						    0, &c->err);
	} else if (!rc) {
		rc = dbsync__meta_set_int(c->db, DBSYNC__META_LATEST,
					  p->target_version, &c->err);
		if (!rc)
			rc = dbsync__meta_delete(c->db, DBSYNC__META_PULL_TARGET,
						 &c->err);
		if (!rc)
			rc = dbsync__meta_delete(c->db, DBSYNC__META_PULL_CURSOR,
						 &c->err);
	}
	/* The last write before the commit: the next page compares. */
	if (!rc)
		rc = dbsync__pending_seal(pending, c->db, &c->err);
	if (!rc)
		rc = dbsync__sql_commit(c->db, &c->err);
	if (rc) {
		dbsync__sql_rollback(c->db);
		dbsync__pending_abandon(pending);
		/* Nothing of the page happened: neither did its conflicts. */
		if (c->conflicts)
			dbsync__oplist_truncate(c->conflicts, reported);
		/* ...but the collisions that stopped it are the report the
		 * application needs to fix its rows. */
		if (collisions && dbsync__oplist_append(&c->conflicts,
							collisions))
			rc = dbsync__error_set(&c->err, DBSYNC_NOMEM,
					       "out of memory");
	}
	dbsync_oplist_free(collisions);
	return rc;
}

static int pull_pages(dbsync_client *c, dbsync__pending *pending)
{
	uint64_t done = 0;
	int rc, first_page, more = 1;

	while (more) {
		dbsync__http_response resp;
		dbsync__pull_resp p;
		char *body = NULL;
		size_t len = 0;

		memset(&p, 0, sizeof(p));
		rc = next_request(c, &body, &len, &first_page);
		if (rc)
			return rc;
		rc = dbsync__client_post(c, "/v1/pull", body, len, 1, &resp);
		free(body);
		if (!rc)
			rc = dbsync__msg_decode_pull_resp(resp.body,
							  resp.body_len, &p,
							  &c->err);
		dbsync__http_response_clear(&resp);
		if (!rc)
			rc = apply_page(c, &p, first_page, pending);
		more = !rc && p.cursor != NULL;
		done += p.nops;
		dbsync__pull_resp_clear(&p);
		if (rc)
			return rc;
		if (c->progress &&
		    c->progress(0, 0, done, 0, c->progress_payload))
			return dbsync__error_set(&c->err, DBSYNC_CALLBACK,
						 "pull stopped by the progress "
						 "callback");
	}
	return 0;
}

int dbsync__client_do_pull(dbsync_client *c)
{
	dbsync__pending *pending = dbsync__pending_new();
	int rc = pending ? pull_pages(c, pending)
			 : dbsync__error_set(&c->err, DBSYNC_NOMEM,
					     "out of memory");

	dbsync__pending_free(pending);
	return rc;
}
