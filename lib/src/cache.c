/*
 * cache.c - the loader's model cache: tables, LRU eviction, single flight.
 *
 * Four chained hash tables under the process-wide shard lock (shard.h):
 *   vt  (name, version) -> centry          every database-loaded model
 *   pt  name -> centry                     the production pointer
 *   lt  name -> centry                     last resolved "latest" (used
 *                                          only while the database is out)
 *   at  "name@alias" -> centry             each alias a caller asked for
 * A centry owns one reference to its payload and is freed when it is in
 * no table.  Readers (the hot path, ms__cache_get) lock only their own
 * shard, find the entry, count a handle reference on that shard (model.h)
 * and stamp the entry's LRU clock (relaxed atomic, coarse clock, written
 * at most once a tick): no cache line that another core's get writes, so
 * gets from many threads do not slow each other down.  Writers (misses,
 * the watcher's swap) lock every shard only to link entries; bytes are
 * fetched before, outside every lock, so readers are never blocked by a
 * load.  LRU eviction keeps bytes_cached within the budget (one entry may
 * exceed it alone); evicted payloads live on while handles remain.
 *
 * Misses are single-flight: concurrent misses for one key wait on the
 * one load in progress (an ms_inflight).
 */
#define _GNU_SOURCE
#include "cache.h"

#include "alloc.h"
#include "errbuf.h"
#include "model.h"
#include "shard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* One load in progress and those waiting on it (under c->mu). */
typedef struct ms_inflight {
	struct ms_inflight *next;
	int kind;
	char name[MS_NAME_MAX + 1];
	char version[MS_VERSION_MAX + 1];
	bool done;
	ms_status st;
	ms_payload *p;
	ms_source src;
	int users;
	ms_err err;
} ms_inflight;

static inline uint64_t coarse_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint32_t hash2(const char *a, const char *b)
{
	uint32_t h = 2166136261u;
	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 16777619u;
	if (b) {
		h = (h ^ '/') * 16777619u;
		for (; *b; b++)
			h = (h ^ (unsigned char)*b) * 16777619u;
	}
	return h;
}

/* ------------------------------------------------------------------ */
/* tables (callers hold a shard lock, every one to write)             */
/* ------------------------------------------------------------------ */

static ms_centry *vt_find(ms_cache *c, const char *name, const char *version,
                          uint32_t h)
{
	ms_centry *e;
	for (e = c->vt[h % MS__NBUCKETS]; e; e = e->next)
		if (e->hash == h && strcmp(e->p->name, name) == 0 &&
		    strcmp(e->p->version, version) == 0)
			return e;
	return NULL;
}

static ms_pentry *pt_find(ms_pentry **table, const char *name, uint32_t h)
{
	ms_pentry *pe;
	for (pe = table[h % MS__NBUCKETS]; pe; pe = pe->next)
		if (pe->hash == h && strcmp(pe->name, name) == 0)
			return pe;
	return NULL;
}

static void centry_destroy(ms_cache *c, ms_centry *e)
{
	if (e->all_prev)
		e->all_prev->all_next = e->all_next;
	else
		c->all = e->all_next;
	if (e->all_next)
		e->all_next->all_prev = e->all_prev;
	c->bytes_cached -= e->p->size;
	c->entries--;
	ms__payload_cache_drop(e->p);
	ms__payload_release(e->p);
	ms__free(e);
}

static void centry_unref(ms_cache *c, ms_centry *e)
{
	if (--e->nref == 0)
		centry_destroy(c, e);
}

static void vt_unlink(ms_cache *c, ms_centry *e)
{
	ms_centry **pp = &c->vt[e->hash % MS__NBUCKETS];
	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp)
		*pp = e->next;
	e->in_vt = false;
}

/* Drop every pointer entry of @p table that points to @p e. */
static void pointers_drop(ms_cache *c, ms_pentry **table, ms_centry *e)
{
	size_t b;
	for (b = 0; b < MS__NBUCKETS; b++) {
		ms_pentry **pp = &table[b];
		while (*pp) {
			ms_pentry *pe = *pp;
			if (pe->e == e) {
				*pp = pe->next;
				ms__free(pe);
				centry_unref(c, e);
			} else {
				pp = &pe->next;
			}
		}
	}
}

static void centry_evict(ms_cache *c, ms_centry *e)
{
	e->nref++; /* hold it while unlinking */
	if (e->in_vt) {
		vt_unlink(c, e);
		e->nref--;
	}
	pointers_drop(c, c->pt, e);
	pointers_drop(c, c->lt, e);
	pointers_drop(c, c->at, e);
	centry_unref(c, e);
}

