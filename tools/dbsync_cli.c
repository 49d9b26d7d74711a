/*
 * dbsync - the command-line client.
 *
 * This first slice has the commands that work on the local database alone
 * (track, untrack, pending, compact). The commands that talk to a server
 * arrive with the server. Usage, output formats and exit codes are described
 * in docs/cli.md; keep the two in step.
 */
#include <dbsync.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One exit code per class of error, so scripts can branch without parsing
 * messages. Documented in --help and docs/cli.md; never renumber. */
enum {
	EXIT_OK = 0,
	EXIT_OTHER = 1,
	EXIT_USAGE = 2,
	EXIT_NOT_FOUND = 3,
	EXIT_SCHEMA = 4,
	EXIT_DATABASE = 5,
	EXIT_BUSY = 6
};

struct cli {
	const char *db;
	int json;
};

struct command {
	const char *name;
	const char *usage;
	const char *help;
	int (*run)(struct cli *cli, int argc, char **argv);
};

static const struct command *find_command(const char *name);

/* ---- JSON output --------------------------------------------------------
 * A few lines instead of a dependency: the library keeps jansson inside its
 * messages module, and the CLI only ever writes flat, small documents. */

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, UTF-16 surrogates and values past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* A JSON string of n bytes. SQLite text is not guaranteed to be valid
 * UTF-8, so invalid bytes become U+FFFD rather than invalid JSON. */
static void json_strn(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, len;

	putchar('"');
	while (i < n) {
		unsigned char c = p[i];

		switch (c) {
		case '"': fputs("\\\"", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\b': fputs("\\b", stdout); break;
		case '\f': fputs("\\f", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				printf("\\u%04x", c);
			} else if (c >= 0x80) {
				len = utf8_len(p + i, n - i);
				if (len == 0) {
					fputs("\\ufffd", stdout);
				} else {
					fwrite(p + i, 1, len, stdout);
					i += len - 1;
				}
			} else {
				putchar(c);
			}
		}
		i++;
	}
	putchar('"');
}

static void json_str(const char *s)
{
	json_strn(s, strlen(s));
}

/* ---- errors ------------------------------------------------------------ */

static int exit_code_for(int code)
{
	switch (code) {
	case DBSYNC_OK:
		return EXIT_OK;
	case DBSYNC_INVALID:
		return EXIT_USAGE;
	case DBSYNC_NOT_FOUND:
		return EXIT_NOT_FOUND;
	case DBSYNC_SCHEMA:
		return EXIT_SCHEMA;
	case DBSYNC_DB:
		return EXIT_DATABASE;
	case DBSYNC_BUSY:
		return EXIT_BUSY;
	default:
		return EXIT_OTHER;
	}
}

/*
 * Report an error and return the process exit code. The message always goes
 * to stderr. With --json, stdout also gets the error as a member shaped like
 * the server's error bodies: `json_open` is what precedes it ("{" for a
 * document of its own, "], " to close a list a command had started), so
 * stdout always holds exactly one JSON document.
 */
static int report(const struct cli *cli, int code, const char *message,
		  const char *json_open)
{
	if (message == NULL || message[0] == '\0')
		message = dbsync_strerror(code);
	fprintf(stderr, "dbsync: %s\n", message);
	if (cli->json) {
		printf("%s\"error\": {\"code\": %d, \"name\": ", json_open,
		       code);
		json_str(dbsync_error_name(code));
		fputs(", \"message\": ", stdout);
		json_str(message);
		fputs("}}\n", stdout);
	}
	return exit_code_for(code);
}

static int fail(const struct cli *cli, int code, const char *message)
{
	return report(cli, code, message, "{");
}

/* A bad command line: the message, then where to find help. */
__attribute__((format(printf, 3, 4))) static int
usage_error(const struct cli *cli, const char *command, const char *fmt, ...)
{
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	fail(cli, DBSYNC_INVALID, message);
	fprintf(stderr, "Try 'dbsync %s%s--help'.\n", command ? command : "",
		command ? " " : "");
	return EXIT_USAGE;
}

/* The handle's message, prefixed with the table it concerns when the
 * library's message does not name it already. */
static int fail_client(const struct cli *cli, dbsync_client *client, int code,
		       const char *table, const char *json_open)
{
	char message[1024];
	const char *m = dbsync_client_error_message(client);

	if (m[0] == '\0')
		m = dbsync_strerror(code);
	if (table != NULL && strstr(m, table) == NULL) {
		snprintf(message, sizeof(message), "%s: %s", table, m);
		m = message;
	}
	return report(cli, code, m, json_open);
}

/* ---- helpers ----------------------------------------------------------- */

static const char *direction_name(dbsync_direction d)
{
	switch (d) {
	case DBSYNC_DIRECTION_PUSH:
		return "push";
	case DBSYNC_DIRECTION_PULL:
		return "pull";
	default:
		return "both";
	}
}

static int parse_direction(const char *s, dbsync_direction *out)
{
	if (strcmp(s, "both") == 0)
		*out = DBSYNC_DIRECTION_BOTH;
	else if (strcmp(s, "push") == 0)
		*out = DBSYNC_DIRECTION_PUSH;
	else if (strcmp(s, "pull") == 0)
		*out = DBSYNC_DIRECTION_PULL;
	else
		return -1;
	return 0;
}

/* SQLite compares identifiers ASCII-case-insensitively; so do we. */
static int same_identifier(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		int ca = (*a >= 'A' && *a <= 'Z') ? *a + 32 : *a;
		int cb = (*b >= 'A' && *b <= 'Z') ? *b + 32 : *b;
		if (ca != cb)
			return 0;
	}
	return *a == *b;
}

