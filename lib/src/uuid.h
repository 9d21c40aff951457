/*
 * uuid.h - UUIDv7 prediction ids (ms__ names).  Not installed.
 */
#ifndef MS_UUID_H
#define MS_UUID_H

#include "modelstore.h"

#include <stdbool.h>
#include <stdint.h>

/* A new UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then a 12-bit
 * counter in rand_a (method 1), then 62 random bits.  Strictly increasing
 * within a process, from any thread.  Random bits come from getrandom()
 * through a per-thread buffer, refilled after fork().  Thread-safe. */
void ms__uuid7(unsigned char out[16]);
/* Canonical 8-4-4-4-12 lowercase text plus NUL (MS_UUID_STRLEN). */
void ms__uuid_format(char out[MS_UUID_STRLEN], const unsigned char in[16]);
/* Parse canonical text (either case); false when malformed. */
bool ms__uuid_parse(unsigned char out[16], const char *s);
/* Milliseconds since the Unix epoch encoded in a v7 id. */
uint64_t ms__uuid7_ms(const unsigned char in[16]);

#endif
