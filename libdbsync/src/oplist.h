/* oplist.h - builds the public dbsync_oplist result. */
#ifndef DBSYNC_OPLIST_INTERNAL_H
#define DBSYNC_OPLIST_INTERNAL_H

#include "dbsync/oplist.h"

dbsync_oplist *dbsync__oplist_new(void);

/* Intern a table name; returns its index or -1 on allocation failure. */
int dbsync__oplist_table(dbsync_oplist *list, const char *name);

/* Append an operation. `bytes` (text or blob, `len` bytes) is copied.
 * Returns 0 or DBSYNC_NOMEM. */
int dbsync__oplist_add(dbsync_oplist *list, int table, char command,
		       int64_t seq, dbsync_type type, int64_t i, double f,
		       const void *bytes, size_t len);

/* Set the conflict kind and resolution of the last entry added. */
void dbsync__oplist_set_conflict(dbsync_oplist *list, int kind,
				 int resolution);

/* Give the last entry added the columns of a unique conflict (copied).
 * 0 or DBSYNC_NOMEM. */
int dbsync__oplist_set_columns(dbsync_oplist *list, char *const *names,
			       size_t n);

/* Append a copy of every entry of `from` to *to (created if NULL).
 * 0 or DBSYNC_NOMEM. */
int dbsync__oplist_append(dbsync_oplist **to, const dbsync_oplist *from);

/* Drop the entries from index `n` on (a failed page's reports). */
void dbsync__oplist_truncate(dbsync_oplist *list, size_t n);

#endif
