/*
 * message.h - the protocol's JSON messages (docs/protocol.md), decoded into
 * plain structs and encoded from them. The only module that uses jansson.
 *
 * Decoders take untrusted bytes: every field is type- and range-checked, and
 * any problem is DBSYNC_PROTOCOL with a one-line message naming the field
 * (never echoing more than a short prefix of the input). Decoded structs own
 * all their memory; free them with their _clear function (also after a
 * failed decode). _clear frees every pointer in the struct with free(),
 * including the bytes of TEXT/BLOB values, so a struct built by hand for an
 * encoder is freed by its builder (or made entirely of malloc'd parts).
 *
 * Encoders write compact JSON into memory from malloc() (NUL-terminated;
 * *out_len excludes the NUL; free with free()). They return 0,
 * DBSYNC_NOMEM, or DBSYNC_INVALID when the struct holds something the
 * matching decoder would refuse (NaN, a null pk, a row of the wrong length,
 * duplicate names...; the message is on the thread's last error), so every
 * encoder/decoder pair is an exact inverse.
 */
#ifndef DBSYNC_MESSAGE_H
#define DBSYNC_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "value.h"

#define DBSYNC__PROTOCOL_VERSION 1

/* Limits a decoder enforces on its own (the server's configured limits are
 * checked by the caller). */
#define DBSYNC__MAX_NAME 256	   /* table and column names, bytes */
#define DBSYNC__MAX_COLUMNS 2000
#define DBSYNC__PUSH_ID_HEX 32	   /* push ids are 32 lower-case hex digits */

/* One table's shape as messages carry it. */
typedef struct dbsync__msg_table {
	char *name;
	char **columns;
	size_t ncolumns;
	char *pk; /* may be NULL where the message does not carry it */
} dbsync__msg_table;

/* One operation; `row` has the table's ncolumns values for i/u, none for
 * d/t (nrow == 0). */
typedef struct dbsync__msg_op {
	size_t table; /* index into the message's tables */
	char op;      /* 'i', 'u', 'd', 't' */
	dbsync__value pk;
	dbsync__value *row;
	size_t nrow;
} dbsync__msg_op;

/* ---- register ---- */
typedef struct dbsync__register_req {
	char *token; /* NULL when absent */
} dbsync__register_req;

int dbsync__msg_decode_register(const void *body, size_t len,
				dbsync__register_req *out, dbsync__error *err);
void dbsync__register_req_clear(dbsync__register_req *r);

/* Client side: {"protocol":1,"token":"..."} (token omitted when NULL). */
int dbsync__msg_encode_register(const char *token, char **out,
				size_t *out_len);

/* {"protocol":1,"node_id":N,"secret":"<base64>"}; *out malloc'd. */
int dbsync__msg_encode_register_resp(int64_t node_id, const void *secret,
				     size_t secret_len, char **out,
				     size_t *out_len);
/* Client side of the same. *secret malloc'd. */
int dbsync__msg_decode_register_resp(const void *body, size_t len,
				     int64_t *node_id, unsigned char **secret,
				     size_t *secret_len, dbsync__error *err);

/* ---- push ---- */
typedef struct dbsync__push_req {
	char push_id[DBSYNC__PUSH_ID_HEX + 1];
	int has_base;	      /* 0 when base_version is null */
	int64_t base_version;
	dbsync__msg_table *tables;
	size_t ntables;
	dbsync__msg_op *ops;
	size_t nops;
} dbsync__push_req;

int dbsync__msg_decode_push(const void *body, size_t len,
			    dbsync__push_req *out, dbsync__error *err);
int dbsync__msg_encode_push(const dbsync__push_req *req, char **out,
			    size_t *out_len);
void dbsync__push_req_clear(dbsync__push_req *r);

/* {"protocol":1,"version":N} both ways. */
int dbsync__msg_encode_version_resp(int64_t version, char **out,
				    size_t *out_len);
int dbsync__msg_decode_version_resp(const void *body, size_t len,
				    int64_t *version, dbsync__error *err);

/* ---- pull ---- */
typedef struct dbsync__pull_req {
	int has_after; /* 0: the node has no version yet (after_version null) */
	int64_t after_version;
	int has_target; /* 0 on a first page */
	int64_t target_version;
	char *cursor; /* NULL on a first page; opaque, at most 256 bytes */
	int64_t max_operations; /* 0: server default */
	int64_t max_bytes;	/* 0: server default */
} dbsync__pull_req;

int dbsync__msg_decode_pull(const void *body, size_t len,
			    dbsync__pull_req *out, dbsync__error *err);
int dbsync__msg_encode_pull(const dbsync__pull_req *req, char **out,
			    size_t *out_len);
void dbsync__pull_req_clear(dbsync__pull_req *r);

typedef struct dbsync__msg_version {
	int64_t id;
	int has_node; /* 0 for direct writes on the server (node_id null) */
	int64_t node_id;
	char push_id[DBSYNC__PUSH_ID_HEX + 1]; /* "" when none */
	int64_t created; /* seconds since the epoch */
} dbsync__msg_version;

typedef struct dbsync__pull_resp {
	int64_t target_version;
	dbsync__msg_version *versions;
	size_t nversions;
	dbsync__msg_table *tables;
	size_t ntables;
	dbsync__msg_op *ops;	 /* 'i', 'u' with rows; 'd' without */
	size_t nops;
	/* op 'p', with rows; pk is a copy of the row's pk column (the message
	 * does not carry it, and the encoder ignores it) */
	dbsync__msg_op *parents;
	size_t nparents;
	char *cursor; /* NULL on the last page */
} dbsync__pull_resp;

int dbsync__msg_encode_pull_resp(const dbsync__pull_resp *resp, char **out,
				 size_t *out_len);
int dbsync__msg_decode_pull_resp(const void *body, size_t len,
				 dbsync__pull_resp *out, dbsync__error *err);
void dbsync__pull_resp_clear(dbsync__pull_resp *r);

/* ---- errors ---- */
/* {"error":{"code":C,"name":"NAME","message":"..."}}; *out malloc'd.
 * Error bodies carry no "protocol". The message is made one line of valid
 * UTF-8 (NULL or "" gives dbsync_strerror(code)); `code` must be < 0. */
int dbsync__msg_encode_error(int code, const char *message, char **out,
			     size_t *out_len);
/* Reads an error body: its code and message (copied into `err` with that
 * code). Returns the code, or DBSYNC_PROTOCOL if the body is not one. A
 * code this library does not know (a newer server) becomes DBSYNC_ERROR
 * with "server error <code> (<NAME>): <message>". */
int dbsync__msg_decode_error(const void *body, size_t len,
			     dbsync__error *err);

#endif
