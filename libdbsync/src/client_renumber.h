/* client_renumber.h - moving a local row aside on an insert/insert. */
#ifndef DBSYNC_CLIENT_RENUMBER_H
#define DBSYNC_CLIENT_RENUMBER_H

#include "client.h"
#include "client_tables.h"
#include "message.h"
#include "oplog.h"

/*
 * Inside a pull's write transaction (capture suppressed since `mark`):
 * move the local row of `t` with INTEGER key `pk` to a fresh key, with the
 * local rows referring to it and its pending log entries, and tell
 * `pending`. *new_key receives the row's new key.
 */
int dbsync__client_renumber(dbsync_client *c, dbsync__ctables *tables,
			    const dbsync__ctable *t, const dbsync__value *pk,
			    const dbsync__pull_resp *page, int64_t mark,
			    dbsync__keyset *pending, int64_t *new_key);

#endif
