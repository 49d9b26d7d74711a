/*
 * server_repair.c - POST /v1/repair: a full copy of every tracked table,
 * one page at a time (docs/protocol.md, Repair).
 *
 * The request and the answer have the shape of a pull: the first page
 * fixes `target_version` (the version the copy stands for); every
 * operation is an 'i' with its row; the cursor says which table and after
 * which key in it the next page starts (a key, not an offset: rows deleted
 * between two pages do not move the rest). Pages are read in separate
 * transactions, so
 * a row changed after the first page may arrive newer than that version:
 * the client's next pull after it converges such rows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "message.h"
#include "server.h"

struct copy {
	dbsync__pull_resp *resp;
	size_t table;	 /* index into the message's tables */
	size_t ncolumns, pk_index;
	size_t ops_cap, max_rows, max_bytes, bytes;
	dbsync__value last_key; /* the scan's resume key of the last row */
};

static int add_row(void *payload, const dbsync__value *key,
		   const dbsync__value *row)
{
	struct copy *cp = payload;
	dbsync__pull_resp *r = cp->resp;
	dbsync__msg_op *op;
	size_t k;
	int rc = 0;

	if (r->nops && cp->bytes >= cp->max_bytes)
		return 1; /* full: the scan stops here */
	if (r->nops == cp->ops_cap) {
		size_t cap = cp->ops_cap ? cp->ops_cap * 2 : 64;
		dbsync__msg_op *p = realloc(r->ops, cap * sizeof(*p));
		if (!p)
			return DBSYNC_NOMEM;
		r->ops = p;
		cp->ops_cap = cap;
	}
	op = &r->ops[r->nops++];
	memset(op, 0, sizeof(*op));
	op->table = cp->table;
	op->op = 'i';
	op->row = calloc(cp->ncolumns, sizeof(*op->row));
	if (!op->row)
		return DBSYNC_NOMEM;
	for (k = 0; k < cp->ncolumns && !rc; k++) {
		rc = dbsync__value_copy(&op->row[k], &row[k]);
		op->nrow = k + 1;
		cp->bytes += dbsync__value_json_size(&row[k]);
	}
	if (!rc)
		rc = dbsync__value_copy(&op->pk, &row[cp->pk_index]);
	if (!rc) {
		dbsync__value_clear(&cp->last_key);
		rc = dbsync__value_copy(&cp->last_key, key);
	}
	return rc;
}

/*
 * The cursor is opaque to the client; the server parses it strictly.
 *   "TABLE"            the start of table TABLE (its index in FK order)
 *   "TABLE:i:DECIMAL"  after an INTEGER key
 *   "TABLE:f:HEX16"    after a FLOAT key (its IEEE-754 bits)
 *   "TABLE:t:HEX"      after a TEXT key (its UTF-8 bytes)
 *   "TABLE:b:HEX"      after a BLOB key
 * The key is the store scan's resume key (store.h), never an offset.
 */
static const char hexdigits[] = "0123456789abcdef";

