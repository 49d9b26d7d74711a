/*
 * store_pg_value.c - dbsync values to and from PostgreSQL's text format:
 * parameters go as text (the server casts them to the column's type),
 * results come back typed by their column's type OID.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* ---- values ----------------------------------------------------------- */

char *dbsync__pg_param(const dbsync__value *v, int *nomem)
{
	static const char hex[] = "0123456789abcdef";
	char *p = NULL;
	size_t k;

	switch (v->type) {
	case DBSYNC_TYPE_INTEGER:
		if ((p = malloc(24)))
			dbsync__pg_int_text(p, 24, v->i);
		break;
	case DBSYNC_TYPE_FLOAT:
		if (!(p = malloc(32)))
			break;
		if (isnan(v->f))
			strcpy(p, "NaN");
		else if (isinf(v->f))
			strcpy(p, v->f > 0 ? "Infinity" : "-Infinity");
		else
			snprintf(p, 32, "%.17g", v->f);
		break;
	case DBSYNC_TYPE_TEXT:
		if ((p = malloc(v->len + 1))) {
			if (v->len)
				memcpy(p, v->p, v->len);
			p[v->len] = '\0';
		}
		break;
	case DBSYNC_TYPE_BLOB:
		/* bytea's hex input form. */
		if (!(p = malloc(2 * v->len + 3)))
			break;
		p[0] = '\\';
		p[1] = 'x';
		for (k = 0; k < v->len; k++) {
			unsigned char c = ((const unsigned char *)v->p)[k];
			p[2 + 2 * k] = hex[c >> 4];
			p[3 + 2 * k] = hex[c & 15];
		}
		p[2 + 2 * v->len] = '\0';
		break;
	default:
		return NULL;
	}
	if (!p)
		*nomem = 1;
	return p;
}

void dbsync__pg_blobs_release(dbsync__store *s)
{
	size_t k;

	for (k = 0; k < s->nblobs; k++)
		PQfreemem(s->blobs[k]);
	s->nblobs = 0;
}

/* A numeric whose fraction is only zeros ("3", "3.00") and that fits
 * int64 reads as an integer, as SQLite's NUMERIC affinity stores it. */
static int numeric_as_int(const char *text, int64_t *out)
{
	const char *p = text + (*text == '-');
	size_t digits = strspn(p, "0123456789");
	char *end;

	if (!digits)
		return 0;
	if (p[digits] == '.' &&
	    strspn(p + digits + 1, "0") != strlen(p + digits + 1))
		return 0;
	if (p[digits] != '\0' && p[digits] != '.')
		return 0;
	errno = 0;
	*out = strtoll(text, &end, 10);
	return errno == 0 && (*end == '\0' || *end == '.');
}

/* `text` (NUL-terminated, `len` bytes) of a column of type `type`. */
static int decode(dbsync__store *s, const char *text, size_t len,
		  unsigned int type, dbsync__value *v)
{
	memset(v, 0, sizeof(*v));
	switch (type) {
	case DBSYNC__PG_INT2:
	case DBSYNC__PG_INT4:
	case DBSYNC__PG_INT8:
	case DBSYNC__PG_OID:
		v->type = DBSYNC_TYPE_INTEGER;
		v->i = strtoll(text, NULL, 10);
		return 0;
	case DBSYNC__PG_BOOL:
		v->type = DBSYNC_TYPE_INTEGER;
		v->i = text[0] == 't';
		return 0;
	case DBSYNC__PG_NUMERIC:
		if (numeric_as_int(text, &v->i)) {
			v->type = DBSYNC_TYPE_INTEGER;
			return 0;
		}
		/* fall through */
	case DBSYNC__PG_FLOAT4:
	case DBSYNC__PG_FLOAT8:
		v->type = DBSYNC_TYPE_FLOAT;
		v->f = strtod(text, NULL);
		return 0;
	case DBSYNC__PG_BYTEA: {
		size_t n = 0;
		unsigned char *b;

		if (s->nblobs == s->blob_cap) {
			size_t cap = s->blob_cap ? s->blob_cap * 2 : 8;
			unsigned char **p =
				realloc(s->blobs, cap * sizeof(*p));
			if (!p)
				return DBSYNC_NOMEM;
			s->blobs = p;
			s->blob_cap = cap;
		}
		b = PQunescapeBytea((const unsigned char *)text, &n);
		if (!b)
			return DBSYNC_NOMEM;
		s->blobs[s->nblobs++] = b;
		v->type = DBSYNC_TYPE_BLOB;
		v->p = (const char *)b;
		v->len = n;
		return 0;
	}
	default:
		v->type = DBSYNC_TYPE_TEXT;
		v->p = text;
		v->len = len;
		return 0;
	}
}

int dbsync__pg_value(dbsync__store *s, const PGresult *res, int row, int col,
		     unsigned int type, dbsync__value *v)
{
	if (PQgetisnull(res, row, col)) {
		memset(v, 0, sizeof(*v));
		v->type = DBSYNC_TYPE_NULL;
		return 0;
	}
	return decode(s, PQgetvalue(res, row, col),
		      (size_t)PQgetlength(res, row, col), type, v);
}

