/*
 * capture.h - change capture by SQLite triggers.
 *
 * Each tracked table gets AFTER triggers that append (tid, pk, op) to
 * dbsync_log inside the writer's own transaction, whichever connection or
 * process writes: a rollback removes the entry with the change, a commit
 * keeps both. Triggers are named dbsync_<tid>_<what>.
 */
#ifndef DBSYNC_CAPTURE_H
#define DBSYNC_CAPTURE_H

#include <sqlite3.h>
#include <stdint.h>

#include "error.h"
#include "registry.h"

/* Replace the triggers of table `tid` with ones matching `t`'s current
 * columns. Call inside a write transaction. */
int dbsync__capture_install(sqlite3 *db, const dbsync__table *t, int64_t tid,
			    dbsync__error *err);

/* Drop the triggers of table `tid` (inside a write transaction). */
int dbsync__capture_remove(sqlite3 *db, int64_t tid, dbsync__error *err);

/*
 * Reinstall the triggers of every tracked table whose triggers no longer
 * match its columns (a column was added, the table was recreated). Takes
 * the write lock only when something must change.
 */
int dbsync__capture_refresh(sqlite3 *db, dbsync__error *err);

/*
 * Changes the library applies itself (merge, repair) must not be captured.
 * Rather than switching triggers off, which other connections would see, the
 * library lets them log and removes what they logged before committing:
 * inside one write transaction nobody else can write, so every log entry
 * above the mark set at the start is the library's own.
 *
 * begin: inside a write transaction, put a mark entry on top of the log
 *        (no table, no operation) and return its seq: entries before the
 *        caller's changes are below it, whatever the caller deletes.
 * end:   still inside it, delete the mark and the entries logged since.
 */
int dbsync__capture_suppress_begin(sqlite3 *db, int64_t *mark,
				   dbsync__error *err);
int dbsync__capture_suppress_end(sqlite3 *db, int64_t mark,
				 dbsync__error *err);

#endif
