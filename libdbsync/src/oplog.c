/* oplog.c - compression of pending operations, pending() and compaction. */
#include "oplog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "oplist.h"
#include "rowsql.h"
#include "sqlutil.h"

/* The folded state of one row: its key, where it sits, what survives. */
struct row {
	uint64_t hash;
	int64_t tid;
	int type;	 /* SQLite storage class of the key */
	int64_t i;
	double f;
	size_t off, len; /* key bytes in the compressor's arena */
	char state;	 /* 'i', 'u', 'd', or '-' when nothing survives */
	int64_t pos;	 /* the survivor's seq */
	uint32_t seqs;	 /* keysets: its unpushed entries (index + 1 into
			    the seq chain, 0: none) */
	uint32_t link;	 /* keysets: the caller's (dbsync__keyset_link) */
};

struct compressor {
	struct row *rows;
	size_t nrows, rows_cap;
	uint32_t *slots; /* open addressing: index + 1 into rows, 0 empty */
	size_t nslots;	 /* a power of two */
	unsigned char *arena;
	size_t narena, arena_cap;
	size_t nentries; /* log entries read */
	int64_t last_seq; /* seq of the last entry read */
	/* Keysets only: the seqs of each row's unpushed entries, chained
	 * per row (seq_next: index + 1, 0 ends a chain), so that the merge
	 * can update or delete a row's entries by seq: the log has no index
	 * on its rows. Entries of a push in flight are only counted. */
	int with_seqs;
	int64_t *seq;
	uint32_t *seq_next;
	size_t nseq, seq_cap;
	size_t in_flight;
};

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 33);
}

static uint64_t hash_key(int64_t tid, const dbsync__value *v)
{
	uint64_t h = mix((uint64_t)tid * 8 + (uint64_t)v->type);
	const unsigned char *p = (const unsigned char *)v->p;
	uint64_t bits;
	size_t k;

	switch (v->type) {
	case DBSYNC_TYPE_INTEGER:
		return mix(h ^ (uint64_t)v->i);
	case DBSYNC_TYPE_FLOAT:
		memcpy(&bits, &v->f, sizeof(bits));
		return mix(h ^ bits);
	case DBSYNC_TYPE_TEXT:
	case DBSYNC_TYPE_BLOB:
		for (k = 0; k < v->len; k++)
			h = (h ^ p[k]) * 0x100000001b3ULL;
		return mix(h);
	default:
		return h;
	}
}

static int same_key(const struct compressor *c, const struct row *r,
		    uint64_t hash, int64_t tid, const dbsync__value *v)
{
	if (r->hash != hash || r->tid != tid || r->type != (int)v->type)
		return 0;
	switch (v->type) {
	case DBSYNC_TYPE_INTEGER:
		return r->i == v->i;
	case DBSYNC_TYPE_FLOAT:
		return r->f == v->f;
	case DBSYNC_TYPE_TEXT:
	case DBSYNC_TYPE_BLOB:
		return r->len == v->len &&
		       (r->len == 0 || memcmp(c->arena + r->off, v->p, r->len) == 0);
	default:
		return 1;
	}
}

static int rehash(struct compressor *c)
{
	size_t n = c->nslots ? c->nslots * 2 : 1024, k;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return DBSYNC_NOMEM;
	for (k = 0; k < c->nrows; k++) {
		size_t s = (size_t)c->rows[k].hash & (n - 1);
		while (slots[s])
			s = (s + 1) & (n - 1);
		slots[s] = (uint32_t)(k + 1);
	}
	free(c->slots);
	c->slots = slots;
	c->nslots = n;
	return 0;
}

/* The row for (tid, key): found, or created in state 0 (never seen) when
 * `create`; NULL when absent (or out of memory while creating). */