/*
 * Open the client database. The file must exist: opening would otherwise
 * create an empty database for a mistyped path, and every command here needs
 * tables that only an existing database can have.
 */
static int open_client(const struct cli *cli, dbsync_client **out)
{
	struct stat st;
	char message[1024];
	int rc;

	*out = NULL;
	if (cli->db == NULL)
		return usage_error(cli, NULL, "--db FILE is required");
	if (stat(cli->db, &st) != 0) {
		if (errno == ENOENT) {
			snprintf(message, sizeof(message),
				 "%s: no such database file", cli->db);
			return fail(cli, DBSYNC_NOT_FOUND, message);
		}
		snprintf(message, sizeof(message), "%s: %s", cli->db,
			 strerror(errno));
		return fail(cli, DBSYNC_DB, message);
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(message, sizeof(message), "%s: is a directory",
			 cli->db);
		return fail(cli, DBSYNC_DB, message);
	}
	rc = dbsync_client_open(out, cli->db);
	if (rc != DBSYNC_OK) {
		const char *m = dbsync_last_error_message();

		/* Say which file, if the library's message does not. */
		if (strstr(m, cli->db) == NULL) {
			snprintf(message, sizeof(message), "%s: %s", cli->db,
				 m[0] ? m : dbsync_strerror(rc));
			m = message;
		}
		return fail(cli, rc, m);
	}
	return EXIT_OK;
}

/*
 * Split a command's arguments into options and operands. --db and --json
 * are accepted after the command too, so `dbsync pending --db app.db` works.
 * Returns EXIT_OK, or the exit code of a usage error (already reported).
 * `direction` is NULL for commands that take no --direction.
 */
static int parse_args(struct cli *cli, const struct command *cmd, int argc,
		      char **argv, const char **operands, int *noperands,
		      dbsync_direction *direction)
{
	int i, only_operands = 0;

	*noperands = 0;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (only_operands || a[0] != '-' || a[1] == '\0') {
			operands[(*noperands)++] = a;
		} else if (strcmp(a, "--") == 0) {
			only_operands = 1;
		} else if (strcmp(a, "--json") == 0) {
			cli->json = 1;
		} else if (strcmp(a, "--db") == 0) {
			if (++i == argc)
				return usage_error(cli, cmd->name,
						   "--db needs a FILE");
			cli->db = argv[i];
		} else if (strncmp(a, "--db=", 5) == 0) {
			cli->db = a + 5;
		} else if (direction != NULL &&
			   (strcmp(a, "--direction") == 0 ||
			    strncmp(a, "--direction=", 12) == 0)) {
			const char *v = a + 11;

			if (*v == '=') {
				v++;
			} else {
				if (++i == argc)
					return usage_error(
						cli, cmd->name,
						"--direction needs both, push or pull");
				v = argv[i];
			}
			if (parse_direction(v, direction) != 0)
				return usage_error(
					cli, cmd->name,
					"unknown direction '%s' (expected both, push or pull)",
					v);
		} else {
			return usage_error(cli, cmd->name,
					   "unknown option '%s'", a);
		}
	}
	return EXIT_OK;
}