/* Evict least recently used entries, never @p keep, until within budget. */
static void evict_to_budget(ms_cache *c, ms_centry *keep)
{
	while (c->bytes_cached > c->budget) {
		ms_centry *e, *victim = NULL;
		uint64_t oldest = UINT64_MAX;
		for (e = c->all; e; e = e->all_next) {
			uint64_t t = atomic_load_explicit(&e->last_used,
			                                  memory_order_relaxed);
			if (e != keep && t <= oldest) {
				oldest = t;
				victim = e;
			}
		}
		if (victim == NULL)
			return;
		centry_evict(c, victim);
	}
}

/* A new entry for @p p (takes the caller's reference), linked into the
 * LRU list; with @p in_vt also into the version table. */
static ms_centry *centry_add(ms_cache *c, ms_payload *p, bool in_vt)
{
	ms_centry *e = ms__calloc(1, sizeof *e);
	if (e == NULL)
		return NULL;
	e->p = p;
	ms__payload_cache_hold(p);
	e->hash = hash2(p->name, p->version);
	atomic_init(&e->last_used, coarse_ns());
	e->all_next = c->all;
	if (c->all)
		c->all->all_prev = e;
	c->all = e;
	c->bytes_cached += p->size;
	c->entries++;
	if (in_vt) {
		e->in_vt = true;
		e->nref = 1;
		e->next = c->vt[e->hash % MS__NBUCKETS];
		c->vt[e->hash % MS__NBUCKETS] = e;
	}
	return e;
}

/* Point @p name in @p table at @p e (which gains a reference). */
static bool pointer_set(ms_cache *c, ms_pentry **table, const char *name,
                        ms_centry *e)
{
	uint32_t h = hash2(name, NULL);
	ms_pentry *pe = pt_find(table, name, h);
	if (pe == NULL) {
		pe = ms__calloc(1, sizeof *pe);
		if (pe == NULL)
			return false;
		pe->hash = h;
		snprintf(pe->name, sizeof pe->name, "%s", name);
		pe->next = table[h % MS__NBUCKETS];
		table[h % MS__NBUCKETS] = pe;
	} else if (pe->e == e) {
		return true;
	} else {
		ms_centry *old = pe->e;
		pe->e = NULL;
		centry_unref(c, old);
	}
	pe->e = e;
	e->nref++;
	return true;
}

/* ------------------------------------------------------------------ */
/* lookup and install                                                  */
/* ------------------------------------------------------------------ */

/* The entry a lookup finds, or NULL; a shard lock held. */
static ms_centry *find(ms_cache *c, int kind, const char *name,
                       const char *version)
{
	char key[MS__PKEY_MAX + 1];
	ms_centry *e = NULL;

	if (kind == MS__K_VERSION) {
		e = vt_find(c, name, version, hash2(name, version));
	} else {
		const char *k = name;
		ms_pentry *pe;
		if (kind == MS__K_ALIAS) {
			ms__cache_alias_key(key, name, version);
			k = key;
		}
		pe = pt_find(kind == MS__K_PROD ? c->pt : c->at, k,
		             hash2(k, NULL));
		if (pe)
			e = pe->e;
	}
	if (e) {
		uint64_t now = coarse_ns();
		if (atomic_load_explicit(&e->last_used, memory_order_relaxed) != now)
			atomic_store_explicit(&e->last_used, now,
			                      memory_order_relaxed);
	}
	return e;
}

/* Look up a cached payload; returns it retained (in refs), or NULL. */
ms_payload *ms__cache_lookup(ms_cache *c, int kind, const char *name,
                             const char *version)
{
	unsigned s = ms__shard_me();
	ms_centry *e;
	ms_payload *p = NULL;

	ms__shard_lock(s);
	e = find(c, kind, name, version);
	if (e)
		p = ms__payload_retain(e->p);
	ms__shard_unlock(s);
	return p;
}

ms_payload *ms__cache_get(ms_cache *c, int kind, const char *name,
                          const char *version)
{
	unsigned s = ms__shard_me();
	ms_centry *e;
	ms_payload *p = NULL;

	ms__shard_lock(s);
	e = find(c, kind, name, version);
	if (e) {
		p = e->p;
		ms__payload_handle_take_locked(p, s);
	}
	ms__shard_unlock(s);
	return p;
}

/*
 * Install a freshly loaded payload @p (caller's reference is taken).
 * DATABASE payloads go into the version table (an existing entry for the
 * same version wins); with @p prod the production pointer of the name is
 * set: always when @p force, otherwise only when there is none or it
 * points at a fallback copy.  Returns the payload now cached (retained
 * for the caller), which may differ from @p p.
 */
