/*
 * dbsync.h - the one header applications include.
 *
 * dbsync synchronizes SQLite databases on many devices with one central
 * database. See docs/c-api.md for the conventions every function follows.
 */
#ifndef DBSYNC_H
#define DBSYNC_H

#include "dbsync/common.h"
#include "dbsync/errors.h"
#include "dbsync/oplist.h"
#include "dbsync/client.h"
#include "dbsync/conflict.h"
#include "dbsync/server.h"

#endif
