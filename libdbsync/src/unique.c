/*
 * unique.c - finding the row that holds values another row needs on a
 * unique constraint, and moving such a row out of the way.
 *
 * SQLite checks UNIQUE row by row, never at commit, so a set of rows that
 * swaps values among themselves cannot be written in any order as is:
 * writers move the holder of a value aside when they rewrite that holder
 * themselves later (client_merge.c, store_sqlite.c). Indexes are read only
 * for a table that met a collision, and each lookup goes through the
 * unique index itself: no step scans a table.
 */
#include <stdlib.h>
#include <string.h>

#include "unique.h"
#include "rowsql.h"
#include "sqlutil.h"

static void index_free(dbsync__unique_index *x)
{
	size_t k;

	for (k = 0; k < x->ncols; k++)
		free(x->names[k]);
	free(x->names);
	free(x->cols);
	sqlite3_finalize(x->holder);
}

void dbsync__unique_free(dbsync__unique_indexes *u)
{
	size_t j;

	for (j = 0; j < u->n; j++)
		index_free(&u->idx[j]);
	free(u->idx);
	memset(u, 0, sizeof(*u));
}

/* The statement finding the other row with given values on the index. */
static int prepare_holder(sqlite3 *db, const dbsync__table_shape *t,
			  dbsync__unique_index *x, dbsync__error *err)
{
	dbsync__buf b;
	size_t k;
	int rc;

	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "SELECT ");
	dbsync__buf_ident(&b, t->columns[t->pk]);
	dbsync__buf_append(&b, " FROM main.");
	dbsync__buf_ident(&b, t->name);
	dbsync__buf_append(&b, " WHERE ");
	for (k = 0; k < x->ncols; k++) {
		dbsync__buf_ident(&b, t->columns[x->cols[k]]);
		dbsync__buf_printf(&b, " = ?%zu AND ", k + 1);
	}
	dbsync__buf_ident(&b, t->columns[t->pk]);
	dbsync__buf_printf(&b, " IS NOT ?%zu LIMIT 1", x->ncols + 1);
	rc = b.failed ? dbsync__error_set(err, DBSYNC_NOMEM, "out of memory")
		      : dbsync__sql_prepare(db, b.data, &x->holder, err,
					    "cannot read a unique index");
	dbsync__buf_free(&b);
	return rc;
}

/* The columns of one index; 0 with x->ncols 0 for an index on an
 * expression (which the merge cannot look up). */
static int load_index(sqlite3 *db, const dbsync__table_shape *t,
		      const char *index, dbsync__unique_index *x,
		      dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, step, expression = 0;

	rc = dbsync__sql_prepare(db,
				 "SELECT cid, name FROM pragma_index_info(?1,"
				 " 'main') ORDER BY seqno",
				 &st, err, "cannot read a unique index");
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, index, -1, SQLITE_TRANSIENT);
	while ((step = sqlite3_step(st)) == SQLITE_ROW && !rc) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		size_t k;
		void *p;

		if (sqlite3_column_int(st, 0) < 0 || !name) {
			expression = 1;
			continue;
		}
		for (k = 0; k < t->ncolumns; k++)
			if (sqlite3_stricmp(t->columns[k], name) == 0)
				break;
		if (k == t->ncolumns) {
			expression = 1;
			continue;
		}
		if ((p = realloc(x->cols, (x->ncols + 1) * sizeof(*x->cols))))
			x->cols = p;
		if (p && (p = realloc(x->names,
				      (x->ncols + 1) * sizeof(*x->names))))
			x->names = p;
		if (!p || !(x->names[x->ncols] = strdup(t->columns[k]))) {
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
			break;
		}
		x->cols[x->ncols++] = k;
	}
	if (!rc && step != SQLITE_DONE && step != SQLITE_ROW)
		rc = dbsync__error_sqlite(err, db, step,
					  "cannot read a unique index");
	sqlite3_finalize(st);
	if (!rc && expression) {
		index_free(x);
		memset(x, 0, sizeof(*x));
	}
	if (!rc && x->ncols)
		rc = prepare_holder(db, t, x, err);
	return rc;
}

int dbsync__unique_load(sqlite3 *db, const dbsync__table_shape *t,
			dbsync__unique_indexes *ut, dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc, step;

	rc = dbsync__sql_prepare(db,
				 "SELECT name FROM pragma_index_list(?1, 'main')"
				 " WHERE \"unique\" AND origin <> 'pk'",
				 &st, err, "cannot read a unique index");
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_TRANSIENT);
	while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
		void *p = realloc(ut->idx, (ut->n + 1) * sizeof(*ut->idx));

		if (!p) {
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
			break;
		}
		ut->idx = p;
		memset(&ut->idx[ut->n], 0, sizeof(*ut->idx));
		rc = load_index(db, t, (const char *)sqlite3_column_text(st, 0),
				&ut->idx[ut->n], err);
		if (ut->idx[ut->n].ncols)
			ut->n++;
	}
	if (!rc && step != SQLITE_DONE)
		rc = dbsync__error_sqlite(err, db, step,
					  "cannot read a unique index");
	sqlite3_finalize(st);
	ut->loaded = !rc;
	return rc;
}

