/*
 * alloc.c - the library's one allocator, so that a test build can fail
 * the Nth allocation (MS_FAULT_INJECTION).
 */
#include "alloc.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#ifdef MS_FAULT_INJECTION

/* The countdown and what it counts.  The arming thread is known by the
 * generation it stored in its thread-local copy when it armed. */
static _Atomic long fault_countdown;
static _Atomic long fault_failed;
static _Atomic int fault_scope;
static _Atomic bool fault_persistent;
static _Atomic unsigned long fault_gen;
static _Thread_local unsigned long fault_my_gen;

static void *json_alloc(size_t n) { return ms__malloc(n); }
static void json_release(void *p) { ms__free(p); }

void ms__fault_alloc_arm(long n, ms__fault_scope scope, bool persistent)
{
	static _Atomic bool json_routed;
	if (!atomic_exchange(&json_routed, true))
		json_set_alloc_funcs(json_alloc, json_release);
	atomic_store(&fault_countdown, 0); /* nothing counts while changing */
	fault_my_gen = atomic_fetch_add(&fault_gen, 1) + 1;
	atomic_store(&fault_scope, (int)scope);
	atomic_store(&fault_persistent, persistent);
	atomic_store(&fault_failed, 0);
	atomic_store(&fault_countdown, n > 0 ? n : 0);
}

void ms__fault_alloc_after(long n)
{
	ms__fault_alloc_arm(n, MS__FAULT_ANY, false);
}

long ms__fault_alloc_failed(void) { return atomic_load(&fault_failed); }

static bool fault_counts_here(void)
{
	int scope = atomic_load(&fault_scope);
	bool mine = fault_my_gen == atomic_load(&fault_gen);
	return scope == MS__FAULT_ANY || (scope == MS__FAULT_CALLER) == mine;
}

static bool fault_now(void)
{
	long v = atomic_load(&fault_countdown);
	if (v <= 0 || !fault_counts_here())
		return false;
	while (v > 0) {
		long next = v - 1;
		if (v == 1 && atomic_load(&fault_persistent))
			next = 1; /* stays at the point of failure */
		if (atomic_compare_exchange_weak(&fault_countdown, &v, next)) {
			if (v != 1)
				return false;
			atomic_fetch_add(&fault_failed, 1);
			return true;
		}
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

char *ms__asprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	s = ms__malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	va_start(ap, fmt);
	n = vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (n < 0) {
		ms__free(s);
		return NULL;
	}
	return s;
}

void ms__free(void *p) { free(p); }

char *ms__json_dumps(const json_t *json, size_t flags)
{
	size_t n = json_dumpb(json, NULL, 0, flags), again;
	char *s;
	if (n == 0)
		return NULL;
	s = ms__malloc(n + 1);
	if (s == NULL)
		return NULL;
	again = json_dumpb(json, s, n, flags);
	if (again != n) {
		ms__free(s);
		return NULL;
	}
	s[n] = '\0';
	return s;
}
