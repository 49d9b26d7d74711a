/*
 * message_test.c - the protocol's JSON messages: round trips of every
 * message and value type, exact JSON text, malformed input rejected with
 * DBSYNC_PROTOCOL naming the field, and a mutation fuzz loop.
 */
#include "harness.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../libdbsync/src/message.h"

/* A string literal as (bytes, length). */
#define S(lit) (lit), strlen(lit)

/* ---- building values (pointing at static or case memory) -------------- */

static dbsync__value v_null(void)
{
	dbsync__value v = {.type = DBSYNC_TYPE_NULL};
	return v;
}

static dbsync__value v_int(int64_t i)
{
	dbsync__value v = {.type = DBSYNC_TYPE_INTEGER, .i = i};
	return v;
}

static dbsync__value v_real(double f)
{
	dbsync__value v = {.type = DBSYNC_TYPE_FLOAT, .f = f};
	return v;
}

static dbsync__value v_textn(const char *s, size_t n)
{
	dbsync__value v = {.type = DBSYNC_TYPE_TEXT, .p = s, .len = n};
	return v;
}

static dbsync__value v_text(const char *s)
{
	return v_textn(s, strlen(s));
}

static dbsync__value v_blob(const void *p, size_t n)
{
	dbsync__value v = {.type = DBSYNC_TYPE_BLOB, .p = p, .len = n};
	return v;
}

static const char *value_str(const dbsync__value *v)
{
	switch (v->type) {
	case DBSYNC_TYPE_NULL:
		return "NULL";
	case DBSYNC_TYPE_INTEGER:
		return th_fmt("%lld", (long long)v->i);
	case DBSYNC_TYPE_FLOAT:
		return th_fmt("%.17g%s", v->f, signbit(v->f) ? " (neg)" : "");
	case DBSYNC_TYPE_TEXT:
		return th_fmt("text(%zu)", v->len);
	case DBSYNC_TYPE_BLOB:
		return th_fmt("blob(%zu)", v->len);
	default:
		return th_fmt("type %d", (int)v->type);
	}
}

#define ASSERT_VALUE_EQ(a, b)                                                  \
	ASSERT_MSG(dbsync__value_equal((a), (b)),                              \
		   "values differ: %s vs %s", value_str(a), value_str(b))

/* ---- deep comparisons -------------------------------------------------- */

static void assert_tables_eq(const dbsync__msg_table *a, size_t na,
			     const dbsync__msg_table *b, size_t nb)
{
	size_t i, j;

	ASSERT_EQ_INT(na, nb);
	for (i = 0; i < na; i++) {
		ASSERT_EQ_STR(a[i].name, b[i].name);
		ASSERT_EQ_STR(a[i].pk, b[i].pk);
		ASSERT_EQ_INT(a[i].ncolumns, b[i].ncolumns);
		for (j = 0; j < a[i].ncolumns; j++)
			ASSERT_EQ_STR(a[i].columns[j], b[i].columns[j]);
	}
}

static void assert_ops_eq(const dbsync__msg_op *a, size_t na,
			  const dbsync__msg_op *b, size_t nb)
{
	size_t i, j;

	ASSERT_EQ_INT(na, nb);
	for (i = 0; i < na; i++) {
		ASSERT_EQ_INT(a[i].table, b[i].table);
		ASSERT_EQ_INT(a[i].op, b[i].op);
		ASSERT_VALUE_EQ(&a[i].pk, &b[i].pk);
		ASSERT_EQ_INT(a[i].nrow, b[i].nrow);
		for (j = 0; j < a[i].nrow; j++)
			ASSERT_VALUE_EQ(&a[i].row[j], &b[i].row[j]);
	}
}

static void assert_push_eq(const dbsync__push_req *a, const dbsync__push_req *b)
{
	ASSERT_EQ_STR(a->push_id, b->push_id);
	ASSERT_EQ_INT(a->has_base, b->has_base);
	ASSERT_EQ_INT(a->base_version, b->base_version);
	assert_tables_eq(a->tables, a->ntables, b->tables, b->ntables);
	assert_ops_eq(a->ops, a->nops, b->ops, b->nops);
}

static void assert_pull_eq(const dbsync__pull_req *a, const dbsync__pull_req *b)
{
	ASSERT_EQ_INT(a->has_after, b->has_after);
	ASSERT_EQ_INT(a->after_version, b->after_version);
	ASSERT_EQ_INT(a->has_target, b->has_target);
	ASSERT_EQ_INT(a->target_version, b->target_version);
	ASSERT_EQ_STR(a->cursor, b->cursor);
	ASSERT_EQ_INT(a->max_operations, b->max_operations);
	ASSERT_EQ_INT(a->max_bytes, b->max_bytes);
}

static void assert_pull_resp_eq(const dbsync__pull_resp *a,
				const dbsync__pull_resp *b)
{
	size_t i;

	ASSERT_EQ_INT(a->target_version, b->target_version);
	ASSERT_EQ_INT(a->nversions, b->nversions);
	for (i = 0; i < a->nversions; i++) {
		ASSERT_EQ_INT(a->versions[i].id, b->versions[i].id);
		ASSERT_EQ_INT(a->versions[i].has_node, b->versions[i].has_node);
		ASSERT_EQ_INT(a->versions[i].node_id, b->versions[i].node_id);
		ASSERT_EQ_STR(a->versions[i].push_id, b->versions[i].push_id);
		ASSERT_EQ_INT(a->versions[i].created, b->versions[i].created);
	}
	assert_tables_eq(a->tables, a->ntables, b->tables, b->ntables);
	assert_ops_eq(a->ops, a->nops, b->ops, b->nops);
	assert_ops_eq(a->parents, a->nparents, b->parents, b->nparents);
	ASSERT_EQ_STR(a->cursor, b->cursor);
}

/* ---- sample messages --------------------------------------------------- */

static const unsigned char blob_bytes[] = {0, 1, 2, 0xff, 0xfe, 0, 0x80};

/* Doubles that a sloppy printer would not bring back exactly. */
static const double tricky[] = {
	0.1, 1e300, 5e-324, -0.0, 0.0, 9007199254740993.0 /* 2^53+1 */,
	DBL_MAX, -DBL_MAX, DBL_MIN, 1.0, -1.5, 100.0, 1e21, 1e22, 1e-7,
	3.141592653589793, 2.2250738585072009e-308, 123456789012345678.0,
	0.30000000000000004, 1.7976931348623157e308 / 3,
};
#define NTRICKY (sizeof(tricky) / sizeof(tricky[0]))

/* Text that is not plain JSON-string material. */
static const struct {
	const char *s;
	size_t n;
} odd_texts[] = {
	{"a\0b", 3},		 {"\xc0\x80", 2},	  {"\xed\xa0\x80", 3},
	{"\xf4\x90\x80\x80", 4}, {"\xff", 1},		  {"abc\x80", 4},
	{"\xe2\x82", 2},	 {"\xf0\x9f\x98", 3},	  {"\0", 1},
	{"\xc1\xbf", 2},	 {"\xe0\x80\xaf", 3},	  {"\xf5\x80\x80\x80", 4},
};
#define NODD (sizeof(odd_texts) / sizeof(odd_texts[0]))

static char *city_cols[] = {"id", "name", "area", "flag", "data"};
static char *person_cols[] = {"uuid", "city_id"};

