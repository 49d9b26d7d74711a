/* meta.c - reads and writes keys of dbsync_meta. */
#include "meta.h"

#include <stdlib.h>
#include <string.h>

#include "sqlutil.h"

static int get(sqlite3 *db, const char *key, sqlite3_stmt **st,
	       dbsync__error *err)
{
	int rc = dbsync__sql_prepare(db,
				     "SELECT value FROM dbsync_meta WHERE key = ?1",
				     st, err, "cannot read the client state");
	if (rc)
		return rc;
	sqlite3_bind_text(*st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(*st);
	if (rc == SQLITE_ROW && sqlite3_column_type(*st, 0) != SQLITE_NULL)
		return 1;
	sqlite3_finalize(*st);
	*st = NULL;
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	return dbsync__error_sqlite(err, db, rc, "cannot read the client state");
}

int dbsync__meta_get_int(sqlite3 *db, const char *key, int64_t *value,
			 dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc = get(db, key, &st, err);

	if (rc == 1) {
		*value = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return rc;
}

int dbsync__meta_get_bytes(sqlite3 *db, const char *key, char **value,
			   size_t *len, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc = get(db, key, &st, err);
	size_t n;

	*value = NULL;
	if (rc != 1)
		return rc;
	n = (size_t)sqlite3_column_bytes(st, 0);
	*value = malloc(n + 1);
	if (*value) {
		if (n)
			memcpy(*value, sqlite3_column_blob(st, 0), n);
		(*value)[n] = '\0';
		if (len)
			*len = n;
	}
	sqlite3_finalize(st);
	if (!*value)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	return 1;
}

static int set(sqlite3 *db, const char *key, sqlite3_stmt **st,
	       dbsync__error *err)
{
	int rc = dbsync__sql_prepare(
		db,
		"INSERT INTO dbsync_meta(key, value) VALUES (?1, ?2)"
		" ON CONFLICT(key) DO UPDATE SET value = excluded.value",
		st, err, "cannot save the client state");
	if (!rc)
		sqlite3_bind_text(*st, 1, key, -1, SQLITE_STATIC);
	return rc;
}

static int finish(sqlite3 *db, sqlite3_stmt *st, dbsync__error *err)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot save the client state");
	return 0;
}

int dbsync__meta_set_int(sqlite3 *db, const char *key, int64_t value,
			 dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc = set(db, key, &st, err);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, value);
	return finish(db, st, err);
}

int dbsync__meta_set_bytes(sqlite3 *db, const char *key, const void *value,
			   size_t len, int blob, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc = set(db, key, &st, err);

	if (rc)
		return rc;
	if (blob)
		sqlite3_bind_blob(st, 2, value, (int)len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_text(st, 2, value, (int)len, SQLITE_TRANSIENT);
	return finish(db, st, err);
}

int dbsync__meta_delete(sqlite3 *db, const char *key, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc = dbsync__sql_prepare(db, "DELETE FROM dbsync_meta WHERE key = ?1",
				     &st, err, "cannot save the client state");

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	return finish(db, st, err);
}
