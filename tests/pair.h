/*
 * pair.h - the fixture of the conflict tests: a real dbsyncd and two
 * registered clients `a` and `b` on one schema, both holding cities
 * 1 'Oslo' and 2 'Bergen'.
 *
 * Tables: city (INTEGER key), person (child of city), tag (TEXT key),
 * member (UNIQUE email, UNIQUE nullable nick), node (a tree: parent_id
 * refers to node itself; labels unique).
 */
#ifndef DBSYNC_TEST_PAIR_H
#define DBSYNC_TEST_PAIR_H

#include "harness.h"

extern const char th_pair_schema[];

typedef struct th_pair {
	th_server *srv;
	dbsync_client *a, *b;
	const char *pa, *pb; /* their database files */
} th_pair;

th_pair th_pair_setup(void);

/* One more registered client of the same server, database `name`.db. */
dbsync_client *th_pair_client(const th_server *srv, const char *name);

/* Run SQL on a database file through a connection of its own, as an
 * application would. */
void th_exec_on(const char *path, const char *sql);

/* The rows of `select` (one text column), joined by ','; "" for none. */
char *th_rows(const char *path, const char *select);

/* "id:name" of every city in key order. */
char *th_cities(const char *path);

/* The conflicts a client met since last asked, as
 * "kind/resolution table:op:pk" joined by spaces; unique collisions also
 * list their columns: "unique/none member:i:2(email)". */
char *th_conflicts(dbsync_client *c);

/* A quiescent round (a, b, a sync), then `select` gives `want` on the
 * server and both clients, and nothing is pending. */
void th_pair_all_equal(const th_pair *p, const char *select,
		       const char *want);

#endif