static char *format_cursor(size_t table, const dbsync__value *key)
{
	size_t cap = 48 + (key ? 2 * key->len : 0), n, k;
	char *buf = malloc(cap);
	const unsigned char *p;

	if (!buf)
		return NULL;
	if (!key) {
		snprintf(buf, cap, "%zu", table);
		return buf;
	}
	switch (key->type) {
	case DBSYNC_TYPE_INTEGER:
		snprintf(buf, cap, "%zu:i:%lld", table, (long long)key->i);
		return buf;
	case DBSYNC_TYPE_FLOAT: {
		uint64_t bits;

		memcpy(&bits, &key->f, sizeof(bits));
		snprintf(buf, cap, "%zu:f:%016llx", table,
			 (unsigned long long)bits);
		return buf;
	}
	case DBSYNC_TYPE_TEXT:
	case DBSYNC_TYPE_BLOB:
		n = (size_t)snprintf(buf, cap, "%zu:%c:", table,
				     key->type == DBSYNC_TYPE_TEXT ? 't' : 'b');
		p = (const unsigned char *)key->p;
		for (k = 0; k < key->len; k++) {
			buf[n++] = hexdigits[p[k] >> 4];
			buf[n++] = hexdigits[p[k] & 15];
		}
		buf[n] = '\0';
		return buf;
	default: /* no store hands out a NULL key */
		free(buf);
		return NULL;
	}
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 0, -1 if the cursor is not one this server issues, DBSYNC_NOMEM. *key
 * is left unset (type 0) for the start of a table. */
static int parse_cursor(const char *c, size_t *table, dbsync__value *key)
{
	size_t t = 0, len, k;
	const char *p = c;

	*table = 0;
	memset(key, 0, sizeof(*key));
	if (!c)
		return 0;
	/* TABLE: decimal digits, no sign or leading zero. */
	if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		t = t * 10 + (size_t)(*p - '0');
		if (t > 100000)
			return -1;
	}
	*table = t;
	if (!*p)
		return 0;
	if (p[0] != ':' || !p[1] || p[2] != ':')
		return -1;
	p += 3;
	switch (p[-2]) {
	case 'i': {
		char *end;
		long long v;

		if (!(*p == '-' || (*p >= '0' && *p <= '9')))
			return -1;
		errno = 0;
		v = strtoll(p, &end, 10);
		if (errno || end == p || *end)
			return -1;
		key->type = DBSYNC_TYPE_INTEGER;
		key->i = (int64_t)v;
		return 0;
	}
	case 'f': {
		uint64_t bits = 0;

		if (strlen(p) != 16)
			return -1;
		for (k = 0; k < 16; k++) {
			int d = hex_nibble(p[k]);

			if (d < 0)
				return -1;
			bits = bits << 4 | (uint64_t)d;
		}
		key->type = DBSYNC_TYPE_FLOAT;
		memcpy(&key->f, &bits, sizeof(bits));
		if (key->f != key->f) /* no store keeps a NaN key */
			return -1;
		return 0;
	}
	case 't':
	case 'b': {
		unsigned char *bytes;

		len = strlen(p);
		if (len % 2)
			return -1;
		for (k = 0; k < len; k++)
			if (hex_nibble(p[k]) < 0)
				return -1;
		bytes = malloc(len / 2 + 1);
		if (!bytes)
			return DBSYNC_NOMEM;
		for (k = 0; k < len / 2; k++)
			bytes[k] = (unsigned char)(hex_nibble(p[2 * k]) << 4 |
						   hex_nibble(p[2 * k + 1]));
		bytes[len / 2] = '\0';
		key->type = p[-2] == 't' ? DBSYNC_TYPE_TEXT : DBSYNC_TYPE_BLOB;
		key->p = (const char *)bytes;
		key->len = len / 2;
		return 0;
	}
	default:
		return -1;
	}
}

