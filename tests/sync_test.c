/*
 * sync_test.c - clients and a real dbsyncd on a loopback port: register,
 * push, pull and sync end to end, exactly-once pushes, concurrent writers,
 * a pull killed and resumed, direct writes on the server.
 */
#include "harness.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS city(id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS person(id INTEGER PRIMARY KEY, name TEXT,"
	" city_id INTEGER REFERENCES city(id));";

static const char *const open_args[] = {"--track", "city,person",
					"--registration", "open", NULL};

/* A registered client on a new database with the same schema. */
static dbsync_client *client(const th_server *srv, const char *name)
{
	return th_sync_client(srv->url, name, schema, "city,person");
}

static void exec_on(dbsync_client *c, const char *sql)
{
	sqlite3 *db = th_db_open(dbsync_client_path(c));

	th_exec(db, sql);
	th_db_close(db);
}

/* Every row of both tables as one string, to compare databases. */
static char *contents(const char *path)
{
	sqlite3 *db = th_db_open(path);
	char *s = th_query_text(
		db, "SELECT coalesce((SELECT group_concat(id || ':' || name, ',')"
		    " FROM (SELECT * FROM city ORDER BY id)), '') || ' | ' ||"
		    " coalesce((SELECT group_concat(id || ':' || name || ':' ||"
		    " coalesce(city_id, '-'), ',') FROM (SELECT * FROM person"
		    " ORDER BY id)), '')");
	th_db_close(db);
	return s;
}

static int64_t latest(dbsync_client *c)
{
	int64_t v = -1;

	ASSERT_EQ_INT(dbsync_client_latest_version(c, &v), 1);
	return v;
}

TEST(three_clients_converge)
{
	th_server *srv = th_server_start("server", schema, open_args);
	dbsync_client *a = client(srv, "a"), *b = client(srv, "b"),
		      *c = client(srv, "c");
	char *want;

	exec_on(a, "INSERT INTO city VALUES (1, 'Oslo'), (2, 'Bergen');"
		   "INSERT INTO person VALUES (10, 'Ada', 1), (11, 'Bo', 2)");
	ASSERT_OK(dbsync_client_push(a));
	exec_on(b, "INSERT INTO city VALUES (3, 'Turku');"
		   "INSERT INTO person VALUES (12, 'Cy', 3)");
	/* b has not seen a's version: a bare push is refused... */
	ASSERT_CODE(dbsync_client_push(b), DBSYNC_PULL_REQUIRED);
	ASSERT_GOOD_MESSAGE(dbsync_client_error_message(b));
	/* ...and sync merges, then pushes. */
	ASSERT_OK(dbsync_client_sync(b, 0));
	/* c starts from a full copy instead of the history. */
	ASSERT_OK(dbsync_client_repair(c));
	ASSERT_EQ_STR(contents(dbsync_client_path(c)), contents(th_server_db(srv)));
	exec_on(c, "UPDATE city SET name = 'Åbo' WHERE id = 3;"
		   "DELETE FROM person WHERE id = 11;"
		   "UPDATE person SET city_id = 3 WHERE id = 10");
	ASSERT_OK(dbsync_client_sync(c, 0));
	ASSERT_OK(dbsync_client_sync(a, 0)); /* Bo left Bergen on c */
	exec_on(a, "DELETE FROM city WHERE id = 2");
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_OK(dbsync_client_sync(b, 0));
	ASSERT_OK(dbsync_client_sync(c, 0));
	ASSERT_OK(dbsync_client_sync(a, 0));

	want = contents(th_server_db(srv));
	ASSERT_EQ_STR(want, "1:Oslo,3:Åbo | 10:Ada:3,12:Cy:3");
	ASSERT_EQ_STR(contents(dbsync_client_path(a)), want);
	ASSERT_EQ_STR(contents(dbsync_client_path(b)), want);
	ASSERT_EQ_STR(contents(dbsync_client_path(c)), want);
	ASSERT_EQ_INT(latest(a), latest(b));
	ASSERT_EQ_INT(latest(b), latest(c));
	ASSERT_EQ_STR(th_pending_str(a), "");
	ASSERT_EQ_INT(th_server_stop(srv), 0);
}

