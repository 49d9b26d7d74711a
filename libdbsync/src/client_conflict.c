/*
 * client_conflict.c - conflict policies per table, the conflict callback,
 * and the dbsync_conflict view the callback reads and answers through.
 *
 * Policies and the callback live on the handle, not in the database: a
 * callback cannot be stored, and a policy is the application's choice for
 * this process, like the server URL.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "client_conflict.h"

static int valid_policy(int policy)
{
	return policy == DBSYNC_POLICY_LOCAL_WINS ||
	       policy == DBSYNC_POLICY_SERVER_WINS ||
	       policy == DBSYNC_POLICY_CALLBACK;
}

int dbsync_client_set_policy(dbsync_client *client, const char *table,
			     dbsync_policy policy)
{
	struct dbsync__table_policy *p;
	size_t k;
	int rc;

	if ((rc = dbsync__client_enter(client)))
		return rc;
	if (!valid_policy((int)policy))
		return dbsync__client_leave(
			client, dbsync__error_set(&client->err, DBSYNC_INVALID,
						  "unknown conflict policy %d",
						  (int)policy));
	if (!table) {
		client->default_policy = policy;
		return 0;
	}
	if (!*table)
		return dbsync__client_leave(
			client, dbsync__error_set(&client->err, DBSYNC_INVALID,
						  "table name is empty"));
	for (k = 0; k < client->npolicies; k++)
		if (sqlite3_stricmp(client->policies[k].table, table) == 0) {
			client->policies[k].policy = policy;
			return 0;
		}
	p = realloc(client->policies, (client->npolicies + 1) * sizeof(*p));
	if (p)
		client->policies = p;
	if (!p || !(p[client->npolicies].table = strdup(table)))
		return dbsync__client_leave(
			client, dbsync__error_set(&client->err, DBSYNC_NOMEM,
						  "out of memory"));
	p[client->npolicies++].policy = policy;
	return 0;
}

int dbsync_client_on_conflict(dbsync_client *client, dbsync_conflict_fn fn,
			      void *payload)
{
	int rc;

	if ((rc = dbsync__client_enter(client)))
		return rc;
	client->on_conflict = fn;
	client->on_conflict_payload = fn ? payload : NULL;
	return 0;
}

dbsync_policy dbsync__client_policy(const dbsync_client *c, const char *table)
{
	dbsync_policy policy = c->default_policy;
	size_t k;

	for (k = 0; k < c->npolicies; k++)
		if (sqlite3_stricmp(c->policies[k].table, table) == 0) {
			policy = c->policies[k].policy;
			break;
		}
	if (policy == DBSYNC_POLICY_CALLBACK && !c->on_conflict)
		return DBSYNC_POLICY_LOCAL_WINS;
	return policy;
}

void dbsync__client_policies_free(dbsync_client *c)
{
	size_t k;

	for (k = 0; k < c->npolicies; k++)
		free(c->policies[k].table);
	free(c->policies);
	c->policies = NULL;
	c->npolicies = 0;
}

void dbsync__conflict_free_row(dbsync__value *row, size_t n)
{
	size_t k;

	if (!row)
		return;
	for (k = 0; k < n; k++)
		dbsync__value_clear(&row[k]);
	free(row);
}

int dbsync__conflict_ask(dbsync_client *c, dbsync_conflict *conflict,
			 int *answer, dbsync__value **merged)
{
	const dbsync__value *start =
		conflict->local ? conflict->local : conflict->remote;
	size_t k;
	int a;

	*merged = NULL;
	*answer = conflict->resolution;
	conflict->failed = 0;
	conflict->merged = NULL;
	if (conflict->is_choice && start) {
		conflict->merged =
			calloc(conflict->ncolumns, sizeof(*conflict->merged));
		for (k = 0; conflict->merged && k < conflict->ncolumns; k++)
			if (dbsync__value_copy(&conflict->merged[k], &start[k]))
				break;
		if (!conflict->merged || k < conflict->ncolumns) {
			dbsync__conflict_free_row(conflict->merged,
						  conflict->ncolumns);
			return dbsync__error_set(&c->err, DBSYNC_NOMEM,
						 "out of memory");
		}
	}
	a = c->on_conflict(conflict, c->on_conflict_payload);
	if (a < 0 || (a != 0 && a != DBSYNC_RESOLUTION_KEEP_LOCAL &&
		      a != DBSYNC_RESOLUTION_TAKE_REMOTE &&
		      a != DBSYNC_RESOLUTION_MERGED) ||
	    (a == DBSYNC_RESOLUTION_MERGED && !conflict->merged) ||
	    conflict->failed) {
		dbsync__conflict_free_row(conflict->merged, conflict->ncolumns);
		conflict->merged = NULL;
		if (conflict->failed)
			return dbsync__error_set(&c->err, DBSYNC_NOMEM,
						 "out of memory");
		if (a < 0)
			return dbsync__error_set(&c->err, DBSYNC_CALLBACK,
						 "pull stopped by the conflict "
						 "callback");
		return dbsync__error_set(&c->err, DBSYNC_CALLBACK,
					 "the conflict callback answered %d, "
					 "which is not a resolution it can give "
					 "here",
					 a);
	}
	if (conflict->is_choice && a)
		*answer = a;
	if (*answer == DBSYNC_RESOLUTION_MERGED)
		*merged = conflict->merged;
	else
		dbsync__conflict_free_row(conflict->merged, conflict->ncolumns);
	conflict->merged = NULL;
	return 0;
}

/* ---- what the callback reads ----------------------------------------- */