static struct row *row_for(struct compressor *c, int64_t tid,
			   const dbsync__value *key, int create)
{
	uint64_t hash = hash_key(tid, key);
	struct row *r;
	size_t s;

	if (create && (c->nrows + 1) * 4 > c->nslots * 3 && rehash(c))
		return NULL;
	if (!c->nslots)
		return NULL;
	for (s = (size_t)hash & (c->nslots - 1); c->slots[s];
	     s = (s + 1) & (c->nslots - 1)) {
		r = &c->rows[c->slots[s] - 1];
		if (same_key(c, r, hash, tid, key))
			return r;
	}
	if (!create || c->nrows >= UINT32_MAX - 1 ||
	    dbsync__grow((void **)&c->rows, &c->rows_cap, c->nrows + 1,
			 sizeof(*c->rows)))
		return NULL;
	r = &c->rows[c->nrows];
	memset(r, 0, sizeof(*r));
	r->hash = hash;
	r->tid = tid;
	r->type = (int)key->type;
	r->i = key->i;
	r->f = key->f;
	if (key->type == DBSYNC_TYPE_TEXT || key->type == DBSYNC_TYPE_BLOB) {
		r->len = key->len;
		if (dbsync__grow((void **)&c->arena, &c->arena_cap,
				 c->narena + r->len + 1, 1))
			return NULL;
		if (r->len)
			memcpy(c->arena + c->narena, key->p, r->len);
		r->off = c->narena;
		c->narena += r->len;
	}
	c->slots[s] = (uint32_t)(++c->nrows);
	return r;
}

/*
 * One log entry meets the row's folded state. Sequences the triggers cannot
 * produce (u then i without a d, say, from INSERT OR REPLACE, whose implicit
 * delete fires no trigger) fold to what the row now is: it exists.
 *
 * '-' is a vanished row (i ... d). It is not pending, but it is kept, as a
 * tombstone 't' when compacted: the i may have come from a REPLACE of a row
 * the server has, so push sends a "delete if present" for it
 * (docs/capture.md).
 */
static void fold(struct row *r, char op, int64_t seq)
{
	/* A tombstone is a delete whose row may never have reached the
	 * server: after nothing (or another vanishing) it stays vanished. */
	if (op == 't') {
		if (r->state == 0 || r->state == '-') {
			r->state = '-';
			r->pos = seq;
			return;
		}
		op = 'd';
	}
	switch (r->state) {
	case 0: /* first entry of this row */
		r->state = op;
		r->pos = seq;
		break;
	case 'i': /* i u* stays i where it was inserted; i ... d vanishes */
		if (op == 'd') {
			r->state = '-';
			r->pos = seq;
		}
		break;
	case 'u': /* u u -> u, u d -> d: both at the last change */
	case 'd': /* d i -> u (re-insert of a key the server has) */
		r->state = op == 'd' ? 'd' : 'u';
		r->pos = seq;
		break;
	case '-': /* after i ... d the row is new again */
		if (op == 'i' || op == 'u') {
			r->state = 'i';
			r->pos = seq;
		}
		break;
	}
}

static void compressor_free(struct compressor *c)
{
	free(c->rows);
	free(c->slots);
	free(c->arena);
	free(c->seq);
	free(c->seq_next);
	memset(c, 0, sizeof(*c));
}

/* Chain `seq` to the row's unpushed entries. */
static int add_seq(struct compressor *c, struct row *r, int64_t seq)
{
	if (c->nseq >= UINT32_MAX - 1)
		return DBSYNC_NOMEM;
	if (c->nseq == c->seq_cap) {
		size_t cap = c->seq_cap ? c->seq_cap * 2 : 256;
		int64_t *seqs = realloc(c->seq, cap * sizeof(*seqs));
		uint32_t *next;

		if (!seqs)
			return DBSYNC_NOMEM;
		c->seq = seqs;
		next = realloc(c->seq_next, cap * sizeof(*next));
		if (!next)
			return DBSYNC_NOMEM;
		c->seq_next = next;
		c->seq_cap = cap;
	}
	c->seq[c->nseq] = seq;
	c->seq_next[c->nseq] = r->seqs;
	r->seqs = (uint32_t)++c->nseq;
	return 0;
}

/* Fold the entries (seq, tid, pk, op, and `with_seqs` version) that `st`
 * yields in seq order; the caller holds a transaction. `st` is
 * finalized. */
