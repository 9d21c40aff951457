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
 * what PostgreSQL 15's jsonb refuses: \u0000, unpaired surrogates,
 * invalid UTF-8, and numbers its numeric input refuses -- judged on the
 * value after the exponent is applied, as numeric.c set_var_from_str and
 * make_result do:
 *  - an exponent of INT_MAX / 2 (1073741823) or more in size, whatever
 *    the digits ("0e2000000000" is refused, "0e1073741822" is not);
 *  - a display scale, max(0, digits after the point - exponent), above
 *    16383 ("0e-16384", "0.00e-16382", 16384 zeros after the point);
 *  - a first nonzero digit above 10^131071, i.e. more than 131072 digits
 *    before the point ("0.5e131073", "10e131071"); zero has no weight.
 * Nesting: at most 512 containers deep, the outer object included;
 * scalars are not levels.  This is deliberately stricter than the
 * server: PostgreSQL 15 has no fixed jsonb depth, only its stack-depth
 * check (about 99,900 nested arrays with the default max_stack_depth of
 * 2MB); 512 bounds this scanner's recursion on any thread's stack.
 * Repeated keys are accepted (jsonb keeps the last).
 * On failure *where receives the byte offset and *why a static reason;
 * on success *where is @p n and *why NULL. */
bool ms__features_valid(const char *s, size_t n, size_t *where,
                        const char **why);

/* Length of the valid UTF-8 sequence at @p p (up to @p end), 1 for an
 * ASCII byte, 0 if invalid.  Rejects overlongs, surrogates and code
 * points above U+10FFFF. */
size_t ms__utf8_len(const unsigned char *p, const unsigned char *end);

#endif
