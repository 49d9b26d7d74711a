/*
 * dbsync - the command-line client.
 *
 * Local commands work on the client database alone (track, untrack,
 * pending, compact, status); the others talk to a dbsync server through the
 * library (register, push, pull, sync, repair). Usage, output formats and
 * exit codes are described in docs/cli.md; keep the two in step.
 */
#include <dbsync.h>
#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One exit code per class of error, so scripts can branch without parsing
 * messages. Documented in --help and docs/cli.md; never renumber. */
enum {
	EXIT_OK = 0,
	EXIT_OTHER = 1,
	EXIT_USAGE = 2,
	EXIT_NOT_FOUND = 3,
	EXIT_SCHEMA = 4,
	EXIT_DATABASE = 5,
	EXIT_BUSY = 6,
	EXIT_NETWORK = 7,
	EXIT_PULL_REQUIRED = 8,
	EXIT_NOT_REGISTERED = 9,
	EXIT_AUTH = 10,
	EXIT_REPAIR_REQUIRED = 11,
	EXIT_CONFLICT = 12
};

/* One --policy: for `table`, or with `table` NULL for every table that has
 * none of its own. */
struct policy_choice {
	char *table;
	dbsync_policy policy;
};

/* What the command line says: global options (accepted before and after
 * the command) and the options of the command itself. */
struct cli {
	const char *db;
	int json;
	const char *server; /* --server; DBSYNC_SERVER when NULL */
	const char *ca_file;
	dbsync_direction direction;
	const char *token;
	const char *token_file;
	int64_t page_size; /* 0: the server's default */
	struct policy_choice *policies; /* in command-line order */
	size_t npolicies;
};

/* The options a command takes besides the global ones. */
enum {
	OPT_DIRECTION = 1,
	OPT_TOKEN = 2,
	OPT_PAGE_SIZE = 4,
	OPT_POLICY = 8 /* also: the command merges pulled changes, and
			  reports the conflicts it met */
};

struct command {
	const char *name;
	const char *usage;
	const char *help;
	int options;	/* OPT_* */
	int operands;	/* 1: takes TABLE... (at least one) */
	int server;	/* 1: talks to the server, needs --server */
	int (*run)(struct cli *cli, const struct command *self,
		   const char **operands, int noperands);
};

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
	/* The server cannot be talked to: worth retrying later. An HTTP
	 * status without a dbsync error body is a proxy or a wrong URL. */
	case DBSYNC_NETWORK:
	case DBSYNC_TLS:
	case DBSYNC_HTTP:
		return EXIT_NETWORK;
	case DBSYNC_PULL_REQUIRED:
		return EXIT_PULL_REQUIRED;
	case DBSYNC_NOT_REGISTERED:
		return EXIT_NOT_REGISTERED;
	case DBSYNC_AUTH:
	case DBSYNC_REGISTRATION_REFUSED:
		return EXIT_AUTH;
	case DBSYNC_REPAIR_REQUIRED:
		return EXIT_REPAIR_REQUIRED;
	case DBSYNC_CONFLICT:
	case DBSYNC_UNIQUE_CONFLICT:
	case DBSYNC_PUSH_REJECTED:
		return EXIT_CONFLICT;
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

/* The failure of a server command. The library's message `m` says what
 * happened; for the errors a user fixes with another command, the message
 * also says which one. `json_open` as for report(). */