/* A push with every value type (kept in case memory). */
static dbsync__push_req *sample_push(void)
{
	dbsync__push_req *r = th_alloc(sizeof(*r));
	dbsync__msg_table *t = th_alloc(2 * sizeof(*t));
	size_t nops = 8 + NTRICKY + NODD, k = 0, i;
	dbsync__msg_op *ops = th_alloc(nops * sizeof(*ops));

	strcpy(r->push_id, "0123456789abcdef0123456789abcdef");
	r->has_base = 1;
	r->base_version = 41;
	t[0].name = "city";
	t[0].columns = city_cols;
	t[0].ncolumns = 5;
	t[1].name = "Person"; /* sorts before "city": order must survive */
	t[1].columns = person_cols;
	t[1].ncolumns = 2;
	t[1].pk = "uuid";
	r->tables = t;
	r->ntables = 2;

#define ROW5(a, b, c, d, e)                                                    \
	do {                                                                   \
		dbsync__value *row_ = th_alloc(5 * sizeof(*row_));             \
		row_[0] = a, row_[1] = b, row_[2] = c, row_[3] = d,            \
		row_[4] = e;                                                   \
		ops[k].row = row_;                                             \
		ops[k].nrow = 5;                                               \
	} while (0)

	ops[k].table = 0, ops[k].op = 'i', ops[k].pk = v_int(7);
	ROW5(v_int(7), v_text("Oslo"), v_real(454.03), v_null(),
	     v_blob(blob_bytes, sizeof(blob_bytes)));
	k++;
	ops[k].table = 0, ops[k].op = 'u', ops[k].pk = v_int(INT64_MIN);
	ROW5(v_int(INT64_MIN),
	     v_text("h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e"
		    " \"q\" \\ / \n\t\x01"),
	     v_real(HUGE_VAL), v_int(INT64_MAX), v_blob("", 0));
	k++;
	ops[k].table = 0, ops[k].op = 'u', ops[k].pk = v_int(-1);
	ROW5(v_int(-1), v_text(""), v_real(-HUGE_VAL), v_int(0),
	     v_blob("x", 1));
	k++;
	for (i = 0; i < NTRICKY; i++, k++) {
		int64_t id = 100 + (int64_t)i;

		ops[k].table = 0, ops[k].op = 'i', ops[k].pk = v_int(id);
		ROW5(v_int(id), v_null(), v_real(tricky[i]),
		     v_real(-tricky[i]), v_null());
	}
	for (i = 0; i < NODD; i++, k++) {
		int64_t id = 200 + (int64_t)i;

		ops[k].table = 0, ops[k].op = 'u', ops[k].pk = v_int(id);
		ROW5(v_int(id), v_textn(odd_texts[i].s, odd_texts[i].n),
		     v_null(), v_null(), v_null());
	}
	ops[k].table = 1, ops[k].op = 'd', ops[k].pk = v_text("a1b2");
	k++;
	ops[k].table = 1, ops[k].op = 't', ops[k].pk = v_blob(blob_bytes, 3);
	k++;
	ops[k].table = 1, ops[k].op = 'd', ops[k].pk = v_real(-0.0);
	k++;
	ops[k].table = 1, ops[k].op = 'i', ops[k].pk = v_textn("\xff\0", 2);
	{
		dbsync__value *row = th_alloc(2 * sizeof(*row));
		row[0] = v_textn("\xff\0", 2);
		row[1] = v_int(7);
		ops[k].row = row;
		ops[k].nrow = 2;
	}
	k++;
	ops[k].table = 1, ops[k].op = 'u', ops[k].pk = v_real(0.1);
	{
		dbsync__value *row = th_alloc(2 * sizeof(*row));
		row[0] = v_real(0.1);
		row[1] = v_null();
		ops[k].row = row;
		ops[k].nrow = 2;
	}
	k++;
#undef ROW5
	r->ops = ops;
	r->nops = k;
	return r;
}

static const char *push_text(const dbsync__push_req *r)
{
	char *out;
	size_t len;
	char *copy;

	ASSERT_OK(dbsync__msg_encode_push(r, &out, &len));
	ASSERT_EQ_INT(strlen(out), len);
	copy = th_strdup(out);
	free(out);
	return copy;
}

static dbsync__pull_resp *sample_pull_resp(void)
{
	dbsync__pull_resp *r = th_alloc(sizeof(*r));
	dbsync__msg_table *t = th_alloc(2 * sizeof(*t));
	dbsync__msg_version *v = th_alloc(3 * sizeof(*v));
	dbsync__msg_op *ops = th_alloc(3 * sizeof(*ops));
	dbsync__msg_op *par = th_alloc(2 * sizeof(*par));
	static char *country_cols[] = {"code", "name"};
	dbsync__value *row;

	r->target_version = 57;
	v[0].id = 42, v[0].has_node = 1, v[0].node_id = 17;
	strcpy(v[0].push_id, "ffffffffffffffffffffffffffffffff");
	v[0].created = 1764193200;
	v[1].id = 43, v[1].has_node = 0, v[1].created = 0; /* direct write */
	v[2].id = 57, v[2].has_node = 1, v[2].node_id = INT64_MAX;
	strcpy(v[2].push_id, "00000000000000000000000000000000");
	v[2].created = INT64_MAX;
	r->versions = v;
	r->nversions = 3;

	t[0].name = "city";
	t[0].columns = city_cols;
	t[0].ncolumns = 5;
	t[0].pk = "id";
	t[1].name = "country";
	t[1].columns = country_cols;
	t[1].ncolumns = 2;
	t[1].pk = "code";
	r->tables = t;
	r->ntables = 2;

	row = th_alloc(5 * sizeof(*row));
	row[0] = v_int(7), row[1] = v_text("Oslo"), row[2] = v_real(-0.0);
	row[3] = v_real(HUGE_VAL), row[4] = v_blob(blob_bytes, 7);
	ops[0].table = 0, ops[0].op = 'u', ops[0].pk = v_int(7);
	ops[0].row = row, ops[0].nrow = 5;
	ops[1].table = 0, ops[1].op = 'd', ops[1].pk = v_int(8);
	row = th_alloc(5 * sizeof(*row));
	row[0] = v_int(9), row[1] = v_textn("\xfe", 1), row[2] = v_real(5e-324);
	row[3] = v_null(), row[4] = v_null();
	ops[2].table = 0, ops[2].op = 'i', ops[2].pk = v_int(9);
	ops[2].row = row, ops[2].nrow = 5;
	r->ops = ops;
	r->nops = 3;

	row = th_alloc(2 * sizeof(*row));
	row[0] = v_text("NO"), row[1] = v_text("Norway");
	par[0].table = 1, par[0].op = 'p', par[0].pk = v_text("NO");
	par[0].row = row, par[0].nrow = 2;
	row = th_alloc(2 * sizeof(*row));
	row[0] = v_blob("\x01\x02", 2), row[1] = v_null();
	par[1].table = 1, par[1].op = 'p', par[1].pk = v_blob("\x01\x02", 2);
	par[1].row = row, par[1].nrow = 2;
	r->parents = par;
	r->nparents = 2;
	r->cursor = "opaque-cursor/\xc3\xa9";
	return r;
}

/* ---- round trips ------------------------------------------------------- */

TEST(push_round_trip_every_value_type)
{
	dbsync__push_req *in = sample_push(), out;
	dbsync__error err;
	const char *text = push_text(in);

	ASSERT_OK(dbsync__msg_decode_push(text, strlen(text), &out, &err));
	assert_push_eq(in, &out);
	/* Decoded text stays NUL-terminated; blobs own their bytes. */
	ASSERT_EQ_INT(out.ops[0].row[1].p[out.ops[0].row[1].len], '\0');
	ASSERT_EQ_STR(push_text(&out), text);
	dbsync__push_req_clear(&out);
	ASSERT_NULL(out.ops);
	dbsync__push_req_clear(&out); /* twice is harmless */
	dbsync__push_req_clear(NULL);
}

TEST(push_golden_text)
{
	dbsync__push_req r = {0};
	dbsync__msg_table t = {"city", (char *[]){"id", "name"}, 2, NULL};
	dbsync__value row1[] = {v_int(7), v_text("Oslo")};
	dbsync__value row2[] = {v_int(3), v_real(1.0)};
	dbsync__msg_op ops[] = {
		{0, 'i', v_int(7), row1, 2},
		{0, 'u', v_int(3), row2, 2},
		{0, 'd', v_text("a1b2"), NULL, 0},
		{0, 't', v_int(9), NULL, 0},
	};

	strcpy(r.push_id, "0123456789abcdef0123456789abcdef");
	r.has_base = 1;
	r.base_version = 41;
	r.tables = &t;
	r.ntables = 1;
	r.ops = ops;
	r.nops = 4;
	ASSERT_EQ_STR(
		push_text(&r),
		"{\"protocol\":1,\"push_id\":\"0123456789abcdef0123456789abcdef\","
		"\"base_version\":41,\"tables\":{\"city\":{\"columns\":[\"id\","
		"\"name\"]}},\"operations\":["
		"{\"table\":\"city\",\"pk\":7,\"op\":\"i\",\"row\":[7,\"Oslo\"]},"
		"{\"table\":\"city\",\"pk\":3,\"op\":\"u\",\"row\":[3,1.0]},"
		"{\"table\":\"city\",\"pk\":\"a1b2\",\"op\":\"d\"},"
		"{\"table\":\"city\",\"pk\":9,\"op\":\"t\"}]}");

	r.has_base = 0;
	r.nops = 0;
	r.ntables = 0;
	ASSERT_EQ_STR(push_text(&r),
		      "{\"protocol\":1,\"push_id\":"
		      "\"0123456789abcdef0123456789abcdef\",\"base_version\":null,"
		      "\"tables\":{},\"operations\":[]}");
}

/* The exact text of one value inside a row. */
static const char *value_json(dbsync__value v)
{
	dbsync__push_req r = {0};
	dbsync__msg_table t = {"t", (char *[]){"c"}, 1, NULL};
	dbsync__msg_op op = {0, 'i', v_int(1), &v, 1};
	const char *text, *start, *end;

	strcpy(r.push_id, "0123456789abcdef0123456789abcdef");
	r.tables = &t;
	r.ntables = 1;
	r.ops = &op;
	r.nops = 1;
	text = push_text(&r);
	start = strstr(text, "\"row\":[");
	ASSERT_NOT_NULL(start);
	start += 7;
	end = text + strlen(text) - 4; /* before "]}]}" */
	ASSERT_EQ_STR(end, "]}]}");
	return th_fmt("%.*s", (int)(end - start), start);
}