/* Abort the transfer once the answer starts to arrive (more bytes have
 * moved than the request had): the server has applied the push, the
 * client never learns its version. */
static int lose_answer(uint64_t bytes_done, uint64_t bytes_total,
		       uint64_t ops_done, uint64_t ops_total, void *payload)
{
	uint64_t *request_bytes = payload;

	(void)bytes_total;
	(void)ops_done;
	(void)ops_total;
	if (*request_bytes == 0 && bytes_total > 0)
		*request_bytes = bytes_total; /* the upload's size */
	return *request_bytes && bytes_done > *request_bytes;
}

static void push_losing_the_answer(dbsync_client *c, uint64_t *threshold)
{
	*threshold = 0;
	ASSERT_OK(dbsync_client_on_progress(c, lose_answer, threshold));
	ASSERT_CODE(dbsync_client_push(c), DBSYNC_CALLBACK);
	ASSERT_OK(dbsync_client_on_progress(c, NULL, NULL));
}

TEST(lost_push_answer_then_retry_creates_no_duplicate)
{
	th_server *srv = th_server_start("server", schema, open_args);
	dbsync_client *a = client(srv, "a");
	sqlite3 *sdb;
	uint64_t threshold;

	exec_on(a, "INSERT INTO city VALUES (1, 'Oslo'), (2, 'Bergen')");
	push_losing_the_answer(a, &threshold);
	sdb = th_db_open(th_server_db(srv));
	ASSERT_EQ_INT(th_query_int(sdb, "SELECT count(*) FROM city"), 2);
	th_db_close(sdb);
	/* Still pending here: the client does not know. A write meanwhile
	 * follows the retried push as a push of its own. */
	exec_on(a, "INSERT INTO city VALUES (3, 'Turku')");
	ASSERT_OK(dbsync_client_push(a)); /* retry (recognized), then more */
	sdb = th_db_open(th_server_db(srv));
	ASSERT_EQ_INT(th_query_int(sdb, "SELECT count(*) FROM dbsync_versions"),
		      2);
	ASSERT_EQ_INT(th_query_int(sdb, "SELECT count(*) FROM city"), 3);
	ASSERT_EQ_INT(th_query_int(sdb, "SELECT count(*) FROM dbsync_versions"
					" WHERE id = 1 AND last_seq - first_seq"
					" = 1"),
		      1); /* version 1 holds the two first rows only */
	ASSERT_EQ_STR(th_pending_str(a), "");
	ASSERT_EQ_INT(latest(a), 2);
	th_db_close(sdb);
}

TEST(lost_push_answer_then_pull_recognizes_own_version)
{
	th_server *srv = th_server_start("server", schema, open_args);
	dbsync_client *a = client(srv, "a"), *b = client(srv, "b");
	uint64_t threshold;

	exec_on(a, "INSERT INTO city VALUES (1, 'Oslo')");
	push_losing_the_answer(a, &threshold);
	exec_on(b, "INSERT INTO city VALUES (2, 'Bergen')");
	ASSERT_OK(dbsync_client_sync(b, 0));
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_EQ_STR(th_pending_str(a), "");
	ASSERT_EQ_STR(contents(dbsync_client_path(a)), contents(th_server_db(srv)));
	ASSERT_EQ_INT(latest(a), 2);
}

TEST(empty_push_succeeds)
{
	th_server *srv = th_server_start("server", schema, open_args);
	dbsync_client *a = client(srv, "a");

	ASSERT_OK(dbsync_client_push(a));
	ASSERT_OK(dbsync_client_sync(a, 0));
}

struct pusher {
	dbsync_client *c;
	int rc;
};

static void *push_thread(void *arg)
{
	struct pusher *p = arg;

	p->rc = dbsync_client_push(p->c);
	return NULL;
}

