/*
 * dbsync/common.h - export macro, version, fixed-width types.
 *
 * Included by every other public header; users include <dbsync.h>.
 */
#ifndef DBSYNC_COMMON_H
#define DBSYNC_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define DBSYNC_BEGIN_DECL extern "C" {
#define DBSYNC_END_DECL }
#else
#define DBSYNC_BEGIN_DECL
#define DBSYNC_END_DECL
#endif

/* Everything public is marked DBSYNC_EXTERN; the library is built with
 * -fvisibility=hidden, so anything else stays private to the .so. */
#if defined(DBSYNC_STATIC)
#define DBSYNC_EXTERN(type) extern type
#elif defined(_WIN32)
#if defined(DBSYNC_BUILDING)
#define DBSYNC_EXTERN(type) extern __declspec(dllexport) type
#else
#define DBSYNC_EXTERN(type) extern __declspec(dllimport) type
#endif
#else
#define DBSYNC_EXTERN(type) extern __attribute__((visibility("default"))) type
#endif

/* Release version. The ABI version (the .so's SONAME) moves separately and
 * only when the binary interface changes incompatibly. */
#define DBSYNC_VERSION_MAJOR 0
#define DBSYNC_VERSION_MINOR 1
#define DBSYNC_VERSION_PATCH 0
#define DBSYNC_VERSION "0.1.0"
/* MAJOR * 10000 + MINOR * 100 + PATCH, for compile-time comparisons. */
#define DBSYNC_VERSION_NUMBER                                                  \
	(DBSYNC_VERSION_MAJOR * 10000 + DBSYNC_VERSION_MINOR * 100 +           \
	 DBSYNC_VERSION_PATCH)

DBSYNC_BEGIN_DECL

/* The version of the library actually loaded, which may differ from the
 * DBSYNC_VERSION the caller was compiled against. Static string. */
DBSYNC_EXTERN(const char *) dbsync_version(void);

/* DBSYNC_VERSION_NUMBER of the library actually loaded. */
DBSYNC_EXTERN(int) dbsync_version_number(void);

/* Version of the SQLite library dbsync runs on (static string). */
DBSYNC_EXTERN(const char *) dbsync_sqlite_version(void);

DBSYNC_END_DECL

#endif