static ms_payload *install(ms_cache *c, ms_payload *p, const char *key,
                           bool force, ms_pentry **ptr_table);

ms_payload *ms__cache_install(ms_cache *c, ms_payload *p, bool prod,
                              bool force, ms_pentry **ptr_table)
{
	char key[MS__PKEY_MAX + 1];
	snprintf(key, sizeof key, "%s", p->name);
	return install(c, p, prod ? key : NULL, force, ptr_table);
}

void ms__cache_alias_key(char key[MS__PKEY_MAX + 1], const char *name,
                         const char *alias)
{
	snprintf(key, MS__PKEY_MAX + 1, "%s@%s", name, alias);
}

ms_payload *ms__cache_install_alias(ms_cache *c, ms_payload *p,
                                    const char *alias, bool force)
{
	char key[MS__PKEY_MAX + 1];
	ms__cache_alias_key(key, p->name, alias);
	return install(c, p, key, force, c->at);
}

void ms__cache_alias_drop(ms_cache *c, const char *name, const char *alias)
{
	char key[MS__PKEY_MAX + 1];
	uint32_t h;
	ms_pentry **pp;

	ms__cache_alias_key(key, name, alias);
	h = hash2(key, NULL);
	ms__shard_lock_all();
	for (pp = &c->at[h % MS__NBUCKETS]; *pp; pp = &(*pp)->next) {
		ms_pentry *pe = *pp;
		if (pe->hash == h && strcmp(pe->name, key) == 0) {
			*pp = pe->next;
			centry_unref(c, pe->e);
			ms__free(pe);
			break;
		}
	}
	ms__shard_unlock_all();
}

/* ms__cache_install with the pointer's key: NULL sets no pointer. */
static ms_payload *install(ms_cache *c, ms_payload *p, const char *key,
                           bool force, ms_pentry **ptr_table)
{
	ms_centry *e = NULL;
	ms_payload *ret;
	bool prod = key != NULL;

	ms__shard_lock_all();
	if (p->origin != MS_SOURCE_FALLBACK) {
		e = vt_find(c, p->name, p->version, hash2(p->name, p->version));
		if (e) {
			ms__payload_release(p);
		} else {
			e = centry_add(c, p, true);
		}
	} else {
		e = centry_add(c, p, false);
	}
	if (e == NULL) {
		/* out of memory for the entry: serve uncached */
		ms__shard_unlock_all();
		return p;
	}
	atomic_store_explicit(&e->last_used, coarse_ns(), memory_order_relaxed);
	if (prod) {
		uint32_t h = hash2(key, NULL);
		ms_pentry *pe = pt_find(ptr_table, key, h);
		if (force || pe == NULL ||
		    pe->e->p->origin == MS_SOURCE_FALLBACK) {
			e->nref++; /* pin across pointer_set */
			pointer_set(c, ptr_table, key, e);
			e->nref--;
		} else if (pe->e != e) {
			/* someone installed a newer pointer meanwhile: serve it */
			if (e->nref == 0) {
				centry_destroy(c, e);
			}
			e = pe->e;
		}
	}
	ret = ms__payload_retain(e->p);
	if (e->nref == 0) {
		/* fallback entry that did not become a pointer */
		centry_destroy(c, e);
	} else {
		evict_to_budget(c, e);
	}
	ms__shard_unlock_all();
	return ret;
}

/* The last resolved "latest" of @p name, retained, or NULL; not an LRU
 * use (it serves only while the database is out). */
ms_payload *ms__cache_latest(ms_cache *c, const char *name)
{
	uint32_t h = hash2(name, NULL);
	ms_pentry *pe;
	ms_payload *p = NULL;

	unsigned s = ms__shard_me();

	ms__shard_lock(s);
	pe = pt_find(c->lt, name, h);
	if (pe)
		p = ms__payload_retain(pe->e->p);
	ms__shard_unlock(s);
	return p;
}

void ms__cache_usage(ms_cache *c, uint64_t *bytes, uint64_t *entries)
{
	unsigned s = ms__shard_me();

	ms__shard_lock(s);
	*bytes = c->bytes_cached;
	*entries = c->entries;
	ms__shard_unlock(s);
}

/* ------------------------------------------------------------------ */
/* misses: single flight (under c->mu)                                 */
/* ------------------------------------------------------------------ */

static ms_inflight *flight_find(ms_cache *c, int kind, const char *name,
                                const char *version)
{
	ms_inflight *f;
	for (f = c->flights; f; f = f->next)
		if (f->kind == kind && strcmp(f->name, name) == 0 &&
		    strcmp(f->version, version ? version : "") == 0)
			break;
	return f;
}

