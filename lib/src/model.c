/*
 * model.c - the model handle: ms_model accessors, retain/release, and the
 * payload behind a handle (its reference count and its one byte buffer,
 * allocated once at the recorded size: mmap + MADV_HUGEPAGE from HUGE_MIN
 * up, so a model never sits twice in memory).
 */
#define _GNU_SOURCE
#include "model.h"

#include "alloc.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_MIN ((uint64_t)8 << 20)  /* mmap + THP from this size up */
#define HUGE_ALIGN ((size_t)2 << 20)

const char *ms_source_str(ms_source source)
{
	switch (source) {
	case MS_SOURCE_DATABASE: return "database";
	case MS_SOURCE_CACHE: return "cache";
	case MS_SOURCE_FALLBACK: return "fallback";
	}
	return "unknown";
}

/* One buffer of @p n bytes; big ones are 2 MiB-aligned anonymous maps
 * asking for transparent huge pages, faulted in at once when
 * @p populate (first-touch faults dominate otherwise). */
static unsigned char *bytes_alloc(uint64_t n, size_t *map_len, bool populate)
{
	*map_len = 0;
	if (n >= HUGE_MIN && n < SIZE_MAX / 2) {
		size_t len = ((size_t)n + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
		size_t span = len + HUGE_ALIGN;
		unsigned char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE,
		                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uintptr_t a;
		size_t head;
		if (raw == MAP_FAILED)
			return NULL;
		a = ((uintptr_t)raw + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1);
		head = (size_t)(a - (uintptr_t)raw);
		if (head)
			munmap(raw, head);
		if (span - head - len)
			munmap((unsigned char *)a + len, span - head - len);
		madvise((void *)a, len, MADV_HUGEPAGE);
		*map_len = len;
		if (populate)
			ms__bytes_populate((unsigned char *)a, len, 0, len);
		return (unsigned char *)a;
	}
	if (n >= SIZE_MAX / 2)
		return NULL;
	return ms__malloc((size_t)n);
}

unsigned char *ms__bytes_alloc(uint64_t n, size_t *map_len)
{
	return bytes_alloc(n, map_len, true);
}

unsigned char *ms__bytes_alloc_lazy(uint64_t n, size_t *map_len)
{
	return bytes_alloc(n, map_len, false);
}

void ms__bytes_populate(unsigned char *p, size_t map_len, size_t off,
                        size_t n)
{
#ifdef MADV_POPULATE_WRITE
	/* Fault the range in one call (Linux 5.14+): measured here, 200 MB
	 * populate in 15-25 ms against 0.45-1.25 s of page-by-page first
	 * touch.  Every byte is written next anyway; on an older kernel
	 * this fails and pages fault lazily. */
	if (map_len == 0 || off >= map_len)
		return;
	if (n > map_len - off)
		n = map_len - off;
	(void)madvise(p + off, n, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)map_len;
	(void)off;
	(void)n;
#endif
}

void ms__bytes_free(unsigned char *p, size_t map_len)
{
	if (p == NULL)
		return;
	if (map_len)
		munmap(p, map_len);
	else
		ms__free(p);
}

/* Grow a buffer whose final size was not recorded (seed-era rows). */
unsigned char *ms__bytes_grow(unsigned char *p, size_t *map_len,
                              uint64_t used, uint64_t want)
{
	if (*map_len) {
		size_t len = ((size_t)want + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
		void *q = mremap(p, *map_len, len, MREMAP_MAYMOVE);
		if (q == MAP_FAILED)
			return NULL;
		*map_len = len;
		return q;
	}
	if (want >= HUGE_MIN) {
		size_t ml;
		unsigned char *q = ms__bytes_alloc(want, &ml);
		if (q == NULL)
			return NULL;
		if (used)
			memcpy(q, p, (size_t)used);
		ms__free(p);
		*map_len = ml;
		return q;
	}
	return ms__realloc(p, (size_t)want);
}

ms_payload *ms__payload_new(void)
{
	/* the shard counts follow the payload in the same block, aligned
	 * to a cache line: 64 bytes of slack for the alignment */
	ms_payload *p = ms__calloc(1, sizeof *p + 64 +
	                              MS__NSHARDS * sizeof(ms_shard_count));
	int i;
	if (p == NULL)
		return NULL;
	p->sh = (ms_shard_count *)(((uintptr_t)(p + 1) + 63) &
	                           ~(uintptr_t)63);
	atomic_init(&p->refs, 1);
	for (i = 0; i < 3; i++) {
		p->face[i].p = p;
		p->face[i].source = (ms_source)i;
	}
	return p;
}

ms_payload *ms__payload_retain(ms_payload *p)
{
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void ms__payload_release(ms_payload *p)
{
	if (p == NULL)
		return;
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	ms__bytes_free(p->data, p->map_len);
	ms__free(p->metrics);
	ms__free(p);
}

/*
 * While cached, the count goes to this thread's shard, under its lock:
 * the lock orders it with the fold in ms__payload_cache_drop, which
 * holds every shard lock.  Uncached, refs: a payload read as uncached
 * may be cached again before refs is touched, which is harmless (caching
 * moves no count, and the entry's reference keeps refs above zero).
 */
void ms__payload_handle_retain(ms_payload *p)
{
	unsigned s = ms__shard_me();
	ms__shard_lock(s);
	if (p->cached > 0) {
		p->sh[s].n++;
		ms__shard_unlock(s);
		return;
	}
	ms__shard_unlock(s);
	ms__payload_retain(p);
}

void ms__payload_handle_release(ms_payload *p)
{
	unsigned s = ms__shard_me();
	ms__shard_lock(s);
	if (p->cached > 0) {
		p->sh[s].n--;
		ms__shard_unlock(s);
		return;
	}
	ms__shard_unlock(s);
	ms__payload_release(p);
}

void ms__payload_cache_hold(ms_payload *p)
{
	p->cached++;
}

void ms__payload_cache_drop(ms_payload *p)
{
	long sum = 0;
	unsigned s;

	if (--p->cached > 0)
		return;
	for (s = 0; s < MS__NSHARDS; s++) {
		sum += p->sh[s].n;
		p->sh[s].n = 0;
	}
	/* the entry's reference is still in refs: the sum stays above 0 */
	atomic_fetch_add_explicit(&p->refs, sum, memory_order_relaxed);
}

const void *ms_model_data(const ms_model *m) { return m ? m->p->data : NULL; }
uint64_t ms_model_size(const ms_model *m) { return m ? m->p->size : 0; }
const char *ms_model_name(const ms_model *m) { return m ? m->p->name : ""; }
const char *ms_model_version(const ms_model *m)
{
	return m ? m->p->version : "";
}
const char *ms_model_type(const ms_model *m) { return m ? m->p->type : ""; }
const char *ms_model_metrics_json(const ms_model *m)
{
	return m && m->p->metrics ? m->p->metrics : "{}";
}
const char *ms_model_sha256(const ms_model *m)
{
	return m ? m->p->sha256 : "";
}
ms_source ms_model_source(const ms_model *m)
{
	return m ? m->source : MS_SOURCE_DATABASE;
}
int ms_model_verified(const ms_model *m) { return m ? m->p->verified : 0; }

ms_model *ms_model_retain(ms_model *m)
{
	if (m)
		ms__payload_handle_retain(m->p);
	return m;
}

void ms_model_release(ms_model *m)
{
	if (m)
		ms__payload_handle_release(m->p);
}