static int fold_entries(sqlite3 *db, sqlite3_stmt *st, int with_seqs,
			struct compressor *c, dbsync__error *err)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->with_seqs = with_seqs;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *op = sqlite3_column_text(st, 3);
		dbsync__value key;
		struct row *r;

		if (!op || !op[0] || !strchr("iudt", op[0]))
			continue; /* not written by dbsync */
		dbsync__sql_column_value(st, 2, &key);
		r = row_for(c, sqlite3_column_int64(st, 1), &key, 1);
		if (!r) {
			rc = SQLITE_NOMEM;
			break;
		}
		fold(r, (char)op[0], sqlite3_column_int64(st, 0));
		if (c->with_seqs && sqlite3_column_type(st, 4) != SQLITE_NULL) {
			c->in_flight++;
		} else if (c->with_seqs &&
			   add_seq(c, r, sqlite3_column_int64(st, 0))) {
			rc = SQLITE_NOMEM;
			break;
		}
		c->nentries++;
		c->last_seq = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		compressor_free(c);
	if (rc == SQLITE_NOMEM)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the operations log");
	return 0;
}

/* Which client log entries a fold reads. In-flight entries (version -1,
 * sent in a push whose answer is not recorded yet) are still pending, but
 * compaction leaves them alone: the push must stay what it was. */
#define PENDING "version IS NULL OR version < 0"
#define NOT_IN_FLIGHT "version IS NULL"
#define IN_FLIGHT "version < 0"

static int compress_log(sqlite3 *db, const char *which, int with_seqs,
			struct compressor *c, dbsync__error *err)
{
	sqlite3_stmt *st;
	char sql[160];
	int rc;

	snprintf(sql, sizeof(sql),
		 "SELECT seq, tid, pk, op%s FROM dbsync_log WHERE %s"
		 " ORDER BY seq",
		 with_seqs ? ", version" : "", which);
	rc = dbsync__sql_prepare(db, sql, &st, err,
				 "cannot read the operations log");
	if (rc)
		return rc;
	return fold_entries(db, st, with_seqs, c, err);
}

/* A survivor in push order: its position and its row. */
struct survivor {
	int64_t pos;
	uint32_t row;
};

static int by_pos(const void *a, const void *b)
{
	int64_t pa = ((const struct survivor *)a)->pos;
	int64_t pb = ((const struct survivor *)b)->pos;
	return pa < pb ? -1 : pa > pb;
}

/* The rows sorted by position, vanished ones only `with_vanished`; *n
 * receives their count. */
static struct survivor *survivors(const struct compressor *c, int with_vanished,
				  size_t *n)
{
	struct survivor *list = malloc((c->nrows ? c->nrows : 1) * sizeof(*list));
	size_t k;

	if (!list)
		return NULL;
	*n = 0;
	for (k = 0; k < c->nrows; k++)
		if (with_vanished || c->rows[k].state != '-') {
			list[*n].pos = c->rows[k].pos;
			list[(*n)++].row = (uint32_t)k;
		}
	qsort(list, *n, sizeof(*list), by_pos);
	return list;
}

/* tid -> index of its name in the oplist being built. */
struct table_map {
	int64_t *tids;
	int *index;
	int n;
};

static int read_tables(sqlite3 *db, dbsync_oplist *list, struct table_map *m,
		       dbsync__error *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = dbsync__sql_prepare(db, "SELECT tid, name FROM dbsync_tracked",
				 &st, err, "cannot read the tracked tables");
	if (rc)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t *t = realloc(m->tids, (size_t)(m->n + 1) * sizeof(*t));
		int *x;

		if (t)
			m->tids = t;
		x = t ? realloc(m->index, (size_t)(m->n + 1) * sizeof(*x))
		      : NULL;
		if (x)
			m->index = x;
		if (!t || !x)
			break;
		m->tids[m->n] = sqlite3_column_int64(st, 0);
		m->index[m->n] = dbsync__oplist_table(
			list, (const char *)sqlite3_column_text(st, 1));
		if (m->index[m->n++] < 0)
			break;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (rc != SQLITE_DONE)
		return dbsync__error_sqlite(err, db, rc,
					    "cannot read the tracked tables");
	return 0;
}

