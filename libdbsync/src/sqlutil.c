/* sqlutil.c - strings, identifiers and transactions for generated SQL. */
#include "sqlutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dbsync__buf_init(dbsync__buf *b)
{
	memset(b, 0, sizeof(*b));
}

void dbsync__buf_free(dbsync__buf *b)
{
	free(b->data);
	dbsync__buf_init(b);
}

static int reserve(dbsync__buf *b, size_t extra)
{
	size_t want;
	char *p;

	if (b->failed)
		return 0;
	want = b->len + extra + 1;
	if (want <= b->cap)
		return 1;
	if (want < 64)
		want = 64;
	if (want < b->cap * 2)
		want = b->cap * 2;
	p = realloc(b->data, want);
	if (!p) {
		b->failed = 1;
		return 0;
	}
	b->data = p;
	b->cap = want;
	return 1;
}

void dbsync__buf_append(dbsync__buf *b, const char *s)
{
	size_t n = strlen(s);

	if (!reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n + 1);
	b->len += n;
}

void dbsync__buf_printf(dbsync__buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n)) {
		b->failed = 1;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void dbsync__buf_ident(dbsync__buf *b, const char *name)
{
	const char *p;

	if (!reserve(b, strlen(name) * 2 + 2))
		return;
	b->data[b->len++] = '"';
	for (p = name; *p; p++) {
		if (*p == '"')
			b->data[b->len++] = '"';
		b->data[b->len++] = *p;
	}
	b->data[b->len++] = '"';
	b->data[b->len] = '\0';
}

int dbsync__sql_exec(sqlite3 *db, const char *sql, dbsync__error *err,
		     const char *context)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return dbsync__error_sqlite(err, db, rc, context);
	return 0;
}

int dbsync__sql_begin_write(sqlite3 *db, dbsync__error *err)
{
	return dbsync__sql_exec(db, "BEGIN IMMEDIATE", err,
				"cannot start a write transaction");
}

int dbsync__sql_begin_read(sqlite3 *db, dbsync__error *err)
{
	return dbsync__sql_exec(db, "BEGIN", err,
				"cannot start a read transaction");
}

int dbsync__sql_commit(sqlite3 *db, dbsync__error *err)
{
	return dbsync__sql_exec(db, "COMMIT", err, "cannot commit");
}

void dbsync__sql_rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int dbsync__sql_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out,
			dbsync__error *err, const char *context)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, out, NULL);

	if (rc != SQLITE_OK) {
		*out = NULL;
		return dbsync__error_sqlite(err, db, rc, context);
	}
	return 0;
}