static int fail_server(const struct cli *cli, int code, const char *m,
		       const char *json_open)
{
	char message[1200];
	const char *hint = NULL;

	if (m[0] == '\0')
		m = dbsync_strerror(code);
	switch (code) {
	case DBSYNC_PULL_REQUIRED:
		hint = "run 'dbsync sync', or 'dbsync pull' then 'dbsync push'";
		break;
	case DBSYNC_NOT_REGISTERED:
		if (strstr(m, "register") == NULL)
			hint = "run 'dbsync register' first";
		break;
	case DBSYNC_REPAIR_REQUIRED:
		hint = "run 'dbsync repair'";
		break;
	default:
		break;
	}
	if (hint != NULL) {
		snprintf(message, sizeof(message), "%s (%s)", m, hint);
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

static const char *plural(uint64_t n)
{
	return n == 1 ? "" : "s";
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

/* ---- the command line -------------------------------------------------- */

/*
 * `NAME VALUE` or `NAME=VALUE` at argv[*i]: returns 1 with *value set, or
 * with *status set to the exit code of a usage error (a missing value);
 * 0 when argv[*i] is not NAME.
 */
static int take_value(const struct cli *cli, const char *command, int argc,
		      char **argv, int *i, const char *name, const char *what,
		      const char **value, int *status)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*value = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (++*i == argc) {
		*status = usage_error(cli, command, "%s needs %s", name, what);
		return 1;
	}
	*value = argv[*i];
	return 1;
}

/* The options every command accepts, before or after the command name.
 * 1 if argv[*i] was one (*status: EXIT_OK or a usage error), 0 if not. */
static int global_option(struct cli *cli, const char *command, int argc,
			 char **argv, int *i, int *status)
{
	const char *v = NULL;

	*status = EXIT_OK;
	if (strcmp(argv[*i], "--json") == 0) {
		cli->json = 1;
		return 1;
	}
	if (take_value(cli, command, argc, argv, i, "--db", "a FILE", &v,
		       status)) {
		cli->db = v;
		return 1;
	}
	if (take_value(cli, command, argc, argv, i, "--server", "a URL", &v,
		       status)) {
		cli->server = v;
		return 1;
	}
	if (take_value(cli, command, argc, argv, i, "--ca-file", "a FILE", &v,
		       status)) {
		cli->ca_file = v;
		return 1;
	}
	return 0;
}

/* A page size: a whole number from 1 to 1e9. */
static int parse_page_size(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 1 || v > 1000000000)
		return -1;
	*out = v;
	return 0;
}

static int parse_policy_name(const char *s, dbsync_policy *out)
{
	if (strcmp(s, "local-wins") == 0)
		*out = DBSYNC_POLICY_LOCAL_WINS;
	else if (strcmp(s, "server-wins") == 0)
		*out = DBSYNC_POLICY_SERVER_WINS;
	else
		return -1;
	return 0;
}

/*
 * One --policy value: POLICY for every table, or TABLE=POLICY. The table
 * is what precedes the last '=', since policy names never hold one and
 * table names may. Returns EXIT_OK or the exit code of a usage error.
 */
static int add_policy(struct cli *cli, const char *command, const char *value)
{
	const char *eq = strrchr(value, '=');
	const char *name = eq != NULL ? eq + 1 : value;
	struct policy_choice choice = {NULL, DBSYNC_POLICY_LOCAL_WINS};
	struct policy_choice *grown;

	if (eq == value)
		return usage_error(cli, command,
				   "--policy '%s': the table name is empty",
				   value);
	if (strcmp(name, "callback") == 0)
		return usage_error(cli, command,
				   "--policy '%s': the callback policy needs a "
				   "program (dbsync_client_on_conflict); the "
				   "CLI offers local-wins and server-wins",
				   value);
	if (parse_policy_name(name, &choice.policy) != 0)
		return usage_error(cli, command,
				   "--policy '%s': unknown policy '%s' "
				   "(expected local-wins, server-wins, or "
				   "TABLE=local-wins|server-wins)",
				   value, name);
	if (eq != NULL &&
	    (choice.table = strndup(value, (size_t)(eq - value))) == NULL)
		return fail(cli, DBSYNC_NOMEM, NULL);
	grown = realloc(cli->policies,
			(cli->npolicies + 1) * sizeof(*cli->policies));
	if (grown == NULL) {
		free(choice.table);
		return fail(cli, DBSYNC_NOMEM, NULL);
	}
	cli->policies = grown;
	cli->policies[cli->npolicies++] = choice;
	return EXIT_OK;
}

static void free_policies(struct cli *cli)
{
	size_t i;

	for (i = 0; i < cli->npolicies; i++)
		free(cli->policies[i].table);
	free(cli->policies);
	cli->policies = NULL;
	cli->npolicies = 0;
}

/*
 * Split a command's arguments into options and operands. The global
 * options are accepted after the command too, so `dbsync pending --db
 * app.db` works. Returns EXIT_OK, or the exit code of a usage error
 * (already reported).
 */
static int parse_args(struct cli *cli, const struct command *cmd, int argc,
		      char **argv, const char **operands, int *noperands)
{
	int i, status = EXIT_OK, only_operands = 0;

	*noperands = 0;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = NULL;

		if (only_operands || a[0] != '-' || a[1] == '\0') {
			operands[(*noperands)++] = a;
		} else if (strcmp(a, "--") == 0) {
			only_operands = 1;
		} else if (global_option(cli, cmd->name, argc, argv, &i,
					 &status)) {
			if (status != EXIT_OK)
				return status;
		} else if ((cmd->options & OPT_DIRECTION) &&
			   take_value(cli, cmd->name, argc, argv, &i,
				      "--direction", "both, push or pull", &v,
				      &status)) {
			if (status != EXIT_OK)
				return status;
			if (parse_direction(v, &cli->direction) != 0)
				return usage_error(
					cli, cmd->name,
					"unknown direction '%s' (expected both, push or pull)",
					v);
		} else if ((cmd->options & OPT_TOKEN) &&
			   take_value(cli, cmd->name, argc, argv, &i,
				      "--token-file", "a FILE", &v, &status)) {
			if (status != EXIT_OK)
				return status;
			cli->token_file = v;
		} else if ((cmd->options & OPT_TOKEN) &&
			   take_value(cli, cmd->name, argc, argv, &i, "--token",
				      "a TOKEN", &v, &status)) {
			if (status != EXIT_OK)
				return status;
			cli->token = v;
		} else if ((cmd->options & OPT_PAGE_SIZE) &&
			   take_value(cli, cmd->name, argc, argv, &i,
				      "--page-size", "a number N", &v,
				      &status)) {
			if (status != EXIT_OK)
				return status;
			if (parse_page_size(v, &cli->page_size) != 0)
				return usage_error(
					cli, cmd->name,
					"--page-size: '%s' is not a number "
					"from 1 to 1000000000",
					v);
		} else if ((cmd->options & OPT_POLICY) &&
			   take_value(cli, cmd->name, argc, argv, &i,
				      "--policy", "a POLICY", &v, &status)) {
			if (status != EXIT_OK)
				return status;
			status = add_policy(cli, cmd->name, v);
			if (status != EXIT_OK)
				return status;
		} else {
			return usage_error(cli, cmd->name,
					   "unknown option '%s'", a);
		}
	}
	if (cmd->operands && *noperands == 0)
		return usage_error(cli, cmd->name, "%s: missing TABLE",
				   cmd->name);
	if (!cmd->operands && *noperands > 0)
		return usage_error(cli, cmd->name,
				   "%s: unexpected argument '%s'", cmd->name,
				   operands[0]);
	if (cli->token != NULL && cli->token_file != NULL)
		return usage_error(cli, cmd->name,
				   "--token and --token-file cannot be used "
				   "together");
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

/* ---- local commands ---------------------------------------------------- */

static int cmd_track(struct cli *cli, const struct command *self,
		     const char **tables, int ntables)
{
	dbsync_direction direction = cli->direction;
	dbsync_client *client;
	int i, rc, status;

	(void)self;
	status = open_client(cli, &client);
	if (status != EXIT_OK)
		return status;

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
	return status;
}

/* Pending operations of one table, or of all when `table` is NULL. */
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
		if (table == NULL ||
		    same_identifier(dbsync_oplist_table(ops, i), table))
			(*count)++;
	dbsync_oplist_free(ops);
	return DBSYNC_OK;
}

static int cmd_untrack(struct cli *cli, const struct command *self,
		       const char **tables, int ntables)
{
	dbsync_client *client;
	int i, rc, status;

	(void)self;
	status = open_client(cli, &client);
	if (status != EXIT_OK)
		return status;

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
			       tables[i], dropped, plural(dropped));
		}
	}
	if (status == EXIT_OK && cli->json)
		fputs("]}\n", stdout);
	dbsync_client_free(client);
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

/* ---- progress ---------------------------------------------------------- */

/*
 * The library reports progress two ways (dbsync_client_on_progress): bytes
 * moved by the request under way (operations 0), and after each pull or
 * repair page the operations received so far by that pull (bytes 0). This
 * keeps the totals for the report and, when stderr is a terminal, draws a
 * one-line bar there — only once a transfer is long (a second page, or
 * half a second), and erased when it ends. Without a terminal nothing is
 * drawn.
 */
struct progress {
	const char *label;
	int tty;
	int shown;
	double start, last_draw;
	uint64_t ops, ops_base;	    /* this pull's count; finished pulls' */
	uint64_t bytes, bytes_base; /* this request's bytes; earlier ones' */
	uint64_t pages;
	unsigned frame;
};

#define BAR_WIDTH 24

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_init(struct progress *p, const char *label)
{
	memset(p, 0, sizeof(*p));
	p->label = label;
	p->tty = isatty(STDERR_FILENO);
	p->start = now_seconds();
}

/* Operations received by every pull or repair of the command. */
static uint64_t progress_ops(const struct progress *p)
{
	return p->ops_base + p->ops;
}

static void human_size(uint64_t n, char *buf, size_t size)
{
	if (n < 1024)
		snprintf(buf, size, "%" PRIu64 " B", n);
	else if (n < 1024 * 1024)
		snprintf(buf, size, "%.1f KiB", (double)n / 1024);
	else if (n < (uint64_t)1024 * 1024 * 1024)
		snprintf(buf, size, "%.1f MiB", (double)n / (1024 * 1024));
	else
		snprintf(buf, size, "%.1f GiB",
			 (double)n / (1024.0 * 1024 * 1024));
}

