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

uint64_t ms__now_ns(void);      /* CLOCK_MONOTONIC */
uint64_t ms__wall_ms(void);     /* CLOCK_REALTIME in ms */

#endif
