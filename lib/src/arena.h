/*
 * arena.h - a first-in first-out arena for the prediction logger's
 * queued rows (ms__ names).  Not installed.
 *
 * Rows are carved one after another out of fixed-size chunks and are
 * released in the order they were carved, by count: the ring hands rows
 * to the writer in that same order.  A chunk whose rows are all released
 * goes to a spare list for reuse (up to spare_max bytes; beyond that it
 * is freed), so a steady stream of rows costs no malloc, no free and no
 * fresh page per row: before this, a row was one malloc in the caller's
 * thread and one free in the writer's, and that cross-thread pattern -
 * glibc trimming the heap after each batch and faulting it back in for
 * the next - was about 40% of the logger's client CPU (issue 12).
 *
 * Not thread safe: the logger calls it under its ring mutex.
 */
#ifndef MS_ARENA_H
#define MS_ARENA_H

#include <stddef.h>

#define MS__ARENA_CHUNK (256u << 10) /* bytes of one chunk */
#define MS__ARENA_ROW_MAX (16u << 10) /* larger rows: the caller mallocs */
#define MS__ARENA_SPARE_MAX (16u << 20) /* spare chunks kept, bytes */

typedef struct ms_arena_chunk ms_arena_chunk;

/* Zeroed, then used; ms__arena_free at the end. */
typedef struct ms_arena {
	ms_arena_chunk *head;  /* oldest chunk with unreleased rows */
	ms_arena_chunk *tail;  /* the chunk rows are carved from */
	ms_arena_chunk *spare; /* released chunks kept for reuse */
	size_t spare_bytes;
} ms_arena;

/* @p len bytes (at most MS__ARENA_ROW_MAX), 16-byte aligned, valid until
 * released.  NULL when out of memory. */
void *ms__arena_alloc(ms_arena *a, size_t len);
/* Release the @p n oldest rows not yet released. */
void ms__arena_release(ms_arena *a, size_t n);
/* Free every chunk, released or not. */
void ms__arena_free(ms_arena *a);

#endif