static void progress_draw(struct progress *p, uint64_t ops_total, double now)
{
	char bar[BAR_WIDTH + 1], size[32], count[64];
	uint64_t ops = progress_ops(p);
	int k;

	if (ops_total > 0) {
		/* A real bar when the library knows the total. */
		int filled = ops >= ops_total
				     ? BAR_WIDTH
				     : (int)(ops * BAR_WIDTH / ops_total);
		for (k = 0; k < BAR_WIDTH; k++)
			bar[k] = k < filled ? '#' : '-';
		snprintf(count, sizeof(count),
			 "%" PRIu64 "/%" PRIu64 " operations", ops, ops_total);
	} else {
		/* Otherwise a block going back and forth: still alive. */
		int span = BAR_WIDTH - 4;
		int pos = (int)(p->frame % (unsigned)(2 * span));

		if (pos > span)
			pos = 2 * span - pos;
		for (k = 0; k < BAR_WIDTH; k++)
			bar[k] = k >= pos && k < pos + 4 ? '=' : ' ';
		snprintf(count, sizeof(count), "%" PRIu64 " operation%s", ops,
			 plural(ops));
	}
	bar[BAR_WIDTH] = '\0';
	human_size(p->bytes_base + p->bytes, size, sizeof(size));
	fprintf(stderr, "\r%s [%s] %s, %s\033[K", p->label, bar, count, size);
	fflush(stderr);
	p->shown = 1;
	p->last_draw = now;
	p->frame++;
}

static int on_progress(uint64_t bytes_done, uint64_t bytes_total,
		       uint64_t ops_done, uint64_t ops_total, void *payload)
{
	struct progress *p = payload;
	int page = 0;
	double now;

	(void)bytes_total;
	if (ops_done > 0) {
		/* A page. A count going down is the next pull of a sync. */
		if (ops_done < p->ops)
			p->ops_base += p->ops;
		p->ops = ops_done;
		p->pages++;
		page = 1;
	} else {
		/* Bytes of the request under way; a new request restarts. */
		if (bytes_done < p->bytes)
			p->bytes_base += p->bytes;
		p->bytes = bytes_done;
	}
	if (!p->tty)
		return 0;
	now = now_seconds();
	if (p->pages < 2 && now - p->start < 0.5)
		return 0; /* short so far: no bar */
	if (!page && p->shown && now - p->last_draw < 0.1)
		return 0; /* at most ten redraws a second for bytes */
	progress_draw(p, ops_total, now);
	return 0;
}

/* Erase the bar, so the report that follows starts on a clean line. */
static void progress_end(struct progress *p)
{
	if (p->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		p->shown = 0;
	}
}

/* ---- talking to the server --------------------------------------------- */

static const char *server_url(const struct cli *cli)
{
	const char *env;

	if (cli->server != NULL)
		return cli->server;
	env = getenv("DBSYNC_SERVER");
	return env != NULL && env[0] != '\0' ? env : NULL;
}

/*
 * Hand the --policy choices to the handle, in command-line order. Each
 * table must be tracked: a policy for a misspelt name would silently
 * decide nothing.
 */
static int set_policies(const struct cli *cli, const struct command *cmd,
			dbsync_client *client)
{
	const struct policy_choice *c;
	int rc;

	for (c = cli->policies; c < cli->policies + cli->npolicies; c++) {
		if (c->table != NULL) {
			rc = dbsync_client_is_tracked(client, c->table, NULL);
			if (rc < 0)
				return fail_client(cli, client, rc, c->table,
						   "{");
			if (rc == 0)
				return usage_error(cli, cmd->name,
						   "--policy: '%s' is not a "
						   "tracked table",
						   c->table);
		}
		rc = dbsync_client_set_policy(client, c->table, c->policy);
		if (rc != DBSYNC_OK)
			return fail_client(cli, client, rc, c->table, "{");
	}
	return EXIT_OK;
}

/*
 * Open the client database and point it at the server, for the commands
 * that talk to it: --server (or DBSYNC_SERVER) is required, --ca-file must
 * exist. `progress` (may be NULL) receives the library's progress reports.
 */
static int open_for_server(struct cli *cli, const struct command *cmd,
			   dbsync_client **out, struct progress *progress)
{
	const char *url = server_url(cli);
	char message[1024];
	struct stat st;
	int rc, status;

	*out = NULL;
	if (url == NULL)
		return usage_error(cli, cmd->name,
				   "--server URL is required (or set "
				   "DBSYNC_SERVER)");
	if (cli->ca_file != NULL && stat(cli->ca_file, &st) != 0) {
		snprintf(message, sizeof(message), "--ca-file %s: %s",
			 cli->ca_file, strerror(errno));
		return fail(cli, errno == ENOENT ? DBSYNC_NOT_FOUND : DBSYNC_ERROR,
			    message);
	}
	status = open_client(cli, out);
	if (status != EXIT_OK)
		return status;
	rc = dbsync_client_set_server(*out, url);
	if (rc != DBSYNC_OK) {
		snprintf(message, sizeof(message), "--server %s: %s", url,
			 dbsync_client_error_message(*out));
		status = usage_error(cli, cmd->name, "%s", message);
		dbsync_client_free(*out);
		*out = NULL;
		return status;
	}
	if (cli->ca_file != NULL)
		rc = dbsync_client_set_ca_file(*out, cli->ca_file);
	if (rc == DBSYNC_OK && cli->page_size > 0)
		rc = dbsync_client_set_page_size(*out, cli->page_size);
	if (rc == DBSYNC_OK && progress != NULL)
		rc = dbsync_client_on_progress(*out, on_progress, progress);
	if (rc != DBSYNC_OK)
		status = fail_client(cli, *out, rc, NULL, "{");
	else
		status = set_policies(cli, cmd, *out);
	if (status != EXIT_OK) {
		dbsync_client_free(*out);
		*out = NULL;
	}
	return status;
}

/*
 * The host and port of an http:// or https:// URL (default port 80 or
 * 443), for status's reachability check. A user@ part is skipped; an IPv6
 * address is written in brackets. -1 if the URL is not of that shape.
 */
static int url_host_port(const char *url, char *host, size_t host_size,
			 char *port, size_t port_size)
{
	const char *p, *end, *h, *h_end, *rest, *k;
	const char *default_port;

	if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
		default_port = "80";
	} else if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		default_port = "443";
	} else {
		return -1;
	}
	end = p + strcspn(p, "/?#");
	for (k = p; k < end; k++)
		if (*k == '@')
			p = k + 1;
	if (*p == '[') {
		h = p + 1;
		h_end = memchr(h, ']', (size_t)(end - h));
		if (h_end == NULL)
			return -1;
		rest = h_end + 1;
	} else {
		h = p;
		h_end = memchr(p, ':', (size_t)(end - p));
		if (h_end == NULL)
			h_end = end;
		rest = h_end;
	}
	if (h_end == h || (size_t)(h_end - h) >= host_size)
		return -1;
	memcpy(host, h, (size_t)(h_end - h));
	host[h_end - h] = '\0';
	if (rest == end) {
		snprintf(port, port_size, "%s", default_port);
		return 0;
	}
	if (*rest != ':' || end - rest < 2 || end - rest > 6 ||
	    (size_t)(end - rest) > port_size)
		return -1;
	for (k = rest + 1; k < end; k++)
		if (*k < '0' || *k > '9')
			return -1;
	memcpy(port, rest + 1, (size_t)(end - rest - 1));
	port[end - rest - 1] = '\0';
	if (atoi(port) < 1 || atoi(port) > 65535)
		return -1;
	return 0;
}

#define REACH_TIMEOUT_MS 2000

struct reach {
	int reachable;
	long ms;
	char address[300]; /* host:port */
	char error[300];
};

