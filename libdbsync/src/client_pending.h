/*
 * client_pending.h - what a pull's merge knows of the pending local work:
 * the folded state of every row with pending entries (and the seqs of
 * those entries), which rows pending rows refer to by foreign key (and
 * the referring rows), and the next free INTEGER key per table. Read on a
 * page and kept up to date with what each page's merge changes, across
 * the pages of one pull, for as long as nothing else writes to the
 * database (client_pending.c says how that is told).
 */
#ifndef DBSYNC_CLIENT_PENDING_H
#define DBSYNC_CLIENT_PENDING_H

#include <sqlite3.h>
#include <stdint.h>

#include "client_tables.h"
#include "error.h"
#include "value.h"

typedef struct dbsync__pending dbsync__pending;

/* One per pull; NULL when out of memory. Free accepts NULL. */
dbsync__pending *dbsync__pending_new(void);
void dbsync__pending_free(dbsync__pending *p);

/*
 * A page's start, inside its write transaction and before the page writes
 * anything: forget what is held unless the database is exactly as the
 * previous page left it (dbsync__pending_seal).
 */
int dbsync__pending_begin(dbsync__pending *p, sqlite3 *db,
			  dbsync__error *err);

/* Read what is not held: the pending log's keys, and the references of
 * the pending rows (after capture suppression began, with `tables` of
 * this page). */
int dbsync__pending_load(dbsync__pending *p, sqlite3 *db,
			 const dbsync__ctables *tables, dbsync__error *err);

/* Right before the page's commit: what the next page's begin compares.
 * Nothing is kept when something the merge cannot follow may change the
 * pending rows (a push in flight, triggers, foreign key actions). */
int dbsync__pending_seal(dbsync__pending *p, sqlite3 *db,
			 dbsync__error *err);

/* The page failed and was rolled back: what is held is wrong. */
void dbsync__pending_abandon(dbsync__pending *p);

/* ---- questions ---- */

/* The row's folded pending state ('i', 'u', 'd', '-'), 0 if none. */
char dbsync__pending_state(dbsync__pending *p, int64_t tid,
			   const dbsync__value *pk);

/* 1 if a pending row refers to this row (as read at the page's start,
 * renumbered rows followed). */
int dbsync__pending_referenced(dbsync__pending *p, int64_t tid,
			       const dbsync__value *pk);

/* ---- what the merge changes ---- */

/* Nothing is pending for the row any more: its unpushed entries go in
 * dbsync__pending_delete_dropped. */
int dbsync__pending_drop(dbsync__pending *p, int64_t tid,
			 const dbsync__value *pk);

/* The merge wrote a row that stays pending (a merged row). */
int dbsync__pending_touch(dbsync__pending *p, int64_t tid,
			  const dbsync__value *pk);

/* Delete the unpushed log entries of the rows dropped in this page (by
 * seq: no scan of the log). */
int dbsync__pending_delete_dropped(dbsync__pending *p, sqlite3 *db,
				   dbsync__error *err);

/* An entry the merge logged once capture was back on (`seq`). */
int dbsync__pending_logged(dbsync__pending *p, int64_t tid,
			   const dbsync__value *pk, char op, int64_t seq);

/* At the page's end: read again the references of the rows the page
 * dropped, touched or logged. */
int dbsync__pending_refresh(dbsync__pending *p, sqlite3 *db,
			    const dbsync__ctables *tables, dbsync__error *err);

/* ---- renumbering (client_renumber.c) ---- */

/* The next free INTEGER key of `t`: above its rows, its keys in the log,
 * the keys of the page (`page_max`) and the keys handed out already. */
int dbsync__pending_next_key(dbsync__pending *p, sqlite3 *db,
			     const dbsync__ctable *t, int64_t page_max,
			     int64_t *key, dbsync__error *err);

/* Hand each seq of the row's unpushed entries to `fn` (stops on and
 * returns non-zero). */
int dbsync__pending_each_seq(dbsync__pending *p, int64_t tid,
			     const dbsync__value *pk,
			     int (*fn)(void *payload, int64_t seq),
			     void *payload);

/* The row moved from key `from` to key `to`: its state, seqs and the
 * references it makes go with it. */
int dbsync__pending_move(dbsync__pending *p, int64_t tid,
			 const dbsync__value *from, int64_t to);

/*
 * The pending rows that refer to row `from` of table `tid`, each handed
 * to `fn` (child table, column index, child key), which returns 1 when
 * the child now refers to `to`, 0 when it does not, or an error (the walk
 * stops). The references that moved then count for `to`.
 */
int dbsync__pending_move_children(dbsync__pending *p, int64_t tid,
				  const dbsync__value *from, int64_t to,
				  int (*fn)(void *payload, int64_t ctid,
					    size_t column,
					    const dbsync__value *cpk),
				  void *payload);

/* A statement prepared once per pull (reset by the caller after use). */
int dbsync__pending_stmt(dbsync__pending *p, sqlite3 *db, const char *sql,
			 sqlite3_stmt **out, dbsync__error *err);

#endif
