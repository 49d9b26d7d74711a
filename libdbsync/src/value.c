/* value.c - comparing values that crossed a module boundary. */
#include "value.h"

#include <string.h>

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
