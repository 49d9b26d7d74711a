/*
 * A minimal dbsync consumer, built against the installed package only.
 *
 *   consumer DB TABLE
 *
 * Opens DB as a client, tracks TABLE, shows that a missing table fails with
 * the documented code, and prints what it saw for install_test.sh to check.
 */
#include <dbsync.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	dbsync_client *client = NULL;
	dbsync_oplist *ops = NULL;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: consumer DB TABLE\n");
		return 2;
	}
	/* The header the program was compiled with and the library it runs
	 * with must be the same release here. */
	printf("version %s %d header %s\n", dbsync_version(),
	       dbsync_version_number(), DBSYNC_VERSION);
	if (strcmp(dbsync_version(), DBSYNC_VERSION) != 0 ||
	    dbsync_version_number() != DBSYNC_VERSION_NUMBER)
		return 1;

	rc = dbsync_client_open(&client, argv[1]);
	if (rc != DBSYNC_OK) {
		fprintf(stderr, "open: %s\n", dbsync_last_error_message());
		return 1;
	}
	rc = dbsync_client_track(client, argv[2], DBSYNC_DIRECTION_BOTH);
	if (rc != DBSYNC_OK) {
		fprintf(stderr, "track: %s\n",
			dbsync_client_error_message(client));
		dbsync_client_free(client);
		return 1;
	}
	printf("tracked %s: %d\n", argv[2],
	       dbsync_client_is_tracked(client, argv[2], NULL));

	rc = dbsync_client_track(client, "no_such_table",
				 DBSYNC_DIRECTION_BOTH);
	printf("missing table: %d %s\n", rc, dbsync_error_name(rc));

	rc = dbsync_client_pending(&ops, client);
	printf("pending: %d ops (rc %d)\n", (int)dbsync_oplist_count(ops), rc);
	dbsync_oplist_free(ops);
	dbsync_client_free(client);
	return 0;
}