TEST(value_json_text)
{
	ASSERT_EQ_STR(value_json(v_null()), "null");
	ASSERT_EQ_STR(value_json(v_int(INT64_MIN)), "-9223372036854775808");
	ASSERT_EQ_STR(value_json(v_int(INT64_MAX)), "9223372036854775807");
	ASSERT_EQ_STR(value_json(v_real(1.0)), "1.0");
	ASSERT_EQ_STR(value_json(v_real(-0.0)), "-0.0");
	ASSERT_EQ_STR(value_json(v_real(0.1)), "0.10000000000000001");
	ASSERT_EQ_STR(value_json(v_real(1e300)), "1.0000000000000001e300");
	ASSERT_EQ_STR(value_json(v_real(5e-324)), "4.9406564584124654e-324");
	ASSERT_EQ_STR(value_json(v_real(9007199254740993.0)),
		      "9007199254740992.0");
	ASSERT_EQ_STR(value_json(v_real(DBL_MAX)), "1.7976931348623157e308");
	ASSERT_EQ_STR(value_json(v_real(HUGE_VAL)), "{\"real\":\"inf\"}");
	ASSERT_EQ_STR(value_json(v_real(-HUGE_VAL)), "{\"real\":\"-inf\"}");
	ASSERT_EQ_STR(value_json(v_text("Oslo")), "\"Oslo\"");
	ASSERT_EQ_STR(value_json(v_text("\xc3\xa9\"\n")), "\"\xc3\xa9\\\"\\n\"");
	ASSERT_EQ_STR(value_json(v_textn("a\0b", 3)),
		      "{\"text_base64\":\"YQBi\"}");
	ASSERT_EQ_STR(value_json(v_textn("\xff", 1)),
		      "{\"text_base64\":\"/w==\"}");
	ASSERT_EQ_STR(value_json(v_blob("", 0)), "{\"blob\":\"\"}");
	ASSERT_EQ_STR(value_json(v_blob(NULL, 0)), "{\"blob\":\"\"}");
	ASSERT_EQ_STR(value_json(v_textn(NULL, 0)), "\"\"");
	ASSERT_EQ_STR(value_json(v_blob("abc", 3)), "{\"blob\":\"YWJj\"}");
}

/* Decode one value written as JSON text inside a push row. */
static int decode_value_text(const char *json, dbsync__push_req *out,
			     dbsync__error *err)
{
	const char *body = th_fmt(
		"{\"protocol\":1,\"push_id\":\"0123456789abcdef0123456789abcdef\","
		"\"base_version\":null,\"tables\":{\"t\":{\"columns\":[\"c\"]}},"
		"\"operations\":[{\"table\":\"t\",\"pk\":1,\"op\":\"i\","
		"\"row\":[%s]}]}",
		json);
	return dbsync__msg_decode_push(body, strlen(body), out, err);
}

TEST(tricky_doubles_round_trip)
{
	size_t i;

	for (i = 0; i < NTRICKY; i++) {
		double d[2] = {tricky[i], -tricky[i]};
		int s;

		for (s = 0; s < 2; s++) {
			dbsync__value v = v_real(d[s]);
			const char *text = value_json(v);
			dbsync__push_req out;
			dbsync__error err;

			ASSERT_MSG(strpbrk(text, ".e") != NULL,
				   "real without '.' or exponent: %s", text);
			ASSERT_OK(decode_value_text(text, &out, &err));
			ASSERT_EQ_INT(out.ops[0].row[0].type, DBSYNC_TYPE_FLOAT);
			ASSERT_MSG(memcmp(&out.ops[0].row[0].f, &d[s],
					  sizeof(double)) == 0,
				   "%s came back as %.17g", text,
				   out.ops[0].row[0].f);
			dbsync__push_req_clear(&out);
		}
	}
}

TEST(decode_value_forms)
{
	dbsync__push_req out;
	dbsync__error err;

	/* Both text forms decode to the same TEXT. */
	ASSERT_OK(decode_value_text("\"h\\u00e9\"", &out, &err));
	ASSERT_EQ_INT(out.ops[0].row[0].type, DBSYNC_TYPE_TEXT);
	ASSERT_EQ_STR(out.ops[0].row[0].p, "h\xc3\xa9");
	dbsync__push_req_clear(&out);
	ASSERT_OK(decode_value_text("{\"text_base64\":\"aMOp\"}", &out, &err));
	ASSERT_EQ_INT(out.ops[0].row[0].type, DBSYNC_TYPE_TEXT);
	ASSERT_EQ_INT(out.ops[0].row[0].len, 3);
	ASSERT_EQ_STR(out.ops[0].row[0].p, "h\xc3\xa9");
	dbsync__push_req_clear(&out);
	ASSERT_OK(decode_value_text("{\"blob\":\"\"}", &out, &err));
	ASSERT_EQ_INT(out.ops[0].row[0].type, DBSYNC_TYPE_BLOB);
	ASSERT_EQ_INT(out.ops[0].row[0].len, 0);
	ASSERT_NOT_NULL(out.ops[0].row[0].p);
	dbsync__push_req_clear(&out);
	/* An exponent makes a real even without a '.'; -0 is the integer 0. */
	ASSERT_OK(decode_value_text("1E2", &out, &err));
	ASSERT_EQ_INT(out.ops[0].row[0].type, DBSYNC_TYPE_FLOAT);
	ASSERT_MSG(out.ops[0].row[0].f == 100.0, "1E2");
	dbsync__push_req_clear(&out);
	ASSERT_OK(decode_value_text("-0", &out, &err));
	ASSERT_EQ_INT(out.ops[0].row[0].type, DBSYNC_TYPE_INTEGER);
	ASSERT_EQ_INT(out.ops[0].row[0].i, 0);
	dbsync__push_req_clear(&out);
	ASSERT_OK(decode_value_text("-9223372036854775808", &out, &err));
	ASSERT_EQ_INT(out.ops[0].row[0].i, INT64_MIN);
	dbsync__push_req_clear(&out);
	/* Unknown top-level and operation keys are ignored. */
	{
		const char *body =
			"{\"protocol\":1,\"future\":{\"x\":[1]},\"push_id\":"
			"\"0123456789abcdef0123456789abcdef\",\"base_version\":0,"
			"\"tables\":{},\"operations\":[]}";
		ASSERT_OK(dbsync__msg_decode_push(body, strlen(body), &out,
						  &err));
		ASSERT_EQ_INT(out.has_base, 1);
		ASSERT_EQ_INT(out.base_version, 0);
		dbsync__push_req_clear(&out);
	}
}

TEST(pull_round_trip)
{
	dbsync__pull_req reqs[3], out;
	dbsync__error err;
	size_t k;

	memset(reqs, 0, sizeof(reqs));
	reqs[1].has_after = 1, reqs[1].after_version = 41;
	reqs[1].max_operations = 1000, reqs[1].max_bytes = 1048576;
	reqs[2].has_after = 1, reqs[2].after_version = 0;
	reqs[2].has_target = 1, reqs[2].target_version = INT64_MAX;
	reqs[2].cursor = "c/\xc3\xa9=1";
	for (k = 0; k < 3; k++) {
		char *text;
		size_t len;

		ASSERT_OK(dbsync__msg_encode_pull(&reqs[k], &text, &len));
		ASSERT_OK(dbsync__msg_decode_pull(text, len, &out, &err));
		assert_pull_eq(&reqs[k], &out);
		dbsync__pull_req_clear(&out);
		if (k == 1)
			ASSERT_EQ_STR(text,
				      "{\"protocol\":1,\"after_version\":41,"
				      "\"target_version\":null,\"cursor\":null,"
				      "\"max_operations\":1000,"
				      "\"max_bytes\":1048576}");
		free(text);
	}
	/* First-page shorthand: target and cursor may be left out. */
	ASSERT_OK(dbsync__msg_decode_pull(S("{\"protocol\":1,\"after_version\":null}"),
					  &out, &err));
	ASSERT_EQ_INT(out.has_after, 0);
	ASSERT_NULL(out.cursor);
	dbsync__pull_req_clear(&out);
}

TEST(pull_resp_round_trip)
{
	dbsync__pull_resp *in = sample_pull_resp(), out;
	dbsync__error err;
	char *text, *again;
	size_t len, len2;

	ASSERT_OK(dbsync__msg_encode_pull_resp(in, &text, &len));
	ASSERT_OK(dbsync__msg_decode_pull_resp(text, len, &out, &err));
	assert_pull_resp_eq(in, &out);
	ASSERT_OK(dbsync__msg_encode_pull_resp(&out, &again, &len2));
	ASSERT_EQ_STR(again, text);
	ASSERT_MSG(th_contains(text, "\"parents\":[{\"table\":\"country\","
				     "\"row\":[\"NO\",\"Norway\"]}"),
		   "parents: %s", text);
	ASSERT_MSG(th_contains(text, "{\"id\":43,\"node_id\":null,"
				     "\"push_id\":null,\"created\":0}"),
		   "versions: %s", text);
	ASSERT_MSG(th_contains(text, "\"country\":{\"columns\":[\"code\","
				     "\"name\"],\"pk\":\"code\"}"),
		   "tables: %s", text);
	free(text);
	free(again);
	dbsync__pull_resp_clear(&out);

	/* The last page: no cursor, nothing else. */
	memset(in, 0, sizeof(*in));
	in->target_version = 0;
	ASSERT_OK(dbsync__msg_encode_pull_resp(in, &text, &len));
	ASSERT_EQ_STR(text, "{\"protocol\":1,\"target_version\":0,"
			    "\"versions\":[],\"tables\":{},\"operations\":[],"
			    "\"parents\":[],\"cursor\":null}");
	ASSERT_OK(dbsync__msg_decode_pull_resp(text, len, &out, &err));
	assert_pull_resp_eq(in, &out);
	dbsync__pull_resp_clear(&out);
	free(text);
}

