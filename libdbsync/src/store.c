/* store.c - picks the store implementation named by a store URL. */
#include <string.h>

#include "store.h"

const dbsync__store_ops *dbsync__store_find(const char *url,
					    const char **location)
{
	static const struct {
		const char *prefix;
		const dbsync__store_ops *ops;
	} kinds[] = {
		{"sqlite:", &dbsync__store_sqlite},
	};
	size_t k;

	for (k = 0; url && k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t n = strlen(kinds[k].prefix);
		if (strncmp(url, kinds[k].prefix, n) == 0) {
			*location = url + n;
			return kinds[k].ops;
		}
	}
	return NULL;
}
