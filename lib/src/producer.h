/*
 * producer.h - the bytes of one artifact source for push.c: read once,
 * hashed, optionally deflated, and cut into stored chunks of at most a
 * given size (ms__ names).  Not installed.
 */
#ifndef MS_PRODUCER_H
#define MS_PRODUCER_H

#include "errbuf.h"
#include "hash.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

/* A file (by path) or a memory source.  in_bytes counts what was read
 * and hashed, out_bytes what was produced (deflated or not). */
typedef struct ms_producer {
	int fd;
	const unsigned char *mem;
	uint64_t mem_size, mem_off;
	const char *label;
	ms_sha256 *hash;
	uint64_t in_bytes, out_bytes, total;
	bool eof, compress, z_init, z_done;
	z_stream z;
	unsigned char *inbuf;
	/* set by the caller after open: */
	bool defer_hash; /* uncompressed only: the caller hashes what
	                  * next hands out, when it likes */
	ms_progress_fn progress;
	void *progress_payload;
	uint64_t base_done, grand_total; /* earlier sources; all of them */
} ms_producer;

/* Open @p src; @p level 0 stores it as it is, 1-9 deflates.  On failure
 * the error names the file or artifact; close @p p on every path. */
ms_status ms__producer_open(ms_producer *p, ms_err *e,
                            const ms_artifact_source *src, int level);

/* Produce up to @p cap stored bytes: *@p out points at them (into
 * @p chunk, or straight into a memory source, which is never copied),
 * *@p len gets the count, *@p last is true when the source is exhausted
 * after this.  Progress is reported as bytes are read. */
ms_status ms__producer_next(ms_producer *p, ms_err *e, unsigned char *chunk,
                            size_t cap, const unsigned char **out,
                            size_t *len, bool *last);

void ms__producer_close(ms_producer *p);

#endif