TEST(register_round_trip)
{
	unsigned char secret[32], *got;
	dbsync__register_req req;
	dbsync__error err;
	int64_t node;
	size_t i, len, glen;
	char *text;

	for (i = 0; i < sizeof(secret); i++)
		secret[i] = (unsigned char)(i * 37 + 1);
	ASSERT_OK(dbsync__msg_encode_register_resp(17, secret, 32, &text, &len));
	ASSERT_EQ_STR(text, "{\"protocol\":1,\"node_id\":17,\"secret\":"
			    "\"ASZLcJW63wQpTnOYveIHLFF2m8DlCi9UeZ7D6A0yV3w=\"}");
	ASSERT_OK(dbsync__msg_decode_register_resp(text, len, &node, &got,
						   &glen, &err));
	ASSERT_EQ_INT(node, 17);
	ASSERT_EQ_INT(glen, 32);
	ASSERT(memcmp(got, secret, 32) == 0);
	free(got);
	free(text);

	ASSERT_CODE(dbsync__msg_encode_register_resp(0, secret, 32, &text, &len),
		    DBSYNC_INVALID);
	ASSERT_CODE(dbsync__msg_encode_register_resp(1, secret, 31, &text, &len),
		    DBSYNC_INVALID);

	/* The request, both ways. */
	ASSERT_OK(dbsync__msg_encode_register("s3 \"\xc3\xa9\"", &text, &len));
	ASSERT_EQ_STR(text, "{\"protocol\":1,\"token\":\"s3 \\\"\xc3\xa9\\\"\"}");
	ASSERT_OK(dbsync__msg_decode_register(text, len, &req, &err));
	ASSERT_EQ_STR(req.token, "s3 \"\xc3\xa9\"");
	dbsync__register_req_clear(&req);
	free(text);
	ASSERT_OK(dbsync__msg_encode_register(NULL, &text, &len));
	ASSERT_EQ_STR(text, "{\"protocol\":1}");
	ASSERT_OK(dbsync__msg_decode_register(text, len, &req, &err));
	ASSERT_NULL(req.token);
	free(text);
	ASSERT_CODE(dbsync__msg_encode_register("\xff", &text, &len),
		    DBSYNC_INVALID);
	ASSERT_NULL(text);

	ASSERT_OK(dbsync__msg_decode_register(
		S("{\"protocol\":1,\"token\":\"s3\"}"), &req, &err));
	ASSERT_EQ_STR(req.token, "s3");
	dbsync__register_req_clear(&req);
	ASSERT_NULL(req.token);
	ASSERT_OK(dbsync__msg_decode_register(S("{\"protocol\":1}"), &req, &err));
	ASSERT_NULL(req.token);
	ASSERT_OK(dbsync__msg_decode_register(
		S("{\"protocol\":1,\"token\":null}"), &req, &err));
	ASSERT_NULL(req.token);
}

TEST(version_resp_round_trip)
{
	int64_t vs[] = {0, 1, 42, INT64_MAX}, got;
	dbsync__error err;
	size_t k, len;
	char *text;

	for (k = 0; k < 4; k++) {
		ASSERT_OK(dbsync__msg_encode_version_resp(vs[k], &text, &len));
		ASSERT_OK(dbsync__msg_decode_version_resp(text, len, &got, &err));
		ASSERT_EQ_INT(got, vs[k]);
		if (k == 2)
			ASSERT_EQ_STR(text, "{\"protocol\":1,\"version\":42}");
		free(text);
	}
	ASSERT_CODE(dbsync__msg_encode_version_resp(-1, &text, &len),
		    DBSYNC_INVALID);
}

TEST(error_bodies)
{
	dbsync__error err;
	char *text;
	size_t len;
	int code;

	ASSERT_OK(dbsync__msg_encode_error(DBSYNC_PULL_REQUIRED,
					   "base version 41 is not the latest (57)",
					   &text, &len));
	ASSERT_EQ_STR(text, "{\"error\":{\"code\":-12,\"name\":\"PULL_REQUIRED\","
			    "\"message\":\"base version 41 is not the latest "
			    "(57)\"}}");
	ASSERT_CODE(dbsync__msg_decode_error(text, len, &err),
		    DBSYNC_PULL_REQUIRED);
	ASSERT_EQ_INT(err.code, DBSYNC_PULL_REQUIRED);
	ASSERT_EQ_STR(err.message, "base version 41 is not the latest (57)");
	free(text);

	/* Every code travels with its name. */
	for (code = -1; code >= DBSYNC_ERROR_LAST; code--) {
		ASSERT_OK(dbsync__msg_encode_error(code, NULL, &text, &len));
		ASSERT(th_contains(text, th_fmt("\"name\":\"%s\"",
						dbsync_error_name(code))));
		ASSERT_CODE(dbsync__msg_decode_error(text, len, &err), code);
		ASSERT_EQ_STR(err.message, dbsync_strerror(code));
		free(text);
	}

	/* A message cut inside a character or holding control bytes still
	 * makes a valid one-line body. */
	ASSERT_OK(dbsync__msg_encode_error(DBSYNC_DB, "bad \xc3 byte\nnext",
					   &text, &len));
	ASSERT_EQ_STR(text, "{\"error\":{\"code\":-4,\"name\":\"DB\","
			    "\"message\":\"bad ? byte next\"}}");
	free(text);
	ASSERT_CODE(dbsync__msg_encode_error(0, "x", &text, &len),
		    DBSYNC_INVALID);

	/* A code from a newer server becomes ERROR, keeping what it said. */
	ASSERT_CODE(dbsync__msg_decode_error(
			    S("{\"error\":{\"code\":-99,\"name\":\"SHINY\","
			    "\"message\":\"new\"}}"),
			    &err),
		    DBSYNC_ERROR);
	ASSERT_EQ_STR(err.message, "server error -99 (SHINY): new");

	/* Not an error body. */
	ASSERT_CODE(dbsync__msg_decode_error(S("{\"protocol\":1,\"version\":3}"),
					     &err),
		    DBSYNC_PROTOCOL);
	ASSERT_EQ_STR(err.message, "error: missing");
	ASSERT_CODE(dbsync__msg_decode_error(S("{\"error\":{\"code\":0}}"), &err),
		    DBSYNC_PROTOCOL);
	ASSERT_EQ_STR(err.message,
		      "error.code: expected a negative integer, got 0");
	ASSERT_CODE(dbsync__msg_decode_error(S("<html>"), &err),
		    DBSYNC_PROTOCOL);
	ASSERT_GOOD_MESSAGE(err.message);
}

TEST(encoders_refuse_what_decoders_refuse)
{
	dbsync__push_req r = {0};
	dbsync__msg_table t[2] = {{"t", (char *[]){"a", "b"}, 2, NULL},
				  {"t", (char *[]){"a"}, 1, NULL}};
	dbsync__value row[2] = {v_int(1), v_int(2)};
	dbsync__msg_op op = {0, 'i', v_int(1), row, 2};
	dbsync__pull_req pr = {0};
	char *text;
	size_t len;

	strcpy(r.push_id, "0123456789abcdef0123456789abcdef");
	r.tables = t;
	r.ntables = 1;
	r.ops = &op;
	r.nops = 1;
	ASSERT_OK(dbsync__msg_encode_push(&r, &text, &len));
	free(text);

	op.nrow = 1; /* short row */
	ASSERT_CODE(dbsync__msg_encode_push(&r, &text, &len), DBSYNC_INVALID);
	ASSERT_NULL(text);
	op.nrow = 2;
	op.pk = v_null();
	ASSERT_CODE(dbsync__msg_encode_push(&r, &text, &len), DBSYNC_INVALID);
	op.pk = v_real(HUGE_VAL);
	ASSERT_CODE(dbsync__msg_encode_push(&r, &text, &len), DBSYNC_INVALID);
	op.pk = v_int(1);
	row[1] = v_real(NAN);
	ASSERT_CODE(dbsync__msg_encode_push(&r, &text, &len), DBSYNC_INVALID);
	row[1] = v_int(2);
	op.op = 'x';
	ASSERT_CODE(dbsync__msg_encode_push(&r, &text, &len), DBSYNC_INVALID);
	op.op = 'i';
	op.table = 1;
	ASSERT_CODE(dbsync__msg_encode_push(&r, &text, &len), DBSYNC_INVALID);
	op.table = 0;
	r.ntables = 2; /* duplicate table name */
	ASSERT_CODE(dbsync__msg_encode_push(&r, &text, &len), DBSYNC_INVALID);
	r.ntables = 1;
	t[0].columns[1] = "a"; /* duplicate column */
	ASSERT_CODE(dbsync__msg_encode_push(&r, &text, &len), DBSYNC_INVALID);
	t[0].columns[1] = "b";
	t[0].pk = "zz";
	ASSERT_CODE(dbsync__msg_encode_push(&r, &text, &len), DBSYNC_INVALID);
	t[0].pk = NULL;
	r.push_id[0] = 'A';
	ASSERT_CODE(dbsync__msg_encode_push(&r, &text, &len), DBSYNC_INVALID);

	pr.cursor = th_alloc(300);
	memset(pr.cursor, 'c', 257);
	ASSERT_CODE(dbsync__msg_encode_pull(&pr, &text, &len), DBSYNC_INVALID);
	pr.cursor[256] = '\0';
	ASSERT_OK(dbsync__msg_encode_pull(&pr, &text, &len));
	free(text);
}

