/*
 * errors_test.c - error codes, their names and text, and the version.
 */
#include "harness.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The numbers are ABI (SPEC §7): a change here must fail the build. */
_Static_assert(DBSYNC_OK == 0, "OK");
_Static_assert(DBSYNC_ERROR == -1, "ERROR");
_Static_assert(DBSYNC_NOMEM == -2, "NOMEM");
_Static_assert(DBSYNC_INVALID == -3, "INVALID");
_Static_assert(DBSYNC_DB == -4, "DB");
_Static_assert(DBSYNC_SCHEMA == -5, "SCHEMA");
_Static_assert(DBSYNC_NETWORK == -6, "NETWORK");
_Static_assert(DBSYNC_HTTP == -7, "HTTP");
_Static_assert(DBSYNC_PROTOCOL == -8, "PROTOCOL");
_Static_assert(DBSYNC_AUTH == -9, "AUTH");
_Static_assert(DBSYNC_NOT_REGISTERED == -10, "NOT_REGISTERED");
_Static_assert(DBSYNC_REGISTRATION_REFUSED == -11, "REGISTRATION_REFUSED");
_Static_assert(DBSYNC_PULL_REQUIRED == -12, "PULL_REQUIRED");
_Static_assert(DBSYNC_PUSH_REJECTED == -13, "PUSH_REJECTED");
_Static_assert(DBSYNC_UNIQUE_CONFLICT == -14, "UNIQUE_CONFLICT");
_Static_assert(DBSYNC_CONFLICT == -15, "CONFLICT");
_Static_assert(DBSYNC_REPAIR_REQUIRED == -16, "REPAIR_REQUIRED");
_Static_assert(DBSYNC_BUSY == -17, "BUSY");
_Static_assert(DBSYNC_TLS == -18, "TLS");
_Static_assert(DBSYNC_CALLBACK == -19, "CALLBACK");
_Static_assert(DBSYNC_TOO_LARGE == -20, "TOO_LARGE");
_Static_assert(DBSYNC_NOT_FOUND == -21, "NOT_FOUND");

static const struct {
	int code;
	int number; /* written out, as SPEC §7 lists them */
	const char *name;
	const char *text; /* as docs/c-api.md lists them */
} codes[] = {
	{DBSYNC_OK, 0, "OK", "success"},
	{DBSYNC_ERROR, -1, "ERROR", "internal error"},
	{DBSYNC_NOMEM, -2, "NOMEM", "out of memory"},
	{DBSYNC_INVALID, -3, "INVALID", "invalid argument"},
	{DBSYNC_DB, -4, "DB", "database error"},
	{DBSYNC_SCHEMA, -5, "SCHEMA", "unusable schema"},
	{DBSYNC_NETWORK, -6, "NETWORK", "network error"},
	{DBSYNC_HTTP, -7, "HTTP", "unexpected HTTP status"},
	{DBSYNC_PROTOCOL, -8, "PROTOCOL", "protocol error"},
	{DBSYNC_AUTH, -9, "AUTH", "authentication failed"},
	{DBSYNC_NOT_REGISTERED, -10, "NOT_REGISTERED", "node is not registered"},
	{DBSYNC_REGISTRATION_REFUSED, -11, "REGISTRATION_REFUSED", "registration refused"},
	{DBSYNC_PULL_REQUIRED, -12, "PULL_REQUIRED", "pull required before push"},
	{DBSYNC_PUSH_REJECTED, -13, "PUSH_REJECTED", "push rejected"},
	{DBSYNC_UNIQUE_CONFLICT, -14, "UNIQUE_CONFLICT", "unique constraint conflict"},
	{DBSYNC_CONFLICT, -15, "CONFLICT", "unresolved conflict"},
	{DBSYNC_REPAIR_REQUIRED, -16, "REPAIR_REQUIRED", "repair required"},
	{DBSYNC_BUSY, -17, "BUSY", "database is busy"},
	{DBSYNC_TLS, -18, "TLS", "TLS error"},
	{DBSYNC_CALLBACK, -19, "CALLBACK", "callback failed"},
	{DBSYNC_TOO_LARGE, -20, "TOO_LARGE", "size limit exceeded"},
	{DBSYNC_NOT_FOUND, -21, "NOT_FOUND", "not found"},
};
#define NCODES (sizeof(codes) / sizeof(codes[0]))

TEST(codes_have_their_numbers)
{
	size_t k;

	ASSERT_EQ_INT(NCODES, 22);
	for (k = 0; k < NCODES; k++) {
		ASSERT_EQ_INT(codes[k].code, codes[k].number);
		/* dense: 0, -1, ..., -21 */
		ASSERT_EQ_INT(codes[k].number, -(int)k);
	}
	ASSERT_EQ_INT(DBSYNC_ERROR_LAST, -21);
	ASSERT_EQ_INT(DBSYNC_ERROR_LAST, DBSYNC_NOT_FOUND);
}

TEST(error_name_of_every_code)
{
	size_t k;

	for (k = 0; k < NCODES; k++) {
		const char *name = dbsync_error_name(codes[k].number);
		ASSERT_MSG(name != NULL && strcmp(name, codes[k].name) == 0,
			   "dbsync_error_name(%d) = \"%s\", expected \"%s\"",
			   codes[k].number, name ? name : "(null)",
			   codes[k].name);
	}
}