TEST(two_concurrent_pushes_on_one_base_one_wins)
{
	th_server *srv = th_server_start("server", schema, open_args);
	struct pusher p[2];
	pthread_t t[2];
	int k, accepted = 0, refused = 0;

	p[0].c = client(srv, "a");
	p[1].c = client(srv, "b");
	exec_on(p[0].c, "INSERT INTO city VALUES (1, 'Oslo')");
	exec_on(p[1].c, "INSERT INTO city VALUES (2, 'Bergen')");
	for (k = 0; k < 2; k++)
		ASSERT_EQ_INT(pthread_create(&t[k], NULL, push_thread, &p[k]),
			      0);
	for (k = 0; k < 2; k++) {
		pthread_join(t[k], NULL);
		accepted += p[k].rc == DBSYNC_OK;
		refused += p[k].rc == DBSYNC_PULL_REQUIRED;
	}
	ASSERT_EQ_INT(accepted, 1);
	ASSERT_EQ_INT(refused, 1);
	for (k = 0; k < 2; k++)
		ASSERT_OK(dbsync_client_sync(p[k].c, 0));
	ASSERT_OK(dbsync_client_sync(p[0].c, 0));
	ASSERT_EQ_STR(contents(dbsync_client_path(p[0].c)),
		      contents(th_server_db(srv)));
	ASSERT_EQ_STR(contents(dbsync_client_path(p[1].c)),
		      contents(th_server_db(srv)));
}

struct writer {
	const char *path;
	volatile int stop;
	int written;
};

static void *write_thread(void *arg)
{
	struct writer *w = arg;
	sqlite3 *db;
	int id = 1000;

	if (sqlite3_open(w->path, &db) != SQLITE_OK)
		return NULL;
	sqlite3_busy_timeout(db, 10000);
	while (!w->stop) {
		char sql[96];
		snprintf(sql, sizeof(sql),
			 "INSERT INTO city VALUES (%d, 'w%d')", id, id);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK) {
			w->written++;
			id++;
		}
		nanosleep(&(struct timespec){0, 500000L}, NULL);
	}
	sqlite3_close(db);
	return NULL;
}

TEST(writes_during_sync_reach_the_server_later)
{
	th_server *srv = th_server_start("server", schema, open_args);
	dbsync_client *a = client(srv, "a");
	struct writer w = {dbsync_client_path(a), 0, 0};
	sqlite3 *sdb;
	pthread_t t;
	int k;

	ASSERT_EQ_INT(pthread_create(&t, NULL, write_thread, &w), 0);
	for (k = 0; k < 20; k++)
		ASSERT_OK(dbsync_client_sync(a, 0));
	w.stop = 1;
	pthread_join(t, NULL);
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_GT_INT(w.written, 0);
	sdb = th_db_open(th_server_db(srv));
	ASSERT_EQ_INT(th_query_int(sdb, "SELECT count(*) FROM city"),
		      w.written);
	th_db_close(sdb);
	ASSERT_EQ_STR(th_pending_str(a), "");
}

TEST(direct_server_writes_reach_every_client)
{
	th_server *srv = th_server_start("server", schema, open_args);
	dbsync_client *a = client(srv, "a"), *b = client(srv, "b");

	th_server_exec(srv, "INSERT INTO city VALUES (5, 'Direct')");
	th_server_exec(srv, "BEGIN; INSERT INTO city VALUES (6, 'Rolled');"
			    " ROLLBACK");
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_OK(dbsync_client_sync(b, 0));
	ASSERT_EQ_STR(contents(dbsync_client_path(a)), "5:Direct | ");
	ASSERT_EQ_STR(contents(dbsync_client_path(b)), "5:Direct | ");
}

/* ---- a pull killed mid-way ------------------------------------------ */

static int count_pages(uint64_t bytes_done, uint64_t bytes_total,
		       uint64_t ops_done, uint64_t ops_total, void *payload)
{
	(void)bytes_total;
	(void)ops_total;
	/* Called per transfer too (ops 0): only pages count. */
	if (ops_done && bytes_done == 0) {
		int fd = *(int *)payload;
		char c = 'p';
		if (write(fd, &c, 1) != 1)
			return 1;
	}
	return 0;
}

static int64_t ops_sent_metric(const th_server *srv)
{
	const char *argv[] = {"curl", "-s", "-o", th_path("metrics.txt"),
			      th_fmt("%s/metrics", srv->url), NULL};
	char *text, *p;

	ASSERT_EQ_INT(th_run(argv), 0);
	text = th_read_file(th_path("metrics.txt"), NULL);
	p = strstr(text, "\ndbsync_ops_sent_total ");
	ASSERT_NOT_NULL(p);
	return atoll(p + strlen("\ndbsync_ops_sent_total "));
}