/*
 * Whether a TCP connection to the server's host and port opens within 2 s
 * (for every address the name resolves to, in turn, within that budget).
 * Only the connection: no TLS, no HTTP, nothing is sent. The name lookup
 * itself is not bounded by the timeout.
 */
static void check_reachable(const char *url, struct reach *r)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], port[8];
	double start = now_seconds();
	int rc;

	memset(r, 0, sizeof(*r));
	if (url_host_port(url, host, sizeof(host), port, sizeof(port)) != 0) {
		snprintf(r->error, sizeof(r->error),
			 "cannot find a host and port in the URL");
		return;
	}
	if (strchr(host, ':') != NULL)
		snprintf(r->address, sizeof(r->address), "[%s]:%s", host, port);
	else
		snprintf(r->address, sizeof(r->address), "%s:%s", host, port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		snprintf(r->error, sizeof(r->error), "%s: %s", host,
			 gai_strerror(rc));
		return;
	}
	for (ai = res; ai != NULL && !r->reachable; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		int left, err = 0;
		socklen_t len = sizeof(err);
		struct pollfd pfd;

		if (fd < 0) {
			snprintf(r->error, sizeof(r->error), "%s",
				 strerror(errno));
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			r->reachable = 1;
		} else if (errno != EINPROGRESS) {
			snprintf(r->error, sizeof(r->error), "%s",
				 strerror(errno));
		} else {
			left = REACH_TIMEOUT_MS -
			       (int)((now_seconds() - start) * 1000);
			pfd.fd = fd;
			pfd.events = POLLOUT;
			pfd.revents = 0;
			rc = left > 0 ? poll(&pfd, 1, left) : 0;
			if (rc == 0)
				snprintf(r->error, sizeof(r->error),
					 "no connection within %d s",
					 REACH_TIMEOUT_MS / 1000);
			else if (rc < 0)
				snprintf(r->error, sizeof(r->error), "%s",
					 strerror(errno));
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
					    &len) != 0)
				snprintf(r->error, sizeof(r->error), "%s",
					 strerror(errno));
			else if (err != 0)
				snprintf(r->error, sizeof(r->error), "%s",
					 strerror(err));
			else
				r->reachable = 1;
		}
		close(fd);
		if (now_seconds() - start >= REACH_TIMEOUT_MS / 1000.0)
			break;
	}
	freeaddrinfo(res);
	if (r->reachable)
		r->error[0] = '\0';
	r->ms = (long)((now_seconds() - start) * 1000);
}

/* ---- server commands --------------------------------------------------- */

/* The latest merged server version: 1 and *v, 0 if none yet, or < 0. */
static int latest_version(dbsync_client *client, int64_t *v)
{
	*v = 0;
	return dbsync_client_latest_version(client, v);
}

static void print_version_json(int has, int64_t v)
{
	if (has > 0)
		printf("%" PRId64, v);
	else
		fputs("null", stdout);
}

static void print_version_human(int has, int64_t v)
{
	if (has > 0)
		printf("version %" PRId64, v);
	else
		fputs("no version yet", stdout);
}

/* " (was 3)" or " (was none)": the version before the command. */
static void print_was_human(int had, int64_t v)
{
	if (had > 0)
		printf(" (was %" PRId64 ")", v);
	else
		fputs(" (was none)", stdout);
}

/* The first line of a token file, without its line end. */
static int read_token_file(const struct cli *cli, const struct command *self,
			   char *buf, size_t size)
{
	char message[1024];
	FILE *f = fopen(cli->token_file, "r");
	size_t n;

	if (f == NULL) {
		snprintf(message, sizeof(message), "--token-file %s: %s",
			 cli->token_file, strerror(errno));
		return fail(cli, errno == ENOENT ? DBSYNC_NOT_FOUND : DBSYNC_ERROR,
			    message);
	}
	if (fgets(buf, (int)size, f) == NULL)
		buf[0] = '\0';
	fclose(f);
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == size - 1)
		return usage_error(cli, self->name,
				   "--token-file %s: the token is too long",
				   cli->token_file);
	buf[n] = '\0';
	if (n == 0)
		return usage_error(cli, self->name,
				   "--token-file %s: the first line is empty",
				   cli->token_file);
	return EXIT_OK;
}

static int cmd_register(struct cli *cli, const struct command *self,
			const char **operands, int noperands)
{
	static char file_token[4096];
	const char *token = cli->token;
	dbsync_client *client;
	int64_t before = 0, node = 0;
	int was, rc, status;

	(void)operands;
	(void)noperands;
	if (cli->token_file != NULL) {
		status = read_token_file(cli, self, file_token,
					 sizeof(file_token));
		if (status != EXIT_OK)
			return status;
		token = file_token;
	}
	status = open_for_server(cli, self, &client, NULL);
	if (status != EXIT_OK)
		return status;
	was = dbsync_client_node_id(client, &before);
	rc = was < 0 ? was : dbsync_client_register(client, token);
	if (rc == DBSYNC_OK)
		rc = dbsync_client_node_id(client, &node) == 1 ? DBSYNC_OK
							       : DBSYNC_ERROR;
	if (rc != DBSYNC_OK) {
		status = fail_server(cli, rc,
				     dbsync_client_error_message(client), "{");
	} else if (cli->json) {
		printf("{\"registered\": true, \"node_id\": %" PRId64
		       ", \"previous_node_id\": ",
		       node);
		print_version_json(was, before);
		fputs(", \"server\": ", stdout);
		json_str(server_url(cli));
		fputs("}\n", stdout);
	} else {
		printf("registered with %s as node %" PRId64, server_url(cli),
		       node);
		if (was > 0)
			printf(" (replacing node %" PRId64 ")", before);
		putchar('\n');
	}
	dbsync_client_free(client);
	return status;
}

/* ---- conflicts ----------------------------------------------------------
 * What the pulls of pull and sync met (dbsync_client_conflicts,
 * docs/conflicts.md). The JSON names are the library's enum names in
 * lowercase; docs/cli.md lists them, and scripts rely on them. */

struct named {
	int value;
	const char *json;
	const char *human;
};

static const struct named conflict_kinds[] = {
	{DBSYNC_CONFLICT_UPDATE_UPDATE, "update_update", "u/u"},
	{DBSYNC_CONFLICT_UPDATE_DELETE, "update_delete", "u/d"},
	{DBSYNC_CONFLICT_DELETE_UPDATE, "delete_update", "d/u"},
	{DBSYNC_CONFLICT_DELETE_DELETE, "delete_delete", "d/d"},
	{DBSYNC_CONFLICT_DEPENDENCY, "dependency", "dependency"},
	{DBSYNC_CONFLICT_REVERSED_DEPENDENCY, "reversed_dependency",
	 "reversed dependency"},
	{DBSYNC_CONFLICT_INSERT_INSERT, "insert_insert", "i/i"},
	{DBSYNC_CONFLICT_UNIQUE, "unique", "unique"},
};

static const struct named resolutions[] = {
	{DBSYNC_RESOLUTION_KEEP_LOCAL, "keep_local", "kept local"},
	{DBSYNC_RESOLUTION_TAKE_REMOTE, "take_remote", "took remote"},
	{DBSYNC_RESOLUTION_KEEP_BOTH, "keep_both",
	 "kept both (the local row moved to a new key)"},
	{DBSYNC_RESOLUTION_MERGED, "merged", "merged"},
};