/* ---- malformed input --------------------------------------------------- */

enum { PUSH, PULL, PRESP, REG, REGRESP, VER, ERRB };

static int decode_as(int kind, const void *body, size_t len, dbsync__error *err)
{
	int rc = 0;

	switch (kind) {
	case PUSH: {
		dbsync__push_req r;
		rc = dbsync__msg_decode_push(body, len, &r, err);
		dbsync__push_req_clear(&r);
		break;
	}
	case PULL: {
		dbsync__pull_req r;
		rc = dbsync__msg_decode_pull(body, len, &r, err);
		dbsync__pull_req_clear(&r);
		break;
	}
	case PRESP: {
		dbsync__pull_resp r;
		rc = dbsync__msg_decode_pull_resp(body, len, &r, err);
		dbsync__pull_resp_clear(&r);
		break;
	}
	case REG: {
		dbsync__register_req r;
		rc = dbsync__msg_decode_register(body, len, &r, err);
		dbsync__register_req_clear(&r);
		break;
	}
	case REGRESP: {
		int64_t node;
		unsigned char *secret;
		size_t n;
		rc = dbsync__msg_decode_register_resp(body, len, &node, &secret,
						      &n, err);
		if (rc == 0)
			free(secret);
		else if (secret != NULL)
			th_fail(__FILE__, __LINE__, "secret left after failure");
		break;
	}
	case VER: {
		int64_t v;
		rc = dbsync__msg_decode_version_resp(body, len, &v, err);
		break;
	}
	default:
		rc = dbsync__msg_decode_error(body, len, err);
		break;
	}
	return rc;
}

#define PID "\"push_id\":\"0123456789abcdef0123456789abcdef\""
#define PUSH_HEAD "{\"protocol\":1," PID ",\"base_version\":1,"
#define CITY "\"tables\":{\"city\":{\"columns\":[\"id\",\"name\"]}},"
/* A push whose single operation is `op`. */
#define PUSH_OP(op) PUSH_HEAD CITY "\"operations\":[" op "]}"
#define PRESP_HEAD                                                             \
	"{\"protocol\":1,\"target_version\":5,\"versions\":[],"                \
	"\"tables\":{\"city\":{\"columns\":[\"id\",\"name\"],\"pk\":\"id\"}},"
#define PRESP_TAIL ",\"cursor\":null}"

