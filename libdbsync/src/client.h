/* client.h - the client handle, for modules that work on its database. */
#ifndef DBSYNC_CLIENT_INTERNAL_H
#define DBSYNC_CLIENT_INTERNAL_H

#include <sqlite3.h>

#include "dbsync/client.h"
#include "error.h"

struct dbsync_client {
	sqlite3 *db;
	char *path;
	dbsync__error err;
};

/* The client's own connection (tests and internal modules only). */
sqlite3 *dbsync__client_db(dbsync_client *client);

#endif