/* NULL for a value the table does not name (a resolution of 0: none). */
static const struct named *named_find(const struct named *t, size_t n,
				      int value)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].value == value)
			return &t[i];
	return NULL;
}

#define NAMED(table, value) \
	named_find(table, sizeof(table) / sizeof(*(table)), value)

static void print_named_json(const struct named *name)
{
	if (name != NULL)
		printf("\"%s\"", name->json);
	else
		fputs("null", stdout);
}

/* Nothing when there are none, so a quiet pull stays one line. */
static void print_conflicts_human(const dbsync_oplist *list)
{
	size_t i, k, ncols, n = dbsync_oplist_count(list);

	if (n == 0)
		return;
	printf("conflicts: %zu\n", n);
	for (i = 0; i < n; i++) {
		int kind = dbsync_oplist_conflict_kind(list, i);
		const struct named *kind_name = NAMED(conflict_kinds, kind);
		const struct named *resolution =
			NAMED(resolutions, dbsync_oplist_resolution(list, i));

		printf("  %s %s ",
		       kind_name != NULL ? kind_name->human : "conflict",
		       dbsync_oplist_table(list, i));
		print_pk_human(list, i);
		if (kind != DBSYNC_CONFLICT_UNIQUE) {
			printf(": %s\n", resolution != NULL ? resolution->human
							    : "resolved");
			continue;
		}
		/* A unique entry names the local row in the way: only the
		 * user can say what its values should become. */
		ncols = dbsync_oplist_conflict_column_count(list, i);
		for (k = 0; k < ncols; k++)
			printf("%s%s", k ? ", " : " (",
			       dbsync_oplist_conflict_column(list, i, k));
		printf("%s: your row holds %s the server's rows need; change "
		       "%s and sync again\n",
		       ncols > 0 ? ")" : "",
		       ncols > 1 ? "values" : "a value",
		       ncols > 1 ? "them" : "it");
	}
}

/* The member `"conflicts": [...]`, for the caller's document. */
static void print_conflicts_json(const dbsync_oplist *list)
{
	size_t i, k, ncols, n = dbsync_oplist_count(list);

	fputs("\"conflicts\": [", stdout);
	for (i = 0; i < n; i++) {
		int kind = dbsync_oplist_conflict_kind(list, i);
		char remote = dbsync_oplist_command(list, i);

		fputs(i ? ", {\"kind\": " : "{\"kind\": ", stdout);
		print_named_json(NAMED(conflict_kinds, kind));
		fputs(", \"table\": ", stdout);
		json_str(dbsync_oplist_table(list, i));
		printf(", \"pk_type\": \"%s\", \"pk\": ",
		       type_name(dbsync_oplist_pk_type(list, i)));
		print_pk_json(list, i);
		if (remote >= 'a' && remote <= 'z')
			printf(", \"remote\": \"%c\"", remote);
		else
			fputs(", \"remote\": null", stdout);
		if (kind == DBSYNC_CONFLICT_UNIQUE) {
			ncols = dbsync_oplist_conflict_column_count(list, i);
			fputs(", \"columns\": [", stdout);
			for (k = 0; k < ncols; k++) {
				if (k)
					fputs(", ", stdout);
				json_str(dbsync_oplist_conflict_column(list, i,
								       k));
			}
			putchar(']');
		}
		fputs(", \"resolution\": ", stdout);
		print_named_json(
			NAMED(resolutions, dbsync_oplist_resolution(list, i)));
		putchar('}');
	}
	putchar(']');
}

/* ---- running a server command -------------------------------------------
 * push, pull, sync and repair share one frame: open for the server, note
 * the version and pending count, make the library call under a progress
 * bar, note them again and take the conflicts the call met. A failure is
 * reported by the frame; each command prints only its own report. */

struct server_run {
	dbsync_client *client;
	struct progress progress; /* the library holds its address */
	int had, has; /* latest_version() before and after the call */
	int64_t version_before, version_after;
	size_t pending_before, pending_after;
	uint64_t received;	  /* operations pulled; rows for a repair */
	dbsync_oplist *conflicts; /* of the commands that merge */
};

static void server_run_free(struct server_run *run)
{
	dbsync_oplist_free(run->conflicts);
	dbsync_client_free(run->client);
}

/* The commands that merge pulled changes take --policy; they are also the
 * ones with conflicts to report. */
static int merges(const struct command *cmd)
{
	return (cmd->options & OPT_POLICY) != 0;
}

/*
 * The failure of the call, or of reading the state after it. The conflicts
 * met are listed first, on stdout (in the error's JSON document): the pages
 * pulled before the failure stay merged, and a unique collision is the
 * very reason for the failure.
 */
static int fail_run(const struct cli *cli, const struct command *self,
		    struct server_run *run, int code)
{
	char message[1024];

	/* Taking the conflicts is a call on the handle: it clears the
	 * failure's message. */
	snprintf(message, sizeof(message), "%s",
		 dbsync_client_error_message(run->client));
	/* Without them (out of memory) the error is still reported. */
	if (merges(self) && run->conflicts == NULL)
		(void)dbsync_client_conflicts(&run->conflicts, run->client);
	if (dbsync_oplist_count(run->conflicts) == 0)
		return fail_server(cli, code, message, "{");
	if (!cli->json) {
		print_conflicts_human(run->conflicts);
		return fail_server(cli, code, message, "{");
	}
	putchar('{');
	print_conflicts_json(run->conflicts);
	return fail_server(cli, code, message, ", ");
}

/* EXIT_OK with `run` to report and free (server_run_free), or the exit
 * code of a failure already reported. */
static int run_server_command(struct cli *cli, const struct command *self,
			      int (*call)(dbsync_client *client),
			      struct server_run *run)
{
	int rc, status;

	memset(run, 0, sizeof(*run));
	progress_init(&run->progress, self->name);
	status = open_for_server(cli, self, &run->client, &run->progress);
	if (status != EXIT_OK)
		return status;
	run->had = latest_version(run->client, &run->version_before);
	rc = run->had < 0 ? run->had
			  : count_pending(run->client, NULL,
					  &run->pending_before);
	if (rc == DBSYNC_OK)
		rc = call(run->client);
	progress_end(&run->progress);
	run->received = progress_ops(&run->progress);
	if (rc == DBSYNC_OK) {
		run->has = latest_version(run->client, &run->version_after);
		rc = run->has < 0 ? run->has
				  : count_pending(run->client, NULL,
						  &run->pending_after);
	}
	if (rc == DBSYNC_OK && merges(self))
		rc = dbsync_client_conflicts(&run->conflicts, run->client);
	if (rc != DBSYNC_OK) {
		status = fail_run(cli, self, run, rc);
		server_run_free(run);
	}
	return status;
}