static const struct bad {
	int kind;
	const char *body;
	const char *message; /* substring the message must hold */
} bad_inputs[] = {
	/* JSON itself */
	{PUSH, "", "invalid JSON at line 1"},
	{PUSH, "{\"protocol\":1,", "invalid JSON"},
	{PUSH, "{\"protocol\":1}x", "invalid JSON"},
	{PUSH, "nul", "invalid JSON"},
	{PUSH, "[1,2]", "expected a JSON object, got an array"},
	{PUSH, "\"str\"", "invalid JSON"},
	{PULL, "{\"protocol\":1,\"after_version\":\"\xff\"}", "invalid JSON"},
	{PULL, "{\"protocol\":1,\"after_version\":1e400}", "real number overflow"},
	{PULL, "{\"protocol\":1,\"after_version\":99999999999999999999}",
	 "too big integer"},
	{PULL, "{\"protocol\":1,\"protocol\":1,\"after_version\":1}",
	 "duplicate object key"},
	/* protocol */
	{PUSH, "{\"push_id\":\"0123456789abcdef0123456789abcdef\"}",
	 "protocol: missing"},
	{PUSH, "{\"protocol\":2}",
	 "unsupported protocol version 2 (this server speaks 1)"},
	{PULL, "{\"protocol\":99}",
	 "unsupported protocol version 99 (this server speaks 1)"},
	{VER, "{\"protocol\":3,\"version\":1}",
	 "unsupported protocol version 3 (this client speaks 1)"},
	{PUSH, "{\"protocol\":\"1\"}", "protocol: expected an integer, got a string"},
	{PUSH, "{\"protocol\":1.0}", "protocol: expected an integer, got a real"},
	{PUSH, "{\"protocol\":0}", "protocol: expected 1, got 0"},
	{REG, "{\"protocol\":null}", "protocol: expected an integer, got null"},
	/* push_id */
	{PUSH, "{\"protocol\":1}", "push_id: missing"},
	{PUSH, "{\"protocol\":1,\"push_id\":7}",
	 "push_id: expected a string, got an integer"},
	{PUSH, "{\"protocol\":1,\"push_id\":\"0123456789abcdef0123456789abcde\"}",
	 "push_id: expected 32 lower-case hex digits"},
	{PUSH, "{\"protocol\":1,\"push_id\":\"0123456789ABCDEF0123456789abcdef\"}",
	 "push_id: expected 32 lower-case hex digits"},
	{PUSH, "{\"protocol\":1,\"push_id\":\"0123456789abcdeg0123456789abcdef\"}",
	 "push_id: expected 32 lower-case hex digits"},
	{PUSH, "{\"protocol\":1,\"push_id\":\"0123456789abcdef0123456789abcdef0\"}",
	 "push_id: expected 32 lower-case hex digits"},
	/* base_version */
	{PUSH, "{\"protocol\":1," PID "}", "base_version: missing"},
	{PUSH, "{\"protocol\":1," PID ",\"base_version\":-1}",
	 "base_version: expected an integer >= 0, got -1"},
	{PUSH, "{\"protocol\":1," PID ",\"base_version\":41.0}",
	 "base_version: expected an integer or null, got a real"},
	{PUSH, "{\"protocol\":1," PID ",\"base_version\":\"41\"}",
	 "base_version: expected an integer or null, got a string"},
	{PUSH, "{\"protocol\":1," PID ",\"base_version\":true}",
	 "base_version: expected an integer or null, got a boolean"},
	/* tables */
	{PUSH, PUSH_HEAD "\"operations\":[]}", "tables: missing"},
	{PUSH, PUSH_HEAD "\"tables\":[],\"operations\":[]}",
	 "tables: expected an object, got an array"},
	{PUSH, PUSH_HEAD "\"tables\":{\"city\":{\"columns\":[\"id\"]},"
			 "\"city\":{\"columns\":[\"id\"]}},\"operations\":[]}",
	 "duplicate object key near '\"city\"'"},
	{PUSH, PUSH_HEAD "\"tables\":{\"\":{\"columns\":[\"id\"]}},"
			 "\"operations\":[]}",
	 "tables: table name is empty"},
	{PUSH, PUSH_HEAD "\"tables\":{\"city\":[]},\"operations\":[]}",
	 "tables.city: expected an object, got an array"},
	{PUSH, PUSH_HEAD "\"tables\":{\"city\":{}},\"operations\":[]}",
	 "tables.city.columns: missing"},
	{PUSH, PUSH_HEAD "\"tables\":{\"city\":{\"columns\":\"id\"}},"
			 "\"operations\":[]}",
	 "tables.city.columns: expected an array, got a string"},
	{PUSH, PUSH_HEAD "\"tables\":{\"city\":{\"columns\":[]}},"
			 "\"operations\":[]}",
	 "tables.city.columns: expected at least one column"},
	{PUSH, PUSH_HEAD "\"tables\":{\"city\":{\"columns\":[\"id\",1]}},"
			 "\"operations\":[]}",
	 "tables.city.columns[1]: expected a string, got an integer"},
	{PUSH, PUSH_HEAD "\"tables\":{\"city\":{\"columns\":[\"id\",\"\"]}},"
			 "\"operations\":[]}",
	 "tables.city.columns[1]: column name is empty"},
	{PUSH, PUSH_HEAD "\"tables\":{\"city\":{\"columns\":[\"id\",\"n\","
			 "\"id\"]}},\"operations\":[]}",
	 "tables.city.columns: duplicate column id"},
	{PUSH, PUSH_HEAD "\"tables\":{\"my city\":{\"columns\":[\"id\"],"
			 "\"pk\":\"x\"}},\"operations\":[]}",
	 "tables.\"my city\".pk: \"x\" is not one of the columns"},
	{PUSH, PUSH_HEAD "\"tables\":{\"city\":{\"columns\":[\"id\"],"
			 "\"pk\":1}},\"operations\":[]}",
	 "tables.city.pk: expected a column name, got an integer"},
	/* operations */
	{PUSH, PUSH_HEAD CITY "\"x\":1}", "operations: missing"},
	{PUSH, PUSH_HEAD CITY "\"operations\":{}}",
	 "operations: expected an array, got an object"},
	{PUSH, PUSH_OP("7"), "operations[0]: expected an object, got an integer"},
	{PUSH, PUSH_OP("{\"pk\":1,\"op\":\"d\"}"), "operations[0].table: missing"},
	{PUSH, PUSH_OP("{\"table\":\"town\",\"pk\":1,\"op\":\"d\"}"),
	 "operations[0].table: unknown table town"},
	{PUSH, PUSH_OP("{\"table\":[\"city\"],\"pk\":1,\"op\":\"d\"}"),
	 "operations[0].table: expected a string, got an array"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"op\":\"d\"}"),
	 "operations[0].pk: missing"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":null,\"op\":\"d\"}"),
	 "operations[0].pk: must not be null"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":[1],\"op\":\"d\"}"),
	 "operations[0].pk: expected a value, got an array"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":false,\"op\":\"d\"}"),
	 "operations[0].pk: expected a value, got a boolean"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":{\"real\":\"inf\"},\"op\":\"d\"}"),
	 "operations[0].pk: must not be infinite"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1}"), "operations[0].op: missing"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"x\"}"),
	 "operations[0].op: expected one of i/u/d/t, got \"x\""},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"ii\"}"),
	 "operations[0].op: expected one of i/u/d/t, got \"ii\""},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":105}"),
	 "operations[0].op: expected a string, got an integer"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\"}"),
	 "operations[0].row: missing"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":[1]}"),
	 "operations[0].row: expected 2 values, got 1"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":[1,2,3]}"),
	 "operations[0].row: expected 2 values, got 3"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"u\",\"row\":{}}"),
	 "operations[0].row: expected an array, got an object"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"d\",\"row\":[1,2]}"),
	 "operations[0].row: expected no row on a delete, got an array"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"t\",\"row\":[]}"),
	 "operations[0].row: expected no row on a tombstone, got an array"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":[1,[2]]}"),
	 "operations[0].row[1]: expected a value, got an array"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":"
		       "[1,{\"blob\":\"abc\"}]}"),
	 "operations[0].row[1]: invalid base64 in \"blob\""},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":"
		       "[1,{\"blob\":1}]}"),
	 "operations[0].row[1]: expected a base64 string in \"blob\", got an "
	 "integer"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":"
		       "[1,{\"text_base64\":\"Zh==\"}]}"),
	 "operations[0].row[1]: invalid base64 in \"text_base64\""},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":"
		       "[1,{\"real\":\"nan\"}]}"),
	 "operations[0].row[1]: expected {\"real\": \"inf\"} or"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":"
		       "[1,{\"real\":1.5}]}"),
	 "operations[0].row[1]: expected {\"real\": \"inf\"} or"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":"
		       "[1,{\"int\":\"1\"}]}"),
	 "operations[0].row[1]: unknown value object key int"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":"
		       "[1,{\"blob\":\"\",\"x\":1}]}"),
	 "operations[0].row[1]: expected an object with one key"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":"
		       "[1,\"a\\u0000b\"]}"),
	 "invalid JSON"},
	{PUSH, PUSH_OP("{\"table\":\"city\",\"pk\":1,\"op\":\"i\",\"row\":"
		       "[1,\"\\ud800\"]}"),
	 "invalid JSON"},
	/* pull request */
	{PULL, "{\"protocol\":1}", "after_version: missing"},
	{PULL, "{\"protocol\":1,\"after_version\":-5}",
	 "after_version: expected an integer >= 0, got -5"},
	{PULL, "{\"protocol\":1,\"after_version\":\"1\"}",
	 "after_version: expected an integer or null, got a string"},
	{PULL, "{\"protocol\":1,\"after_version\":1,\"target_version\":-1}",
	 "target_version: expected an integer >= 0, got -1"},
	{PULL, "{\"protocol\":1,\"after_version\":1,\"target_version\":[]}",
	 "target_version: expected an integer or null, got an array"},
	{PULL, "{\"protocol\":1,\"after_version\":1,\"cursor\":5}",
	 "cursor: expected a string or null, got an integer"},
	{PULL, "{\"protocol\":1,\"after_version\":1,\"cursor\":\""
	       "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	       "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	       "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	       "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	       "\"}",
	 "cursor: longer than 256 bytes"},
	{PULL, "{\"protocol\":1,\"after_version\":1,\"max_operations\":0.5}",
	 "max_operations: expected an integer, got a real"},
	{PULL, "{\"protocol\":1,\"after_version\":1,\"max_operations\":0}",
	 "max_operations: expected an integer >= 1, got 0"},
	{PULL, "{\"protocol\":1,\"after_version\":1,\"max_bytes\":-1}",
	 "max_bytes: expected an integer >= 1, got -1"},
	{PULL, "{\"protocol\":1,\"after_version\":1,\"max_bytes\":\"1MB\"}",
	 "max_bytes: expected an integer, got a string"},
	/* pull response */
	{PRESP, "{\"protocol\":1}", "target_version: missing"},
	{PRESP, "{\"protocol\":1,\"target_version\":-1}",
	 "target_version: expected an integer >= 0, got -1"},
	{PRESP, "{\"protocol\":1,\"target_version\":1}", "versions: missing"},
	{PRESP, "{\"protocol\":1,\"target_version\":1,\"versions\":[{\"id\":0}]}",
	 "versions[0].id: expected an integer >= 1, got 0"},
	{PRESP, "{\"protocol\":1,\"target_version\":1,\"versions\":[{\"id\":1,"
		"\"node_id\":\"17\"}]}",
	 "versions[0].node_id: expected an integer or null, got a string"},
	{PRESP, "{\"protocol\":1,\"target_version\":1,\"versions\":[{\"id\":1,"
		"\"node_id\":null}]}",
	 "versions[0].push_id: missing"},
	{PRESP, "{\"protocol\":1,\"target_version\":1,\"versions\":[{\"id\":1,"
		"\"node_id\":null,\"push_id\":\"abc\"}]}",
	 "versions[0].push_id: expected 32 lower-case hex digits"},
	{PRESP, "{\"protocol\":1,\"target_version\":1,\"versions\":[{\"id\":1,"
		"\"node_id\":null,\"push_id\":null,\"created\":\"2025-01-01\"}]}",
	 "versions[0].created: expected an integer, got a string"},
	{PRESP, "{\"protocol\":1,\"target_version\":1,\"versions\":[],"
		"\"tables\":{\"city\":{\"columns\":[\"id\"]}}}",
	 "tables.city.pk: missing"},
	{PRESP, PRESP_HEAD "\"operations\":[{\"table\":\"city\",\"pk\":1,"
			   "\"op\":\"t\"}],\"parents\":[]" PRESP_TAIL,
	 "operations[0].op: expected one of i/u/d, got \"t\""},
	{PRESP, PRESP_HEAD "\"operations\":[],\"parents\":[{\"table\":\"city\","
			   "\"row\":[1]}]" PRESP_TAIL,
	 "parents[0].row: expected 2 values, got 1"},
	{PRESP, PRESP_HEAD "\"operations\":[],\"parents\":[{\"table\":\"x\","
			   "\"row\":[1,2]}]" PRESP_TAIL,
	 "parents[0].table: unknown table x"},
	{PRESP, PRESP_HEAD "\"operations\":[],\"parents\":[{\"table\":\"city\","
			   "\"row\":[null,2]}]" PRESP_TAIL,
	 "parents[0].row[0]: primary key \"id\" is null"},
	{PRESP, PRESP_HEAD "\"operations\":[],\"parents\":{}" PRESP_TAIL,
	 "parents: expected an array, got an object"},
	{PRESP, PRESP_HEAD "\"operations\":[],\"parents\":[]}", "cursor: missing"},
	/* register */
	{REG, "{\"protocol\":1,\"token\":5}",
	 "token: expected a string, got an integer"},
	{REGRESP, "{\"protocol\":1,\"node_id\":0,\"secret\":\"\"}",
	 "node_id: expected an integer >= 1, got 0"},
	{REGRESP, "{\"protocol\":1,\"node_id\":3}", "secret: missing"},
	{REGRESP, "{\"protocol\":1,\"node_id\":3,\"secret\":\"not base64\"}",
	 "secret: invalid base64"},
	{REGRESP, "{\"protocol\":1,\"node_id\":3,\"secret\":\"YWJj\"}",
	 "secret: expected 32 to 1024 bytes, got 3"},
	{VER, "{\"protocol\":1}", "version: missing"},
	{VER, "{\"protocol\":1,\"version\":-1}",
	 "version: expected an integer >= 0, got -1"},
	{VER, "{\"protocol\":1,\"version\":1.5}",
	 "version: expected an integer, got a real"},
	/* error bodies */
	{ERRB, "{\"error\":\"oops\"}", "error: expected an object, got a string"},
	{ERRB, "{\"error\":{\"code\":\"-12\"}}",
	 "error.code: expected an integer, got a string"},
	{ERRB, "{\"error\":{\"code\":-12,\"message\":7}}",
	 "error.message: expected a string, got an integer"},
};
#define NBAD (sizeof(bad_inputs) / sizeof(bad_inputs[0]))

