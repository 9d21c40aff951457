/*
 * alloc.h - the library's allocator (ms__ names).  Every allocation goes
 * through these, so that a test build can fail the Nth call.  Not
 * installed.
 */
#ifndef MS_ALLOC_H
#define MS_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *ms__malloc(size_t n);
void *ms__calloc(size_t n, size_t size);
void *ms__realloc(void *p, size_t n);
char *ms__strdup(const char *s);
/* vasprintf through ms__malloc: the result (free with ms__free) or NULL
 * when out of memory or the format fails. */
char *ms__asprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
void ms__free(void *p);

/* json_dumps that cannot lose text when out of memory: jansson's
 * json_dumps ignores a failed append of an object key (jansson 2.14,
 * dump.c) and returns a document with the key missing.  This measures
 * with json_dumpb, which never allocates for the text, then fills a
 * buffer from ms__malloc.  NULL when out of memory or @p json cannot be
 * encoded; free with ms__free. */
struct json_t;
char *ms__json_dumps(const struct json_t *json, size_t flags);

/*
 * Test hooks, defined only in the modelstore_testing library (built with
 * MS_FAULT_INJECTION), never in what is installed.
 *
 * Which allocations count towards the countdown:
 *   MS__FAULT_ANY     every thread's (what ms__fault_alloc_after arms);
 *   MS__FAULT_CALLER  only those of the thread that armed it;
 *   MS__FAULT_OTHERS  only those of threads other than the one that
 *                     armed it (a logger's writer, a loader's watcher).
 * With CALLER, or OTHERS and a single library thread, the Nth
 * allocation is the same call site on every run: deterministic.
 *
 * Arming also routes jansson's allocations through ms__malloc/ms__free
 * (json_set_alloc_funcs), so that they are counted and failed too.  The
 * installed library never touches jansson's process-wide allocator.
 */
typedef enum ms__fault_scope {
	MS__FAULT_ANY = 0,
	MS__FAULT_CALLER = 1,
	MS__FAULT_OTHERS = 2
} ms__fault_scope;

/* Fail the Nth counted allocation from now (0 disarms).  Once: the
 * allocations after it succeed. */
void ms__fault_alloc_after(long n);
/* Fail the Nth counted allocation from now; with @p persistent, every
 * counted allocation after it fails too (the machine is out of memory,
 * not one unlucky call).  @p n 0 disarms. */
void ms__fault_alloc_arm(long n, ms__fault_scope scope, bool persistent);
/* How many allocations the armed fault has failed so far (0: the
 * countdown was never reached).  Read it before disarming or re-arming. */
long ms__fault_alloc_failed(void);

/* Test hook: arm @p step (a number the site defines; 0 disarms), so that
 * ms__fault_step(step) is true once, and the code there acts as if the
 * process died at that point.  ms__fault_step_at is defined only in the
 * modelstore_testing library; ms__fault_step is always false in what is
 * installed. */
void ms__fault_step_at(int step);
bool ms__fault_step(int step);

#endif
