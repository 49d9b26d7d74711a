/*
 * registry.h - which tables are tracked, and what a user table looks like.
 *
 * Every piece of SQL that names a user table or column is generated from a
 * dbsync__table read here, never from caller-supplied text.
 */
#ifndef DBSYNC_REGISTRY_H
#define DBSYNC_REGISTRY_H

#include <sqlite3.h>
#include <stdint.h>

#include "dbsync/client.h"
#include "error.h"

typedef struct dbsync__table {
	char *name;	  /* as spelled in sqlite_schema */
	char *pk;	  /* the primary key column */
	char *pk_type;	  /* its declared type ("" if none) */
	char **columns;	  /* every column but the primary key */
	int ncolumns;
} dbsync__table;

/* Read `name`'s shape. NOT_FOUND if no such table; SCHEMA for views,
 * virtual and internal tables, and tables without a declared single-column
 * primary key. */
int dbsync__table_describe(sqlite3 *db, const char *name, dbsync__table *out,
			   dbsync__error *err);
void dbsync__table_clear(dbsync__table *t);

/* A row of dbsync_tracked. */
typedef struct dbsync__tracked {
	int64_t tid;
	char *name;
	dbsync_direction direction;
} dbsync__tracked;

/* Look up a tracked table by name: 1 found, 0 not tracked, <0 error.
 * `out->name` is allocated when found (free with dbsync__tracked_clear). */
int dbsync__registry_find(sqlite3 *db, const char *name, dbsync__tracked *out,
			  dbsync__error *err);
void dbsync__tracked_clear(dbsync__tracked *t);

/* Insert or update the registry row for `t`; its tid comes back in `tid`. */
int dbsync__registry_save(sqlite3 *db, const dbsync__table *t,
			  dbsync_direction direction, int64_t *tid,
			  dbsync__error *err);

/* Remove a table from the registry along with its pending operations. */
int dbsync__registry_remove(sqlite3 *db, int64_t tid, dbsync__error *err);

/* Drop a table's pending operations (it became pull-only: they will never
 * be pushed). */
int dbsync__registry_forget_pending(sqlite3 *db, int64_t tid,
				    dbsync__error *err);

const char *dbsync__direction_name(dbsync_direction d);
int dbsync__direction_parse(const char *s, dbsync_direction *out);

#endif
