/*
 * util.h - buffers, JSON and clocks (ms__ names).  Not installed.
 */
#ifndef MS_UTIL_H
#define MS_UTIL_H

#include "modelstore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_UNUSED(x) (void)(x)

/* Bytes of @p type up to and including @p field: the size of a versioned
 * public struct as an older version ended (fields are only appended, so
 * sizeof() of today's struct is not the size of version 1). */
#define MS__SIZE_THROUGH(type, field)                                    \
	(offsetof(type, field) + sizeof(((type *)0)->field))

ms_status ms__buf_set(ms_buf *b, const char *s, size_t n);

/* true when @p text is a JSON object */
bool ms__json_is_object(const char *text);

/* Make @p s one line, in place: each line break, with the indentation
 * that follows it, becomes one space; trailing blanks are dropped.
 * libpq's messages are multi-line ("...failed: ...\n\tIs the server
 * running...?\n"); everything we pass on is one line. */
void ms__fold_lines(char *s);

/* Reconnect backoff of the background threads (the logger's writer, the
 * loader's watcher): the first retry after MIN, doubling up to MAX. */
#define MS_RECONNECT_BACKOFF_MIN_MS 100u
#define MS_RECONNECT_BACKOFF_MAX_MS 2000u

/* The next backoff after @p cur: @p min when @p cur is 0, else twice
 * @p cur, at most @p max. */
static inline unsigned ms__backoff_next(unsigned cur, unsigned min,
                                        unsigned max)
{
	if (cur == 0)
		return min;
	return cur > max / 2 ? max : cur * 2;
}

uint64_t ms__now_ns(void);      /* CLOCK_MONOTONIC */
uint64_t ms__wall_ms(void);     /* CLOCK_REALTIME in ms */

#endif
