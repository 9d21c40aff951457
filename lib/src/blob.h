/*
 * blob.h - the packed form of one logged prediction, as the logger's ring
 * and the spool carry it and the COPY encoder reads it (ms__ names).  Not
 * installed.
 *
 * Layout, format 2 (big-endian, like the binary COPY stream it feeds):
 *  0 u8 format (2)   1 u8 0   2 u16 name_len   4 u16 version_len
 *  6 u16 0           8 u32 features_len       12 u32 0
 * 16 uuid[16]       32 i64 unix microseconds
 * 40 f64 predicted  48 f64 actual (NaN: NULL) 56 f64 confidence (NaN)
 * 64 name, version, features (not NUL-terminated)
 * (f64: the IEEE-754 bits as a u64.)
 *
 * Format 1 (modelstore 0.1, spool files "MSPOOL1\n") is the same layout
 * in the byte order of the machine that wrote it; 0.1 ran on x86-64
 * only, so format 1 is read as little-endian.  Only format 2 is written.
 */
#ifndef MS_BLOB_H
#define MS_BLOB_H

#include <stdbool.h>
#include <stdint.h>

#define MS__BLOB_HDR 64
#define MS__BLOB_FORMAT 2

/* The most bytes of input_features a row may have; ms_predlog_log
 * refuses more with MS_EINVAL.  16 MiB is safe for every step a row
 * takes: jsonb can grow its text up to 6 times ([0,0,...]: 2 bytes of
 * text, a 4-byte JEntry and an 8-byte numeric each), 96 MiB, under
 * jsonb's own limit of 256 MiB (a row past it would fail its batch with
 * SQLSTATE 54000 on every replay); a COPY field may hold up to 1 GiB; a
 * row fits one spool record (MS__SPOOL_REC_MAX, 64 MiB) and one batch
 * (ms__copy_batch_max, 64 MiB). */
#define MS__BLOB_FEATURES_MAX (16u << 20)

/* One blob's fields; the pointers point into the blob (after parse) or
 * at the caller's data (for pack). */
typedef struct ms_blob {
	const unsigned char *uuid;
	const char *name, *ver, *feat;
	uint32_t nl, vl, fl;
	int64_t time_us;
	double pred, actual, conf;
} ms_blob;

/* Write @p v into @p b (format 2), which holds MS__BLOB_HDR + nl + vl +
 * fl bytes (nl and vl below 65536). */
void ms__blob_pack(unsigned char *b, const ms_blob *v);
/* Read the blob @p b of @p len bytes (format 2, or 1 from an old spool)
 * into @p v.  false when it is not well formed (only possible from a
 * damaged spool). */
bool ms__blob_parse(const unsigned char *b, uint32_t len, ms_blob *v);

#endif
