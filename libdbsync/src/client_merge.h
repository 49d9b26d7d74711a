/* client_merge.h - merging a pulled page with the pending local work. */
#ifndef DBSYNC_CLIENT_MERGE_H
#define DBSYNC_CLIENT_MERGE_H

#include "client.h"
#include "client_pending.h"
#include "message.h"

/*
 * Apply the page's operations, resolving the conflicts they meet with
 * pending local operations (docs/conflicts.md) and adding them to the
 * handle's report. Call inside the page's write transaction, with foreign
 * keys deferred; on failure the caller rolls the transaction back (and
 * abandons `pending`). `pending` is the pull's: kept from page to page
 * when dbsync__pending_seal is called right before each commit.
 * DBSYNC_UNIQUE_CONFLICT when local rows keep unique values pulled rows
 * need: `*collisions` then lists them (owned by the caller), for the
 * report the application reads after the rollback.
 */
int dbsync__merge_page(dbsync_client *c, const dbsync__pull_resp *page,
		       dbsync__pending *pending, dbsync_oplist **collisions);

#endif
