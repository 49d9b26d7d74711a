/* client_renumber.h - moving a local row aside on an insert/insert. */
#ifndef DBSYNC_CLIENT_RENUMBER_H
#define DBSYNC_CLIENT_RENUMBER_H

#include "client.h"
#include "client_pending.h"
#include "client_tables.h"

/*
 * Inside a pull's write transaction (capture suppressed): move the local
 * row of `t` with INTEGER key `pk` to a fresh key above `page_max` (the
 * largest key of `t` in the page) and every other key known used, with
 * the pending rows referring to it and its pending log entries, and tell
 * `pending`. *new_key receives the row's new key.
 */
int dbsync__client_renumber(dbsync_client *c, const dbsync__ctables *tables,
			    const dbsync__ctable *t, const dbsync__value *pk,
			    int64_t page_max, dbsync__pending *pending,
			    int64_t *new_key);

#endif