static int table_index(const struct table_map *m, int64_t tid)
{
	int k;

	for (k = 0; k < m->n; k++)
		if (m->tids[k] == tid)
			return m->index[k];
	return -1;
}

static int build_list(const struct compressor *c, const struct table_map *m,
		      dbsync_oplist *list, dbsync__error *err)
{
	struct survivor *order;
	size_t n, k;
	int rc = 0;

	order = survivors(c, 0, &n);
	if (!order)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	for (k = 0; k < n && !rc; k++) {
		const struct row *r = &c->rows[order[k].row];
		int table = table_index(m, r->tid);

		if (table < 0)
			continue; /* left by a table no longer tracked */
		rc = dbsync__oplist_add(list, table, r->state, r->pos,
					(dbsync_type)r->type, r->i, r->f,
					c->arena + r->off, r->len);
	}
	free(order);
	if (rc)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	return 0;
}

int dbsync__oplog_pending(sqlite3 *db, dbsync_oplist **out,
			  dbsync__error *err)
{
	struct compressor c;
	struct table_map m = {0};
	dbsync_oplist *list;
	int rc;

	*out = NULL;
	list = dbsync__oplist_new();
	if (!list)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	/* One read transaction: the log and the registry from one snapshot. */
	rc = dbsync__sql_begin_read(db, err);
	if (!rc)
		rc = read_tables(db, list, &m, err);
	if (!rc)
		rc = compress_log(db, PENDING, 0, &c, err);
	dbsync__sql_rollback(db);
	if (!rc) {
		rc = build_list(&c, &m, list, err);
		compressor_free(&c);
	}
	free(m.tids);
	free(m.index);
	if (rc) {
		dbsync_oplist_free(list);
		return rc;
	}
	*out = list;
	return 0;
}

static void bind_key(sqlite3_stmt *st, int col, const struct compressor *c,
		     const struct row *r)
{
	switch (r->type) {
	case SQLITE_INTEGER:
		sqlite3_bind_int64(st, col, r->i);
		break;
	case SQLITE_FLOAT:
		sqlite3_bind_double(st, col, r->f);
		break;
	case SQLITE_TEXT:
		sqlite3_bind_text(st, col, (const char *)c->arena + r->off,
				  (int)r->len, SQLITE_STATIC);
		break;
	case SQLITE_BLOB:
		sqlite3_bind_blob(st, col, c->arena + r->off, (int)r->len,
				  SQLITE_STATIC);
		break;
	default:
		sqlite3_bind_null(st, col);
	}
}