TEST(malformed_inputs_name_the_field)
{
	size_t k;

	ASSERT_GE_INT(NBAD, 30);
	for (k = 0; k < NBAD; k++) {
		dbsync__error err;
		const struct bad *b = &bad_inputs[k];
		int rc;

		memset(&err, 0, sizeof(err));
		rc = decode_as(b->kind, b->body, strlen(b->body), &err);
		ASSERT_MSG(rc == DBSYNC_PROTOCOL,
			   "input %zu (%s): code %d, message \"%s\"", k, b->body,
			   rc, err.message);
		ASSERT_EQ_INT(err.code, DBSYNC_PROTOCOL);
		ASSERT_GOOD_MESSAGE(err.message);
		ASSERT_MSG(th_contains(err.message, b->message),
			   "input %zu (%s):\n  message \"%s\"\n  wanted  \"%s\"",
			   k, b->body, err.message, b->message);
		/* The thread's last error says the same. */
		ASSERT_EQ_STR(dbsync_last_error_message(), err.message);
	}
}

TEST(malformed_names_and_limits)
{
	dbsync__error err;
	char *body, *name;
	size_t k, n;

	/* A table name of 257 bytes: refused, and echoed only in part. */
	name = th_alloc(300);
	memset(name, 'n', 257);
	body = th_fmt(PUSH_HEAD "\"tables\":{\"%s\":{\"columns\":[\"id\"]}},"
				"\"operations\":[]}",
		      name);
	ASSERT_CODE(decode_as(PUSH, body, strlen(body), &err), DBSYNC_PROTOCOL);
	ASSERT(th_contains(err.message, "table name \"nnnnnnnn"));
	ASSERT(th_contains(err.message, "...\" is longer than 256 bytes"));
	ASSERT_LT_INT(strlen(err.message), 120);
	name[256] = '\0';
	body = th_fmt(PUSH_HEAD "\"tables\":{\"%s\":{\"columns\":[\"id\"]}},"
				"\"operations\":[]}",
		      name);
	ASSERT_OK(decode_as(PUSH, body, strlen(body), &err));

	/* A column name too long. */
	body = th_fmt(PUSH_HEAD "\"tables\":{\"t\":{\"columns\":[\"%snn\"]}},"
				"\"operations\":[]}",
		      name);
	ASSERT_CODE(decode_as(PUSH, body, strlen(body), &err), DBSYNC_PROTOCOL);
	ASSERT(th_contains(err.message, "tables.t.columns[0]: column name"));

	/* 2001 columns: too many; 2000 are fine. */
	for (n = 2000; n <= 2001; n++) {
		size_t cap = n * 12 + 200, len = 0;
		char *b = th_alloc(cap);

		len += (size_t)snprintf(b + len, cap - len,
					"%s\"tables\":{\"t\":{\"columns\":[",
					PUSH_HEAD);
		for (k = 0; k < n; k++)
			len += (size_t)snprintf(b + len, cap - len, "%s\"c%zu\"",
						k ? "," : "", k);
		snprintf(b + len, cap - len, "]}},\"operations\":[]}");
		if (n == 2000) {
			ASSERT_OK(decode_as(PUSH, b, strlen(b), &err));
		} else {
			ASSERT_CODE(decode_as(PUSH, b, strlen(b), &err),
				    DBSYNC_PROTOCOL);
			ASSERT_EQ_STR(err.message, "tables.t.columns: more than "
						   "2000 columns (2001)");
		}
	}

	/* Names that are not plain identifiers are described, not echoed;
	 * control characters and invalid bytes in other echoed input are
	 * masked. */
	body = PUSH_OP("{\"table\":\"a\\nb\\u0001\",\"pk\":1,\"op\":\"d\"}");
	ASSERT_CODE(decode_as(PUSH, body, strlen(body), &err), DBSYNC_PROTOCOL);
	ASSERT_EQ_STR(err.message, "operations[0].table: unknown table (a name "
				   "with unusual characters) (not in "
				   "\"tables\")");
	body = "{\"protocol\":1,\"x\":\"\x01\xff\"}";
	ASSERT_CODE(decode_as(PUSH, body, strlen(body), &err), DBSYNC_PROTOCOL);
	ASSERT_GOOD_MESSAGE(err.message);
	for (k = 0; err.message[k]; k++)
		ASSERT((unsigned char)err.message[k] >= 0x20 &&
		       (unsigned char)err.message[k] < 0x7f);

	/* NULL body. */
	ASSERT_CODE(decode_as(PULL, NULL, 0, &err), DBSYNC_PROTOCOL);
	/* A body with a NUL inside. */
	ASSERT_CODE(decode_as(VER, "{\"protocol\":1,\0\"version\":1}", 27, &err),
		    DBSYNC_PROTOCOL);
	/* Deep nesting is refused, not a stack overflow. */
	{
		size_t depth = 100000;
		char *deep = th_alloc(2 * depth + 40);

		strcpy(deep, "{\"protocol\":1,\"x\":");
		n = strlen(deep);
		memset(deep + n, '[', depth);
		memset(deep + n + depth, ']', depth);
		strcpy(deep + n + 2 * depth, "}");
		ASSERT_CODE(decode_as(PULL, deep, strlen(deep), &err),
			    DBSYNC_PROTOCOL);
		ASSERT(th_contains(err.message, "invalid JSON"));
	}
}

/* ---- fuzz -------------------------------------------------------------- */

/* Every decoder; a body that decodes must survive encode -> decode -> encode
 * unchanged. Returns how many decoders (error bodies aside) accepted it. */
static int fuzz_one(const char *body, size_t len, dbsync__error *err)
{
	dbsync__push_req push;
	dbsync__pull_req pull;
	dbsync__pull_resp presp;
	char *a, *b;
	size_t alen, blen;
	int kind, rc, accepted = 0;

	for (kind = PULL; kind <= ERRB; kind++) {
		rc = decode_as(kind, body, len, err);
		if (kind == ERRB)
			ASSERT_MSG(rc < 0 && rc >= DBSYNC_ERROR_LAST,
				   "decode_error gave %d", rc);
		else
			ASSERT_MSG(rc == 0 || rc == DBSYNC_PROTOCOL,
				   "kind %d gave %d: %s", kind, rc, err->message);
		accepted += kind != ERRB && rc == 0;
	}

	rc = dbsync__msg_decode_push(body, len, &push, err);
	ASSERT_MSG(rc == 0 || rc == DBSYNC_PROTOCOL, "push gave %d", rc);
	accepted += rc == 0;
	if (rc == 0) {
		dbsync__push_req again;

		ASSERT_OK(dbsync__msg_encode_push(&push, &a, &alen));
		ASSERT_OK(dbsync__msg_decode_push(a, alen, &again, err));
		assert_push_eq(&push, &again);
		ASSERT_OK(dbsync__msg_encode_push(&again, &b, &blen));
		ASSERT_EQ_STR(a, b);
		free(a);
		free(b);
		dbsync__push_req_clear(&again);
	}
	dbsync__push_req_clear(&push);

	if (dbsync__msg_decode_pull(body, len, &pull, err) == 0) {
		dbsync__pull_req again;

		ASSERT_OK(dbsync__msg_encode_pull(&pull, &a, &alen));
		ASSERT_OK(dbsync__msg_decode_pull(a, alen, &again, err));
		assert_pull_eq(&pull, &again);
		free(a);
		dbsync__pull_req_clear(&again);
	}
	dbsync__pull_req_clear(&pull);

	if (dbsync__msg_decode_pull_resp(body, len, &presp, err) == 0) {
		dbsync__pull_resp again;

		ASSERT_OK(dbsync__msg_encode_pull_resp(&presp, &a, &alen));
		ASSERT_OK(dbsync__msg_decode_pull_resp(a, alen, &again, err));
		assert_pull_resp_eq(&presp, &again);
		ASSERT_OK(dbsync__msg_encode_pull_resp(&again, &b, &blen));
		ASSERT_EQ_STR(a, b);
		free(a);
		free(b);
		dbsync__pull_resp_clear(&again);
	}
	dbsync__pull_resp_clear(&presp);
	return accepted;
}

