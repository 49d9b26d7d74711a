/* value.c - comparing values that crossed a module boundary. */
#include "value.h"

#include <stdlib.h>
#include <string.h>

#include "dbsync/errors.h"

int dbsync__value_equal(const dbsync__value *a, const dbsync__value *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case DBSYNC_TYPE_INTEGER:
		return a->i == b->i;
	case DBSYNC_TYPE_FLOAT:
		/* Bitwise, so -0.0 and 0.0 differ as SQLite stores them. */
		return memcmp(&a->f, &b->f, sizeof(a->f)) == 0;
	case DBSYNC_TYPE_TEXT:
	case DBSYNC_TYPE_BLOB:
		return a->len == b->len &&
		       (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
	default:
		return 1;
	}
}

int dbsync__value_copy(dbsync__value *to, const dbsync__value *from)
{
	char *p;

	*to = *from;
	if (from->type != DBSYNC_TYPE_TEXT && from->type != DBSYNC_TYPE_BLOB)
		return 0;
	p = malloc(from->len + 1);
	if (!p) {
		memset(to, 0, sizeof(*to));
		return DBSYNC_NOMEM;
	}
	if (from->len)
		memcpy(p, from->p, from->len);
	p[from->len] = '\0';
	to->p = p;
	return 0;
}

void dbsync__value_clear(dbsync__value *v)
{
	if (v->type == DBSYNC_TYPE_TEXT || v->type == DBSYNC_TYPE_BLOB)
		free((void *)v->p);
	memset(v, 0, sizeof(*v));
}

size_t dbsync__value_json_size(const dbsync__value *v)
{
	return 12 + (v->type == DBSYNC_TYPE_BLOB ? v->len * 4 / 3 : v->len);
}

int dbsync__value_compare(const dbsync__value *a, const dbsync__value *b)
{
	size_t n;
	int d;

	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	switch (a->type) {
	case DBSYNC_TYPE_INTEGER:
		return a->i < b->i ? -1 : a->i > b->i;
	case DBSYNC_TYPE_FLOAT:
		return a->f < b->f ? -1 : a->f > b->f;
	case DBSYNC_TYPE_TEXT:
	case DBSYNC_TYPE_BLOB:
		n = a->len < b->len ? a->len : b->len;
		d = n ? memcmp(a->p, b->p, n) : 0;
		if (d)
			return d;
		return a->len < b->len ? -1 : a->len > b->len;
	default:
		return 0;
	}
}
