/*
 * client_tables.h - the client's tracked tables with everything a push or a
 * pull needs: full column lists and prepared row statements.
 */
#ifndef DBSYNC_CLIENT_TABLES_H
#define DBSYNC_CLIENT_TABLES_H

#include <sqlite3.h>
#include <stdint.h>

#include "dbsync/client.h"
#include "error.h"
#include "message.h"
#include "rowsql.h"

/* A single-column foreign key: column `column` refers to the key of the
 * tracked table `parent` (index into the same dbsync__ctables). */
typedef struct dbsync__cref {
	size_t column;
	size_t parent;
} dbsync__cref;

typedef struct dbsync__ctable {
	int64_t tid;
	char *name;
	dbsync_direction direction;
	char **columns; /* the key first, then the rest in table order */
	size_t ncolumns;
	int integer_pk; /* the key has INTEGER affinity: renumbered on
			   insert/insert conflicts */
	dbsync__cref *refs; /* foreign keys to other tracked tables' keys */
	size_t nrefs;
	dbsync__rowsql sql;
} dbsync__ctable;

typedef struct dbsync__ctables {
	dbsync__ctable *t;
	size_t n;
} dbsync__ctables;

/* Every tracked table that exists (call inside a transaction). */
int dbsync__ctables_load(sqlite3 *db, dbsync__ctables *out,
			 dbsync__error *err);
void dbsync__ctables_free(dbsync__ctables *ts);

/* Put a row the server sent for message table `mt` into `row` (the local
 * table's column order, borrowed values), matching columns by name.
 * DBSYNC_SCHEMA when the two tables' columns differ. */
int dbsync__ctable_local_row(const dbsync__ctable *t,
			     const dbsync__msg_table *mt,
			     const dbsync__value *remote, dbsync__value *row,
			     dbsync__error *err);

dbsync__ctable *dbsync__ctables_by_tid(dbsync__ctables *ts, int64_t tid);
dbsync__ctable *dbsync__ctables_by_name(dbsync__ctables *ts, const char *name);

#endif
