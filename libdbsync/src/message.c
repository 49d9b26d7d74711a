/*
 * message.c - the protocol's JSON messages (docs/protocol.md).
 *
 * Decoding parses with jansson, then walks the tree checking every field;
 * the first problem becomes DBSYNC_PROTOCOL with a message naming the field
 * ("operations[3].row: expected 2 values, got 3"). Field paths are formatted
 * only on failure, so a 100k-operation push costs no string work for them.
 *
 * Encoding writes the JSON text directly (see "writing JSON") into memory
 * from malloc(): callers free it with free(). Nothing depends on the
 * allocator jansson may have been configured with.
 */
#include "message.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

#define MAX_CURSOR 256

/* Whose protocol version a decoder reports when the peer's is newer. */
#define SERVER_SIDE "server"
#define CLIENT_SIDE "client"

/* ---- small text helpers ------------------------------------------------ */

/*
 * 1 if the bytes are text that can travel as a plain JSON string: UTF-8 as
 * RFC 3629 defines it (no overlong forms, no surrogates, nothing above
 * U+10FFFF) without NUL. At least as strict as jansson's own check, so
 * whatever we send as a string its parser accepts.
 */
static int plain_text(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		unsigned cp, min;
		size_t k, j;

		if (c < 0x80) {
			if (c == 0)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			k = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i <= k)
			return 0;
		for (j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if there is none. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	size_t k;

	for (k = 1; k <= 4 && k <= n; k++)
		if (plain_text(s, k))
			return k;
	return 0;
}

/*
 * Input text fit for a one-line message: at most `cap - 4` bytes cut at a
 * character boundary (then "..."), control characters and bytes that are not
 * UTF-8 as '?'. Input is never echoed in full.
 */
static const char *show(const char *in, size_t len, char *out, size_t cap)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, o = 0;

	while (i < len) {
		size_t k = s[i] < 0x80 ? 1 : utf8_char(s + i, len - i);

		if (o + (k ? k : 1) > cap - 4) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (k == 0 || (k == 1 && (s[i] < 0x20 || s[i] == 0x7f))) {
			out[o++] = '?';
			i += k ? k : 1;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	return out;
}

#define SHOW_CAP 44

/*
 * A table or column name for a message: shown when it is a plain
 * identifier, described otherwise. A hostile name is only the client's own
 * text, but messages end up in logs and user interfaces.
 */
static const char *show_name(const char *in, size_t len, char *out,
			     size_t cap)
{
	size_t k;

	for (k = 0; k < len; k++)
		if (!((in[k] >= 'a' && in[k] <= 'z') ||
		      (in[k] >= 'A' && in[k] <= 'Z') ||
		      (in[k] >= '0' && in[k] <= '9') || in[k] == '_'))
			return "(a name with unusual characters)";
	return show(in, len, out, cap);
}

/* ---- failing ----------------------------------------------------------- */

/*
 * Where a field sits, formatted only when something is wrong:
 * base["name"][i].field[j], each part optional but base.
 */
typedef struct where {
	const char *base;  /* top-level key */
	const char *name;  /* table name inside "tables", or NULL */
	long i;		   /* element of base, or -1 */
	const char *field; /* key inside the element, or NULL */
	long j;		   /* element of field, or -1 */
} where;

static where at(const char *base)
{
	where w = {base, NULL, -1, NULL, -1};
	return w;
}

static int identifier_like(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

static void where_format(const where *w, char *buf, size_t cap)
{
	char name[SHOW_CAP];
	size_t n;

	n = (size_t)snprintf(buf, cap, "%s", w->base);
	if (w->name && n < cap)
		n += (size_t)snprintf(buf + n, cap - n,
				      identifier_like(w->name) ? ".%s"
							       : ".\"%s\"",
				      show(w->name, strlen(w->name), name,
					   sizeof(name)));
	if (w->i >= 0 && n < cap)
		n += (size_t)snprintf(buf + n, cap - n, "[%ld]", w->i);
	if (w->field && n < cap)
		n += (size_t)snprintf(buf + n, cap - n, ".%s", w->field);
	if (w->j >= 0 && n < cap)
		snprintf(buf + n, cap - n, "[%ld]", w->j);
}

__attribute__((format(printf, 3, 4))) static int
fail_at(dbsync__error *err, const where *w, const char *fmt, ...)
{
	char path[160], msg[DBSYNC__ERRMSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!w)
		return dbsync__error_set(err, DBSYNC_PROTOCOL, "%s", msg);
	where_format(w, path, sizeof(path));
	return dbsync__error_set(err, DBSYNC_PROTOCOL, "%s: %s", path, msg);
}

static int nomem(dbsync__error *err)
{
	return dbsync__error_set(err, DBSYNC_NOMEM, "out of memory");
}

/* For encoders, which have no error object: the thread keeps the message. */
static int bad_input(const char *what)
{
	return dbsync__error_set(NULL, DBSYNC_INVALID, "cannot encode: %s",
				 what);
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a real";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/* ---- reading fields ---------------------------------------------------- */

static int get_int(const json_t *v, const where *w, int64_t min,
		   int64_t *out, dbsync__error *err)
{
	json_int_t x;

	*out = 0; /* defined on every path, for the compiler and callers */
	if (!v)
		return fail_at(err, w, "missing");
	if (!json_is_integer(v))
		return fail_at(err, w, "expected an integer, got %s",
			       type_name(v));
	x = json_integer_value(v);
	if (x < min)
		return fail_at(err, w, "expected an integer >= %lld, got %lld",
			       (long long)min, (long long)x);
	*out = (int64_t)x;
	return 0;
}

/* A present integer that may be null (*has = 0). */
static int get_nullable_int(const json_t *v, const where *w, int64_t min,
			    int *has, int64_t *out, dbsync__error *err)
{
	*has = 0;
	*out = 0;
	if (json_is_null(v))
		return 0;
	if (!v)
		return fail_at(err, w, "missing");
	if (!json_is_integer(v))
		return fail_at(err, w, "expected an integer or null, got %s",
			       type_name(v));
	*has = 1;
	return get_int(v, w, min, out, err);
}

static int get_string(const json_t *v, const where *w, const char **s,
		      size_t *len, dbsync__error *err)
{
	*s = NULL; /* defined on every path, for the compiler and callers */
	*len = 0;
	if (!v)
		return fail_at(err, w, "missing");
	if (!json_is_string(v))
		return fail_at(err, w, "expected a string, got %s",
			       type_name(v));
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

static char *dup_bytes(const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

static int check_name(const char *s, size_t len, const where *w,
		      const char *what, dbsync__error *err)
{
	char shown[SHOW_CAP];

	if (len == 0)
		return fail_at(err, w, "%s name is empty", what);
	if (len > DBSYNC__MAX_NAME)
		return fail_at(err, w, "%s name \"%s\" is longer than %d bytes",
			       what, show(s, len, shown, sizeof(shown)),
			       DBSYNC__MAX_NAME);
	if (memchr(s, '\0', len))
		return fail_at(err, w, "%s name contains NUL", what);
	return 0;
}

static int push_id_ok(const char *s, size_t len)
{
	size_t i;

	if (len != DBSYNC__PUSH_ID_HEX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* ---- parsing ----------------------------------------------------------- */

/* Parse `body` as a JSON object; no protocol check (error bodies lack it). */
static int parse_object(const void *body, size_t len, json_t **root,
			dbsync__error *err)
{
	json_error_t je;
	char text[96];

	/* Duplicate keys are refused: a repeated table name in "tables" would
	 * otherwise silently replace the first. */
	*root = json_loadb(body ? body : "", body ? len : 0,
			   JSON_REJECT_DUPLICATES, &je);
	if (!*root) {
		if (json_error_code(&je) == json_error_out_of_memory)
			return nomem(err);
		return fail_at(err, NULL,
			       "invalid JSON at line %d, column %d: %s",
			       je.line, je.column,
			       show(je.text, strlen(je.text), text,
				    sizeof(text)));
	}
	if (!json_is_object(*root)) {
		int rc = fail_at(err, NULL, "expected a JSON object, got %s",
				 type_name(*root));
		json_decref(*root);
		*root = NULL;
		return rc;
	}
	return 0;
}

static int check_protocol(const json_t *root, const char *side,
			  dbsync__error *err)
{
	where w = at("protocol");
	int64_t v;
	int rc = get_int(json_object_get(root, "protocol"), &w, INT64_MIN, &v,
			 err);

	if (rc)
		return rc;
	if (v > DBSYNC__PROTOCOL_VERSION)
		return fail_at(err, NULL,
			       "unsupported protocol version %lld (this %s "
			       "speaks %d)",
			       (long long)v, side, DBSYNC__PROTOCOL_VERSION);
	if (v != DBSYNC__PROTOCOL_VERSION)
		return fail_at(err, &w, "expected %d, got %lld",
			       DBSYNC__PROTOCOL_VERSION, (long long)v);
	return 0;
}

static int open_message(const void *body, size_t len, const char *side,
			json_t **root, dbsync__error *err)
{
	int rc = parse_object(body, len, root, err);

	if (rc)
		return rc;
	rc = check_protocol(*root, side, err);
	if (rc) {
		json_decref(*root);
		*root = NULL;
	}
	return rc;
}

/* ---- values ------------------------------------------------------------ */

/* Base64 text of a "blob"/"text_base64" object into v (NUL-terminated). */
static int value_from_base64(const json_t *s, dbsync_type type,
			     dbsync__value *v, char *why, size_t cap)
{
	unsigned char *bytes, *p;
	size_t n;
	int rc;

	if (!json_is_string(s)) {
		snprintf(why, cap, "expected a base64 string in \"%s\", got %s",
			 type == DBSYNC_TYPE_BLOB ? "blob" : "text_base64",
			 type_name(s));
		return DBSYNC_PROTOCOL;
	}
	rc = dbsync__base64_decode(json_string_value(s), json_string_length(s),
				   &bytes, &n);
	if (rc == DBSYNC_NOMEM)
		return rc;
	if (rc) {
		snprintf(why, cap, "invalid base64 in \"%s\"",
			 type == DBSYNC_TYPE_BLOB ? "blob" : "text_base64");
		return DBSYNC_PROTOCOL;
	}
	p = realloc(bytes, n + 1);
	if (!p) {
		free(bytes);
		return DBSYNC_NOMEM;
	}
	p[n] = '\0';
	v->type = type;
	v->p = (const char *)p;
	v->len = n;
	return 0;
}

/*
 * One value of docs/protocol.md "Values". 0, DBSYNC_NOMEM, or
 * DBSYNC_PROTOCOL with the reason (no field name) in `why`.
 */
static int value_decode(const json_t *j, dbsync__value *v, char *why,
			size_t cap)
{
	const char *key;
	json_t *inner;

	memset(v, 0, sizeof(*v));
	switch (json_typeof(j)) {
	case JSON_NULL:
		v->type = DBSYNC_TYPE_NULL;
		return 0;
	case JSON_INTEGER:
		v->type = DBSYNC_TYPE_INTEGER;
		v->i = (int64_t)json_integer_value(j);
		return 0;
	case JSON_REAL:
		v->type = DBSYNC_TYPE_FLOAT;
		v->f = json_real_value(j);
		return 0;
	case JSON_STRING:
		v->p = dup_bytes(json_string_value(j), json_string_length(j));
		if (!v->p)
			return DBSYNC_NOMEM;
		v->type = DBSYNC_TYPE_TEXT;
		v->len = json_string_length(j);
		return 0;
	case JSON_OBJECT:
		break;
	default:
		snprintf(why, cap, "expected a value, got %s", type_name(j));
		return DBSYNC_PROTOCOL;
	}
	if (json_object_size(j) != 1) {
		snprintf(why, cap,
			 "expected an object with one key (\"real\", \"blob\" "
			 "or \"text_base64\"), got %zu keys",
			 json_object_size(j));
		return DBSYNC_PROTOCOL;
	}
	key = json_object_iter_key(json_object_iter((json_t *)j));
	inner = json_object_iter_value(json_object_iter((json_t *)j));
	if (strcmp(key, "real") == 0) {
		const char *s = json_string_value(inner);

		if (s && strcmp(s, "inf") == 0) {
			v->f = HUGE_VAL;
		} else if (s && strcmp(s, "-inf") == 0) {
			v->f = -HUGE_VAL;
		} else {
			snprintf(why, cap,
				 "expected {\"real\": \"inf\"} or "
				 "{\"real\": \"-inf\"}");
			return DBSYNC_PROTOCOL;
		}
		v->type = DBSYNC_TYPE_FLOAT;
		return 0;
	}
	if (strcmp(key, "blob") == 0)
		return value_from_base64(inner, DBSYNC_TYPE_BLOB, v, why, cap);
	if (strcmp(key, "text_base64") == 0)
		return value_from_base64(inner, DBSYNC_TYPE_TEXT, v, why, cap);
	{
		char shown[SHOW_CAP];

		snprintf(why, cap,
			 "unknown value object key %s (expected \"real\", "
			 "\"blob\" or \"text_base64\")",
			 show_name(key, strlen(key), shown, sizeof(shown)));
	}
	return DBSYNC_PROTOCOL;
}

static int decode_value_at(const json_t *j, const where *w, dbsync__value *v,
			   dbsync__error *err)
{
	char why[200];
	int rc;

	if (!j)
		return fail_at(err, w, "missing");
	rc = value_decode(j, v, why, sizeof(why));
	if (rc == DBSYNC_NOMEM)
		return nomem(err);
	if (rc)
		return fail_at(err, w, "%s", why);
	return 0;
}

/* ---- writing JSON ------------------------------------------------------ */

/*
 * Encoders write the JSON text straight into a growing buffer. Building a
 * jansson tree first and dumping it cost about 0.25 s per 100k-operation
 * push (mostly malloc/free of a million small nodes) and a heap peak several
 * times the text; the text we write is simple enough to produce directly.
 * Decoders, which must survive any input, keep jansson's parser. The output
 * is the one jansson would produce with JSON_COMPACT|JSON_REAL_PRECISION(17).
 */
typedef struct jw {
	char *p;
	size_t len, cap;
	int nomem;
} jw;

/* Room for n more bytes and a final NUL. */
static int jw_reserve(jw *w, size_t n)
{
	size_t cap;
	char *p;

	if (w->nomem)
		return 0;
	if (n < w->cap - w->len)
		return 1;
	cap = w->cap ? w->cap : 1024;
	while (n >= cap - w->len) {
		if (cap > SIZE_MAX / 2) {
			w->nomem = 1;
			return 0;
		}
		cap *= 2;
	}
	p = realloc(w->p, cap);
	if (!p) {
		w->nomem = 1;
		return 0;
	}
	w->p = p;
	w->cap = cap;
	return 1;
}

static void jw_raw(jw *w, const char *s, size_t n)
{
	if (n && jw_reserve(w, n)) {
		memcpy(w->p + w->len, s, n);
		w->len += n;
	}
}

#define JW_LIT(w, lit) jw_raw((w), (lit), sizeof(lit) - 1)

static void jw_char(jw *w, char c)
{
	if (jw_reserve(w, 1))
		w->p[w->len++] = c;
}

static void jw_int(jw *w, int64_t v)
{
	char buf[24], *end = buf + sizeof(buf), *s = end;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		*--s = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--s = '-';
	jw_raw(w, s, (size_t)(end - s));
}

/*
 * A finite double: 17 significant digits bring every double back exactly;
 * always a '.' or an exponent, so it never reads back as an integer; '.'
 * whatever the locale's decimal point; exponent without '+' or leading
 * zeros ("1e300", as jansson writes it).
 */
static void jw_real(jw *w, double f)
{
	char buf[64], out[64];
	int n = snprintf(buf, sizeof(buf), "%.17g", f), i, o = 0, dot = 0;

	for (i = 0; i < n; i++) {
		char c = buf[i];

		if ((c >= '0' && c <= '9') || c == '-') {
			out[o++] = c;
		} else if (c == 'e') {
			out[o++] = 'e';
			i++;
			if (buf[i] == '-')
				out[o++] = buf[i++];
			else if (buf[i] == '+')
				i++;
			while (i < n - 1 && buf[i] == '0')
				i++;
			while (i < n)
				out[o++] = buf[i++];
			dot = 1;
		} else if (o == 0 || out[o - 1] != '.') {
			/* the decimal point: one or more bytes by locale */
			out[o++] = '.';
			dot = 1;
		}
	}
	if (!dot) {
		out[o++] = '.';
		out[o++] = '0';
	}
	jw_raw(w, out, (size_t)o);
}

/* A JSON string from bytes already known to be plain text (plain_text()). */
static void jw_str(jw *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, run = 0;

	jw_char(w, '"');
	for (i = 0; s && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		jw_raw(w, s + run, i - run);
		run = i + 1;
		switch (c) {
		case '"':
			JW_LIT(w, "\\\"");
			break;
		case '\\':
			JW_LIT(w, "\\\\");
			break;
		case '\b':
			JW_LIT(w, "\\b");
			break;
		case '\f':
			JW_LIT(w, "\\f");
			break;
		case '\n':
			JW_LIT(w, "\\n");
			break;
		case '\r':
			JW_LIT(w, "\\r");
			break;
		case '\t':
			JW_LIT(w, "\\t");
			break;
		default: {
			char u[6] = {'\\', 'u', '0', '0', hex[c >> 4],
				     hex[c & 15]};

			jw_raw(w, u, sizeof(u));
		}
		}
	}
	if (s)
		jw_raw(w, s + run, n - run);
	jw_char(w, '"');
}

static void jw_cstr(jw *w, const char *s)
{
	jw_str(w, s, strlen(s));
}

/* {"<key>":"<base64 of the bytes>"} */
static void jw_base64_object(jw *w, const char *key, const void *p, size_t n)
{
	char *b64 = dbsync__base64_encode(n ? p : "", n);

	if (!b64) {
		w->nomem = 1;
		return;
	}
	jw_char(w, '{');
	jw_cstr(w, key);
	jw_char(w, ':');
	jw_str(w, b64, strlen(b64));
	jw_char(w, '}');
	free(b64);
}

/* A message starts {"protocol":1 and goes on with ,"key":... */
static void jw_begin(jw *w)
{
	JW_LIT(w, "{\"protocol\":");
	jw_int(w, DBSYNC__PROTOCOL_VERSION);
}

static void jw_key(jw *w, const char *key)
{
	jw_char(w, ',');
	jw_cstr(w, key);
	jw_char(w, ':');
}

static void jw_nullable_int(jw *w, int has, int64_t v)
{
	if (has)
		jw_int(w, v);
	else
		JW_LIT(w, "null");
}

/* Hand the text over (NUL-terminated, malloc'd) unless `rc` or memory
 * failed; otherwise release it. */
static int jw_finish(jw *w, int rc, char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (!rc && (w->nomem || !jw_reserve(w, 0)))
		rc = dbsync__error_set(NULL, DBSYNC_NOMEM, "out of memory");
	if (rc) {
		free(w->p);
		return rc;
	}
	w->p[w->len] = '\0';
	*out = w->p;
	*out_len = w->len;
	return 0;
}

/* 0 or DBSYNC_INVALID (NaN, unknown type). */
static int value_write(jw *w, const dbsync__value *v)
{
	switch (v->type) {
	case DBSYNC_TYPE_NULL:
		JW_LIT(w, "null");
		return 0;
	case DBSYNC_TYPE_INTEGER:
		jw_int(w, v->i);
		return 0;
	case DBSYNC_TYPE_FLOAT:
		if (isnan(v->f))
			return bad_input("NaN is not a SQLite value");
		if (isinf(v->f)) {
			if (v->f > 0)
				JW_LIT(w, "{\"real\":\"inf\"}");
			else
				JW_LIT(w, "{\"real\":\"-inf\"}");
		} else {
			jw_real(w, v->f);
		}
		return 0;
	case DBSYNC_TYPE_TEXT:
		if (v->len && !v->p)
			return bad_input("text value without bytes");
		if (plain_text((const unsigned char *)v->p, v->len))
			jw_str(w, v->p, v->len);
		else
			jw_base64_object(w, "text_base64", v->p, v->len);
		return 0;
	case DBSYNC_TYPE_BLOB:
		if (v->len && !v->p)
			return bad_input("blob value without bytes");
		jw_base64_object(w, "blob", v->p, v->len);
		return 0;
	default:
		return bad_input("value of unknown type");
	}
}

static int pk_encodable(const dbsync__value *v)
{
	return v->type != DBSYNC_TYPE_NULL &&
	       !(v->type == DBSYNC_TYPE_FLOAT && isinf(v->f));
}

/* ---- tables ------------------------------------------------------------ */

enum { PK_OPTIONAL, PK_REQUIRED };

typedef struct named {
	const char *name;
	size_t index;
} named;

static int named_cmp(const void *a, const void *b)
{
	return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

/* The first name that occurs twice (sorts the array), or NULL. */
static const char *first_duplicate(named *names, size_t n)
{
	size_t j;

	qsort(names, n, sizeof(*names), named_cmp);
	for (j = 1; j < n; j++)
		if (strcmp(names[j - 1].name, names[j].name) == 0)
			return names[j].name;
	return NULL;
}

static void table_clear(dbsync__msg_table *t)
{
	size_t i;

	free(t->name);
	for (i = 0; i < t->ncolumns; i++)
		free(t->columns[i]);
	free(t->columns);
	free(t->pk);
	memset(t, 0, sizeof(*t));
}

static void tables_free(dbsync__msg_table *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		table_clear(&t[i]);
	free(t);
}

static int decode_columns(const json_t *cols, where *w, dbsync__msg_table *t,
			  dbsync__error *err)
{
	named *sorted;
	const char *dup;
	size_t n, j;
	int rc = 0;

	w->field = "columns";
	if (!cols)
		return fail_at(err, w, "missing");
	if (!json_is_array(cols))
		return fail_at(err, w, "expected an array, got %s",
			       type_name(cols));
	n = json_array_size(cols);
	if (n == 0)
		return fail_at(err, w, "expected at least one column");
	if (n > DBSYNC__MAX_COLUMNS)
		return fail_at(err, w, "more than %d columns (%zu)",
			       DBSYNC__MAX_COLUMNS, n);
	t->columns = calloc(n, sizeof(*t->columns));
	if (!t->columns)
		return nomem(err);
	t->ncolumns = n;
	for (j = 0; j < n; j++) {
		const char *s;
		size_t len;

		w->j = (long)j;
		rc = get_string(json_array_get(cols, j), w, &s, &len, err);
		if (!rc)
			rc = check_name(s, len, w, "column", err);
		if (rc)
			return rc;
		t->columns[j] = dup_bytes(s, len);
		if (!t->columns[j])
			return nomem(err);
	}
	w->j = -1;

	sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return nomem(err);
	for (j = 0; j < n; j++)
		sorted[j].name = t->columns[j];
	dup = first_duplicate(sorted, n);
	if (dup) {
		char shown[SHOW_CAP];

		rc = fail_at(err, w, "duplicate column %s",
			     show_name(dup, strlen(dup), shown, sizeof(shown)));
	}
	free(sorted);
	return rc;
}

static int decode_table(const char *name, const json_t *def, int pk_mode,
			dbsync__msg_table *t, dbsync__error *err)
{
	where w = at("tables");
	const json_t *pk;
	size_t len = strlen(name), j;
	int rc;

	rc = check_name(name, len, &w, "table", err);
	if (rc)
		return rc;
	t->name = dup_bytes(name, len);
	if (!t->name)
		return nomem(err);
	w.name = name;
	if (!json_is_object(def))
		return fail_at(err, &w, "expected an object, got %s",
			       type_name(def));
	rc = decode_columns(json_object_get(def, "columns"), &w, t, err);
	if (rc)
		return rc;

	w.field = "pk";
	pk = json_object_get(def, "pk");
	if (pk_mode == PK_OPTIONAL && (!pk || json_is_null(pk)))
		return 0;
	if (!pk)
		return fail_at(err, &w, "missing");
	if (!json_is_string(pk))
		return fail_at(err, &w, "expected a column name, got %s",
			       type_name(pk));
	for (j = 0; j < t->ncolumns; j++)
		if (strcmp(t->columns[j], json_string_value(pk)) == 0)
			break;
	if (j == t->ncolumns) {
		char shown[SHOW_CAP];

		return fail_at(err, &w, "\"%s\" is not one of the columns",
			       show(json_string_value(pk),
				    json_string_length(pk), shown,
				    sizeof(shown)));
	}
	t->pk = dup_bytes(t->columns[j], strlen(t->columns[j]));
	return t->pk ? 0 : nomem(err);
}

static int decode_tables(const json_t *v, int pk_mode, dbsync__msg_table **out,
			 size_t *nout, dbsync__error *err)
{
	where w = at("tables");
	const char *key;
	json_t *def;
	size_t n = 0;
	int rc;

	if (!v)
		return fail_at(err, &w, "missing");
	if (!json_is_object(v))
		return fail_at(err, &w, "expected an object, got %s",
			       type_name(v));
	if (json_object_size(v) == 0)
		return 0;
	*out = calloc(json_object_size(v), sizeof(**out));
	if (!*out)
		return nomem(err);
	*nout = json_object_size(v);
	json_object_foreach ((json_t *)v, key, def) {
		rc = decode_table(key, def, pk_mode, &(*out)[n++], err);
		if (rc)
			return rc;
	}
	return 0;
}

/* Looks table names up for operations: sorted once, then binary search,
 * trying the previous operation's table first (operations come in runs). */
typedef struct table_index {
	const dbsync__msg_table *tables;
	size_t n;
	named *sorted;
	size_t last;
} table_index;

static int table_index_init(table_index *ti, const dbsync__msg_table *tables,
			    size_t n, dbsync__error *err)
{
	size_t i;

	ti->tables = tables;
	ti->n = n;
	ti->last = 0;
	ti->sorted = NULL;
	if (n == 0)
		return 0;
	ti->sorted = malloc(n * sizeof(*ti->sorted));
	if (!ti->sorted)
		return nomem(err);
	for (i = 0; i < n; i++) {
		ti->sorted[i].name = tables[i].name;
		ti->sorted[i].index = i;
	}
	qsort(ti->sorted, n, sizeof(*ti->sorted), named_cmp);
	return 0;
}

static long table_lookup(table_index *ti, const char *name)
{
	named key = {name, 0};
	const named *hit;

	if (ti->n == 0)
		return -1;
	if (strcmp(ti->tables[ti->last].name, name) == 0)
		return (long)ti->last;
	hit = bsearch(&key, ti->sorted, ti->n, sizeof(*ti->sorted), named_cmp);
	if (!hit)
		return -1;
	ti->last = hit->index;
	return (long)hit->index;
}

static size_t pk_column(const dbsync__msg_table *t)
{
	size_t j;

	for (j = 0; t->pk && j < t->ncolumns; j++)
		if (strcmp(t->columns[j], t->pk) == 0)
			return j;
	return (size_t)-1;
}

static int name_encodable(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	return len > 0 && len <= DBSYNC__MAX_NAME &&
	       plain_text((const unsigned char *)s, len);
}

static int check_tables(const dbsync__msg_table *tables, size_t n, int pk_mode)
{
	named *names;
	size_t i, j, most = n;
	int rc = 0;

	for (i = 0; i < n; i++) {
		const dbsync__msg_table *t = &tables[i];

		if (!name_encodable(t->name))
			return bad_input("table name empty, too long or not "
					 "UTF-8");
		if (t->ncolumns == 0 || t->ncolumns > DBSYNC__MAX_COLUMNS ||
		    !t->columns)
			return bad_input("table with no or too many columns");
		for (j = 0; j < t->ncolumns; j++)
			if (!name_encodable(t->columns[j]))
				return bad_input("column name empty, too long "
						 "or not UTF-8");
		if ((pk_mode == PK_REQUIRED || t->pk) &&
		    pk_column(t) == (size_t)-1)
			return bad_input("table pk is not one of its columns");
		if (t->ncolumns > most)
			most = t->ncolumns;
	}
	/* Names must be unique: the decoder refuses duplicates. */
	if (most < 2)
		return 0;
	names = malloc(most * sizeof(*names));
	if (!names)
		return DBSYNC_NOMEM;
	for (i = 0; i < n && !rc; i++) {
		for (j = 0; j < tables[i].ncolumns; j++)
			names[j].name = tables[i].columns[j];
		if (first_duplicate(names, tables[i].ncolumns))
			rc = bad_input("duplicate column");
	}
	for (i = 0; i < n && !rc; i++)
		names[i].name = tables[i].name;
	if (!rc && first_duplicate(names, n))
		rc = bad_input("duplicate table");
	free(names);
	return rc;
}

/* {"name":{"columns":[...],"pk":"..."},...}; pk only where set. */
static int write_tables(jw *w, const dbsync__msg_table *tables, size_t n,
			int pk_mode)
{
	size_t i, j;
	int rc = check_tables(tables, n, pk_mode);

	if (rc)
		return rc;
	jw_char(w, '{');
	for (i = 0; i < n; i++) {
		const dbsync__msg_table *t = &tables[i];

		if (i)
			jw_char(w, ',');
		jw_cstr(w, t->name);
		JW_LIT(w, ":{\"columns\":[");
		for (j = 0; j < t->ncolumns; j++) {
			if (j)
				jw_char(w, ',');
			jw_cstr(w, t->columns[j]);
		}
		jw_char(w, ']');
		if (t->pk) {
			JW_LIT(w, ",\"pk\":");
			jw_cstr(w, t->pk);
		}
		jw_char(w, '}');
	}
	jw_char(w, '}');
	return 0;
}

/* ---- operations -------------------------------------------------------- */

static void op_clear(dbsync__msg_op *op)
{
	size_t j;

	dbsync__value_clear(&op->pk);
	for (j = 0; j < op->nrow; j++)
		dbsync__value_clear(&op->row[j]);
	free(op->row);
	memset(op, 0, sizeof(*op));
}

static void ops_free(dbsync__msg_op *ops, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		op_clear(&ops[i]);
	free(ops);
}

static int decode_row(const json_t *row, where *w, size_t ncolumns,
		      dbsync__msg_op *op, dbsync__error *err)
{
	size_t n, j;
	int rc;

	w->field = "row";
	if (!row)
		return fail_at(err, w, "missing");
	if (!json_is_array(row))
		return fail_at(err, w, "expected an array, got %s",
			       type_name(row));
	n = json_array_size(row);
	if (n != ncolumns)
		return fail_at(err, w, "expected %zu values, got %zu",
			       ncolumns, n);
	op->row = calloc(n, sizeof(*op->row));
	if (!op->row)
		return nomem(err);
	op->nrow = n;
	for (j = 0; j < n; j++) {
		w->j = (long)j;
		rc = decode_value_at(json_array_get(row, j), w, &op->row[j],
				     err);
		if (rc)
			return rc;
	}
	w->j = -1;
	return 0;
}

static int decode_op_table(const json_t *o, where *w, table_index *ti,
			   size_t *table, dbsync__error *err)
{
	const char *name;
	size_t len;
	long t;
	int rc;

	w->field = "table";
	rc = get_string(json_object_get(o, "table"), w, &name, &len, err);
	if (rc)
		return rc;
	t = table_lookup(ti, name);
	if (t < 0) {
		char shown[SHOW_CAP];

		return fail_at(err, w,
			       "unknown table %s (not in \"tables\")",
			       show_name(name, len, shown, sizeof(shown)));
	}
	*table = (size_t)t;
	return 0;
}

static int decode_op(const json_t *o, const char *base, long i,
		     const char *allowed, table_index *ti, dbsync__msg_op *op,
		     dbsync__error *err)
{
	where w = {base, NULL, i, NULL, -1};
	const json_t *row;
	const char *s;
	size_t len;
	int rc;

	if (!json_is_object(o))
		return fail_at(err, &w, "expected an object, got %s",
			       type_name(o));
	rc = decode_op_table(o, &w, ti, &op->table, err);
	if (rc)
		return rc;

	w.field = "pk";
	rc = decode_value_at(json_object_get(o, "pk"), &w, &op->pk, err);
	if (rc)
		return rc;
	if (op->pk.type == DBSYNC_TYPE_NULL)
		return fail_at(err, &w, "must not be null");
	if (op->pk.type == DBSYNC_TYPE_FLOAT && isinf(op->pk.f))
		return fail_at(err, &w, "must not be infinite");

	w.field = "op";
	rc = get_string(json_object_get(o, "op"), &w, &s, &len, err);
	if (rc)
		return rc;
	if (len != 1 || s[0] == '\0' || !strchr(allowed, s[0])) {
		char shown[SHOW_CAP], list[32];
		size_t k, n = 0;

		for (k = 0; allowed[k]; k++)
			n += (size_t)snprintf(list + n, sizeof(list) - n,
					      "%s%c", k ? "/" : "", allowed[k]);
		return fail_at(err, &w, "expected one of %s, got \"%s\"", list,
			       show(s, len, shown, sizeof(shown)));
	}
	op->op = s[0];

	row = json_object_get(o, "row");
	if (op->op == 'i' || op->op == 'u')
		return decode_row(row, &w, ti->tables[op->table].ncolumns, op,
				  err);
	if (row && !json_is_null(row)) {
		w.field = "row";
		return fail_at(err, &w, "expected no row on %s, got %s",
			       op->op == 'd' ? "a delete" : "a tombstone",
			       type_name(row));
	}
	return 0;
}

static int decode_ops(const json_t *arr, const char *base, const char *allowed,
		      table_index *ti, dbsync__msg_op **out, size_t *nout,
		      dbsync__error *err)
{
	where w = at(base);
	size_t n, i;
	int rc;

	if (!arr)
		return fail_at(err, &w, "missing");
	if (!json_is_array(arr))
		return fail_at(err, &w, "expected an array, got %s",
			       type_name(arr));
	n = json_array_size(arr);
	if (n == 0)
		return 0;
	*out = calloc(n, sizeof(**out));
	if (!*out)
		return nomem(err);
	*nout = n;
	for (i = 0; i < n; i++) {
		rc = decode_op(json_array_get(arr, i), base, (long)i, allowed,
			       ti, &(*out)[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

/* A row of `t` as a JSON array, checking its length. */
static int write_row(jw *w, const dbsync__msg_table *t,
		     const dbsync__value *row, size_t nrow)
{
	size_t j;
	int rc;

	if (nrow != t->ncolumns || (nrow && !row))
		return bad_input("row length differs from the table's columns");
	jw_char(w, '[');
	for (j = 0; j < nrow; j++) {
		if (j)
			jw_char(w, ',');
		rc = value_write(w, &row[j]);
		if (rc)
			return rc;
	}
	jw_char(w, ']');
	return 0;
}

static int write_ops(jw *w, const dbsync__msg_table *tables, size_t ntables,
		     const dbsync__msg_op *ops, size_t n, const char *allowed)
{
	size_t i;
	int rc;

	jw_char(w, '[');
	for (i = 0; i < n; i++) {
		const dbsync__msg_op *op = &ops[i];

		if (op->table >= ntables)
			return bad_input("operation on a table index out of "
					 "range");
		if (!op->op || !strchr(allowed, op->op))
			return bad_input("unknown operation code");
		if (!pk_encodable(&op->pk))
			return bad_input("pk is null or infinite");
		if (i)
			jw_char(w, ',');
		JW_LIT(w, "{\"table\":");
		jw_cstr(w, tables[op->table].name);
		JW_LIT(w, ",\"pk\":");
		rc = value_write(w, &op->pk);
		if (rc)
			return rc;
		JW_LIT(w, ",\"op\":\"");
		jw_char(w, op->op);
		jw_char(w, '"');
		if (op->op == 'i' || op->op == 'u') {
			JW_LIT(w, ",\"row\":");
			rc = write_row(w, &tables[op->table], op->row,
				       op->nrow);
			if (rc)
				return rc;
		} else if (op->nrow) {
			return bad_input("row on a delete or tombstone");
		}
		jw_char(w, '}');
	}
	jw_char(w, ']');
	return 0;
}

/* ---- register ---------------------------------------------------------- */

void dbsync__register_req_clear(dbsync__register_req *r)
{
	if (!r)
		return;
	free(r->token);
	r->token = NULL;
}

int dbsync__msg_decode_register(const void *body, size_t len,
				dbsync__register_req *out, dbsync__error *err)
{
	where w = at("token");
	const json_t *tok;
	json_t *root;
	int rc;

	out->token = NULL;
	rc = open_message(body, len, SERVER_SIDE, &root, err);
	if (rc)
		return rc;
	tok = json_object_get(root, "token");
	if (tok && !json_is_null(tok)) {
		if (!json_is_string(tok)) {
			rc = fail_at(err, &w, "expected a string, got %s",
				     type_name(tok));
		} else {
			out->token = dup_bytes(json_string_value(tok),
					       json_string_length(tok));
			if (!out->token)
				rc = nomem(err);
		}
	}
	json_decref(root);
	return rc;
}

int dbsync__msg_encode_register(const char *token, char **out, size_t *out_len)
{
	jw w = {NULL, 0, 0, 0};

	*out = NULL;
	*out_len = 0;
	if (token && !plain_text((const unsigned char *)token, strlen(token)))
		return bad_input("token is not UTF-8 text");
	jw_begin(&w);
	if (token) {
		jw_key(&w, "token");
		jw_cstr(&w, token);
	}
	jw_char(&w, '}');
	return jw_finish(&w, 0, out, out_len);
}

#define MIN_SECRET 32
#define MAX_SECRET 1024

int dbsync__msg_encode_register_resp(int64_t node_id, const void *secret,
				     size_t secret_len, char **out,
				     size_t *out_len)
{
	jw w = {NULL, 0, 0, 0};
	char *b64;

	*out = NULL;
	*out_len = 0;
	if (node_id < 1)
		return bad_input("node id below 1");
	if (secret_len < MIN_SECRET || secret_len > MAX_SECRET || !secret)
		return bad_input("secret shorter than 32 or longer than 1024 "
				 "bytes");
	b64 = dbsync__base64_encode(secret, secret_len);
	if (!b64)
		return DBSYNC_NOMEM;
	jw_begin(&w);
	jw_key(&w, "node_id");
	jw_int(&w, node_id);
	jw_key(&w, "secret");
	jw_cstr(&w, b64);
	jw_char(&w, '}');
	free(b64);
	return jw_finish(&w, 0, out, out_len);
}

int dbsync__msg_decode_register_resp(const void *body, size_t len,
				     int64_t *node_id, unsigned char **secret,
				     size_t *secret_len, dbsync__error *err)
{
	where w = at("node_id");
	const char *s;
	size_t slen;
	json_t *root;
	int rc;

	*node_id = 0;
	*secret = NULL;
	*secret_len = 0;
	rc = open_message(body, len, CLIENT_SIDE, &root, err);
	if (rc)
		return rc;
	rc = get_int(json_object_get(root, "node_id"), &w, 1, node_id, err);
	w = at("secret");
	if (!rc)
		rc = get_string(json_object_get(root, "secret"), &w, &s, &slen,
				err);
	if (!rc) {
		rc = dbsync__base64_decode(s, slen, secret, secret_len);
		if (rc == DBSYNC_NOMEM)
			rc = nomem(err);
		else if (rc)
			rc = fail_at(err, &w, "invalid base64");
		else if (*secret_len < MIN_SECRET || *secret_len > MAX_SECRET)
			rc = fail_at(err, &w,
				     "expected 32 to 1024 bytes, got %zu",
				     *secret_len);
	}
	json_decref(root);
	if (rc) {
		free(*secret);
		*node_id = 0;
		*secret = NULL;
		*secret_len = 0;
	}
	return rc;
}

/* ---- push -------------------------------------------------------------- */

void dbsync__push_req_clear(dbsync__push_req *r)
{
	if (!r)
		return;
	tables_free(r->tables, r->ntables);
	ops_free(r->ops, r->nops);
	memset(r, 0, sizeof(*r));
}

static int push_from_json(const json_t *root, dbsync__push_req *out,
			  dbsync__error *err)
{
	where w = at("push_id");
	table_index ti;
	const char *s;
	size_t len;
	int rc;

	rc = get_string(json_object_get(root, "push_id"), &w, &s, &len, err);
	if (rc)
		return rc;
	if (!push_id_ok(s, len))
		return fail_at(err, &w, "expected %d lower-case hex digits",
			       DBSYNC__PUSH_ID_HEX);
	memcpy(out->push_id, s, len + 1);

	w = at("base_version");
	rc = get_nullable_int(json_object_get(root, "base_version"), &w, 0,
			      &out->has_base, &out->base_version, err);
	if (rc)
		return rc;
	rc = decode_tables(json_object_get(root, "tables"), PK_OPTIONAL,
			   &out->tables, &out->ntables, err);
	if (rc)
		return rc;
	rc = table_index_init(&ti, out->tables, out->ntables, err);
	if (rc)
		return rc;
	rc = decode_ops(json_object_get(root, "operations"), "operations",
			"iudt", &ti, &out->ops, &out->nops, err);
	free(ti.sorted);
	return rc;
}

int dbsync__msg_decode_push(const void *body, size_t len,
			    dbsync__push_req *out, dbsync__error *err)
{
	json_t *root;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = open_message(body, len, SERVER_SIDE, &root, err);
	if (rc)
		return rc;
	rc = push_from_json(root, out, err);
	json_decref(root);
	if (rc)
		dbsync__push_req_clear(out);
	return rc;
}

int dbsync__msg_encode_push(const dbsync__push_req *req, char **out,
			    size_t *out_len)
{
	jw w = {NULL, 0, 0, 0};
	int rc;

	*out = NULL;
	*out_len = 0;
	if (!push_id_ok(req->push_id, strnlen(req->push_id,
					       sizeof(req->push_id))))
		return bad_input("push id is not 32 lower-case hex digits");
	if (req->has_base && req->base_version < 0)
		return bad_input("negative base version");
	jw_begin(&w);
	jw_key(&w, "push_id");
	jw_cstr(&w, req->push_id);
	jw_key(&w, "base_version");
	jw_nullable_int(&w, req->has_base, req->base_version);
	jw_key(&w, "tables");
	rc = write_tables(&w, req->tables, req->ntables, PK_OPTIONAL);
	if (!rc) {
		jw_key(&w, "operations");
		rc = write_ops(&w, req->tables, req->ntables, req->ops,
			       req->nops, "iudt");
	}
	jw_char(&w, '}');
	return jw_finish(&w, rc, out, out_len);
}

int dbsync__msg_encode_version_resp(int64_t version, char **out,
				    size_t *out_len)
{
	jw w = {NULL, 0, 0, 0};

	*out = NULL;
	*out_len = 0;
	if (version < 0)
		return bad_input("negative version");
	jw_begin(&w);
	jw_key(&w, "version");
	jw_int(&w, version);
	jw_char(&w, '}');
	return jw_finish(&w, 0, out, out_len);
}

int dbsync__msg_decode_version_resp(const void *body, size_t len,
				    int64_t *version, dbsync__error *err)
{
	where w = at("version");
	json_t *root;
	int rc;

	*version = 0;
	rc = open_message(body, len, CLIENT_SIDE, &root, err);
	if (rc)
		return rc;
	rc = get_int(json_object_get(root, "version"), &w, 0, version, err);
	json_decref(root);
	if (rc)
		*version = 0;
	return rc;
}

/* ---- pull -------------------------------------------------------------- */

void dbsync__pull_req_clear(dbsync__pull_req *r)
{
	if (!r)
		return;
	free(r->cursor);
	memset(r, 0, sizeof(*r));
}

/* "cursor": null or a string of at most MAX_CURSOR bytes. */
static int decode_cursor(const json_t *v, char **out, dbsync__error *err)
{
	where w = at("cursor");

	*out = NULL;
	if (json_is_null(v))
		return 0;
	if (!v)
		return fail_at(err, &w, "missing");
	if (!json_is_string(v))
		return fail_at(err, &w, "expected a string or null, got %s",
			       type_name(v));
	if (json_string_length(v) > MAX_CURSOR)
		return fail_at(err, &w, "longer than %d bytes", MAX_CURSOR);
	*out = dup_bytes(json_string_value(v), json_string_length(v));
	return *out ? 0 : nomem(err);
}

static int cursor_encodable(const char *c)
{
	return !c || (strlen(c) <= MAX_CURSOR &&
		      plain_text((const unsigned char *)c, strlen(c)));
}

static void jw_cursor(jw *w, const char *c)
{
	if (c)
		jw_cstr(w, c);
	else
		JW_LIT(w, "null");
}

/* max_operations / max_bytes: absent, null or >= 1 (0 in the struct). */
static int decode_limit(const json_t *root, const char *key, int64_t *out,
			dbsync__error *err)
{
	where w = at(key);
	const json_t *v = json_object_get(root, key);

	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	return get_int(v, &w, 1, out, err);
}

static int pull_from_json(const json_t *root, dbsync__pull_req *out,
			  dbsync__error *err)
{
	where w = at("after_version");
	const json_t *v;
	int rc;

	rc = get_nullable_int(json_object_get(root, "after_version"), &w, 0,
			      &out->has_after, &out->after_version, err);
	if (rc)
		return rc;
	/* Absent on a first page is as good as null. */
	w = at("target_version");
	v = json_object_get(root, "target_version");
	if (v) {
		rc = get_nullable_int(v, &w, 0, &out->has_target,
				      &out->target_version, err);
		if (rc)
			return rc;
	}
	v = json_object_get(root, "cursor");
	if (v) {
		rc = decode_cursor(v, &out->cursor, err);
		if (rc)
			return rc;
	}
	rc = decode_limit(root, "max_operations", &out->max_operations, err);
	if (!rc)
		rc = decode_limit(root, "max_bytes", &out->max_bytes, err);
	return rc;
}

int dbsync__msg_decode_pull(const void *body, size_t len,
			    dbsync__pull_req *out, dbsync__error *err)
{
	json_t *root;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = open_message(body, len, SERVER_SIDE, &root, err);
	if (rc)
		return rc;
	rc = pull_from_json(root, out, err);
	json_decref(root);
	if (rc)
		dbsync__pull_req_clear(out);
	return rc;
}

int dbsync__msg_encode_pull(const dbsync__pull_req *req, char **out,
			    size_t *out_len)
{
	jw w = {NULL, 0, 0, 0};

	*out = NULL;
	*out_len = 0;
	if ((req->has_after && req->after_version < 0) ||
	    (req->has_target && req->target_version < 0) ||
	    req->max_operations < 0 || req->max_bytes < 0)
		return bad_input("negative version or limit");
	if (!cursor_encodable(req->cursor))
		return bad_input("cursor longer than 256 bytes or not UTF-8");
	jw_begin(&w);
	jw_key(&w, "after_version");
	jw_nullable_int(&w, req->has_after, req->after_version);
	jw_key(&w, "target_version");
	jw_nullable_int(&w, req->has_target, req->target_version);
	jw_key(&w, "cursor");
	jw_cursor(&w, req->cursor);
	if (req->max_operations) {
		jw_key(&w, "max_operations");
		jw_int(&w, req->max_operations);
	}
	if (req->max_bytes) {
		jw_key(&w, "max_bytes");
		jw_int(&w, req->max_bytes);
	}
	jw_char(&w, '}');
	return jw_finish(&w, 0, out, out_len);
}

void dbsync__pull_resp_clear(dbsync__pull_resp *r)
{
	if (!r)
		return;
	free(r->versions);
	tables_free(r->tables, r->ntables);
	ops_free(r->ops, r->nops);
	ops_free(r->parents, r->nparents);
	free(r->cursor);
	memset(r, 0, sizeof(*r));
}

static int decode_version(const json_t *o, long i, dbsync__msg_version *v,
			  dbsync__error *err)
{
	where w = {"versions", NULL, i, NULL, -1};
	const json_t *pid;
	int rc;

	if (!json_is_object(o))
		return fail_at(err, &w, "expected an object, got %s",
			       type_name(o));
	w.field = "id";
	rc = get_int(json_object_get(o, "id"), &w, 1, &v->id, err);
	if (rc)
		return rc;
	w.field = "node_id";
	rc = get_nullable_int(json_object_get(o, "node_id"), &w, 1,
			      &v->has_node, &v->node_id, err);
	if (rc)
		return rc;
	w.field = "push_id";
	pid = json_object_get(o, "push_id");
	if (!pid)
		return fail_at(err, &w, "missing");
	if (!json_is_null(pid)) {
		if (!json_is_string(pid))
			return fail_at(err, &w,
				       "expected a string or null, got %s",
				       type_name(pid));
		if (!push_id_ok(json_string_value(pid),
				json_string_length(pid)))
			return fail_at(err, &w,
				       "expected %d lower-case hex digits",
				       DBSYNC__PUSH_ID_HEX);
		memcpy(v->push_id, json_string_value(pid),
		       DBSYNC__PUSH_ID_HEX + 1);
	}
	w.field = "created";
	return get_int(json_object_get(o, "created"), &w, 0, &v->created,
		       err);
}

static int decode_versions(const json_t *arr, dbsync__pull_resp *out,
			   dbsync__error *err)
{
	where w = at("versions");
	size_t n, i;
	int rc;

	if (!arr)
		return fail_at(err, &w, "missing");
	if (!json_is_array(arr))
		return fail_at(err, &w, "expected an array, got %s",
			       type_name(arr));
	n = json_array_size(arr);
	if (n == 0)
		return 0;
	out->versions = calloc(n, sizeof(*out->versions));
	if (!out->versions)
		return nomem(err);
	out->nversions = n;
	for (i = 0; i < n; i++) {
		rc = decode_version(json_array_get(arr, i), (long)i,
				    &out->versions[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

static int decode_parent(const json_t *o, long i, table_index *ti,
			 dbsync__msg_op *op, dbsync__error *err)
{
	where w = {"parents", NULL, i, NULL, -1};
	const dbsync__msg_table *t;
	size_t pk;
	int rc;

	if (!json_is_object(o))
		return fail_at(err, &w, "expected an object, got %s",
			       type_name(o));
	rc = decode_op_table(o, &w, ti, &op->table, err);
	if (rc)
		return rc;
	op->op = 'p';
	t = &ti->tables[op->table];
	rc = decode_row(json_object_get(o, "row"), &w, t->ncolumns, op, err);
	if (rc)
		return rc;
	pk = pk_column(t); /* always found: pull tables carry a checked pk */
	if (op->row[pk].type == DBSYNC_TYPE_NULL ||
	    (op->row[pk].type == DBSYNC_TYPE_FLOAT && isinf(op->row[pk].f))) {
		char shown[SHOW_CAP];

		w.j = (long)pk;
		return fail_at(err, &w, "primary key \"%s\" is %s",
			       show(t->pk, strlen(t->pk), shown, sizeof(shown)),
			       op->row[pk].type == DBSYNC_TYPE_NULL
				       ? "null"
				       : "infinite");
	}
	return dbsync__value_copy(&op->pk, &op->row[pk]) ? nomem(err) : 0;
}

static int decode_parents(const json_t *arr, table_index *ti,
			  dbsync__pull_resp *out, dbsync__error *err)
{
	where w = at("parents");
	size_t n, i;
	int rc;

	if (!arr)
		return fail_at(err, &w, "missing");
	if (!json_is_array(arr))
		return fail_at(err, &w, "expected an array, got %s",
			       type_name(arr));
	n = json_array_size(arr);
	if (n == 0)
		return 0;
	out->parents = calloc(n, sizeof(*out->parents));
	if (!out->parents)
		return nomem(err);
	out->nparents = n;
	for (i = 0; i < n; i++) {
		rc = decode_parent(json_array_get(arr, i), (long)i, ti,
				   &out->parents[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

static int pull_resp_from_json(const json_t *root, dbsync__pull_resp *out,
			       dbsync__error *err)
{
	where w = at("target_version");
	table_index ti;
	int rc;

	rc = get_int(json_object_get(root, "target_version"), &w, 0,
		     &out->target_version, err);
	if (!rc)
		rc = decode_versions(json_object_get(root, "versions"), out,
				     err);
	if (!rc)
		rc = decode_tables(json_object_get(root, "tables"), PK_REQUIRED,
				   &out->tables, &out->ntables, err);
	if (rc)
		return rc;
	rc = table_index_init(&ti, out->tables, out->ntables, err);
	if (rc)
		return rc;
	rc = decode_ops(json_object_get(root, "operations"), "operations",
			"iud", &ti, &out->ops, &out->nops, err);
	if (!rc)
		rc = decode_parents(json_object_get(root, "parents"), &ti, out,
				    err);
	free(ti.sorted);
	if (!rc) {
		const json_t *c = json_object_get(root, "cursor");

		rc = decode_cursor(c, &out->cursor, err);
	}
	return rc;
}

int dbsync__msg_decode_pull_resp(const void *body, size_t len,
				 dbsync__pull_resp *out, dbsync__error *err)
{
	json_t *root;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = open_message(body, len, CLIENT_SIDE, &root, err);
	if (rc)
		return rc;
	rc = pull_resp_from_json(root, out, err);
	json_decref(root);
	if (rc)
		dbsync__pull_resp_clear(out);
	return rc;
}

static int write_versions(jw *w, const dbsync__msg_version *vs, size_t n)
{
	size_t i;

	jw_char(w, '[');
	for (i = 0; i < n; i++) {
		const dbsync__msg_version *v = &vs[i];
		size_t plen = strnlen(v->push_id, sizeof(v->push_id));

		if (v->id < 1 || (v->has_node && v->node_id < 1) ||
		    v->created < 0 || (plen && !push_id_ok(v->push_id, plen)))
			return bad_input("version with an id, node id, push id "
					 "or time out of range");
		if (i)
			jw_char(w, ',');
		JW_LIT(w, "{\"id\":");
		jw_int(w, v->id);
		JW_LIT(w, ",\"node_id\":");
		jw_nullable_int(w, v->has_node, v->node_id);
		JW_LIT(w, ",\"push_id\":");
		if (plen)
			jw_str(w, v->push_id, plen);
		else
			JW_LIT(w, "null");
		JW_LIT(w, ",\"created\":");
		jw_int(w, v->created);
		jw_char(w, '}');
	}
	jw_char(w, ']');
	return 0;
}

/* Parents carry no pk: the reader takes it from the row's pk column. */
static int write_parents(jw *w, const dbsync__msg_table *tables,
			 size_t ntables, const dbsync__msg_op *ps, size_t n)
{
	size_t i;
	int rc;

	jw_char(w, '[');
	for (i = 0; i < n; i++) {
		const dbsync__msg_op *p = &ps[i];
		const dbsync__msg_table *t;

		if (p->table >= ntables)
			return bad_input("parent on a table index out of "
					 "range");
		t = &tables[p->table];
		if (p->nrow != t->ncolumns || !p->row ||
		    !pk_encodable(&p->row[pk_column(t)]))
			return bad_input("parent row of the wrong length or "
					 "with a null or infinite pk");
		if (i)
			jw_char(w, ',');
		JW_LIT(w, "{\"table\":");
		jw_cstr(w, t->name);
		JW_LIT(w, ",\"row\":");
		rc = write_row(w, t, p->row, p->nrow);
		if (rc)
			return rc;
		jw_char(w, '}');
	}
	jw_char(w, ']');
	return 0;
}

int dbsync__msg_encode_pull_resp(const dbsync__pull_resp *resp, char **out,
				 size_t *out_len)
{
	jw w = {NULL, 0, 0, 0};
	int rc;

	*out = NULL;
	*out_len = 0;
	if (resp->target_version < 0)
		return bad_input("negative target version");
	if (!cursor_encodable(resp->cursor))
		return bad_input("cursor longer than 256 bytes or not UTF-8");
	jw_begin(&w);
	jw_key(&w, "target_version");
	jw_int(&w, resp->target_version);
	jw_key(&w, "versions");
	rc = write_versions(&w, resp->versions, resp->nversions);
	if (!rc) {
		jw_key(&w, "tables");
		rc = write_tables(&w, resp->tables, resp->ntables, PK_REQUIRED);
	}
	if (!rc) {
		jw_key(&w, "operations");
		rc = write_ops(&w, resp->tables, resp->ntables, resp->ops,
			       resp->nops, "iud");
	}
	if (!rc) {
		jw_key(&w, "parents");
		rc = write_parents(&w, resp->tables, resp->ntables,
				   resp->parents, resp->nparents);
	}
	jw_key(&w, "cursor");
	jw_cursor(&w, resp->cursor);
	jw_char(&w, '}');
	return jw_finish(&w, rc, out, out_len);
}

/* ---- errors ------------------------------------------------------------ */

/* The message as one line of valid UTF-8 (it may come from anywhere and
 * may have been cut inside a character). */
static char *clean_message(const char *msg)
{
	const unsigned char *s = (const unsigned char *)msg;
	size_t len = strlen(msg), i = 0, o = 0;
	char *out = malloc(len + 1);

	if (!out)
		return NULL;
	while (i < len) {
		size_t k = s[i] < 0x80 ? 1 : utf8_char(s + i, len - i);

		if (k == 0) {
			out[o++] = '?';
			i++;
		} else if (k == 1 && (s[i] < 0x20 || s[i] == 0x7f)) {
			out[o++] = ' ';
			i++;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
	return out;
}

int dbsync__msg_encode_error(int code, const char *message, char **out,
			     size_t *out_len)
{
	jw w = {NULL, 0, 0, 0};
	char *msg;

	*out = NULL;
	*out_len = 0;
	if (code >= 0)
		return bad_input("error code is not negative");
	msg = clean_message(message && *message ? message
						: dbsync_strerror(code));
	if (!msg)
		return DBSYNC_NOMEM;
	JW_LIT(&w, "{\"error\":{\"code\":");
	jw_int(&w, code);
	JW_LIT(&w, ",\"name\":");
	jw_cstr(&w, dbsync_error_name(code));
	JW_LIT(&w, ",\"message\":");
	jw_cstr(&w, msg);
	JW_LIT(&w, "}}");
	free(msg);
	return jw_finish(&w, 0, out, out_len);
}

int dbsync__msg_decode_error(const void *body, size_t len, dbsync__error *err)
{
	where w = at("error");
	const json_t *e, *v;
	const char *name = NULL, *msg = "";
	char *clean;
	json_t *root;
	int64_t code = 0;
	int rc;

	/* Error bodies carry no "protocol" (docs/protocol.md, Errors). */
	rc = parse_object(body, len, &root, err);
	if (rc)
		return rc;
	e = json_object_get(root, "error");
	if (!e) {
		rc = fail_at(err, &w, "missing");
		goto done;
	}
	if (!json_is_object(e)) {
		rc = fail_at(err, &w, "expected an object, got %s",
			     type_name(e));
		goto done;
	}
	w.field = "code";
	rc = get_int(json_object_get(e, "code"), &w, INT_MIN, &code, err);
	if (!rc && code >= 0)
		rc = fail_at(err, &w, "expected a negative integer, got %lld",
			     (long long)code);
	if (rc)
		goto done;
	w.field = "name";
	v = json_object_get(e, "name");
	if (v && !json_is_string(v)) {
		rc = fail_at(err, &w, "expected a string, got %s",
			     type_name(v));
		goto done;
	}
	name = v ? json_string_value(v) : NULL;
	w.field = "message";
	v = json_object_get(e, "message");
	if (v && !json_is_string(v)) {
		rc = fail_at(err, &w, "expected a string, got %s",
			     type_name(v));
		goto done;
	}
	if (v)
		msg = json_string_value(v);
	if (!*msg)
		msg = dbsync_strerror((int)code);
	clean = clean_message(msg);
	if (!clean) {
		rc = nomem(err);
		goto done;
	}
	if (code >= DBSYNC_ERROR_LAST) {
		rc = dbsync__error_set(err, (int)code, "%s", clean);
	} else {
		/* A code from a newer server: keep its number and name in the
		 * message, and hand callers a code they know. */
		char shown[SHOW_CAP];

		rc = dbsync__error_set(err, DBSYNC_ERROR,
				       "server error %lld (%s): %s",
				       (long long)code,
				       name ? show(name, strlen(name), shown,
						   sizeof(shown))
					    : "UNKNOWN",
				       clean);
	}
	free(clean);
done:
	json_decref(root);
	return rc;
}
