/* array.h - growing a malloc'd array by doubling, for every module. */
#ifndef DBSYNC_ARRAY_H
#define DBSYNC_ARRAY_H

#include <stddef.h>

/* Make *data (of *cap elements of `size` bytes) hold at least `want`
 * elements: 0, or DBSYNC_NOMEM with *data and *cap unchanged. */
int dbsync__grow(void **data, size_t *cap, size_t want, size_t size);

#endif
