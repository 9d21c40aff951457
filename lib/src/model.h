/*
 * model.h - the model handle (ms_model) and the reference-counted payload
 * behind it (ms__ names).  Not installed.
 *
 * The bytes and metadata of one loaded model live in a payload with an
 * atomic reference count.  A payload embeds three ms_model faces, one per
 * ms_source, that differ only in the source they report; a handle is a
 * pointer to one face, so handing one out costs one atomic increment.
 */
#ifndef MS_MODEL_H
#define MS_MODEL_H

#include "modelstore.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ms_payload ms_payload;

struct ms_model {
	ms_payload *p;
	ms_source source;
};

struct ms_payload {
	_Atomic size_t refs;
	ms_model face[3];
	unsigned char *data;
	uint64_t size;
	size_t map_len; /* non-zero: data is an mmap of this many bytes */
	ms_source origin;
	int verified;
	char name[MS_NAME_MAX + 1];
	char version[MS_VERSION_MAX + 1];
	char type[MS_TYPE_MAX + 1];
	char sha256[65];
	char *metrics;
};

/* One buffer of @p n bytes, allocated once at its final size; big ones
 * are 2 MiB-aligned anonymous maps (*map_len is then non-zero).  Free
 * with ms__bytes_free(p, *map_len). */
unsigned char *ms__bytes_alloc(uint64_t n, size_t *map_len);
/* Grow a buffer whose final size was not recorded (seed-era rows). */
unsigned char *ms__bytes_grow(unsigned char *p, size_t *map_len,
                              uint64_t used, uint64_t want);
void ms__bytes_free(unsigned char *p, size_t map_len); /* NULL ok */

/* A zeroed payload with one reference and its three faces set up. */
ms_payload *ms__payload_new(void);
ms_payload *ms__payload_retain(ms_payload *p);
/* Drop one reference; the last frees the bytes.  NULL ok. */
void ms__payload_release(ms_payload *p);

#endif
