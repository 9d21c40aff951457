/*
 * arena.c - the logger's first-in first-out row arena (arena.h).
 */
#include "arena.h"
#include "alloc.h"

#include <stdalign.h>
#include <stdint.h>

struct ms_arena_chunk {
	ms_arena_chunk *next;  /* the next younger chunk, or spare */
	size_t used;           /* bytes carved */
	size_t nrows, nfree;   /* rows carved, rows released */
	alignas(16) unsigned char data[];
};

#define CHUNK_DATA (MS__ARENA_CHUNK - sizeof(ms_arena_chunk))

static ms_arena_chunk *chunk_get(ms_arena *a)
{
	ms_arena_chunk *c = a->spare;
	if (c) {
		a->spare = c->next;
		a->spare_bytes -= MS__ARENA_CHUNK;
	} else {
		c = ms__malloc(MS__ARENA_CHUNK);
		if (c == NULL)
			return NULL;
	}
	c->next = NULL;
	c->used = c->nrows = c->nfree = 0;
	return c;
}

static void chunk_put(ms_arena *a, ms_arena_chunk *c)
{
	if (a->spare_bytes + MS__ARENA_CHUNK <= MS__ARENA_SPARE_MAX) {
		c->next = a->spare;
		a->spare = c;
		a->spare_bytes += MS__ARENA_CHUNK;
	} else {
		ms__free(c);
	}
}

void *ms__arena_alloc(ms_arena *a, size_t len)
{
	ms_arena_chunk *c = a->tail;
	void *p;
	len = (len + 15) & ~(size_t)15;
	if (len > CHUNK_DATA)
		return NULL;
	if (c == NULL || CHUNK_DATA - c->used < len) {
		if (c != NULL && c->nrows == c->nfree) {
			c->used = c->nrows = c->nfree = 0; /* all released: reuse */
		} else {
			ms_arena_chunk *n = chunk_get(a);
			if (n == NULL)
				return NULL;
			if (c)
				c->next = n;
			else
				a->head = n;
			a->tail = c = n;
		}
	}
	p = c->data + c->used;
	c->used += len;
	c->nrows++;
	return p;
}

void ms__arena_release(ms_arena *a, size_t n)
{
	while (a->head != NULL) {
		ms_arena_chunk *c = a->head;
		size_t k = c->nrows - c->nfree;
		if (k > n)
			k = n;
		c->nfree += k;
		n -= k;
		if (c->nfree < c->nrows || c == a->tail)
			break; /* rows still live, or the chunk still carving */
		a->head = c->next;
		chunk_put(a, c);
		if (n == 0 && (a->head == NULL ||
		               a->head->nfree < a->head->nrows))
			break;
	}
}

void ms__arena_free(ms_arena *a)
{
	ms_arena_chunk *c, *next;
	for (c = a->head; c; c = next) {
		next = c->next;
		ms__free(c);
	}
	for (c = a->spare; c; c = next) {
		next = c->next;
		ms__free(c);
	}
	a->head = a->tail = a->spare = NULL;
	a->spare_bytes = 0;
}