static int cmd_push(struct cli *cli, const struct command *self,
		    const char **operands, int noperands)
{
	struct server_run run;
	int status;

	(void)operands;
	(void)noperands;
	status = run_server_command(cli, self, dbsync_client_push, &run);
	if (status != EXIT_OK)
		return status;
	if (cli->json) {
		printf("{\"pushed\": %zu, \"latest_version\": ",
		       run.pending_before);
		print_version_json(run.has, run.version_after);
		printf(", \"pending\": %zu}\n", run.pending_after);
	} else {
		if (run.pending_before > 0)
			printf("pushed %zu operation%s; now at ",
			       run.pending_before, plural(run.pending_before));
		else
			fputs("nothing to push; at ", stdout);
		print_version_human(run.has, run.version_after);
		putchar('\n');
		if (run.pending_after > 0)
			printf("%zu operation%s written meanwhile still "
			       "pending\n",
			       run.pending_after, plural(run.pending_after));
	}
	server_run_free(&run);
	return EXIT_OK;
}

static int cmd_pull(struct cli *cli, const struct command *self,
		    const char **operands, int noperands)
{
	struct server_run run;
	int status;

	(void)operands;
	(void)noperands;
	status = run_server_command(cli, self, dbsync_client_pull, &run);
	if (status != EXIT_OK)
		return status;
	if (cli->json) {
		printf("{\"pulled\": %" PRIu64 ", \"latest_version\": ",
		       run.received);
		print_version_json(run.has, run.version_after);
		fputs(", \"previous_version\": ", stdout);
		print_version_json(run.had, run.version_before);
		fputs(", ", stdout);
		print_conflicts_json(run.conflicts);
		fputs("}\n", stdout);
	} else if (run.received == 0 && run.has == run.had &&
		   run.version_after == run.version_before) {
		fputs("already up to date (", stdout);
		print_version_human(run.has, run.version_after);
		fputs(")\n", stdout);
	} else {
		printf("pulled %" PRIu64 " operation%s; now at ", run.received,
		       plural(run.received));
		print_version_human(run.has, run.version_after);
		print_was_human(run.had, run.version_before);
		putchar('\n');
		print_conflicts_human(run.conflicts);
	}
	server_run_free(&run);
	return EXIT_OK;
}

/* Push; when the server is ahead (pull required) pull, then push again:
 * the library's loop, with its repair when a pull needs one, and its
 * default number of rounds. */
static int sync_rounds(dbsync_client *client)
{
	return dbsync_client_sync(client, 0);
}

static int cmd_sync(struct cli *cli, const struct command *self,
		    const char **operands, int noperands)
{
	struct server_run run;
	int status;

	(void)operands;
	(void)noperands;
	status = run_server_command(cli, self, sync_rounds, &run);
	if (status != EXIT_OK)
		return status;
	if (cli->json) {
		printf("{\"pushed\": %zu, \"pulled\": %" PRIu64
		       ", \"latest_version\": ",
		       run.pending_before, run.received);
		print_version_json(run.has, run.version_after);
		fputs(", \"previous_version\": ", stdout);
		print_version_json(run.had, run.version_before);
		printf(", \"pending\": %zu, ", run.pending_after);
		print_conflicts_json(run.conflicts);
		fputs("}\n", stdout);
	} else {
		if (run.received > 0)
			printf("the server was ahead (pull required): pulled "
			       "%" PRIu64 " operation%s first\n",
			       run.received, plural(run.received));
		print_conflicts_human(run.conflicts);
		if (run.pending_before > 0)
			printf("pushed %zu operation%s\n", run.pending_before,
			       plural(run.pending_before));
		else
			fputs("nothing to push\n", stdout);
		fputs("in sync at ", stdout);
		print_version_human(run.has, run.version_after);
		print_was_human(run.had, run.version_before);
		if (run.pending_after > 0)
			printf("; %zu operation%s written meanwhile still "
			       "pending\n",
			       run.pending_after, plural(run.pending_after));
		else
			fputs(", nothing pending\n", stdout);
	}
	server_run_free(&run);
	return EXIT_OK;
}

static int cmd_repair(struct cli *cli, const struct command *self,
		      const char **operands, int noperands)
{
	struct server_run run;
	int status;

	(void)operands;
	(void)noperands;
	status = run_server_command(cli, self, dbsync_client_repair, &run);
	if (status != EXIT_OK)
		return status;
	if (cli->json) {
		printf("{\"repaired\": true, \"rows\": %" PRIu64
		       ", \"latest_version\": ",
		       run.received);
		print_version_json(run.has, run.version_after);
		printf(", \"pending\": %zu}\n", run.pending_after);
	} else {
		printf("repaired: the tracked tables hold the server's copy "
		       "(%" PRIu64 " row%s received) at ",
		       run.received, plural(run.received));
		print_version_human(run.has, run.version_after);
		putchar('\n');
		if (run.pending_after > 0)
			printf("%zu pending operation%s kept (local rows "
			       "unchanged, still to push)\n",
			       run.pending_after, plural(run.pending_after));
	}
	server_run_free(&run);
	return EXIT_OK;
}

/* ---- status ------------------------------------------------------------ */

struct table_status {
	char *name;
	int tracked;
	dbsync_direction direction;
	size_t pending;
};

struct tables_status {
	struct table_status *t;
	size_t n;
};

static void tables_status_free(struct tables_status *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++)
		free(ts->t[i].name);
	free(ts->t);
	ts->t = NULL;
	ts->n = 0;
}

static int tables_status_add(struct tables_status *ts, const char *name,
			     int tracked, dbsync_direction direction)
{
	struct table_status *p = realloc(ts->t, (ts->n + 1) * sizeof(*p));

	if (p == NULL)
		return DBSYNC_NOMEM;
	ts->t = p;
	p[ts->n].name = strdup(name);
	if (p[ts->n].name == NULL)
		return DBSYNC_NOMEM;
	p[ts->n].tracked = tracked;
	p[ts->n].direction = direction;
	p[ts->n].pending = 0;
	ts->n++;
	return DBSYNC_OK;
}

/*
 * The tracked tables with their direction and pending count. The public API
 * has no list of tracked tables, so the user tables are read from the
 * schema (on a read-only connection of our own) and each is asked
 * dbsync_client_is_tracked. Pending operations of a table no longer in the
 * schema are listed too, as not tracked.
 */
