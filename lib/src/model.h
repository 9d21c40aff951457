/*
 * model.h - the model handle (ms_model) and the reference-counted payload
 * behind it (ms__ names).  Not installed.
 *
 * The bytes and metadata of one loaded model live in a reference-counted
 * payload.  A payload embeds three ms_model faces, one per ms_source,
 * that differ only in the source they report; a handle is a pointer to
 * one face.
 *
 * Two kinds of count, whose sum is the number of references:
 *   refs     one atomic count: the cache's own references, those of
 *            loads in progress, and every reference while the payload
 *            is in no cache entry;
 *   sh[s]    per shard (shard.h), one cache line each: while the
 *            payload is cached (cached > 0), a handle's retain or
 *            release on shard s adds to sh[s] under that shard's lock,
 *            writing no line another core's gets write.  A count may go
 *            negative (a handle taken on one shard, released on another,
 *            or counted in refs and released on a shard).
 * While cached, refs holds the cache entry's reference, so the sum
 * cannot reach zero.  When the last entry goes (under every shard lock)
 * the shard counts are folded into refs and from then on every release
 * goes to refs, the last one freeing the bytes.
 */
#ifndef MS_MODEL_H
#define MS_MODEL_H

#include "modelstore.h"
#include "shard.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ms_payload ms_payload;

struct ms_model {
	ms_payload *p;
	ms_source source;
};

/* One shard's handle count of a payload, alone on its cache line. */
typedef struct ms_shard_count {
	long n;
	char pad[64 - sizeof(long)];
} ms_shard_count;

struct ms_payload {
	_Atomic long refs;
	int cached;          /* cache entries holding it (every shard lock) */
	ms_shard_count *sh;  /* MS__NSHARDS, 64-byte aligned, same block */
	ms_model face[3];
	unsigned char *data;
	uint64_t size;
	size_t map_len; /* non-zero: data is an mmap of this many bytes */
	ms_source origin;
	int verified;
	char name[MS_NAME_MAX + 1];
	char version[MS_VERSION_MAX + 1];
	char type[MS_TYPE_MAX + 1];
	char sha256[65];
	char *metrics;
};

/* One buffer of @p n bytes, allocated once at its final size; big ones
 * are 2 MiB-aligned anonymous maps (*map_len is then non-zero).  Free
 * with ms__bytes_free(p, *map_len). */
unsigned char *ms__bytes_alloc(uint64_t n, size_t *map_len);
/* The same, not faulted in: the caller populates it (ms__bytes_populate)
 * or lets first touch fault it. */
unsigned char *ms__bytes_alloc_lazy(uint64_t n, size_t *map_len);
/* Fault in bytes [@p off, @p off + @p n) of a buffer from
 * ms__bytes_alloc_lazy (@p map_len its *map_len; 0: nothing to do).
 * @p off should be a multiple of 2 MiB.  Best effort. */
void ms__bytes_populate(unsigned char *p, size_t map_len, size_t off,
                        size_t n);
/* Grow a buffer whose final size was not recorded (seed-era rows). */
unsigned char *ms__bytes_grow(unsigned char *p, size_t *map_len,
                              uint64_t used, uint64_t want);
void ms__bytes_free(unsigned char *p, size_t map_len); /* NULL ok */

/* A zeroed payload with one reference and its three faces set up. */
ms_payload *ms__payload_new(void);
/* One reference more or less in refs (the library's own references:
 * cache entries, loads in progress); the last release frees the bytes.
 * NULL ok for release. */
ms_payload *ms__payload_retain(ms_payload *p);
void ms__payload_release(ms_payload *p);

/* A handle's reference, taken while holding shard @p s's lock by one
 * who found @p p in a cache entry (so p->cached > 0). */
static inline void ms__payload_handle_take_locked(ms_payload *p, unsigned s)
{
	p->sh[s].n++;
}

/* A handle's retain and release: on this thread's shard while @p p is
 * cached, else on refs. */
void ms__payload_handle_retain(ms_payload *p);
void ms__payload_handle_release(ms_payload *p);

/* A cache entry starts or stops holding @p p; every shard lock held.
 * The entry's own reference is in refs and is not touched here: the
 * last stop folds the shard counts into refs. */
void ms__payload_cache_hold(ms_payload *p);
void ms__payload_cache_drop(ms_payload *p);

#endif
