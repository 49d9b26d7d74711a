/*
 * store.h - where the server keeps its data, behind one interface.
 *
 * No protocol code knows which store it talks to: server*.c call these
 * functions through a dbsync__store_ops table. store_sqlite.c keeps
 * everything in one SQLite file; store_pg*.c in one PostgreSQL schema that
 * several server processes may share.
 *
 * A dbsync__store is one connection, used by one request at a time. Every
 * call that reads or writes runs inside begin()/commit(). The semantics the
 * protocol relies on, which every store provides:
 *
 * - Versions are numbered 1, 2, 3... without gaps and are made one at a
 *   time: fold_direct_writes, apply_begin..apply_end and trim hold the
 *   store's version lock from that call until commit/rollback (SQLite: the
 *   write transaction itself; PostgreSQL: an advisory lock). A push calls
 *   fold_direct_writes first, so its base check, its writes and its new
 *   version happen under one lock: of two pushes on the same base exactly
 *   one is accepted. Other write transactions (nodes, nonces) do not
 *   serialize with pushes.
 * - Every change to a tracked table, by a push or by any other program, is
 *   logged in the writer's transaction with a seq. A version covers a
 *   contiguous seq range; seqs only grow, and no entry can later appear
 *   inside a range that was already given to a version (each store says
 *   how it guarantees that with concurrent writers).
 * - begin(s, 0) reads one consistent snapshot until commit/rollback.
 * - Nonces are unique per node across every process sharing the store.
 */
#ifndef DBSYNC_STORE_H
#define DBSYNC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "value.h"

typedef struct dbsync__store dbsync__store;

/* A single-column foreign key: column `column` of the table refers to the
 * primary key of `table` (keys referring to other columns are not kept). */
typedef struct dbsync__store_ref {
	size_t column;
	char *table;
} dbsync__store_ref;

/* A tracked table as the server sees it. */
typedef struct dbsync__store_table {
	int64_t tid;
	char *name;
	char *pk;
	char **columns; /* all columns, the primary key included, in order */
	size_t ncolumns;
	size_t pk_index; /* position of the primary key in columns */
	char **parents;	 /* tables this one references by foreign key */
	size_t nparents;
	dbsync__store_ref *refs; /* for a pull's parent rows */
	size_t nrefs;
} dbsync__store_table;

/* One compressed change, as a pull sends it. */
typedef struct dbsync__store_change {
	int64_t tid;
	char op;	  /* 'i', 'u', 'd' */
	dbsync__value pk; /* borrowed: valid during the callback */
	int64_t pos;	  /* position (log seq) of the survivor */
} dbsync__store_change;

typedef struct dbsync__store_version {
	int64_t id;
	int has_node;
	int64_t node_id;
	char push_id[33];
	int64_t created;
} dbsync__store_version;

