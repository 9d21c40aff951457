/*
 * json_check.h - the check that input_features is JSON that PostgreSQL's
 * jsonb accepts, and the UTF-8 sequence rule it applies (ms__ names).
 * Not installed.
 */
#ifndef MS_JSON_CHECK_H
#define MS_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Strict RFC 8259 check that @p s (length @p n) is one JSON object, plus
 * what PostgreSQL's jsonb refuses: \u0000, unpaired surrogates, invalid
 * UTF-8, numbers beyond numeric's range (131072 digits before the
 * point, 16383 after).  Nesting deeper than 512 is refused.
 * On failure *where receives the byte offset and *why a static reason. */
bool ms__features_valid(const char *s, size_t n, size_t *where,
                        const char **why);

/* Length of the valid UTF-8 sequence at @p p (up to @p end), 1 for an
 * ASCII byte, 0 if invalid.  Rejects overlongs, surrogates and code
 * points above U+10FFFF. */
size_t ms__utf8_len(const unsigned char *p, const unsigned char *end);

#endif
