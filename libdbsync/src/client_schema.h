/* client_schema.h - the client's internal dbsync_* tables and their version. */
#ifndef DBSYNC_CLIENT_SCHEMA_H
#define DBSYNC_CLIENT_SCHEMA_H

#include <sqlite3.h>

#include "error.h"

/* The internal schema this library writes; a database with a newer one is
 * refused rather than misread. */
#define DBSYNC__CLIENT_SCHEMA_VERSION 2

/* Create or upgrade the internal tables (idempotent, one transaction).
 * Fails with DBSYNC_DB on a file that is not a database and DBSYNC_SCHEMA on
 * a newer internal schema. */
int dbsync__client_schema_ensure(sqlite3 *db, dbsync__error *err);

#endif
