/* array.c - growing a malloc'd array by doubling. */
#include "array.h"

#include <stdint.h>
#include <stdlib.h>

#include "dbsync/errors.h"

int dbsync__grow(void **data, size_t *cap, size_t want, size_t size)
{
	size_t ncap = *cap ? *cap : 64;
	void *p;

	if (want <= *cap)
		return 0;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2)
			return DBSYNC_NOMEM;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / size)
		return DBSYNC_NOMEM;
	p = realloc(*data, ncap * size);
	if (!p)
		return DBSYNC_NOMEM;
	*data = p;
	*cap = ncap;
	return 0;
}
