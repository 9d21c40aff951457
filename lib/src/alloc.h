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
void ms__free(void *p);

/* Test hook: fail the Nth allocation from now (0 disables).  Defined
 * only in the modelstore_testing library (built with MS_FAULT_INJECTION),
 * never in what is installed. */
void ms__fault_alloc_after(long n);

/* Test hook: arm @p step (a number the site defines; 0 disarms), so that
 * ms__fault_step(step) is true once, and the code there acts as if the
 * process died at that point.  ms__fault_step_at is defined only in the
 * modelstore_testing library; ms__fault_step is always false in what is
 * installed. */
void ms__fault_step_at(int step);
bool ms__fault_step(int step);

#endif