TEST(pull_killed_mid_way_resumes_without_refetching)
{
	th_server *srv = th_server_start("server", schema, open_args);
	dbsync_client *a = client(srv, "a");
	int fds[2], status, pages = 0;
	int64_t sent_before_kill, sent_total;
	pid_t pid;
	char c;

	th_server_exec(srv, "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL"
			    " SELECT i + 1 FROM r WHERE i < 100000)"
			    " INSERT INTO city SELECT i, 'city ' || i FROM r");
	ASSERT_OK(dbsync_client_set_page_size(a, 1000));
	ASSERT_EQ_INT(pipe(fds), 0);
	fflush(stdout);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		/* The child pulls with its own handle and reports pages. */
		dbsync_client *cc;
		close(fds[0]);
		if (dbsync_client_open(&cc, dbsync_client_path(a)) ||
		    dbsync_client_set_server(cc, srv->url) ||
		    dbsync_client_set_page_size(cc, 1000) ||
		    dbsync_client_on_progress(cc, count_pages, &fds[1]))
			_exit(3);
		dbsync_client_pull(cc);
		_exit(0);
	}
	close(fds[1]);
	while (pages < 30 && read(fds[0], &c, 1) == 1)
		pages++;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(fds[0]);
	ASSERT_EQ_INT(pages, 30);
	sent_before_kill = ops_sent_metric(srv);
	ASSERT_LT_INT(sent_before_kill, 100000);

	ASSERT_OK(dbsync_client_pull(a));
	sent_total = ops_sent_metric(srv);
	/* At most the page in flight at the kill travels twice. */
	ASSERT_LE_INT(sent_total, 100000 + 1000);
	ASSERT_EQ_STR(contents(dbsync_client_path(a)), contents(th_server_db(srv)));
	ASSERT_EQ_STR(th_pending_str(a), "");
}

/* ---- HTTPS ------------------------------------------------------------ */

/* Whether the openssl command is there to make certificates. */
static int have_openssl(void)
{
	const char *argv[] = {"openssl", "version", NULL};

	return th_run(argv) == 0;
}

/* A throwaway CA: th_path("<name>.pem") and its key "<name>.key". EC keys:
 * generated in milliseconds. */
static const char *make_ca(const char *name)
{
	const char *pem = th_path(th_fmt("%s.pem", name));
	const char *argv[] = {
		"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
		"ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
		"-keyout", th_path(th_fmt("%s.key", name)), "-out", pem,
		"-subj", th_fmt("/CN=dbsync test %s", name), "-addext",
		"basicConstraints=critical,CA:TRUE", "-addext",
		"keyUsage=critical,keyCertSign,cRLSign", NULL};

	ASSERT_EQ_INT(th_run(argv), 0);
	return pem;
}

/* A server certificate for 127.0.0.1 and localhost signed by CA `ca`:
 * th_path("<name>.pem") and th_path("<name>.key"). */
static void make_server_cert(const char *ca, const char *name)
{
	static const char ext[] =
		"basicConstraints=critical,CA:FALSE\n"
		"keyUsage=critical,digitalSignature,keyEncipherment\n"
		"extendedKeyUsage=serverAuth\n"
		"subjectAltName=IP:127.0.0.1,DNS:localhost\n";
	const char *key = th_path(th_fmt("%s.key", name));
	const char *csr = th_path(th_fmt("%s.csr", name));
	const char *cnf = th_path(th_fmt("%s.cnf", name));
	const char *req[] = {"openssl", "req", "-newkey", "ec", "-pkeyopt",
			     "ec_paramgen_curve:prime256v1", "-nodes",
			     "-keyout", key, "-out", csr, "-subj",
			     "/CN=localhost", NULL};
	const char *sign[] = {
		"openssl", "x509", "-req", "-in", csr, "-CA",
		th_path(th_fmt("%s.pem", ca)), "-CAkey",
		th_path(th_fmt("%s.key", ca)), "-set_serial", "2", "-days",
		"2", "-extfile", cnf, "-out",
		th_path(th_fmt("%s.pem", name)), NULL};

	th_write_file(cnf, ext, strlen(ext));
	ASSERT_EQ_INT(th_run(req), 0);
	ASSERT_EQ_INT(th_run(sign), 0);
}

