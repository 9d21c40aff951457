/* fuzz_spool.c - libFuzzer harness for the spool reader
 * (ms__spool_scan, spool.h) and the blob parser it feeds (ms__blob_parse,
 * blob.h), on arbitrary bytes as a whole spool file image.  Run it with
 * tests/fuzz/run.sh SECONDS.  Besides "no crash, no leak, no UB" (the
 * image sits in a buffer of exactly its size), the reader must keep its
 * contract:
 *  - a file is refused whole (bad header, unknown version: no record) or
 *    read as version 1 or 2;
 *  - every record lies inside the image, after the header, in order and
 *    without overlap; records + damage + torn tail never exceed the file;
 *  - round trip: the records, framed again by our writer's framing
 *    (ms__spool_frame) under the current header, read back as exactly
 *    the same records with no damage and no torn tail;
 *  - a record that parses as a blob (format 1 or 2), packed again by
 *    ms__blob_pack (always format 2), parses to the same fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "blob.h"
#include "spool.h"

#define REQUIRE(c)                                                        \
	do {                                                                  \
		if (!(c)) {                                                       \
			fprintf(stderr, "fuzz_spool: %s:%d: %s\n", __FILE__, __LINE__, \
			        #c);                                                  \
			abort();                                                      \
		}                                                                 \
	} while (0)

/* Doubles compared by their bits: NaN payloads and -0.0 must survive. */
static int same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

static void check_blob(const ms_spool_rec *r)
{
	ms_blob v, w;
	unsigned char *again;
	size_t n;

	if (!ms__blob_parse(r->data, r->len, &v))
		return;
	/* what the parse promises about the lengths */
	REQUIRE(v.nl > 0 && v.vl > 0 && v.fl >= 2);
	n = (size_t)MS__BLOB_HDR + v.nl + v.vl + v.fl;
	REQUIRE(n == r->len);
	REQUIRE((const unsigned char *)v.feat + v.fl == r->data + r->len);
	again = malloc(n);
	REQUIRE(again != NULL);
	ms__blob_pack(again, &v);
	REQUIRE(again[0] == MS__BLOB_FORMAT);
	REQUIRE(ms__blob_parse(again, (uint32_t)n, &w));
	REQUIRE(w.nl == v.nl && w.vl == v.vl && w.fl == v.fl);
	REQUIRE(memcmp(w.uuid, v.uuid, 16) == 0);
	REQUIRE(memcmp(w.name, v.name, v.nl) == 0);
	REQUIRE(memcmp(w.ver, v.ver, v.vl) == 0);
	REQUIRE(memcmp(w.feat, v.feat, v.fl) == 0);
	REQUIRE(w.time_us == v.time_us);
	REQUIRE(same_bits(w.pred, v.pred) && same_bits(w.actual, v.actual) &&
	        same_bits(w.conf, v.conf));
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ms_spool_rec *recs = NULL, *recs2 = NULL;
	size_t n = 0, cap = 0, n2 = 0, cap2 = 0, total = MS__SPOOL_MAGIC_LEN;
	ms_spool_scan info, info2;
	const unsigned char *prev_end;
	unsigned char *image, *p;

	REQUIRE(ms__spool_scan(data, size, &recs, &n, &cap, &info) == MS_OK);
	REQUIRE(info.records == n);
	if (info.bad_header || info.bad_version || size == 0) {
		/* refused whole: nothing read */
		REQUIRE(n == 0 && info.version == 0);
		REQUIRE(!(info.bad_header && info.bad_version));
		REQUIRE(info.bad_header != (size == 0) || info.bad_version);
		ms__free(recs);
		return 0;
	}
	REQUIRE(info.version == 1 || info.version == 2);
	REQUIRE(info.torn == (info.torn_bytes > 0));
	prev_end = data + MS__SPOOL_MAGIC_LEN;
	for (size_t i = 0; i < n; i++) {
		REQUIRE(recs[i].data >= prev_end + MS__SPOOL_REC_HDR);
		REQUIRE(recs[i].len <= MS__SPOOL_REC_MAX);
		REQUIRE(recs[i].data + recs[i].len <= data + size);
		prev_end = recs[i].data + recs[i].len;
		total += MS__SPOOL_REC_HDR + (size_t)recs[i].len;
		check_blob(&recs[i]);
	}
	REQUIRE(total + info.corrupt_bytes + info.torn_bytes == size);
	REQUIRE(info.corrupt == 0 || info.corrupt_bytes > 0);

	/* Round trip through the writer's framing. */
	image = malloc(total);
	REQUIRE(image != NULL);
	memcpy(image, MS__SPOOL_MAGIC, MS__SPOOL_MAGIC_LEN);
	p = image + MS__SPOOL_MAGIC_LEN;
	for (size_t i = 0; i < n; i++) {
		ms__spool_frame(p, recs[i].data, recs[i].len);
		p += MS__SPOOL_REC_HDR + (size_t)recs[i].len;
	}
	REQUIRE(ms__spool_scan(image, total, &recs2, &n2, &cap2, &info2) ==
	        MS_OK);
	REQUIRE(info2.version == MS__SPOOL_VERSION);
	REQUIRE(!info2.bad_header && !info2.bad_version && !info2.torn &&
	        info2.corrupt == 0 && info2.corrupt_bytes == 0);
	REQUIRE(n2 == n);
	for (size_t i = 0; i < n; i++) {
		REQUIRE(recs2[i].len == recs[i].len);
		REQUIRE(memcmp(recs2[i].data, recs[i].data, recs[i].len) == 0);
	}
	free(image);
	ms__free(recs);
	ms__free(recs2);
	return 0;
}
