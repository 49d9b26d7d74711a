/*
 * oplog.h - the operations log: reading it compressed, and compacting it.
 *
 * Compression folds the pending entries of one row into at most one:
 * i u* -> i, i ... d -> nothing, u u* -> u, u ... d -> d, d i -> u.
 * The survivor's position keeps push order sound: an insert stays where
 * the row was first inserted (parents before children), an update or delete
 * moves to the row's last change (a delete after the deletes of children).
 */
#ifndef DBSYNC_OPLOG_H
#define DBSYNC_OPLOG_H

#include <sqlite3.h>

#include "dbsync/oplist.h"
#include "error.h"

/* The compressed pending operations in push order, read from one snapshot. */
int dbsync__oplog_pending(sqlite3 *db, dbsync_oplist **out,
			  dbsync__error *err);

/* Rewrite the pending entries in compressed form (one write transaction). */
int dbsync__oplog_compact(sqlite3 *db, dbsync__error *err);

#endif
