/* error.c - error codes, their text, and where the last error is kept. */
#include "error.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct code_info {
	const char *name;
	const char *text;
};

/* Indexed by -code. The order is the ABI: append only. */
static const struct code_info codes[] = {
	{"OK", "success"},
	{"ERROR", "internal error"},
	{"NOMEM", "out of memory"},
	{"INVALID", "invalid argument"},
	{"DB", "database error"},
	{"SCHEMA", "unusable schema"},
	{"NETWORK", "network error"},
	{"HTTP", "unexpected HTTP status"},
	{"PROTOCOL", "protocol error"},
	{"AUTH", "authentication failed"},
	{"NOT_REGISTERED", "node is not registered"},
	{"REGISTRATION_REFUSED", "registration refused"},
	{"PULL_REQUIRED", "pull required before push"},
	{"PUSH_REJECTED", "push rejected"},
	{"UNIQUE_CONFLICT", "unique constraint conflict"},
	{"CONFLICT", "unresolved conflict"},
	{"REPAIR_REQUIRED", "repair required"},
	{"BUSY", "database is busy"},
	{"TLS", "TLS error"},
	{"CALLBACK", "callback failed"},
	{"TOO_LARGE", "size limit exceeded"},
	{"NOT_FOUND", "not found"},
};

#define CODE_COUNT (int)(sizeof(codes) / sizeof(codes[0]))

static const struct code_info *lookup(int code)
{
	if (code > 0 || code <= -CODE_COUNT)
		return NULL;
	return &codes[-code];
}

const char *dbsync_strerror(int code)
{
	const struct code_info *info = lookup(code);
	return info ? info->text : "unknown error";
}

const char *dbsync_error_name(int code)
{
	const struct code_info *info = lookup(code);
	return info ? info->name : "UNKNOWN";
}

/* The calling thread's last error, for calls that fail without a handle. */
static _Thread_local dbsync__error thread_error;

const char *dbsync_last_error_message(void)
{
	return thread_error.message;
}

int dbsync_last_error_code(void)
{
	return thread_error.code;
}

int dbsync_last_error_sqlite_code(void)
{
	return thread_error.sqlite_code;
}

void dbsync__error_clear(dbsync__error *err)
{
	if (!err)
		return;
	err->code = 0;
	err->sqlite_code = 0;
	err->message[0] = '\0';
}

void dbsync__error_copy(dbsync__error *to, const dbsync__error *from)
{
	if (to && to != from)
		memcpy(to, from, sizeof(*to));
	if (&thread_error != from)
		memcpy(&thread_error, from, sizeof(thread_error));
}

/* Keep messages to one line whatever went into them. */
static void flatten(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r' || *s == '\t')
			*s = ' ';
}

int dbsync__error_set(dbsync__error *err, int code, const char *fmt, ...)
{
	dbsync__error e = {.code = code};
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	flatten(e.message);
	dbsync__error_copy(err, &e);
	return code;
}

/* Append as much of `s` as fits, keeping the NUL. */
static void append(char *dst, size_t cap, size_t *len, const char *s)
{
	while (*s && *len + 1 < cap)
		dst[(*len)++] = *s++;
	dst[*len] = '\0';
}

void dbsync__error_prefix(dbsync__error *err, const char *what)
{
	dbsync__error e = *err;
	size_t len = 0;

	append(e.message, sizeof(e.message), &len, "\"");
	append(e.message, sizeof(e.message), &len, what);
	append(e.message, sizeof(e.message), &len, "\": ");
	append(e.message, sizeof(e.message), &len, err->message);
	flatten(e.message);
	dbsync__error_copy(err, &e);
}

int dbsync__error_sqlite(dbsync__error *err, sqlite3 *db, int rc,
			 const char *context)
{
	int primary = rc & 0xff;
	int code;

	switch (primary) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = DBSYNC_BUSY;
		break;
	case SQLITE_NOMEM:
		code = DBSYNC_NOMEM;
		break;
	default:
		code = DBSYNC_DB;
	}
	if (primary == SQLITE_NOTADB)
		dbsync__error_set(err, code, "%s: file is not a SQLite database",
				  context);
	else
		dbsync__error_set(err, code, "%s: %s", context,
				  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	if (err)
		err->sqlite_code = rc;
	thread_error.sqlite_code = rc;
	return code;
}