/* Replace the pending entries by the survivors, each at its position. */
static int rewrite(sqlite3 *db, const struct compressor *c,
		   dbsync__error *err)
{
	static const char context[] = "cannot compact the operations log";
	struct survivor *order;
	sqlite3_stmt *st;
	size_t n, k;
	int rc;

	rc = dbsync__sql_exec(db, "DELETE FROM dbsync_log WHERE " NOT_IN_FLIGHT,
			      err, context);
	if (rc)
		return rc;
	order = survivors(c, 1, &n);
	if (!order)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	rc = dbsync__sql_prepare(db,
				 "INSERT INTO dbsync_log(seq, tid, pk, op)"
				 " VALUES (?1, ?2, ?3, ?4)",
				 &st, err, context);
	for (k = 0; k < n && !rc; k++) {
		const struct row *r = &c->rows[order[k].row];
		char op[2] = {r->state == '-' ? 't' : r->state, '\0'};

		sqlite3_bind_int64(st, 1, r->pos);
		sqlite3_bind_int64(st, 2, r->tid);
		bind_key(st, 3, c, r);
		sqlite3_bind_text(st, 4, op, 1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = dbsync__error_sqlite(err, db, sqlite3_reset(st),
						  context);
		else
			sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	free(order);
	return rc;
}

int dbsync__oplog_compact(sqlite3 *db, dbsync__error *err)
{
	struct compressor c;
	int rc;

	/* Under the write lock no trigger can add entries between the read
	 * and the rewrite, so nothing captured meanwhile is lost. */
	rc = dbsync__sql_begin_write(db, err);
	if (rc)
		return rc;
	rc = compress_log(db, NOT_IN_FLIGHT, 0, &c, err);
	if (!rc) {
		/* Every row keeps one entry (vanished ones as tombstones). */
		if (c.nrows < c.nentries)
			rc = rewrite(db, &c, err);
		compressor_free(&c);
	}
	if (!rc)
		rc = dbsync__sql_commit(db, err);
	if (rc)
		dbsync__sql_rollback(db);
	return rc;
}

int dbsync__oplog_fold_range(sqlite3 *db, int64_t after_seq, int64_t last_seq,
			     size_t max,
			     int (*fn)(void *payload, int64_t tid, char op,
				       const dbsync__value *pk, int64_t pos),
			     void *payload, int *more, int64_t *covered,
			     dbsync__error *err)
{
	struct compressor c;
	struct survivor *order;
	sqlite3_stmt *st;
	size_t n, k;
	int rc;

	*more = 0;
	*covered = after_seq;
	/* At most `max` entries: a page costs what it sends, not what is
	 * left of the range (folding the rest per page is quadratic). */
	rc = dbsync__sql_prepare(db,
				 "SELECT seq, tid, pk, op FROM dbsync_log"
				 " WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"
				 " LIMIT ?3",
				 &st, err, "cannot read the operations log");
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, after_seq);
	sqlite3_bind_int64(st, 2, last_seq);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)(max ? max : 1));
	rc = fold_entries(db, st, 0, &c, err);
	if (rc)
		return rc;
	/* A row inserted and deleted within the range still goes out, as a
	 * delete: a node holding its own pending insert of that INTEGER key
	 * must learn that the key was another row's (client_merge.c). */
	order = survivors(&c, 1, &n);
	if (!order) {
		compressor_free(&c);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	for (k = 0; k < n && !rc; k++) {
		const struct row *r = &c.rows[order[k].row];
		dbsync__value pk = {(dbsync_type)r->type, r->i, r->f,
				    (const char *)c.arena + r->off, r->len};
		rc = fn(payload, r->tid, r->state == '-' ? 'd' : r->state, &pk,
			r->pos);
		if (rc == 1) {
			/* The caller is full: resume after what it took. */
			*more = 1;
			break;
		}
		*covered = r->pos;
	}
	if (!*more && !rc && c.nentries) {
		*covered = c.last_seq;
		*more = c.nentries >= (max ? max : 1) && c.last_seq < last_seq;
	}
	free(order);
	compressor_free(&c);
	return rc;
}

int dbsync__oplog_fold_in_flight(sqlite3 *db,
				 int (*fn)(void *payload, int64_t tid, char op,
					   const dbsync__value *pk,
					   int64_t pos),
				 void *payload, dbsync__error *err)
{
	struct compressor c;
	struct survivor *order;
	size_t n, k;
	int rc = compress_log(db, IN_FLIGHT, 0, &c, err);

	if (rc)
		return rc;
	order = survivors(&c, 1, &n);
	if (!order) {
		compressor_free(&c);
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	}
	for (k = 0; k < n && !rc; k++) {
		const struct row *r = &c.rows[order[k].row];
		dbsync__value pk = {(dbsync_type)r->type, r->i, r->f,
				    (const char *)c.arena + r->off, r->len};
		rc = fn(payload, r->tid, r->state, &pk, r->pos);
	}
	free(order);
	compressor_free(&c);
	return rc;
}

struct dbsync__keyset {
	struct compressor c;
};

int dbsync__oplog_pending_keys(sqlite3 *db, dbsync__keyset **out,
			       dbsync__error *err)
{
	dbsync__keyset *set = calloc(1, sizeof(*set));
	int rc;

	*out = NULL;
	if (!set)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	rc = compress_log(db, PENDING, 1, &set->c, err);
	if (rc) {
		free(set);
		return rc;
	}
	*out = set;
	return 0;
}

char dbsync__keyset_state(dbsync__keyset *set, int64_t tid,
			  const dbsync__value *pk)
{
	const struct row *r = row_for(&set->c, tid, pk, 0);

	return r ? r->state : 0;
}

dbsync__keyset *dbsync__keyset_new(void)
{
	return calloc(1, sizeof(dbsync__keyset));
}