static int collect_tables(const struct cli *cli, dbsync_client *client,
			  struct tables_status *ts, char *message,
			  size_t message_size)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	dbsync_oplist *ops = NULL;
	size_t i, k, n;
	int rc = DBSYNC_OK, src;

	message[0] = '\0';
	src = sqlite3_open_v2(cli->db, &db, SQLITE_OPEN_READONLY, NULL);
	if (src == SQLITE_OK)
		sqlite3_busy_timeout(db, 10000);
	if (src == SQLITE_OK)
		src = sqlite3_prepare_v2(
			db,
			"SELECT name FROM sqlite_master WHERE type = 'table'"
			" AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
			" AND name NOT LIKE 'dbsync\\_%' ESCAPE '\\'"
			" ORDER BY name",
			-1, &st, NULL);
	while (src == SQLITE_OK && rc == DBSYNC_OK &&
	       (src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		dbsync_direction d = DBSYNC_DIRECTION_BOTH;
		int tracked;

		src = SQLITE_OK;
		if (name == NULL)
			continue;
		tracked = dbsync_client_is_tracked(client, name, &d);
		if (tracked < 0)
			rc = tracked;
		else if (tracked)
			rc = tables_status_add(ts, name, 1, d);
	}
	if (src != SQLITE_OK && src != SQLITE_DONE && rc == DBSYNC_OK) {
		snprintf(message, message_size, "%s: cannot list the tables: %s",
			 cli->db, db ? sqlite3_errmsg(db) : "out of memory");
		rc = src == SQLITE_BUSY || src == SQLITE_LOCKED ? DBSYNC_BUSY
								 : DBSYNC_DB;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (rc == DBSYNC_OK)
		rc = dbsync_client_pending(&ops, client);
	n = rc == DBSYNC_OK ? dbsync_oplist_count(ops) : 0;
	for (i = 0; i < n && rc == DBSYNC_OK; i++) {
		const char *table = dbsync_oplist_table(ops, i);

		for (k = 0; k < ts->n; k++)
			if (same_identifier(ts->t[k].name, table))
				break;
		if (k == ts->n)
			rc = tables_status_add(ts, table, 0,
					       DBSYNC_DIRECTION_BOTH);
		if (rc == DBSYNC_OK)
			ts->t[k].pending++;
	}
	dbsync_oplist_free(ops);
	return rc;
}

static int cmd_status(struct cli *cli, const struct command *self,
		      const char **operands, int noperands)
{
	struct tables_status ts = {NULL, 0};
	struct reach reach;
	dbsync_client *client;
	const char *url = server_url(cli);
	char message[1200];
	int64_t node = 0, version = 0;
	int registered, has, rc, status;
	size_t i, pending = 0;
	int wname = (int)strlen("TABLE");

	(void)operands;
	(void)noperands;
	status = open_client(cli, &client);
	if (status != EXIT_OK)
		return status;
	/* A URL the library would refuse is a usage error here too. */
	if (url != NULL && (rc = dbsync_client_set_server(client, url)) != 0) {
		snprintf(message, sizeof(message), "--server %s: %s", url,
			 dbsync_client_error_message(client));
		dbsync_client_free(client);
		return usage_error(cli, self->name, "%s", message);
	}
	registered = dbsync_client_node_id(client, &node);
	has = registered < 0 ? registered : latest_version(client, &version);
	rc = has < 0 ? has
		     : collect_tables(cli, client, &ts, message,
				      sizeof(message));
	if (rc != DBSYNC_OK) {
		status = message[0] ? fail(cli, rc, message)
				    : fail_client(cli, client, rc, NULL, "{");
		tables_status_free(&ts);
		dbsync_client_free(client);
		return status;
	}
	for (i = 0; i < ts.n; i++) {
		pending += ts.t[i].pending;
		if ((int)strlen(ts.t[i].name) > wname)
			wname = (int)strlen(ts.t[i].name);
	}
	if (url != NULL)
		check_reachable(url, &reach);

	if (cli->json) {
		fputs("{\"database\": ", stdout);
		json_str(cli->db);
		printf(", \"registered\": %s, \"node_id\": ",
		       registered ? "true" : "false");
		print_version_json(registered, node);
		fputs(", \"latest_version\": ", stdout);
		print_version_json(has, version);
		printf(", \"pending\": %zu, \"tables\": [", pending);
		for (i = 0; i < ts.n; i++) {
			fputs(i ? ", {\"table\": " : "{\"table\": ", stdout);
			json_str(ts.t[i].name);
			fputs(", \"direction\": ", stdout);
			if (ts.t[i].tracked)
				printf("\"%s\"",
				       direction_name(ts.t[i].direction));
			else
				fputs("null", stdout);
			printf(", \"pending\": %zu}", ts.t[i].pending);
		}
		fputs("], \"server\": {\"url\": ", stdout);
		if (url == NULL) {
			fputs("null, \"checked\": false, \"reachable\": null, "
			      "\"address\": null, \"error\": null}}\n",
			      stdout);
		} else {
			json_str(url);
			printf(", \"checked\": true, \"reachable\": %s, "
			       "\"address\": ",
			       reach.reachable ? "true" : "false");
			if (reach.address[0])
				json_str(reach.address);
			else
				fputs("null", stdout);
			fputs(", \"error\": ", stdout);
			if (reach.reachable)
				fputs("null", stdout);
			else
				json_str(reach.error);
			fputs("}}\n", stdout);
		}
	} else {
		printf("database: %s\n", cli->db);
		if (registered)
			printf("node:     %" PRId64 " (registered)\n", node);
		else
			fputs("node:     not registered\n", stdout);
		fputs("version:  ", stdout);
		if (has)
			printf("%" PRId64 "\n", version);
		else
			fputs("none yet (never synced)\n", stdout);
		printf("pending:  %zu operation%s\n", pending, plural(pending));
		if (ts.n == 0) {
			fputs("tables:   none tracked\n", stdout);
		} else {
			printf("  %-*s  %-9s  %s\n", wname, "TABLE",
			       "DIRECTION", "PENDING");
			for (i = 0; i < ts.n; i++)
				printf("  %-*s  %-9s  %7zu\n", wname,
				       ts.t[i].name,
				       ts.t[i].tracked
					       ? direction_name(
							 ts.t[i].direction)
					       : "untracked",
				       ts.t[i].pending);
		}
		if (url == NULL)
			fputs("server:   not checked (no --server or "
			      "DBSYNC_SERVER)\n",
			      stdout);
		else if (reach.reachable)
			printf("server:   %s reachable (TCP connection to %s "
			       "in %ld ms)\n",
			       url, reach.address, reach.ms);
		else
			printf("server:   %s NOT reachable (%s%s%s)\n", url,
			       reach.address, reach.address[0] ? ": " : "",
			       reach.error);
	}
	tables_status_free(&ts);
	dbsync_client_free(client);
	return status;
}

static int cmd_pending(struct cli *cli, const struct command *self,
		       const char **operands, int noperands)
{
	dbsync_client *client;
	dbsync_oplist *ops;
	int rc, status;

	(void)self;
	(void)operands;
	(void)noperands;
	status = open_client(cli, &client);
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

static int cmd_compact(struct cli *cli, const struct command *self,
		       const char **operands, int noperands)
{
	dbsync_client *client;
	dbsync_oplist *ops = NULL;
	int rc, status;

	(void)self;
	(void)operands;
	(void)noperands;
	status = open_client(cli, &client);
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
			       count, plural(count));
	}
	dbsync_oplist_free(ops);
	dbsync_client_free(client);
	return status;
}