/* dbsyncd over TLS with a certificate from a new CA "ca"; *https gets the
 * https:// URL (th_server_start's url says http://). */
static th_server *tls_server_start(const char **https)
{
	th_server *srv;

	make_ca("ca");
	make_server_cert("ca", "server-cert");
	{
		const char *const args[] = {
			"--track", "city,person", "--registration", "open",
			"--tls-cert", th_path("server-cert.pem"), "--tls-key",
			th_path("server-cert.key"), NULL};
		srv = th_server_start("server", schema, args);
	}
	*https = th_fmt("https://127.0.0.1:%d", srv->port);
	ASSERT(th_contains(th_read_file(srv->log, NULL),
			   th_fmt("listening on %s ", *https)));
	return srv;
}

/* A client on a new database with the schema, talking to `url`, verifying
 * with `ca_file` (NULL: the system's CAs). Not registered. */
static dbsync_client *tls_client(const char *url, const char *ca_file,
				 const char *name)
{
	const char *path = th_fmt("%s.db", th_path(name));
	sqlite3 *db = th_db_open(path);
	dbsync_client *c;

	th_exec(db, schema);
	th_db_close(db);
	c = th_client_open(path);
	ASSERT_OK(dbsync_client_set_server(c, url));
	if (ca_file)
		ASSERT_OK(dbsync_client_set_ca_file(c, ca_file));
	ASSERT_OK(dbsync_client_track(c, "city", DBSYNC_DIRECTION_BOTH));
	ASSERT_OK(dbsync_client_track(c, "person", DBSYNC_DIRECTION_BOTH));
	return c;
}

static int64_t server_nodes(const th_server *srv)
{
	sqlite3 *sdb = th_db_open(th_server_db(srv));
	int64_t n = th_query_int(sdb, "SELECT count(*) FROM dbsync_nodes");

	th_db_close(sdb);
	return n;
}

TEST(https_with_the_ca_file_registers_and_syncs)
{
	const char *https;
	th_server *srv;
	dbsync_client *a, *b;

	ASSERT_MSG(have_openssl(),
		   "the openssl command is needed (./dev setup installs it)");
	srv = tls_server_start(&https);
	a = tls_client(https, th_path("ca.pem"), "a");
	b = tls_client(https, th_path("ca.pem"), "b");
	ASSERT_OK(dbsync_client_register(a, NULL));
	ASSERT_EQ_INT(dbsync_client_node_id(a, NULL), 1);
	ASSERT_OK(dbsync_client_register(b, NULL));
	exec_on(a, "INSERT INTO city VALUES (1, 'Oslo'), (2, 'Bergen');"
		   "INSERT INTO person VALUES (10, 'Ada', 1)");
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_EQ_STR(contents(th_server_db(srv)), "1:Oslo,2:Bergen | 10:Ada:1");
	exec_on(b, "INSERT INTO city VALUES (3, 'Turku')");
	ASSERT_OK(dbsync_client_sync(b, 0));
	ASSERT_OK(dbsync_client_sync(a, 0));
	ASSERT_EQ_STR(contents(th_server_db(srv)),
		      "1:Oslo,2:Bergen,3:Turku | 10:Ada:1");
	ASSERT_EQ_STR(contents(dbsync_client_path(a)), contents(th_server_db(srv)));
	ASSERT_EQ_STR(contents(dbsync_client_path(b)), contents(th_server_db(srv)));
	ASSERT_EQ_STR(th_pending_str(a), "");
	ASSERT_EQ_STR(th_pending_str(b), "");
	ASSERT_EQ_INT(latest(a), latest(b));
	ASSERT_EQ_INT(th_server_stop(srv), 0);
}

