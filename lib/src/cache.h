/*
 * cache.h - the loader's model cache: the tables of cached payloads, LRU
 * eviction to a byte budget, and single-flight misses (ms__ names).  Not
 * installed.
 */
#ifndef MS_CACHE_H
#define MS_CACHE_H

#include "errbuf.h"
#include "model.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define MS__NBUCKETS 256 /* per table */

/* One cached payload, in the LRU list and in any of the tables. */
typedef struct ms_centry {
	struct ms_centry *next;            /* vt chain */
	struct ms_centry *all_prev, *all_next;
	ms_payload *p;                     /* one reference */
	_Atomic uint64_t last_used;
	uint32_t hash;                     /* of name/version */
	int nref;                          /* tables holding it (vt + pointers) */
	bool in_vt;
} ms_centry;

/* The key of a pointer: a model name, or "name@alias" in the alias
 * table ('@' is in neither alphabet). */
#define MS__PKEY_MAX (MS_NAME_MAX + 1 + MS_ALIAS_MAX)

/* A name's pointer (production, last "latest", or an alias) to a cached
 * entry. */
typedef struct ms_pentry {
	struct ms_pentry *next;
	ms_centry *e;
	uint32_t hash;
	char name[MS__PKEY_MAX + 1]; /* the key */
} ms_pentry;

/* What a lookup or a flight is keyed by: the production pointer of a
 * name, one version of it, or one alias of it (the alias, without '@',
 * stands where the version does). */
enum { MS__K_PROD, MS__K_VERSION, MS__K_ALIAS };

/* The tables are under the shard lock (shard.h): a reader locks its
 * own shard, a writer every shard. */
typedef struct ms_cache {
	ms_centry *vt[MS__NBUCKETS];      /* (name, version) -> entry */
	ms_pentry *pt[MS__NBUCKETS];      /* name -> production entry */
	ms_pentry *lt[MS__NBUCKETS];      /* name -> last resolved "latest" */
	ms_pentry *at[MS__NBUCKETS];      /* "name@alias" -> entry */
	ms_centry *all;                   /* the LRU list */
	uint64_t bytes_cached, entries;   /* under lock (write) */
	uint64_t budget;                  /* bytes_cached is kept within */

	pthread_mutex_t mu;               /* flights */
	pthread_cond_t cv;
	struct ms_inflight *flights;
} ms_cache;

/* Set up the locks of a zeroed cache (the tables start empty). */
void ms__cache_init(ms_cache *c);
/* Drop every entry (handles keep their payloads alive) and the locks. */
void ms__cache_destroy(ms_cache *c);

/* Look up a cached payload (the production pointer of @p name with
 * MS__K_PROD, alias @p version of it with MS__K_ALIAS, else @p version
 * of it); returns it retained, or NULL. */
ms_payload *ms__cache_lookup(ms_cache *c, int kind, const char *name,
                             const char *version);
/* The hot path: ms__cache_lookup, but the reference is a handle's,
 * counted on this thread's shard (drop it with
 * ms__payload_handle_release). */
ms_payload *ms__cache_get(ms_cache *c, int kind, const char *name,
                          const char *version);

/* Install a freshly loaded payload @p (caller's reference is taken); with
 * @p prod also point @p name in @p ptr_table (c->pt or c->lt) at it.
 * Returns the payload now cached, retained, which may differ from @p p. */
ms_payload *ms__cache_install(ms_cache *c, ms_payload *p, bool prod,
                              bool force, ms_pentry **ptr_table);

/* Install a freshly loaded DATABASE payload @p p (caller's reference is
 * taken) and point alias @p alias of its name at it: always with
 * @p force (the watcher's swap), otherwise only when the alias has no
 * pointer yet.  Returns the payload the alias now serves, retained. */
ms_payload *ms__cache_install_alias(ms_cache *c, ms_payload *p,
                                    const char *alias, bool force);

/* Forget alias @p alias of @p name (it was removed); handles stay valid. */
void ms__cache_alias_drop(ms_cache *c, const char *name, const char *alias);

/* "name@alias" into @p key. */
void ms__cache_alias_key(char key[MS__PKEY_MAX + 1], const char *name,
                         const char *alias);

/* The payload last resolved as "latest" for @p name, retained, or NULL. */
ms_payload *ms__cache_latest(ms_cache *c, const char *name);

/* bytes_cached and entries, read under the lock. */
void ms__cache_usage(ms_cache *c, uint64_t *bytes, uint64_t *entries);

/* Loads (name, version) into *out, reporting its source; @p ctx is the
 * one given to ms__cache_flight. */
typedef ms_status (*ms_cache_load_fn)(void *ctx, ms_err *e, const char *name,
                                      const char *version, ms_payload **out,
                                      ms_source *src);

/* A miss, single-flight: concurrent misses for one key wait on the one
 * load in progress and share its result; otherwise (after re-checking
 * the cache when @p recheck_cache) run @p fn.  On MS_OK *out is retained
 * and *src says where it came from. */
ms_status ms__cache_flight(ms_cache *c, ms_err *e, int kind, const char *name,
                           const char *version, ms_cache_load_fn fn, void *ctx,
                           bool recheck_cache, ms_payload **out,
                           ms_source *src);

#endif