int dbsync_conflict_kind(const dbsync_conflict *conflict)
{
	return conflict ? conflict->kind : 0;
}

const char *dbsync_conflict_table(const dbsync_conflict *conflict)
{
	return conflict ? conflict->table : NULL;
}

char dbsync_conflict_remote_command(const dbsync_conflict *conflict)
{
	return conflict ? conflict->remote_op : 0;
}

int dbsync_conflict_resolution(const dbsync_conflict *conflict)
{
	return conflict ? conflict->resolution : 0;
}

int dbsync_conflict_is_choice(const dbsync_conflict *conflict)
{
	return conflict ? conflict->is_choice : 0;
}

size_t dbsync_conflict_column_count(const dbsync_conflict *conflict)
{
	return conflict ? conflict->ncolumns : 0;
}

const char *dbsync_conflict_column(const dbsync_conflict *conflict,
				   size_t column)
{
	return conflict && column < conflict->ncolumns
		       ? conflict->columns[column]
		       : NULL;
}

int dbsync_conflict_has_row(const dbsync_conflict *conflict, dbsync_side side)
{
	if (!conflict)
		return 0;
	return (side == DBSYNC_SIDE_LOCAL ? conflict->local : conflict->remote) !=
	       NULL;
}

/* One side's value of a column, the key on both sides, or NULL. */
static const dbsync__value *side_value(const dbsync_conflict *conflict,
				       dbsync_side side, size_t column)
{
	const dbsync__value *row;

	if (!conflict || column >= conflict->ncolumns)
		return NULL;
	if (column == 0)
		return conflict->key;
	if (side == DBSYNC_SIDE_LOCAL)
		row = conflict->local;
	else if (side == DBSYNC_SIDE_REMOTE)
		row = conflict->remote;
	else
		row = NULL;
	return row ? &row[column] : NULL;
}

dbsync_type dbsync_conflict_type(const dbsync_conflict *conflict,
				 dbsync_side side, size_t column)
{
	const dbsync__value *v = side_value(conflict, side, column);
	return v ? v->type : (dbsync_type)0;
}

int64_t dbsync_conflict_int(const dbsync_conflict *conflict, dbsync_side side,
			    size_t column)
{
	const dbsync__value *v = side_value(conflict, side, column);
	return v && v->type == DBSYNC_TYPE_INTEGER ? v->i : 0;
}

double dbsync_conflict_float(const dbsync_conflict *conflict, dbsync_side side,
			     size_t column)
{
	const dbsync__value *v = side_value(conflict, side, column);
	return v && v->type == DBSYNC_TYPE_FLOAT ? v->f : 0.0;
}

const void *dbsync_conflict_bytes(const dbsync_conflict *conflict,
				  dbsync_side side, size_t column, size_t *size)
{
	const dbsync__value *v = side_value(conflict, side, column);

	if (!v || (v->type != DBSYNC_TYPE_TEXT && v->type != DBSYNC_TYPE_BLOB)) {
		if (size)
			*size = 0;
		return NULL;
	}
	if (size)
		*size = v->len;
	return v->p ? v->p : "";
}

/* ---- the merged row ---------------------------------------------------- */

static int set_value(dbsync_conflict *conflict, size_t column,
		     const dbsync__value *v)
{
	dbsync__value copy;

	if (!conflict || !conflict->merged || column == 0 ||
	    column >= conflict->ncolumns)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "no merged row, or column %zu cannot "
					 "be set (0 is the key)",
					 column);
	if (dbsync__value_copy(&copy, v)) {
		conflict->failed = 1;
		return dbsync__error_set(NULL, DBSYNC_NOMEM, "out of memory");
	}
	dbsync__value_clear(&conflict->merged[column]);
	conflict->merged[column] = copy;
	return 0;
}

int dbsync_conflict_set_int(dbsync_conflict *conflict, size_t column,
			    int64_t value)
{
	dbsync__value v = {DBSYNC_TYPE_INTEGER, value, 0.0, NULL, 0};
	return set_value(conflict, column, &v);
}

int dbsync_conflict_set_float(dbsync_conflict *conflict, size_t column,
			      double value)
{
	dbsync__value v = {DBSYNC_TYPE_FLOAT, 0, value, NULL, 0};
	return set_value(conflict, column, &v);
}

int dbsync_conflict_set_text(dbsync_conflict *conflict, size_t column,
			     const char *value)
{
	dbsync__value v = {DBSYNC_TYPE_TEXT, 0, 0.0, value,
			   value ? strlen(value) : 0};

	if (!value)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "text value is NULL");
	return set_value(conflict, column, &v);
}

int dbsync_conflict_set_blob(dbsync_conflict *conflict, size_t column,
			     const void *value, size_t size)
{
	dbsync__value v = {DBSYNC_TYPE_BLOB, 0, 0.0, value, size};

	if (!value && size)
		return dbsync__error_set(NULL, DBSYNC_INVALID,
					 "blob value is NULL");
	return set_value(conflict, column, &v);
}

int dbsync_conflict_set_null(dbsync_conflict *conflict, size_t column)
{
	dbsync__value v = {DBSYNC_TYPE_NULL, 0, 0.0, NULL, 0};
	return set_value(conflict, column, &v);
}
