/* version.c - what the loaded library is, for callers compiled elsewhere. */
#include "dbsync/common.h"

#include <sqlite3.h>

const char *dbsync_version(void)
{
	return DBSYNC_VERSION;
}

int dbsync_version_number(void)
{
	return DBSYNC_VERSION_NUMBER;
}

const char *dbsync_sqlite_version(void)
{
	return sqlite3_libversion();
}