/* --help anywhere before "--" asks for the command's help; it wins over
 * every other argument so it works without --db. */
static int wants_help(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

/* ---- commands ---------------------------------------------------------- */

static int cmd_track(struct cli *cli, int argc, char **argv)
{
	const struct command *self = find_command("track");
	dbsync_direction direction = DBSYNC_DIRECTION_BOTH;
	dbsync_client *client;
	const char **tables;
	int ntables, i, rc, status;

	tables = calloc((size_t)argc + 1, sizeof(*tables));
	if (tables == NULL)
		return fail(cli, DBSYNC_NOMEM, NULL);
	status = parse_args(cli, self, argc, argv, tables, &ntables, &direction);
	if (status == EXIT_OK && ntables == 0)
		status = usage_error(cli, self->name, "track: missing TABLE");
	if (status == EXIT_OK)
		status = open_client(cli, &client);
	if (status != EXIT_OK) {
		free(tables);
		return status;
	}

	/* Tables are tracked one by one, in order; on an error the tables
	 * before it stay tracked, and the report lists them. */
	if (cli->json)
		fputs("{\"tracked\": [", stdout);
	for (i = 0; i < ntables; i++) {
		dbsync_direction before = DBSYNC_DIRECTION_BOTH;
		int was = dbsync_client_is_tracked(client, tables[i], &before);

		rc = was < 0 ? was
			     : dbsync_client_track(client, tables[i], direction);
		if (rc != DBSYNC_OK) {
			status = fail_client(cli, client, rc, tables[i], "], ");
			break;
		}
		if (cli->json) {
			fputs(i ? ", {\"table\": " : "{\"table\": ", stdout);
			json_str(tables[i]);
			printf(", \"direction\": \"%s\", \"previous\": ",
			       direction_name(direction));
			if (was)
				printf("\"%s\"}", direction_name(before));
			else
				fputs("null}", stdout);
		} else if (!was) {
			printf("tracked %s (direction %s)\n", tables[i],
			       direction_name(direction));
		} else if (before != direction) {
			printf("%s: direction changed from %s to %s\n",
			       tables[i], direction_name(before),
			       direction_name(direction));
		} else {
			printf("%s: already tracked (direction %s), triggers "
			       "refreshed\n",
			       tables[i], direction_name(direction));
		}
	}
	if (status == EXIT_OK && cli->json)
		fputs("]}\n", stdout);
	dbsync_client_free(client);
	free(tables);
	return status;
}

/* Pending operations of one table (untrack drops them; say how many). */
static int count_pending(dbsync_client *client, const char *table,
			 size_t *count)
{
	dbsync_oplist *ops;
	size_t i, n;
	int rc = dbsync_client_pending(&ops, client);

	if (rc != DBSYNC_OK)
		return rc;
	*count = 0;
	n = dbsync_oplist_count(ops);
	for (i = 0; i < n; i++)
		if (same_identifier(dbsync_oplist_table(ops, i), table))
			(*count)++;
	dbsync_oplist_free(ops);
	return DBSYNC_OK;
}

static int cmd_untrack(struct cli *cli, int argc, char **argv)
{
	const struct command *self = find_command("untrack");
	dbsync_client *client;
	const char **tables;
	int ntables, i, rc, status;

	tables = calloc((size_t)argc + 1, sizeof(*tables));
	if (tables == NULL)
		return fail(cli, DBSYNC_NOMEM, NULL);
	status = parse_args(cli, self, argc, argv, tables, &ntables, NULL);
	if (status == EXIT_OK && ntables == 0)
		status = usage_error(cli, self->name,
				     "untrack: missing TABLE");
	if (status == EXIT_OK)
		status = open_client(cli, &client);
	if (status != EXIT_OK) {
		free(tables);
		return status;
	}

	/* The dropped count is read just before the untrack; a concurrent
	 * writer may add to it in between, so it is informative only. */
	if (cli->json)
		fputs("{\"untracked\": [", stdout);
	for (i = 0; i < ntables; i++) {
		size_t dropped = 0;

		rc = count_pending(client, tables[i], &dropped);
		if (rc == DBSYNC_OK)
			rc = dbsync_client_untrack(client, tables[i]);
		if (rc != DBSYNC_OK) {
			status = fail_client(cli, client, rc, tables[i], "], ");
			break;
		}
		if (cli->json) {
			fputs(i ? ", {\"table\": " : "{\"table\": ", stdout);
			json_str(tables[i]);
			printf(", \"dropped_pending\": %zu}", dropped);
		} else {
			printf("untracked %s (%zu pending operation%s "
			       "dropped)\n",
			       tables[i], dropped, dropped == 1 ? "" : "s");
		}
	}
	if (status == EXIT_OK && cli->json)
		fputs("]}\n", stdout);
	dbsync_client_free(client);
	free(tables);
	return status;
}

static const char *type_name(dbsync_type t)
{
	switch (t) {
	case DBSYNC_TYPE_INTEGER: return "integer";
	case DBSYNC_TYPE_FLOAT: return "float";
	case DBSYNC_TYPE_TEXT: return "text";
	case DBSYNC_TYPE_BLOB: return "blob";
	default: return "null";
	}
}

static const char *command_name(char c)
{
	switch (c) {
	case 'i': return "insert";
	case 'u': return "update";
	case 'd': return "delete";
	default: return "?";
	}
}

/* The primary key as an SQL literal (42, 1.5, 'text', X'00ff', NULL), the
 * form a user can paste into a WHERE clause. */
static void print_pk_human(const dbsync_oplist *ops, size_t i)
{
	const unsigned char *b;
	size_t size = 0, k;

	switch (dbsync_oplist_pk_type(ops, i)) {
	case DBSYNC_TYPE_INTEGER:
		printf("%" PRId64, dbsync_oplist_pk_int(ops, i));
		break;
	case DBSYNC_TYPE_FLOAT:
		printf("%.17g", dbsync_oplist_pk_float(ops, i));
		break;
	case DBSYNC_TYPE_TEXT:
		b = dbsync_oplist_pk_bytes(ops, i, &size);
		putchar('\'');
		for (k = 0; k < size; k++) {
			if (b[k] == '\'')
				putchar('\'');
			putchar(b[k]);
		}
		putchar('\'');
		break;
	case DBSYNC_TYPE_BLOB:
		b = dbsync_oplist_pk_bytes(ops, i, &size);
		fputs("X'", stdout);
		for (k = 0; k < size; k++)
			printf("%02x", b[k]);
		putchar('\'');
		break;
	default:
		fputs("NULL", stdout);
	}
}

static void print_pk_json(const dbsync_oplist *ops, size_t i)
{
	const unsigned char *b;
	size_t size = 0, k;
	double f;

	switch (dbsync_oplist_pk_type(ops, i)) {
	case DBSYNC_TYPE_INTEGER:
		printf("%" PRId64, dbsync_oplist_pk_int(ops, i));
		break;
	case DBSYNC_TYPE_FLOAT:
		f = dbsync_oplist_pk_float(ops, i);
		/* JSON has no infinities; pk_type still tells what it was. */
		if (f - f != 0)
			fputs("null", stdout);
		else
			printf("%.17g", f);
		break;
	case DBSYNC_TYPE_TEXT:
		b = dbsync_oplist_pk_bytes(ops, i, &size);
		json_strn((const char *)b, size);
		break;
	case DBSYNC_TYPE_BLOB:
		/* Blobs travel as lowercase hex, pk_type says so. */
		b = dbsync_oplist_pk_bytes(ops, i, &size);
		putchar('"');
		for (k = 0; k < size; k++)
			printf("%02x", b[k]);
		putchar('"');
		break;
	default:
		fputs("null", stdout);
	}
}

static void print_ops_human(const dbsync_oplist *ops)
{
	size_t i, n = dbsync_oplist_count(ops);
	int wtable = (int)strlen("TABLE"), wseq = (int)strlen("SEQ");

	if (n == 0) {
		printf("no pending operations\n");
		return;
	}
	for (i = 0; i < n; i++) {
		int w = (int)strlen(dbsync_oplist_table(ops, i));
		char seq[32];

		if (w > wtable)
			wtable = w;
		w = snprintf(seq, sizeof(seq), "%" PRId64,
			     dbsync_oplist_seq(ops, i));
		if (w > wseq)
			wseq = w;
	}
	printf("%zu pending operation%s, in push order:\n", n,
	       n == 1 ? "" : "s");
	printf("  %*s  %-*s  %-6s  %s\n", wseq, "SEQ", wtable, "TABLE", "OP",
	       "PK");
	for (i = 0; i < n; i++) {
		printf("  %*" PRId64 "  %-*s  %-6s  ", wseq,
		       dbsync_oplist_seq(ops, i), wtable,
		       dbsync_oplist_table(ops, i),
		       command_name(dbsync_oplist_command(ops, i)));
		print_pk_human(ops, i);
		putchar('\n');
	}
}

static void print_ops_json(const dbsync_oplist *ops)
{
	size_t i, n = dbsync_oplist_count(ops);

	printf("{\"count\": %zu, \"operations\": [", n);
	for (i = 0; i < n; i++) {
		printf("%s{\"seq\": %" PRId64 ", \"table\": ", i ? ", " : "",
		       dbsync_oplist_seq(ops, i));
		json_str(dbsync_oplist_table(ops, i));
		printf(", \"op\": \"%c\", \"pk_type\": \"%s\", \"pk\": ",
		       dbsync_oplist_command(ops, i),
		       type_name(dbsync_oplist_pk_type(ops, i)));
		print_pk_json(ops, i);
		putchar('}');
	}
	fputs("]}\n", stdout);
}

/* For commands that take no operands: parse the options, then open the
 * client. */
static int open_without_operands(struct cli *cli, const char *name, int argc,
				 char **argv, dbsync_client **client)
{
	const struct command *self = find_command(name);
	const char **operands;
	int n, status;

	operands = calloc((size_t)argc + 1, sizeof(*operands));
	if (operands == NULL)
		return fail(cli, DBSYNC_NOMEM, NULL);
	status = parse_args(cli, self, argc, argv, operands, &n, NULL);
	if (status == EXIT_OK && n > 0)
		status = usage_error(cli, self->name,
				     "%s: unexpected argument '%s'", name,
				     operands[0]);
	free(operands);
	if (status == EXIT_OK)
		status = open_client(cli, client);
	return status;
}

static int cmd_pending(struct cli *cli, int argc, char **argv)
{
	dbsync_client *client;
	dbsync_oplist *ops;
	int rc, status;

	status = open_without_operands(cli, "pending", argc, argv, &client);
	if (status != EXIT_OK)
		return status;

	rc = dbsync_client_pending(&ops, client);
	if (rc != DBSYNC_OK) {
		status = fail_client(cli, client, rc, NULL, "{");
	} else {
		if (cli->json)
			print_ops_json(ops);
		else
			print_ops_human(ops);
		dbsync_oplist_free(ops);
	}
	dbsync_client_free(client);
	return status;
}

static int cmd_compact(struct cli *cli, int argc, char **argv)
{
	dbsync_client *client;
	dbsync_oplist *ops = NULL;
	int rc, status;

	status = open_without_operands(cli, "compact", argc, argv, &client);
	if (status != EXIT_OK)
		return status;

	rc = dbsync_client_compact(client);
	if (rc == DBSYNC_OK)
		rc = dbsync_client_pending(&ops, client);
	if (rc != DBSYNC_OK) {
		status = fail_client(cli, client, rc, NULL, "{");
	} else {
		size_t count = dbsync_oplist_count(ops);

		if (cli->json)
			printf("{\"compacted\": true, \"pending\": %zu}\n",
			       count);
		else
			printf("log compacted: %zu pending operation%s\n",
			       count, count == 1 ? "" : "s");
	}
	dbsync_oplist_free(ops);
	dbsync_client_free(client);
	return status;
}

static const struct command commands[] = {
	{"track", "track TABLE... [--direction both|push|pull]",
	 "Track each TABLE: install triggers so that every committed insert,\n"
	 "update and delete on it, by any program or connection, is logged\n"
	 "for syncing in the same transaction. Rows already in the table are\n"
	 "not logged. Tracking a tracked table sets its direction again.\n"
	 "Tables are tracked in the order given; if one fails, the ones\n"
	 "before it stay tracked.\n"
	 "\n"
	 "  --direction both   push local changes and pull remote ones (default)\n"
	 "  --direction push   push local changes only\n"
	 "  --direction pull   pull remote changes only; local changes are not "
	 "logged\n"
	 "\n"
	 "The table needs a declared single-column primary key (exit 4 if not).\n",
	 cmd_track},
	{"untrack", "untrack TABLE...",
	 "Stop tracking each TABLE: remove its triggers and drop its pending\n"
	 "operations (the number dropped is printed). The table and its rows\n"
	 "are left as they are. Exit 3 if a table is not tracked.\n",
	 cmd_untrack},
	{"pending", "pending",
	 "List the operations waiting to be pushed, compressed to at most one\n"
	 "per row (an insert followed by updates is one insert; an insert\n"
	 "followed by a delete is nothing), in push order: sequence number,\n"
	 "table, operation and primary key. Reads only.\n",
	 cmd_pending},
	{"compact", "compact",
	 "Rewrite the operations log in its compressed form (at most one\n"
	 "entry per row), to bound its size between syncs. Safe while other\n"
	 "programs write to the database. Prints the pending count after.\n",
	 cmd_compact},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static const char exit_codes_help[] =
	"Exit codes:\n"
	"  0  success\n"
	"  1  other error\n"
	"  2  usage error or invalid argument\n"
	"  3  not found (database file, table)\n"
	"  4  schema: the table cannot be tracked (no primary key, ...)\n"
	"  5  database error (not a database, I/O, corrupt)\n"
	"  6  database busy: locked by another writer\n";

static void print_help(void)
{
	size_t i;

	printf("usage: dbsync --db FILE [--json] COMMAND [ARGS...]\n"
	       "\n"
	       "Record the changes made to a SQLite database so they can be\n"
	       "synchronized with a central database.\n"
	       "\n"
	       "Commands:\n");
	for (i = 0; i < NCOMMANDS; i++)
		printf("  %s\n", commands[i].usage);
	printf("\n"
	       "Options:\n"
	       "  --db FILE    the client database (an existing SQLite file)\n"
	       "  --json       print JSON on stdout instead of text\n"
	       "  -h, --help   this help; 'dbsync COMMAND --help' for one "
	       "command\n"
	       "  --version    print the dbsync and SQLite versions\n"
	       "\n"
	       "Errors are printed on stderr as 'dbsync: MESSAGE'.\n"
	       "%s",
	       exit_codes_help);
}

static void print_command_help(const struct command *cmd)
{
	printf("usage: dbsync --db FILE [--json] %s\n\n%s\n%s", cmd->usage,
	       cmd->help, exit_codes_help);
}

int main(int argc, char **argv)
{
	struct cli cli = {NULL, 0};
	const struct command *cmd;
	int i;

	/* Decide the error format before the first possible error. */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			cli.json = 1;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			print_help();
			return EXIT_OK;
		} else if (strcmp(a, "--version") == 0) {
			if (cli.json) {
				fputs("{\"dbsync\": ", stdout);
				json_str(dbsync_version());
				fputs(", \"sqlite\": ", stdout);
				json_str(dbsync_sqlite_version());
				fputs("}\n", stdout);
			} else {
				printf("dbsync %s (SQLite %s)\n",
				       dbsync_version(),
				       dbsync_sqlite_version());
			}
			return EXIT_OK;
		} else if (strcmp(a, "--json") == 0) {
			cli.json = 1;
		} else if (strcmp(a, "--db") == 0) {
			if (++i == argc)
				return usage_error(&cli, NULL,
						   "--db needs a FILE");
			cli.db = argv[i];
		} else if (strncmp(a, "--db=", 5) == 0) {
			cli.db = a + 5;
		} else {
			return usage_error(&cli, NULL, "unknown option '%s'",
					   a);
		}
	}
	if (i == argc)
		return usage_error(&cli, NULL, "missing COMMAND");

	if (strcmp(argv[i], "help") == 0) {
		if (i + 1 == argc) {
			print_help();
			return EXIT_OK;
		}
		cmd = find_command(argv[i + 1]);
		if (cmd == NULL)
			return usage_error(&cli, NULL, "unknown command '%s'",
					   argv[i + 1]);
		print_command_help(cmd);
		return EXIT_OK;
	}
	cmd = find_command(argv[i]);
	if (cmd == NULL)
		return usage_error(&cli, NULL, "unknown command '%s'", argv[i]);
	if (wants_help(argc - i - 1, argv + i + 1)) {
		print_command_help(cmd);
		return EXIT_OK;
	}
	return cmd->run(&cli, argc - i - 1, argv + i + 1);
}