int dbsync__unique_holder(sqlite3 *db, const dbsync__table_shape *t,
			  const dbsync__unique_indexes *ut,
			  const dbsync__value *row, dbsync__value *key,
			  const dbsync__unique_index **which,
			  dbsync__error *err)
{
	size_t j, k;
	int rc = 0;

	for (j = 0; j < ut->n; j++) {
		dbsync__unique_index *x = &ut->idx[j];
		int step, has_null = 0;

		for (k = 0; k < x->ncols; k++) {
			const dbsync__value *v = &row[x->cols[k]];
			/* NULLs never collide in SQLite's unique indexes. */
			has_null |= v->type == DBSYNC_TYPE_NULL;
			dbsync__sql_bind_value(x->holder, (int)k + 1, v);
		}
		dbsync__sql_bind_value(x->holder, (int)x->ncols + 1, &row[t->pk]);
		step = has_null ? SQLITE_DONE : sqlite3_step(x->holder);
		if (step == SQLITE_ROW) {
			dbsync__value v;
			dbsync__sql_column_value(x->holder, 0, &v);
			rc = dbsync__value_copy(key, &v)
				     ? dbsync__error_set(err, DBSYNC_NOMEM,
							 "out of memory")
				     : 1;
			*which = x;
		} else if (step != SQLITE_DONE) {
			rc = dbsync__error_sqlite(err, db, step,
						  "cannot read a unique index");
		}
		sqlite3_reset(x->holder);
		sqlite3_clear_bindings(x->holder);
		if (rc)
			return rc;
	}
	return 0;
}

/* A value larger than `max` in its own type, so unique in the column. */
static int above(const dbsync__value *max, dbsync__value *out,
		 unsigned char *scratch, size_t scratch_len)
{
	switch (max->type) {
	case DBSYNC_TYPE_INTEGER:
		if (max->i == INT64_MAX)
			return -1;
		*out = *max;
		out->i = max->i + 1;
		return 0;
	case DBSYNC_TYPE_FLOAT:
		*out = *max;
		out->f = max->f + 1.0;
		return out->f > max->f ? 0 : -1;
	case DBSYNC_TYPE_TEXT:
	case DBSYNC_TYPE_BLOB:
		/* The same bytes and one more sort after it in every
		 * built-in collation ('x' is not a space RTRIM would drop). */
		if (max->len + 2 > scratch_len)
			return -1;
		memcpy(scratch, max->p, max->len);
		scratch[max->len] = max->type == DBSYNC_TYPE_TEXT ? 'x' : 0;
		scratch[max->len + 1] = 0;
		*out = *max;
		out->p = (const char *)scratch;
		out->len = max->len + 1;
		return 0;
	default:
		return -1;
	}
}

int dbsync__unique_move_aside(sqlite3 *db, const dbsync__table_shape *t,
			      const dbsync__unique_index *which,
			      const dbsync__value *key, dbsync__error *err)
{
	const char *column = t->columns[which->cols[0]];
	sqlite3_stmt *max = NULL, *set = NULL;
	unsigned char *scratch = NULL;
	dbsync__value top, temp;
	dbsync__buf b;
	int rc, step;

	dbsync__buf_init(&b);
	dbsync__buf_append(&b, "SELECT max(");
	dbsync__buf_ident(&b, column);
	dbsync__buf_append(&b, ") FROM main.");
	dbsync__buf_ident(&b, t->name);
	rc = b.failed ? dbsync__error_set(err, DBSYNC_NOMEM, "out of memory")
		      : dbsync__sql_prepare(db, b.data, &max, err,
					    "cannot apply a pulled change");
	dbsync__buf_free(&b);
	if (rc)
		return rc;
	dbsync__buf_append(&b, "UPDATE main.");
	dbsync__buf_ident(&b, t->name);
	dbsync__buf_append(&b, " SET ");
	dbsync__buf_ident(&b, column);
	dbsync__buf_append(&b, " = ?1 WHERE ");
	dbsync__buf_ident(&b, t->columns[t->pk]);
	dbsync__buf_append(&b, " = ?2");
	rc = b.failed ? dbsync__error_set(err, DBSYNC_NOMEM, "out of memory")
		      : dbsync__sql_prepare(db, b.data, &set, err,
					    "cannot apply a pulled change");
	dbsync__buf_free(&b);
	step = rc ? SQLITE_ERROR : sqlite3_step(max);
	if (!rc && step != SQLITE_ROW)
		rc = dbsync__error_sqlite(err, db, step,
					  "cannot apply a pulled change");
	if (!rc) {
		size_t len;
		dbsync__sql_column_value(max, 0, &top);
		len = top.len + 2;
		scratch = malloc(len);
		if (!scratch)
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
		else if (above(&top, &temp, scratch, len))
			rc = dbsync__error_set(err, DBSYNC_CONFLICT,
					       "cannot move a row aside on a "
					       "unique column to apply a swap");
	}
	if (!rc) {
		dbsync__sql_bind_value(set, 1, &temp);
		dbsync__sql_bind_value(set, 2, key);
		step = sqlite3_step(set);
		if (step != SQLITE_DONE)
			rc = dbsync__error_sqlite(err, db, step,
						  "cannot move a row aside on "
						  "a unique column to apply a "
						  "swap");
	}
	sqlite3_finalize(max);
	sqlite3_finalize(set);
	free(scratch);
	return rc;
}