/* ---- the commands, help and main --------------------------------------- */

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
	 OPT_DIRECTION, 1, 0, cmd_track},
	{"untrack", "untrack TABLE...",
	 "Stop tracking each TABLE: remove its triggers and drop its pending\n"
	 "operations (the number dropped is printed). The table and its rows\n"
	 "are left as they are. Exit 3 if a table is not tracked.\n",
	 0, 1, 0, cmd_untrack},
	{"pending", "pending",
	 "List the operations waiting to be pushed, compressed to at most one\n"
	 "per row (an insert followed by updates is one insert; an insert\n"
	 "followed by a delete is nothing), in push order: sequence number,\n"
	 "table, operation and primary key. Reads only.\n",
	 0, 0, 0, cmd_pending},
	{"compact", "compact",
	 "Rewrite the operations log in its compressed form (at most one\n"
	 "entry per row), to bound its size between syncs. Safe while other\n"
	 "programs write to the database. Prints the pending count after.\n",
	 0, 0, 0, cmd_compact},
	{"status", "status",
	 "Show whether the database is registered (and its node id), the\n"
	 "latest server version it has merged, and the pending operations of\n"
	 "each tracked table. With --server (or DBSYNC_SERVER), also whether\n"
	 "the server is reachable: a plain TCP connection to the URL's host\n"
	 "and port, given 2 seconds; nothing is sent. Without a server that\n"
	 "line says 'not checked'. Reads only; exit 0 even when the server is\n"
	 "unreachable (the output says so).\n",
	 0, 0, 0, cmd_status},
	{"register", "register [--token TOKEN | --token-file FILE]",
	 "Register this database with the server as a new node and store the\n"
	 "node id and secret in it. A server whose registration policy wants\n"
	 "a token gets it from --token, or from the first line of FILE with\n"
	 "--token-file (which keeps it out of 'ps'). Registering again\n"
	 "replaces the node id (the output names the one replaced).\n"
	 "Refused registration or a wrong token: exit 10.\n",
	 OPT_TOKEN, 0, 1, cmd_register},
	{"push", "push",
	 "Send the pending operations to the server, exactly once. Exit 8\n"
	 "(pull required) when the server has versions this database has not\n"
	 "merged yet: run 'sync' (or pull, then push). Exit 9 if the database\n"
	 "is not registered.\n",
	 0, 0, 1, cmd_push},
	{"pull", "pull [--page-size N] [--policy POLICY]...",
	 "Fetch and merge every server version this database has not merged,\n"
	 "page by page, each page in one transaction; an interrupted pull\n"
	 "resumes where it stopped. A row changed both here (still pending)\n"
	 "and on the server is a conflict, resolved by the table's policy\n"
	 "(docs/conflicts.md); every conflict met is listed after the report.\n"
	 "\n"
	 "  --page-size N          at most N operations per page (the server\n"
	 "                         may cap it; default: the server's)\n"
	 "  --policy local-wins    the local change wins (default)\n"
	 "  --policy server-wins   the server's row wins, the local change is\n"
	 "                         dropped\n"
	 "  --policy TABLE=POLICY  that policy for one tracked table only\n"
	 "                         (repeatable)\n"
	 "\n"
	 "Exit 11 (repair required) when the server no longer has the history\n"
	 "this database needs: run 'repair'. Exit 12 when local rows hold\n"
	 "values that pulled rows need on a unique constraint: they are\n"
	 "listed, nothing is changed; change them and sync again.\n",
	 OPT_PAGE_SIZE | OPT_POLICY, 0, 1, cmd_pull},
	{"sync", "sync [--page-size N] [--policy POLICY]...",
	 "Push; when the server is ahead (pull required), pull and push again,\n"
	 "up to 5 rounds; a pull that needs a repair repairs first. The\n"
	 "output says what was pulled and pushed, and lists the conflicts\n"
	 "met. --page-size and --policy as for pull.\n",
	 OPT_PAGE_SIZE | OPT_POLICY, 0, 1, cmd_sync},
	{"repair", "repair [--page-size N]",
	 "Replace the tracked tables' contents with the server's copy, for\n"
	 "recovery or when the server trimmed history this database still\n"
	 "needed. Rows with pending local operations keep their local state\n"
	 "and stay pending. Staged first and swapped in one transaction: an\n"
	 "interrupted repair changes nothing. --page-size as for pull.\n",
	 OPT_PAGE_SIZE, 0, 1, cmd_repair},
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
	"   0  success\n"
	"   1  other error\n"
	"   2  usage error or invalid argument (a bad --policy, ...)\n"
	"   3  not found (database file, table, CA or token file)\n"
	"   4  schema: the table cannot be tracked (no primary key, ...)\n"
	"   5  database error (not a database, I/O, corrupt)\n"
	"   6  database busy: locked by another writer\n"
	"   7  network or TLS: the server cannot be reached, its certificate\n"
	"      is not trusted, or something else answered (HTTP error)\n"
	"   8  pull required: the server is ahead; run sync (or pull, then push)\n"
	"   9  not registered: run register first\n"
	"  10  auth: registration refused, or the server refused the node's\n"
	"      signature\n"
	"  11  repair required: the server trimmed history; run repair\n"
	"  12  conflict: the server refused the changes (conflict, unique\n"
	"      constraint, rejected by a server hook), or a pull met local\n"
	"      rows holding values that pulled rows need on a unique\n"
	"      constraint (listed; nothing changed)\n";

static const char options_help[] =
	"Options (before or after the command):\n"
	"  --db FILE        the client database (an existing SQLite file)\n"
	"  --server URL     the server, http:// or https:// (default: the\n"
	"                   DBSYNC_SERVER environment variable)\n"
	"  --ca-file FILE   PEM CA certificates to verify an https server with\n"
	"                   (default: the system's)\n"
	"  --json           print JSON on stdout instead of text\n"
	"  -h, --help       this help; 'dbsync COMMAND --help' for one command\n";

static void print_help(void)
{
	size_t i;

	printf("usage: dbsync --db FILE [--server URL] [--json] COMMAND "
	       "[ARGS...]\n"
	       "\n"
	       "Record the changes made to a SQLite database and synchronize\n"
	       "them with a central dbsync server.\n"
	       "\n"
	       "Commands on the local database:\n");
	for (i = 0; i < NCOMMANDS; i++)
		if (!commands[i].server)
			printf("  %s\n", commands[i].usage);
	printf("\nCommands that talk to the server (need --server):\n");
	for (i = 0; i < NCOMMANDS; i++)
		if (commands[i].server)
			printf("  %s\n", commands[i].usage);
	printf("\n%s"
	       "  --version        print the dbsync and SQLite versions\n"
	       "\n"
	       "pull, sync and repair draw a progress bar on stderr when it is\n"
	       "a terminal and the transfer is long; nothing otherwise.\n"
	       "Errors are printed on stderr as 'dbsync: MESSAGE'.\n"
	       "\n%s",
	       options_help, exit_codes_help);
}

static void print_command_help(const struct command *cmd)
{
	printf("usage: dbsync --db FILE %s[--json] %s\n\n%s\n%s\n%s",
	       cmd->server ? "--server URL [--ca-file FILE] " : "",
	       cmd->usage, cmd->help, options_help, exit_codes_help);
}

int main(int argc, char **argv)
{
	struct cli cli;
	const struct command *cmd;
	const char **operands;
	int i, noperands, status;

	memset(&cli, 0, sizeof(cli));
	cli.direction = DBSYNC_DIRECTION_BOTH;

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
		} else if (global_option(&cli, NULL, argc, argv, &i,
					 &status)) {
			if (status != EXIT_OK)
				return status;
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
	operands = calloc((size_t)argc, sizeof(*operands));
	if (operands == NULL)
		return fail(&cli, DBSYNC_NOMEM, NULL);
	status = parse_args(&cli, cmd, argc - i - 1, argv + i + 1, operands,
			    &noperands);
	if (status == EXIT_OK)
		status = cmd->run(&cli, cmd, operands, noperands);
	free(operands);
	free_policies(&cli);
	return status;
}