int dbsync__keyset_add(dbsync__keyset *set, int64_t tid,
		       const dbsync__value *pk)
{
	struct row *r = row_for(&set->c, tid, pk, 1);

	if (!r)
		return DBSYNC_NOMEM;
	if (!r->state)
		r->state = '+';
	return 0;
}

int dbsync__keyset_move(dbsync__keyset *set, int64_t tid,
			const dbsync__value *from, const dbsync__value *to)
{
	struct row *r = row_for(&set->c, tid, from, 0);
	struct row moved;

	if (!r || (!r->state && !r->seqs && !r->link))
		return 0;
	moved = *r;
	r->state = 0;
	r->seqs = 0;
	r->link = 0;
	/* May move the rows: `r` is not used again. */
	r = row_for(&set->c, tid, to, 1);
	if (!r)
		return DBSYNC_NOMEM;
	r->state = moved.state;
	r->seqs = moved.seqs;
	r->link = moved.link;
	return 0;
}

int dbsync__keyset_in_flight(const dbsync__keyset *set)
{
	return set->c.in_flight != 0;
}

int dbsync__keyset_each_seq(dbsync__keyset *set, int64_t tid,
			    const dbsync__value *pk,
			    int (*fn)(void *payload, int64_t seq),
			    void *payload)
{
	const struct row *r = row_for(&set->c, tid, pk, 0);
	uint32_t k;
	int rc = 0;

	for (k = r ? r->seqs : 0; k && !rc; k = set->c.seq_next[k - 1])
		rc = fn(payload, set->c.seq[k - 1]);
	return rc;
}

void dbsync__keyset_clear_seqs(dbsync__keyset *set, int64_t tid,
			       const dbsync__value *pk)
{
	struct row *r = row_for(&set->c, tid, pk, 0);

	if (r)
		r->seqs = 0;
}

int dbsync__keyset_log(dbsync__keyset *set, int64_t tid,
		       const dbsync__value *pk, char op, int64_t seq)
{
	struct row *r = row_for(&set->c, tid, pk, 1);

	if (!r)
		return DBSYNC_NOMEM;
	fold(r, op, seq);
	return add_seq(&set->c, r, seq);
}

uint32_t dbsync__keyset_link(dbsync__keyset *set, int64_t tid,
			     const dbsync__value *pk)
{
	const struct row *r = row_for(&set->c, tid, pk, 0);

	return r ? r->link : 0;
}

int dbsync__keyset_set_link(dbsync__keyset *set, int64_t tid,
			    const dbsync__value *pk, uint32_t link)
{
	struct row *r = row_for(&set->c, tid, pk, link != 0);

	if (r)
		r->link = link;
	return r || !link ? 0 : DBSYNC_NOMEM;
}

int64_t dbsync__keyset_max_integer(const dbsync__keyset *set, int64_t tid)
{
	int64_t max = 0;
	size_t k;

	for (k = 0; k < set->c.nrows; k++) {
		const struct row *r = &set->c.rows[k];

		if (r->tid == tid && r->type == DBSYNC_TYPE_INTEGER &&
		    r->i > max)
			max = r->i;
	}
	return max;
}

int dbsync__keyset_each(dbsync__keyset *set,
			int (*fn)(void *payload, int64_t tid,
				  const dbsync__value *pk, char state),
			void *payload)
{
	size_t k;
	int rc = 0;

	for (k = 0; k < set->c.nrows && !rc; k++) {
		const struct row *r = &set->c.rows[k];
		dbsync__value pk = {(dbsync_type)r->type, r->i, r->f,
				    (const char *)set->c.arena + r->off,
				    r->len};

		if (r->state)
			rc = fn(payload, r->tid, &pk, r->state);
	}
	return rc;
}

void dbsync__keyset_forget(dbsync__keyset *set, int64_t tid,
			   const dbsync__value *pk)
{
	struct row *r = row_for(&set->c, tid, pk, 0);

	if (r)
		r->state = 0;
}

void dbsync__keyset_free(dbsync__keyset *set)
{
	if (!set)
		return;
	compressor_free(&set->c);
	free(set);
}
