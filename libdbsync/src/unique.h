/*
 * unique.h - the unique constraints of a SQLite table, for writers that
 * apply someone else's rows (a pull's merge, a push on the server's SQLite
 * store) and so meet values another row still holds.
 */
#ifndef DBSYNC_UNIQUE_H
#define DBSYNC_UNIQUE_H

#include <sqlite3.h>

#include "error.h"
#include "value.h"

/* The table as the caller holds it (borrowed): rows are arrays of
 * `ncolumns` values in `columns` order, the key at `pk`. */
typedef struct dbsync__table_shape {
	const char *name;
	char *const *columns;
	size_t ncolumns;
	size_t pk;
} dbsync__table_shape;

/* A UNIQUE constraint or unique index other than the primary key. */
typedef struct dbsync__unique_index {
	char **names;  /* its columns, for conflict reports */
	size_t *cols;  /* their positions in the row */
	size_t ncols;
	sqlite3_stmt *holder; /* the other row with these values */
} dbsync__unique_index;

/* A table's unique indexes (indexes on expressions are left out: they
 * cannot be looked up). Zeroed until dbsync__unique_load. */
typedef struct dbsync__unique_indexes {
	int loaded;
	dbsync__unique_index *idx;
	size_t n;
} dbsync__unique_indexes;

int dbsync__unique_load(sqlite3 *db, const dbsync__table_shape *t,
			dbsync__unique_indexes *out, dbsync__error *err);
void dbsync__unique_free(dbsync__unique_indexes *u);

/*
 * The row, other than row's own, that holds row's values on one of the
 * loaded indexes: 1 with its key in *key (an owned copy) and the index in
 * *which; 0 if none; or a negative code. Each lookup uses the index.
 */
int dbsync__unique_holder(sqlite3 *db, const dbsync__table_shape *t,
			  const dbsync__unique_indexes *u,
			  const dbsync__value *row, dbsync__value *key,
			  const dbsync__unique_index **which,
			  dbsync__error *err);

/*
 * Give row `key` a value no other row has on `which` (its first column
 * becomes larger than every value the column holds), so another row can
 * take the values it holds. Only for a row the same writer rewrites
 * afterwards: that is how a swap of values among rows goes through
 * SQLite's row-by-row UNIQUE checks.
 */
int dbsync__unique_move_aside(sqlite3 *db, const dbsync__table_shape *t,
			      const dbsync__unique_index *which,
			      const dbsync__value *key, dbsync__error *err);

#endif
