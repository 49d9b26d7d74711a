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
#include "value.h"

/* The compressed pending operations in push order, read from one snapshot. */
int dbsync__oplog_pending(sqlite3 *db, dbsync_oplist **out,
			  dbsync__error *err);

/* Rewrite the pending entries in compressed form (one write transaction). */
int dbsync__oplog_compact(sqlite3 *db, dbsync__error *err);

/*
 * Fold the next `max` log entries with after_seq < seq <= last_seq (any
 * version) and hand every row, in position order, to `fn` (one inserted
 * and deleted in the range as a 'd'). `fn`
 * returns 0 to go on, 1 when it is full (the rest is left for the next
 * call), or an error code. *covered is where the next call starts; *more
 * tells whether entries may remain. A row whose entries straddle two calls
 * is handed over twice, each time with the fold of its entries in that
 * call: rows are read live, so the last one handed over is what counts.
 * For the server, whose log holds every version's entries in seq order.
 */
int dbsync__oplog_fold_range(sqlite3 *db, int64_t after_seq, int64_t last_seq,
			     size_t max,
			     int (*fn)(void *payload, int64_t tid, char op,
				       const dbsync__value *pk, int64_t pos),
			     void *payload, int *more, int64_t *covered,
			     dbsync__error *err);

/*
 * Fold the in-flight entries (those a push has sent and not yet seen
 * acknowledged) and hand every row to `fn` in push order: op 'i', 'u', 'd',
 * or '-' for a row that vanished (i ... d), which push sends as a tombstone
 * when the row is also missing from the table.
 */
int dbsync__oplog_fold_in_flight(sqlite3 *db,
				 int (*fn)(void *payload, int64_t tid, char op,
					   const dbsync__value *pk,
					   int64_t pos),
				 void *payload, dbsync__error *err);

/* The set of (table, key) with pending entries (in flight included),
 * for a pull to tell which remote changes meet local ones. It also holds
 * the seqs of each row's unpushed entries (in flight excluded): the log
 * has no index on its rows, so the merge updates and deletes a row's
 * entries by seq instead of scanning the log for them. */
typedef struct dbsync__keyset dbsync__keyset;
int dbsync__oplog_pending_keys(sqlite3 *db, dbsync__keyset **out,
			       dbsync__error *err);
/* The row's folded local state: 'i', 'u', 'd', '-' (inserted and deleted
 * again), or 0 when nothing is pending for it. */
char dbsync__keyset_state(dbsync__keyset *set, int64_t tid,
			  const dbsync__value *pk);
/* An empty set, and adding to it (keyset_state then answers '+'). */
dbsync__keyset *dbsync__keyset_new(void);
int dbsync__keyset_add(dbsync__keyset *set, int64_t tid,
		       const dbsync__value *pk);

/* The merge changed a row's pending state: it moved to a new key, with
 * its seqs and link (0 or DBSYNC_NOMEM), or nothing is pending for it any
 * more (its seqs and link stay until cleared). */
int dbsync__keyset_move(dbsync__keyset *set, int64_t tid,
			const dbsync__value *from, const dbsync__value *to);
void dbsync__keyset_forget(dbsync__keyset *set, int64_t tid,
			   const dbsync__value *pk);
void dbsync__keyset_free(dbsync__keyset *set);

/* 1 if some entry read is in a push in flight (not among the seqs). */
int dbsync__keyset_in_flight(const dbsync__keyset *set);
/* Hand each seq of the row's unpushed entries to `fn`, in no particular
 * order, until it returns non-zero (returned). */
int dbsync__keyset_each_seq(dbsync__keyset *set, int64_t tid,
			    const dbsync__value *pk,
			    int (*fn)(void *payload, int64_t seq),
			    void *payload);
/* The row's entries left the log. */
void dbsync__keyset_clear_seqs(dbsync__keyset *set, int64_t tid,
			       const dbsync__value *pk);
/* An entry logged after the set was read: folded in (0 or
 * DBSYNC_NOMEM). */
int dbsync__keyset_log(dbsync__keyset *set, int64_t tid,
		       const dbsync__value *pk, char op, int64_t seq);
/* A number the caller keeps with a key (0 until set; setting one adds the
 * key with no state). */
uint32_t dbsync__keyset_link(dbsync__keyset *set, int64_t tid,
			     const dbsync__value *pk);
int dbsync__keyset_set_link(dbsync__keyset *set, int64_t tid,
			    const dbsync__value *pk, uint32_t link);
/* The largest INTEGER key of table `tid` the set ever held, 0 if none. */
int64_t dbsync__keyset_max_integer(const dbsync__keyset *set, int64_t tid);
/* Hand every key with a state to `fn` until it returns non-zero
 * (returned). `pk` lives until the set changes: `fn` must not add keys
 * to this set. */
int dbsync__keyset_each(dbsync__keyset *set,
			int (*fn)(void *payload, int64_t tid,
				  const dbsync__value *pk, char state),
			void *payload);

#endif