typedef struct dbsync__store_ops {
	const char *kind; /* "sqlite", "postgresql" */
	int (*open)(dbsync__store **out, const char *location,
		    dbsync__error *err);
	void (*close)(dbsync__store *s);

	int (*begin)(dbsync__store *s, int write, dbsync__error *err);
	int (*commit)(dbsync__store *s, dbsync__error *err);
	void (*rollback)(dbsync__store *s);

	/* Setup (own transaction each). */
	int (*exec)(dbsync__store *s, const char *sql, dbsync__error *err);
	int (*track)(dbsync__store *s, const char *table, dbsync__error *err);
	/* Every tracked table, parents before children. Free with
	 * dbsync__store_tables_free. */
	int (*tables)(dbsync__store *s, dbsync__store_table **out, size_t *n,
		      dbsync__error *err);
	/* Names of user tables with a single-column primary key. */
	int (*candidates)(dbsync__store *s, char ***out, size_t *n,
			  dbsync__error *err);

	/* Nodes and replay protection. */
	int (*node_create)(dbsync__store *s, const void *secret, size_t len,
			   int64_t now, int64_t *id, dbsync__error *err);
	/* DBSYNC_NOT_FOUND for an unknown node; *secret malloc'd. */
	int (*node_secret)(dbsync__store *s, int64_t id, unsigned char **secret,
			   size_t *len, dbsync__error *err);
	/* Record a nonce; DBSYNC_AUTH if this node used it already. Nonces
	 * older than `oldest` are forgotten. */
	int (*nonce_use)(dbsync__store *s, int64_t node, const char *nonce,
			 int64_t now, int64_t oldest, dbsync__error *err);

	/* Versions. */
	/* Take the version lock; give unversioned direct writes a version of
	 * their own (no node). */
	int (*fold_direct_writes)(dbsync__store *s, int64_t now,
				  dbsync__error *err);
	int (*latest_version)(dbsync__store *s, int64_t *version,
			      dbsync__error *err);
	/* 1 and the version if (node, push_id) was applied, else 0. */
	int (*find_push)(dbsync__store *s, int64_t node, const char *push_id,
			 int64_t *version, dbsync__error *err);

	/* Applying a push: begin takes the version lock, defers what foreign
	 * keys can be deferred and marks the log; apply writes rows; end makes
	 * one version of what changed (*version 0 if nothing did). A row
	 * written with the same values it had is no change. Foreign keys the
	 * store cannot defer hold because the push writes parents first and
	 * deletes children first; a broken one fails apply or commit with
	 * DBSYNC_CONFLICT. */
	int (*apply_begin)(dbsync__store *s, int64_t *mark, dbsync__error *err);
	/* 'i'/'u' upsert `row` (t->ncolumns values); 'd'/'t' delete if
	 * present. DBSYNC_UNIQUE_CONFLICT leaves the transaction usable (the
	 * push goes on and retries the row); any other error ends the push. */
	int (*apply)(dbsync__store *s, const dbsync__store_table *t, char op,
		     const dbsync__value *pk, const dbsync__value *row,
		     dbsync__error *err);
	/* An 'i'/'u' that apply refused with DBSYNC_UNIQUE_CONFLICT may only
	 * need values another row of the same push still holds (a swap).
	 * Give row `pk` of `t` unique values no other row has; the push
	 * rewrites that row afterwards. 0 also when the row is absent. */
	int (*unique_free)(dbsync__store *s, const dbsync__store_table *t,
			   const dbsync__value *pk, dbsync__error *err);
	int (*apply_end)(dbsync__store *s, int64_t mark, int64_t node,
			 const char *push_id, int64_t now, int64_t *version,
			 dbsync__error *err);

	/* Reading for pull: the compressed changes of the next `max` log
	 * entries of versions (after, target] past `cursor`, in position
	 * order; `fn` returns 1 when its page is full. *next is the cursor
	 * of the following page, *more whether there may be one. */
	int (*changes)(dbsync__store *s, int64_t after, int64_t target,
		       int64_t cursor, size_t max,
		       int (*fn)(void *payload, const dbsync__store_change *c),
		       void *payload, int *more, int64_t *next,
		       dbsync__error *err);
	int (*versions)(dbsync__store *s, int64_t after, int64_t target,
			int (*fn)(void *payload,
				  const dbsync__store_version *v),
			void *payload, dbsync__error *err);
	/* Repair: up to `max` rows of `t` after the row whose resume key is
	 * `after` (NULL starts the table), in a stable order, each handed to
	 * fn with its own resume key (borrowed: valid during the call). The
	 * key is a cursor, not an offset: rows deleted between two calls do
	 * not move the rows after them. It is the rowid (INTEGER) for SQLite
	 * ROWID tables, the primary key for SQLite WITHOUT ROWID tables
	 * (compared as SQLite orders values, mixed types included), and the
	 * primary key's text form (TEXT, bound back as the key column's type)
	 * in PostgreSQL. *more tells whether rows remain. */
	int (*scan)(dbsync__store *s, const dbsync__store_table *t,
		    const dbsync__value *after, size_t max,
		    int (*fn)(void *payload, const dbsync__value *key,
			      const dbsync__value *row),
		    void *payload, int *more, dbsync__error *err);

	/* Forget the log entries of versions up to `through` (the versions
	 * themselves stay: retried pushes are still recognized). Nodes
	 * behind it must repair. */
	int (*trim)(dbsync__store *s, int64_t through, dbsync__error *err);
	/* The newest trimmed version, 0 if nothing was trimmed. */
	int (*trimmed)(dbsync__store *s, int64_t *through, dbsync__error *err);

	/* The current row for `pk` (1), or 0 if there is none; the values
	 * are valid until the next call on the store. */
	int (*row)(dbsync__store *s, const dbsync__store_table *t,
		   const dbsync__value *pk, const dbsync__value **values,
		   dbsync__error *err);
} dbsync__store_ops;

/* The store kind for a location ("sqlite:PATH", "postgresql://..."); NULL
 * if unknown. Sets *location to what the store's open() takes: the path
 * after "sqlite:", the whole URL for PostgreSQL. */
const dbsync__store_ops *dbsync__store_find(const char *url,
					    const char **location);

void dbsync__store_tables_free(dbsync__store_table *t, size_t n);
/* Append a copy of `s` ("" for NULL) to a growing list of names. 0 or
 * DBSYNC_NOMEM. */
int dbsync__store_push_string(char ***list, size_t *n, const char *s);
/* Free such a list and leave it empty (NULL, 0). */
void dbsync__store_strings_clear(char ***list, size_t *n);
/* Add the foreign key from `column` onto `parent`'s primary key to
 * t->refs, the column found among t->columns by `cmp` (the store's rule
 * for names); a column `t` does not have adds nothing. 0 or
 * DBSYNC_NOMEM. */
int dbsync__store_add_ref(dbsync__store_table *t, const char *column,
			  const char *parent,
			  int (*cmp)(const char *a, const char *b));
/* Parents before children (by `parents`); tables in a cycle keep their
 * order. */
void dbsync__store_tables_order(dbsync__store_table *t, size_t n);

/* The `changes` op over a SQLite database `fold_db` holding the log
 * entries (lo, hi]: folds the next `max` of them (oplog.c) and hands
 * each row to `fn` as a dbsync__store_change. Both stores fold this way. */
struct sqlite3;
int dbsync__store_fold_changes(struct sqlite3 *fold_db, int64_t lo,
			       int64_t hi, size_t max,
			       int (*fn)(void *payload,
					 const dbsync__store_change *c),
			       void *payload, int *more, int64_t *next,
			       dbsync__error *err);

extern const dbsync__store_ops dbsync__store_sqlite;
extern const dbsync__store_ops dbsync__store_pg;

#endif