TEST(strerror_of_every_code)
{
	size_t k, j;

	for (k = 0; k < NCODES; k++) {
		const char *text = dbsync_strerror(codes[k].number);
		ASSERT_MSG(text != NULL, "dbsync_strerror(%d) is NULL",
			   codes[k].number);
		ASSERT_MSG(text[0] != '\0', "dbsync_strerror(%d) is empty",
			   codes[k].number);
		ASSERT_MSG(strcmp(text, "unknown error") != 0,
			   "dbsync_strerror(%d) = \"unknown error\" for the "
			   "known code %s",
			   codes[k].number, codes[k].name);
		ASSERT_MSG(strchr(text, '\n') == NULL,
			   "dbsync_strerror(%d) is not one line",
			   codes[k].number);
		ASSERT_MSG(strcmp(text, codes[k].text) == 0,
			   "dbsync_strerror(%d) = \"%s\", expected \"%s\"",
			   codes[k].number, text, codes[k].text);
		/* Static text: the same on every call. */
		ASSERT_EQ_STR(dbsync_strerror(codes[k].number), text);
		/* Each code says something different. */
		for (j = 0; j < k; j++)
			ASSERT_MSG(strcmp(text,
					  dbsync_strerror(codes[j].number)) != 0,
				   "codes %d and %d share the text \"%s\"",
				   codes[j].number, codes[k].number, text);
	}
}

TEST(unknown_codes)
{
	static const int unknown[] = {1,	5,	 -22,	     -23, -100,
				      1000,	INT_MIN, INT_MIN + 1, INT_MAX,
				      DBSYNC_ERROR_LAST - 1};
	size_t k;

	for (k = 0; k < sizeof(unknown) / sizeof(unknown[0]); k++) {
		ASSERT_MSG(dbsync_strerror(unknown[k]) != NULL,
			   "dbsync_strerror(%d) is NULL", unknown[k]);
		ASSERT_MSG(strcmp(dbsync_strerror(unknown[k]),
				  "unknown error") == 0,
			   "dbsync_strerror(%d) = \"%s\"", unknown[k],
			   dbsync_strerror(unknown[k]));
		ASSERT_MSG(dbsync_error_name(unknown[k]) != NULL,
			   "dbsync_error_name(%d) is NULL", unknown[k]);
		ASSERT_MSG(strcmp(dbsync_error_name(unknown[k]), "UNKNOWN") ==
				   0,
			   "dbsync_error_name(%d) = \"%s\"", unknown[k],
			   dbsync_error_name(unknown[k]));
	}
}

TEST(version_macros_match_runtime)
{
	char built[64];

	snprintf(built, sizeof(built), "%d.%d.%d", DBSYNC_VERSION_MAJOR,
		 DBSYNC_VERSION_MINOR, DBSYNC_VERSION_PATCH);
	ASSERT_EQ_STR(DBSYNC_VERSION, built);
	ASSERT_EQ_INT(DBSYNC_VERSION_NUMBER,
		      DBSYNC_VERSION_MAJOR * 10000 +
			      DBSYNC_VERSION_MINOR * 100 +
			      DBSYNC_VERSION_PATCH);
	/* The statically linked library is the one we compiled against. */
	ASSERT_NOT_NULL(dbsync_version());
	ASSERT_EQ_STR(dbsync_version(), DBSYNC_VERSION);
	ASSERT_EQ_INT(dbsync_version_number(), DBSYNC_VERSION_NUMBER);
	/* The project's release (CMake project VERSION 0.1.0). */
	ASSERT_EQ_STR(dbsync_version(), "0.1.0");
	ASSERT_EQ_INT(dbsync_version_number(), 100);
}

TEST(sqlite_version)
{
	ASSERT_NOT_NULL(dbsync_sqlite_version());
	/* We link the same SQLite the library runs on. */
	ASSERT_EQ_STR(dbsync_sqlite_version(), sqlite3_libversion());
}

struct fresh_thread {
	int code;
	char message[256];
};

static void *read_fresh_thread(void *arg)
{
	struct fresh_thread *t = arg;

	t->code = dbsync_last_error_code();
	snprintf(t->message, sizeof(t->message), "%s",
		 dbsync_last_error_message() ? dbsync_last_error_message()
					     : "(null)");
	return NULL;
}

TEST(last_error_starts_empty)
{
	struct fresh_thread t = {-999, "unset"};
	pthread_t th;

	/* The main thread may carry errors of earlier cases: ask a new one. */
	ASSERT_EQ_INT(pthread_create(&th, NULL, read_fresh_thread, &t), 0);
	ASSERT_EQ_INT(pthread_join(th, NULL), 0);
	ASSERT_EQ_INT(t.code, 0);
	ASSERT_EQ_STR(t.message, "");
}

TEST(last_error_after_failed_call)
{
	dbsync_client *c = NULL;

	ASSERT_CODE(dbsync_client_open(&c, NULL), DBSYNC_INVALID);
	ASSERT_NULL(c);
	ASSERT_EQ_INT(dbsync_last_error_code(), DBSYNC_INVALID);
	ASSERT_GOOD_MESSAGE(dbsync_last_error_message());
}

static const th_case cases[] = {
	CASE(codes_have_their_numbers),
	CASE(error_name_of_every_code),
	CASE(strerror_of_every_code),
	CASE(unknown_codes),
	CASE(version_macros_match_runtime),
	CASE(sqlite_version),
	CASE(last_error_starts_empty),
	CASE(last_error_after_failed_call),
};
TH_MAIN(cases)
