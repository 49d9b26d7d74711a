/* client_tables.c - loads the tracked tables and their row statements. */
#include "client_tables.h"

#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "sqlutil.h"

void dbsync__ctables_free(dbsync__ctables *ts)
{
	size_t k, j;

	for (k = 0; k < ts->n; k++) {
		dbsync__ctable *t = &ts->t[k];
		dbsync__rowsql_finalize(&t->sql);
		free(t->refs);
		free(t->name);
		for (j = 0; j < t->ncolumns; j++)
			free(t->columns[j]);
		free(t->columns);
	}
	free(ts->t);
	memset(ts, 0, sizeof(*ts));
}

/* Columns key-first from the registry's description, and statements. */
static int load_one(sqlite3 *db, dbsync__ctable *t, dbsync__error *err)
{
	dbsync__table d;
	dbsync__rowsql_table rt;
	int k, rc = dbsync__table_describe(db, t->name, &d, err);

	if (rc)
		return rc;
	t->columns = calloc((size_t)d.ncolumns + 1, sizeof(char *));
	if (!t->columns) {
		dbsync__table_clear(&d);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	/* SQLite's affinity rule: a declared type containing "INT". */
	t->integer_pk = sqlite3_strlike("%INT%", d.pk_type, 0) == 0;
	t->columns[t->ncolumns++] = d.pk;
	d.pk = NULL;
	for (k = 0; k < d.ncolumns; k++) {
		t->columns[t->ncolumns++] = d.columns[k];
		d.columns[k] = NULL;
	}
	dbsync__table_clear(&d);
	rt.name = t->name;
	rt.pk = t->columns[0];
	rt.columns = t->columns;
	rt.ncolumns = t->ncolumns;
	rt.pk_index = 0;
	return dbsync__rowsql_prepare(db, &rt, &t->sql, err);
}

/* Single-column foreign keys of `t` to the key of a tracked table. */
static int load_refs(sqlite3 *db, dbsync__ctables *all, dbsync__ctable *t,
		     dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc = dbsync__sql_prepare(
		db,
		"SELECT f.\"table\", f.\"from\", f.\"to\""
		" FROM pragma_foreign_key_list(?1) f"
		" WHERE (SELECT count(*) FROM pragma_foreign_key_list(?1) g"
		"        WHERE g.id = f.id) = 1",
		&st, err, "cannot read the foreign keys");

	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *to = (const char *)sqlite3_column_text(st, 2);
		dbsync__ctable *parent = dbsync__ctables_by_name(
			all, (const char *)sqlite3_column_text(st, 0));
		const char *from = (const char *)sqlite3_column_text(st, 1);
		dbsync__cref *p;
		size_t c;

		if (!parent || (to && sqlite3_stricmp(to, parent->columns[0])))
			continue;
		for (c = 0; c < t->ncolumns; c++)
			if (sqlite3_stricmp(t->columns[c], from) == 0)
				break;
		if (c == t->ncolumns)
			continue;
		p = realloc(t->refs, (t->nrefs + 1) * sizeof(*p));
		if (!p) {
			sqlite3_finalize(st);
			return dbsync__error_set(err, DBSYNC_NOMEM,
						 "out of memory");
		}
		t->refs = p;
		p[t->nrefs].column = c;
		p[t->nrefs++].parent = (size_t)(parent - all->t);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the foreign keys");
	return 0;
}

int dbsync__ctables_load(sqlite3 *db, dbsync__ctables *out,
			 dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = dbsync__sql_prepare(db,
				 "SELECT tid, name, direction FROM dbsync_tracked"
				 " WHERE name IN (SELECT name FROM sqlite_schema"
				 " WHERE type = 'table') ORDER BY tid",
				 &st, err, "cannot read the tracked tables");
	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dbsync__ctable *p = realloc(out->t, (out->n + 1) * sizeof(*p));
		if (!p)
			break;
		out->t = p;
		p = &out->t[out->n++];
		memset(p, 0, sizeof(*p));
		p->tid = sqlite3_column_int64(st, 0);
		p->name = strdup((const char *)sqlite3_column_text(st, 1));
		dbsync__direction_parse((const char *)sqlite3_column_text(st, 2),
					&p->direction);
		if (!p->name)
			break;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW) {
		dbsync__ctables_free(out);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	if (rc != SQLITE_DONE) {
		dbsync__ctables_free(out);
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the tracked tables");
	}
	for (size_t k = 0; k < out->n; k++) {
		rc = load_one(db, &out->t[k], err);
		if (!rc)
			rc = load_refs(db, out, &out->t[k], err);
		if (rc) {
			dbsync__ctables_free(out);
			return rc;
		}
	}
	return 0;
}

dbsync__ctable *dbsync__ctables_by_tid(dbsync__ctables *ts, int64_t tid)
{
	size_t k;

	for (k = 0; k < ts->n; k++)
		if (ts->t[k].tid == tid)
			return &ts->t[k];
	return NULL;
}

dbsync__ctable *dbsync__ctables_by_name(dbsync__ctables *ts, const char *name)
{
	size_t k;

	for (k = 0; k < ts->n; k++)
		if (sqlite3_stricmp(ts->t[k].name, name) == 0)
			return &ts->t[k];
	return NULL;
}

int dbsync__ctable_local_row(const dbsync__ctable *t,
			     const dbsync__msg_table *mt,
			     const dbsync__value *remote, dbsync__value *row,
			     dbsync__error *err)
{
	size_t k, j;

	if (mt->ncolumns != t->ncolumns)
		return dbsync__error_set(err, DBSYNC_SCHEMA,
					 "table \"%s\" has %zu columns here "
					 "and %zu on the server",
					 t->name, t->ncolumns, mt->ncolumns);
	for (k = 0; k < t->ncolumns; k++) {
		for (j = 0; j < mt->ncolumns; j++)
			if (sqlite3_stricmp(mt->columns[j], t->columns[k]) == 0)
				break;
		if (j == mt->ncolumns)
			return dbsync__error_set(err, DBSYNC_SCHEMA,
						 "the server's \"%s\" has no "
						 "column \"%s\"",
						 t->name, t->columns[k]);
		row[k] = remote[j];
	}
	return 0;
}
