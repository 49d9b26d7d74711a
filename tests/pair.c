/* pair.c - two synced clients and a server for the conflict tests. */
#include "pair.h"

#include <string.h>

const char th_pair_schema[] =
	"CREATE TABLE IF NOT EXISTS city(id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS person(id INTEGER PRIMARY KEY, name TEXT,"
	" city_id INTEGER REFERENCES city(id));"
	"CREATE TABLE IF NOT EXISTS tag(code TEXT PRIMARY KEY, label TEXT);"
	"CREATE TABLE IF NOT EXISTS member(id INTEGER PRIMARY KEY,"
	" email TEXT NOT NULL UNIQUE, nick TEXT);"
	"CREATE UNIQUE INDEX IF NOT EXISTS member_nick ON member(nick);"
	"CREATE TABLE IF NOT EXISTS node(id INTEGER PRIMARY KEY,"
	" parent_id INTEGER REFERENCES node(id), label TEXT);"
	"CREATE UNIQUE INDEX IF NOT EXISTS node_label ON node(label);";

#define PAIR_TABLES "city,person,tag,member,node"

static const char *const server_args[] = {"--track", PAIR_TABLES,
					  "--registration", "open", NULL};

dbsync_client *th_pair_client(const th_server *srv, const char *name)
{
	return th_sync_client(srv->url, name, th_pair_schema, PAIR_TABLES);
}

void th_exec_on(const char *path, const char *sql)
{
	sqlite3 *db = th_db_open(path);

	th_exec(db, "PRAGMA foreign_keys = ON");
	th_exec(db, sql);
	th_db_close(db);
}

char *th_rows(const char *path, const char *select)
{
	sqlite3 *db = th_db_open(path);
	char *s = th_query_text(db, th_fmt("WITH rows(r) AS (%s) SELECT"
					   " coalesce(group_concat(r, ','), '')"
					   " FROM rows",
					   select));
	th_db_close(db);
	return s;
}

char *th_cities(const char *path)
{
	return th_rows(path, "SELECT id || ':' || name FROM city ORDER BY id");
}

char *th_conflicts(dbsync_client *c)
{
	static const char *const kinds[] = {"?", "u/u", "u/d", "d/u", "d/d",
					    "dependency", "reversed",
					    "insert", "unique"};
	static const char *const res[] = {"none", "local", "remote", "both",
					  "merged"};
	dbsync_oplist *l = NULL;
	char *out = th_strdup("");
	size_t k, j;

	ASSERT_OK(dbsync_client_conflicts(&l, c));
	for (k = 0; k < dbsync_oplist_count(l); k++) {
		int kind = dbsync_oplist_conflict_kind(l, k);
		int r = dbsync_oplist_resolution(l, k);
		char *pk = dbsync_oplist_pk_type(l, k) == DBSYNC_TYPE_INTEGER
				   ? th_fmt("%lld", (long long)dbsync_oplist_pk_int(l, k))
				   : th_fmt("'%s'", (const char *)
							    dbsync_oplist_pk_bytes(
								    l, k, NULL));
		size_t ncols = dbsync_oplist_conflict_column_count(l, k);

		ASSERT(kind >= 1 && kind <= 8 && r >= 0 && r <= 4);
		/* Only a unique collision is unresolved, and only it has
		 * columns. */
		ASSERT_EQ_INT(r == 0, kind == DBSYNC_CONFLICT_UNIQUE);
		ASSERT_EQ_INT(ncols > 0, kind == DBSYNC_CONFLICT_UNIQUE);
		out = th_fmt("%s%s%s/%s %s:%c:%s", out, k ? " " : "",
			     kinds[kind], res[r], dbsync_oplist_table(l, k),
			     dbsync_oplist_command(l, k), pk);
		for (j = 0; j < ncols; j++)
			out = th_fmt("%s%s%s%s", out, j ? "," : "(",
				     dbsync_oplist_conflict_column(l, k, j),
				     j + 1 == ncols ? ")" : "");
	}
	dbsync_oplist_free(l);
	return out;
}

th_pair th_pair_setup(void)
{
	th_pair p;

	p.srv = th_server_start("server", th_pair_schema, server_args);
	p.a = th_pair_client(p.srv, "a");
	p.b = th_pair_client(p.srv, "b");
	p.pa = dbsync_client_path(p.a);
	p.pb = dbsync_client_path(p.b);
	th_exec_on(p.pa, "INSERT INTO city VALUES (1, 'Oslo'), (2, 'Bergen')");
	ASSERT_OK(dbsync_client_sync(p.a, 0));
	ASSERT_OK(dbsync_client_sync(p.b, 0));
	ASSERT_EQ_STR(th_cities(p.pb), "1:Oslo,2:Bergen");
	ASSERT_EQ_STR(th_conflicts(p.a), "");
	ASSERT_EQ_STR(th_conflicts(p.b), "");
	return p;
}

void th_pair_all_equal(const th_pair *p, const char *select, const char *want)
{
	ASSERT_OK(dbsync_client_sync(p->a, 0));
	ASSERT_OK(dbsync_client_sync(p->b, 0));
	ASSERT_OK(dbsync_client_sync(p->a, 0));
	ASSERT_EQ_STR(th_rows(th_server_db(p->srv), select), want);
	ASSERT_EQ_STR(th_rows(p->pa, select), want);
	ASSERT_EQ_STR(th_rows(p->pb, select), want);
	ASSERT_EQ_STR(th_pending_str(p->a), "");
	ASSERT_EQ_STR(th_pending_str(p->b), "");
}