static const char *const fuzz_tokens[] = {
	"\"", "{", "}", "[", "]", ",", ":", "null", "true", "1e400", "-1",
	"0.5", "\"x\"", "\\u0000", "\\ud800", "{\"blob\":\"AA==\"}",
	"{\"real\":\"inf\"}", "{\"text_base64\":\"/w==\"}", "\xff", "\xc3\xa9",
	"99999999999999999999", "\"op\":\"d\"", "\"row\":null", "2",
	"\"protocol\":1,", "\"city\"", "\"cursor\":\"c\"",
};

#define NTOKENS (sizeof(fuzz_tokens) / sizeof(fuzz_tokens[0]))

/* Scalars that keep the JSON well-formed but test every field's checks. */
static const char *const fuzz_values[] = {
	"null", "0", "-1", "1", "1.5", "-0.0", "\"\"", "\"x\"", "[]", "{}",
	"true", "[null]", "{\"blob\":\"AA==\"}", "{\"real\":\"inf\"}",
	"9223372036854775807", "\"0123456789abcdef0123456789abcdef\"",
	"\"i\"", "\"d\"", "\"t\"", "\"city\"", "\"id\"",
};
#define NVALUES (sizeof(fuzz_values) / sizeof(fuzz_values[0]))

/* Replace the scalar after the first ':' or ',' at or after `at` with one
 * of fuzz_values; returns the new length (n if nothing was found). */
static size_t replace_scalar(th_rng *rng, char *buf, size_t n, size_t cap,
			     size_t at)
{
	const char *v = fuzz_values[th_rng_below(rng, NVALUES)];
	size_t start, end, vl = strlen(v);

	while (at < n && buf[at] != ':' && buf[at] != ',')
		at++;
	start = at + 1;
	if (start >= n || buf[start] == '{' || buf[start] == '[')
		return n;
	end = start;
	if (buf[end] == '"') {
		for (end++; end < n && buf[end] != '"'; end++)
			if (buf[end] == '\\')
				end++;
		end++;
	} else {
		while (end < n && !strchr(",]}", buf[end]))
			end++;
	}
	if (end > n || n - (end - start) + vl >= cap)
		return n;
	memmove(buf + start + vl, buf + end, n - end);
	memcpy(buf + start, v, vl);
	return n - (end - start) + vl;
}

/* 1 to 4 random edits of `seed` into buf (cap bytes); returns the length. */
static size_t mutate(th_rng *rng, const char *seed, size_t len, char *buf,
		     size_t cap)
{
	size_t n = len, m, nmut = 1 + th_rng_below(rng, 4);

	memcpy(buf, seed, n);
	for (m = 0; m < nmut; m++) {
		size_t at = n ? th_rng_below(rng, (uint32_t)n) : 0, d;
		const char *t;

		switch (th_rng_below(rng, 9)) {
		case 0: /* flip bits of a byte */
			if (n)
				buf[at] ^= (char)(1 + th_rng_below(rng, 255));
			break;
		case 1: /* truncate */
			n = at;
			break;
		case 2: /* insert a token */
			t = fuzz_tokens[th_rng_below(rng, NTOKENS)];
			d = strlen(t);
			if (n + d < cap) {
				memmove(buf + at + d, buf + at, n - at);
				memcpy(buf + at, t, d);
				n += d;
			}
			break;
		case 3: /* delete a range */
			d = th_rng_below(rng, 8);
			if (at + d > n)
				d = n - at;
			memmove(buf + at, buf + at + d, n - at - d);
			n -= d;
			break;
		case 4: /* a printable byte */
			if (n)
				buf[at] = (char)(0x20 + th_rng_below(rng, 95));
			break;
		case 6:
		case 7: /* another value where one was */
			n = replace_scalar(rng, buf, n, cap, at);
			break;
		default: /* duplicate a range */
			d = th_rng_below(rng, 16);
			if (at + d > n)
				d = n - at;
			if (n + d < cap) {
				memmove(buf + at + d, buf + at, n - at);
				n += d;
			}
			break;
		}
	}
	return n;
}

TEST(fuzz_mutated_messages)
{
	th_rng rng;
	dbsync__error err;
	const char *seeds[8];
	size_t nseeds = 0, s, iter;
	size_t decoded = 0, total = 0;
	char *text;
	size_t len;

	th_rng_init(&rng, th_seed());
	seeds[nseeds++] = push_text(sample_push());
	ASSERT_OK(dbsync__msg_encode_pull_resp(sample_pull_resp(), &text, &len));
	seeds[nseeds++] = th_strdup(text);
	free(text);
	{
		dbsync__pull_req pr = {1, 41, 1, 57, "cur", 100, 1000};
		ASSERT_OK(dbsync__msg_encode_pull(&pr, &text, &len));
		seeds[nseeds++] = th_strdup(text);
		free(text);
	}
	{
		unsigned char secret[32] = {1, 2, 3};
		ASSERT_OK(dbsync__msg_encode_register_resp(5, secret, 32, &text,
							   &len));
		seeds[nseeds++] = th_strdup(text);
		free(text);
	}
	ASSERT_OK(dbsync__msg_encode_version_resp(42, &text, &len));
	seeds[nseeds++] = th_strdup(text);
	free(text);
	ASSERT_OK(dbsync__msg_encode_error(DBSYNC_AUTH, "no", &text, &len));
	seeds[nseeds++] = th_strdup(text);
	free(text);
	seeds[nseeds++] = "{\"protocol\":1,\"token\":\"t\"}";

	for (s = 0; s < nseeds; s++) {
		size_t seed_len = strlen(seeds[s]);
		size_t cap = seed_len * 2 + 256;
		char *buf = th_alloc(cap);

		for (iter = 0; iter < 1500; iter++) {
			size_t n = mutate(&rng, seeds[s], seed_len, buf, cap);

			memset(&err, 0, sizeof(err));
			decoded += fuzz_one(buf, n, &err) > 0;
			total++;
		}
	}
	th_note("%zu mutated messages, %zu still decoded", total, decoded);
}

/* ---- size and speed ---------------------------------------------------- */

/* CPU time of this process: steadier than the wall clock on a busy host. */
static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Correctness at 100k operations; the time is a note, never a verdict
 * (benchmarks live in bench/). */
TEST(hundred_thousand_operations)
{
	static char *cols[] = {"id", "name", "score", "count", "data"};
	dbsync__msg_table t = {"item", cols, 5, NULL};
	size_t n = 100000, i;
	dbsync__push_req r = {0}, out;
	dbsync__msg_op *ops = calloc(n, sizeof(*ops));
	dbsync__value *rows = calloc(n * 5, sizeof(*rows));
	char *names = calloc(n, 16);
	dbsync__error err;
	double t0, t1, t2;
	char *text;
	size_t len;

	ASSERT(ops && rows && names);
	strcpy(r.push_id, "0123456789abcdef0123456789abcdef");
	r.has_base = 1;
	r.base_version = 1000;
	r.tables = &t;
	r.ntables = 1;
	for (i = 0; i < n; i++) {
		dbsync__value *row = &rows[i * 5];

		snprintf(names + i * 16, 16, "item %zu", i);
		row[0] = v_int((int64_t)i);
		row[1] = v_text(names + i * 16);
		row[2] = v_real((double)i / 7.0);
		row[3] = v_int((int64_t)i * 1000003);
		row[4] = i % 2 ? v_null() : v_blob(names + i * 16, 4);
		ops[i].table = 0;
		ops[i].op = i % 10 == 9 ? 'd' : 'i';
		ops[i].pk = row[0];
		ops[i].row = ops[i].op == 'd' ? NULL : row;
		ops[i].nrow = ops[i].op == 'd' ? 0 : 5;
	}
	r.ops = ops;
	r.nops = n;

	t0 = cpu_seconds();
	ASSERT_OK(dbsync__msg_encode_push(&r, &text, &len));
	t1 = cpu_seconds();
	ASSERT_OK(dbsync__msg_decode_push(text, len, &out, &err));
	t2 = cpu_seconds();
	th_note("100k-op push: %zu bytes, encode %.3f s, decode %.3f s (CPU)",
		len, t1 - t0, t2 - t1);
	assert_push_eq(&r, &out);
	dbsync__push_req_clear(&out);
	free(text);
	free(ops);
	free(rows);
	free(names);
}

static const th_case cases[] = {
	CASE(push_round_trip_every_value_type),
	CASE(push_golden_text),
	CASE(value_json_text),
	CASE(tricky_doubles_round_trip),
	CASE(decode_value_forms),
	CASE(pull_round_trip),
	CASE(pull_resp_round_trip),
	CASE(register_round_trip),
	CASE(version_resp_round_trip),
	CASE(error_bodies),
	CASE(encoders_refuse_what_decoders_refuse),
	CASE(malformed_inputs_name_the_field),
	CASE(malformed_names_and_limits),
	CASE(fuzz_mutated_messages),
	CASE(hundred_thousand_operations),
};
TH_MAIN(cases)
