/*
 * client_conflict.h - the conflict policies of a client handle and the
 * dbsync_conflict a merge hands to the conflict callback.
 */
#ifndef DBSYNC_CLIENT_CONFLICT_H
#define DBSYNC_CLIENT_CONFLICT_H

#include "client.h"
#include "value.h"

struct dbsync__table_policy {
	char *table;
	dbsync_policy policy;
};

/* The policy the merge applies to `table`: its own, else the handle's
 * default; CALLBACK only while a callback is set. */
dbsync_policy dbsync__client_policy(const dbsync_client *c, const char *table);

void dbsync__client_policies_free(dbsync_client *c);

struct dbsync_conflict {
	int kind;
	int resolution; /* the LOCAL_WINS answer */
	int is_choice;
	char remote_op;
	const char *table;
	char *const *columns;
	size_t ncolumns;
	const dbsync__value *key;
	const dbsync__value *local;  /* NULL: deleted here */
	const dbsync__value *remote; /* NULL: deleted remotely */
	dbsync__value *merged;	     /* owned, ncolumns values */
	int failed;		     /* a setter ran out of memory */
};

/*
 * Ask the callback about `conflict` (filled by the merge, `merged` NULL):
 * 0 with *answer the resolution (0 replaced by the default), or
 * DBSYNC_CALLBACK when it aborted or answered nonsense, DBSYNC_NOMEM.
 * `*merged` receives the merged row (owned; free with
 * dbsync__conflict_free_row) when the answer is MERGED, else NULL.
 */
int dbsync__conflict_ask(dbsync_client *c, dbsync_conflict *conflict,
			 int *answer, dbsync__value **merged);
void dbsync__conflict_free_row(dbsync__value *row, size_t n);

#endif