static int repair_tx(dbsync_server *s, dbsync__store *store,
		     const dbsync__pull_req *q, dbsync__pull_resp *r,
		     dbsync__error *err)
{
	dbsync__store_table *t = NULL;
	dbsync__value after;
	struct copy cp;
	size_t nt = 0, table;
	int64_t latest = 0;
	int rc, more = 0, first;

	memset(&cp, 0, sizeof(cp));
	rc = parse_cursor(q->cursor, &table, &after);
	if (rc == DBSYNC_NOMEM)
		return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	if (rc || (q->cursor && !q->has_target)) {
		dbsync__value_clear(&after);
		return dbsync__error_set(err, DBSYNC_PROTOCOL,
					 "cursor: not one this server issued");
	}
	rc = s->ops->begin(store, 1, err);
	if (!rc)
		rc = s->ops->fold_direct_writes(store, (int64_t)time(NULL), err);
	if (!rc)
		rc = s->ops->commit(store, err);
	if (rc) {
		s->ops->rollback(store);
		dbsync__value_clear(&after);
		return rc;
	}
	rc = s->ops->begin(store, 0, err);
	if (!rc)
		rc = s->ops->latest_version(store, &latest, err);
	if (!rc && q->has_target && q->target_version > latest)
		rc = dbsync__error_set(err, DBSYNC_PROTOCOL,
				       "target_version: beyond the latest "
				       "version %lld",
				       (long long)latest);
	r->target_version = q->has_target ? q->target_version : latest;
	if (!rc)
		rc = s->ops->tables(store, &t, &nt, err);
	if (!rc && dbsync__server_describe_tables(t, nt, r))
		rc = dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
	cp.resp = r;
	cp.max_rows = q->max_operations > 0 &&
				      (uint64_t)q->max_operations < s->page_ops_max
			      ? (size_t)q->max_operations
			      : (q->max_operations ? s->page_ops_max
						   : s->page_ops_default);
	cp.max_bytes = q->max_bytes > 0 &&
				       (uint64_t)q->max_bytes < s->page_bytes_max
			       ? (size_t)q->max_bytes
			       : (q->max_bytes ? s->page_bytes_max
					       : s->page_bytes_default);
	for (first = 1; !rc && table < nt; table++, first = 0) {
		const dbsync__value *from =
			first && after.type ? &after : NULL;

		cp.table = table;
		cp.ncolumns = t[table].ncolumns;
		cp.pk_index = t[table].pk_index;
		/* Where this table resumes if no row of it fits this page. */
		dbsync__value_clear(&cp.last_key);
		if (from && dbsync__value_copy(&cp.last_key, from)) {
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
			break;
		}
		rc = s->ops->scan(store, &t[table], from,
				  cp.max_rows - r->nops, add_row, &cp, &more,
				  err);
		if (rc == 1) { /* stopped by the byte bound */
			rc = 0;
			more = 1;
		}
		if (rc == DBSYNC_NOMEM)
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
		if (!rc && (more || r->nops >= cp.max_rows))
			break;
	}
	s->ops->rollback(store);
	/* Resume in this table after the last row sent, or at the start of
	 * the next one when this one is done. */
	if (!rc && table < nt && (more || table + 1 < nt)) {
		r->cursor = more ? format_cursor(table, cp.last_key.type
								? &cp.last_key
								: NULL)
				 : format_cursor(table + 1, NULL);
		if (!r->cursor)
			rc = dbsync__error_set(err, DBSYNC_NOMEM,
					       "out of memory");
	}
	dbsync__value_clear(&cp.last_key);
	dbsync__value_clear(&after);
	dbsync__store_tables_free(t, nt);
	return rc;
}

void dbsync__server_repair(dbsync_server *s, dbsync__request *req,
			   dbsync_response *resp)
{
	dbsync__pull_req q;
	dbsync__pull_resp r;
	dbsync__error err = {0};
	dbsync__store *store;
	size_t len = 0;
	char *body = NULL;
	int rc;

	memset(&q, 0, sizeof(q));
	memset(&r, 0, sizeof(r));
	rc = dbsync__server_authenticate(s, req, &err);
	if (!rc)
		rc = dbsync__msg_decode_pull(req->body, req->body_len, &q, &err);
	if (!rc)
		rc = dbsync__server_store_get(s, &store, &err);
	if (!rc) {
		rc = repair_tx(s, store, &q, &r, &err);
		dbsync__server_store_put(s, store);
	}
	if (!rc && (rc = dbsync__msg_encode_pull_resp(&r, &body, &len)))
		dbsync__error_set(&err, rc, "cannot encode the repair page");
	if (!rc)
		atomic_fetch_add(&s->metrics.ops_sent, r.nops);
	dbsync__pull_req_clear(&q);
	dbsync__pull_resp_clear(&r);
	if (rc) {
		dbsync__respond_failure(resp, &err);
		return;
	}
	atomic_fetch_add(&s->metrics.repairs, 1);
	dbsync__respond_json(resp, 200, body, len);
}
