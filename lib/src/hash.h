/*
 * hash.h - SHA-256 and hex (ms__ names).  Not installed.
 */
#ifndef MS_HASH_H
#define MS_HASH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ms_sha256 ms_sha256;
ms_sha256 *ms__sha256_new(void);
void ms__sha256_update(ms_sha256 *h, const void *data, size_t n);
void ms__sha256_final(ms_sha256 *h, unsigned char out[32]);
void ms__sha256_free(ms_sha256 *h);

void ms__hex(char *out, const unsigned char *in, size_t n);
/* value of one hex digit, or -1 */
int ms__hexval(char c);
/* parse 64 hex chars into 32 bytes; false when malformed */
bool ms__unhex32(unsigned char out[32], const char *hex);

#endif
