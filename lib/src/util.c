/*
 * util.c - buffers, JSON and clocks.
 */
#define _GNU_SOURCE
#include "util.h"

#include "alloc.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

void ms_buf_dispose(ms_buf *b)
{
	if (b == NULL)
		return;
	ms__free(b->ptr);
	b->ptr = NULL;
	b->size = 0;
}

ms_status ms__buf_set(ms_buf *b, const char *s, size_t n)
{
	char *p;
	if (b == NULL)
		return MS_OK;
	p = ms__malloc(n + 1);
	if (p == NULL)
		return MS_ENOMEM;
	memcpy(p, s, n);
	p[n] = '\0';
	ms__free(b->ptr);
	b->ptr = p;
	b->size = n;
	return MS_OK;
}

void ms__fold_lines(char *s)
{
	char *w = s;
	const char *r = s;

	while (*r) {
		if (*r == '\n' || *r == '\r') {
			while (*r == '\n' || *r == '\r' || *r == ' ' || *r == '\t')
				r++;
			if (*r && w != s)
				*w++ = ' ';
			continue;
		}
		*w++ = *r++;
	}
	while (w > s && (w[-1] == ' ' || w[-1] == '\t'))
		w--;
	*w = '\0';
}

bool ms__json_is_object(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	bool ok = j != NULL && json_is_object(j);
	json_decref(j);
	return ok;
}

uint64_t ms__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ms__wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
