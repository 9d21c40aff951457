/*
 * alloc.c - the library's one allocator, so that a test build can fail
 * the Nth allocation (MS_FAULT_INJECTION).
 */
#include "alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#ifdef MS_FAULT_INJECTION
static _Atomic long fault_countdown;

void ms__fault_alloc_after(long n) { atomic_store(&fault_countdown, n); }

static bool fault_now(void)
{
	long v = atomic_load(&fault_countdown);
	while (v > 0) {
		if (atomic_compare_exchange_weak(&fault_countdown, &v, v - 1))
			return v == 1;
	}
	return false;
}

static _Atomic int fault_step;

void ms__fault_step_at(int step) { atomic_store(&fault_step, step); }

bool ms__fault_step(int step)
{
	int want = step;
	return step != 0 &&
	       atomic_compare_exchange_strong(&fault_step, &want, 0);
}
#else
#define fault_now() false

bool ms__fault_step(int step)
{
	(void)step;
	return false;
}
#endif

void *ms__malloc(size_t n)
{
	if (fault_now())
		return NULL;
	return malloc(n ? n : 1);
}

void *ms__calloc(size_t n, size_t size)
{
	if (fault_now())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *ms__realloc(void *p, size_t n)
{
	if (fault_now())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *ms__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = ms__malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

void ms__free(void *p) { free(p); }