TEST(https_without_the_ca_file_fails_with_tls)
{
	const char *https, *msg;
	th_server *srv;
	dbsync_client *c;

	ASSERT_MSG(have_openssl(),
		   "the openssl command is needed (./dev setup installs it)");
	srv = tls_server_start(&https);
	c = tls_client(https, NULL, "c");
	ASSERT_CODE(dbsync_client_register(c, NULL), DBSYNC_TLS);
	ASSERT_EQ_INT(dbsync_client_error_code(c), DBSYNC_TLS);
	msg = dbsync_client_error_message(c);
	th_note("%s", msg);
	ASSERT_GOOD_MESSAGE(msg);
	ASSERT_MSG(th_contains(msg, "TLS") || th_contains(msg, "certificate"),
		   "the message names TLS or the certificate: \"%s\"", msg);
	ASSERT_MSG(th_contains(msg, "127.0.0.1"),
		   "the message names the server: \"%s\"", msg);
	ASSERT_EQ_INT(dbsync_client_node_id(c, NULL), 0);
	ASSERT_EQ_INT(server_nodes(srv), 0);
	ASSERT_EQ_INT(th_server_stop(srv), 0);
}

TEST(https_with_an_untrusted_ca_fails_with_tls)
{
	const char *https, *other, *msg;
	th_server *srv;
	dbsync_client *c;

	ASSERT_MSG(have_openssl(),
		   "the openssl command is needed (./dev setup installs it)");
	srv = tls_server_start(&https);
	other = make_ca("other-ca");
	c = tls_client(https, other, "c");
	ASSERT_CODE(dbsync_client_register(c, NULL), DBSYNC_TLS);
	msg = dbsync_client_error_message(c);
	th_note("%s", msg);
	ASSERT_GOOD_MESSAGE(msg);
	ASSERT_MSG(th_contains(msg, "TLS") || th_contains(msg, "certificate"),
		   "the message names TLS or the certificate: \"%s\"", msg);
	ASSERT_EQ_INT(dbsync_client_node_id(c, NULL), 0);
	ASSERT_EQ_INT(server_nodes(srv), 0);
	/* The right CA on the same database then works. */
	ASSERT_OK(dbsync_client_set_ca_file(c, th_path("ca.pem")));
	ASSERT_OK(dbsync_client_register(c, NULL));
	ASSERT_EQ_INT(server_nodes(srv), 1);
	ASSERT_EQ_INT(th_server_stop(srv), 0);
}

TEST(large_push_goes_in_batches_under_the_body_limit)
{
	/* 45,000 rows are ~6.5 MB of JSON: over a 4 MB body limit in one
	 * request, fine in batches. */
	static const char *const args[] = {"--track", "city,person",
					   "--registration", "open",
					   "--max-body", "4M", NULL};
	th_server *srv = th_server_start("server", schema, args);
	dbsync_client *a = client(srv, "a"), *b = client(srv, "b");
	sqlite3 *sdb;

	exec_on(a, "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1"
		   " FROM r WHERE i < 45000) INSERT INTO city SELECT i,"
		   " 'a city with a longish name, number ' || i FROM r");
	ASSERT_OK(dbsync_client_push(a));
	ASSERT_EQ_STR(th_pending_str(a), "");
	sdb = th_db_open(th_server_db(srv));
	ASSERT_EQ_INT(th_query_int(sdb, "SELECT count(*) FROM city"), 45000);
	ASSERT_EQ_INT(th_query_int(sdb, "SELECT count(*) FROM dbsync_versions"),
		      3);
	th_db_close(sdb);
	ASSERT_OK(dbsync_client_sync(b, 0));
	ASSERT_EQ_STR(contents(dbsync_client_path(b)), contents(th_server_db(srv)));
}

static const th_case cases[] = {
	CASE(three_clients_converge),
	CASE(lost_push_answer_then_retry_creates_no_duplicate),
	CASE(lost_push_answer_then_pull_recognizes_own_version),
	CASE(empty_push_succeeds),
	CASE(large_push_goes_in_batches_under_the_body_limit),
	CASE(two_concurrent_pushes_on_one_base_one_wins),
	CASE(writes_during_sync_reach_the_server_later),
	CASE(direct_server_writes_reach_every_client),
	CASE(pull_killed_mid_way_resumes_without_refetching),
	CASE(https_with_the_ca_file_registers_and_syncs),
	CASE(https_without_the_ca_file_fails_with_tls),
	CASE(https_with_an_untrusted_ca_fails_with_tls),
};
TH_MAIN(cases)