/* Drop one user of @p f; the last one frees it. */
static void flight_put(ms_inflight *f)
{
	if (--f->users == 0) {
		ms__payload_release(f->p);
		ms__free(f);
	}
}

/* Wait for the load of @p f to land and take its result; what the
 * database gave the pilot is a cache hit for the others. */
static ms_status flight_join(ms_cache *c, ms_inflight *f, ms_err *e,
                             ms_payload **out, ms_source *src)
{
	ms_status st;

	f->users++;
	while (!f->done)
		pthread_cond_wait(&c->cv, &c->mu);
	st = f->st;
	if (st == MS_OK) {
		*out = ms__payload_retain(f->p);
		*src = f->src == MS_SOURCE_DATABASE ? MS_SOURCE_CACHE : f->src;
	} else {
		*e = f->err;
	}
	flight_put(f);
	return st;
}

/* Register a flight for the key with its pilot as the one user; NULL
 * when out of memory. */
static ms_inflight *flight_start(ms_cache *c, int kind, const char *name,
                                 const char *version)
{
	ms_inflight *f = ms__calloc(1, sizeof *f);
	if (f == NULL)
		return NULL;
	f->kind = kind;
	snprintf(f->name, sizeof f->name, "%s", name);
	snprintf(f->version, sizeof f->version, "%s", version ? version : "");
	f->users = 1;
	f->next = c->flights;
	c->flights = f;
	return f;
}

/* The pilot's load ended (@p p is the pilot's on MS_OK, else @p e says
 * why): unlink @p f, hand the result to those waiting, drop the pilot.
 * Takes c->mu. */
static void flight_land(ms_cache *c, ms_inflight *f, ms_status st,
                        ms_payload *p, ms_source s, const ms_err *e)
{
	ms_inflight **pp = &c->flights;

	pthread_mutex_lock(&c->mu);
	while (*pp != f)
		pp = &(*pp)->next;
	*pp = f->next;
	f->done = true;
	f->st = st;
	f->src = s;
	if (st == MS_OK)
		f->p = ms__payload_retain(p);
	else
		f->err = *e;
	pthread_cond_broadcast(&c->cv);
	flight_put(f);
	pthread_mutex_unlock(&c->mu);
}

ms_status ms__cache_flight(ms_cache *c, ms_err *e, int kind, const char *name,
                           const char *version, ms_cache_load_fn fn, void *ctx,
                           bool recheck_cache, ms_payload **out,
                           ms_source *src)
{
	ms_inflight *f;
	ms_payload *p = NULL;
	ms_source s = MS_SOURCE_DATABASE;
	ms_status st;

	pthread_mutex_lock(&c->mu);
	f = flight_find(c, kind, name, version);
	if (f) {
		st = flight_join(c, f, e, out, src);
		pthread_mutex_unlock(&c->mu);
		return st;
	}
	/* re-check: a flight may have finished since our lookup */
	p = recheck_cache ? ms__cache_lookup(c, kind, name, version) : NULL;
	if (p) {
		pthread_mutex_unlock(&c->mu);
		*out = p;
		*src = p->origin == MS_SOURCE_FALLBACK ? MS_SOURCE_FALLBACK
		                                       : MS_SOURCE_CACHE;
		return MS_OK;
	}
	f = flight_start(c, kind, name, version);
	pthread_mutex_unlock(&c->mu);
	if (f == NULL)
		return ms__err_set(e, MS_ENOMEM, "load: out of memory");

	st = fn(ctx, e, name, version, &p, &s);

	flight_land(c, f, st, p, s, e);
	if (st == MS_OK) {
		*out = p;
		*src = s;
	}
	return st;
}

/* ------------------------------------------------------------------ */
/* life cycle                                                          */
/* ------------------------------------------------------------------ */

void ms__cache_init(ms_cache *c)
{
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
}

void ms__cache_destroy(ms_cache *c)
{
	size_t b;

	/* handles of these payloads may be released meanwhile, from other
	 * threads: the shard counts are folded under every shard lock */
	ms__shard_lock_all();
	for (b = 0; b < MS__NBUCKETS; b++) {
		ms_pentry *pe, *next;
		for (pe = c->pt[b]; pe; pe = next) {
			next = pe->next;
			ms__free(pe);
		}
		for (pe = c->lt[b]; pe; pe = next) {
			next = pe->next;
			ms__free(pe);
		}
		for (pe = c->at[b]; pe; pe = next) {
			next = pe->next;
			ms__free(pe);
		}
	}
	while (c->all) {
		ms_centry *e = c->all;
		c->all = e->all_next;
		ms__payload_cache_drop(e->p);
		ms__payload_release(e->p);
		ms__free(e);
	}
	ms__shard_unlock_all();
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
}
