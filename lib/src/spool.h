/*
 * spool.h - the prediction logger's on-disk spool (ms__ names).  Not
 * installed.
 *
 * A spool directory holds append-only files named pl-<uuid7>.spool (their
 * names sort by creation time).  A file is
 *
 *     "MSPOOL2\n"                         8-byte header: "MSPOOL", the
 *                                         format version (one character),
 *                                         "\n"
 *     record*                             each:
 *         u32 magic  0x5250534d ("MSPR")  little-endian
 *         u32 length of payload
 *         u32 crc32 (zlib) of the length field's 4 bytes and the payload
 *         payload                     a blob (blob.h), big-endian
 *
 * Version 1 (modelstore 0.1) has the same framing and blobs of format 1
 * (little-endian); it is still read.  A file of any other version is not
 * read at all: the scan says so (bad_version) and the replayer leaves the
 * file where it is.
 *
 * A file is created under a temporary name, locked (flock) and renamed,
 * so a reader never sees a file that a live writer still owns: readers
 * take LOCK_EX|LOCK_NB and skip files they cannot lock.  A process killed
 * with SIGKILL loses its locks, so the next process replays its files.
 */
#ifndef MS_SPOOL_H
#define MS_SPOOL_H

#include "errbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS__SPOOL_MAGIC "MSPOOL2\n" /* what is written */
#define MS__SPOOL_MAGIC_LEN 8
#define MS__SPOOL_VERSION 2
#define MS__SPOOL_REC_MAGIC 0x5250534dU
#define MS__SPOOL_REC_HDR 12
#define MS__SPOOL_REC_MAX (64u << 20)

/* Frame one record into @p out (MS__SPOOL_REC_HDR + len bytes). */
void ms__spool_frame(unsigned char *out, const void *payload, uint32_t len);

typedef struct ms_spool_rec {
	const unsigned char *data; /* points into the scanned buffer */
	uint32_t len;
} ms_spool_rec;

typedef struct ms_spool_scan {
	size_t records;     /* good records */
	size_t corrupt;     /* damaged regions skipped before a good record */
	size_t corrupt_bytes;
	bool torn;          /* an incomplete/damaged tail was dropped */
	size_t torn_bytes;
	bool bad_header;    /* not a spool file: nothing read */
	char bad_version;   /* a spool file of a version this build does not
	                     * read (the version character): nothing read */
	unsigned version;   /* 1 or 2 when read; 0 for an empty file */
} ms_spool_scan;

/* Parse a whole spool file image.  Good records are appended to *recs
 * (grown with ms__realloc; *cap its capacity).  A record whose frame or
 * CRC is wrong is resynchronised by searching for the next record magic
 * whose CRC checks: damage followed by a good record counts as corrupt;
 * damage up to the end of the file is a torn tail.  Returns MS_OK or
 * MS_ENOMEM. */
ms_status ms__spool_scan(const unsigned char *data, size_t size,
                         ms_spool_rec **recs, size_t *nrecs, size_t *cap,
                         ms_spool_scan *info);

typedef struct ms_spool ms_spool;

/* A spool on @p dir (created on first append) limited to @p max_bytes
 * (bytes of all pl-*.spool files, counted at open).  Thread-safe. */
ms_status ms__spool_new(ms_spool **out, ms_err *e, const char *dir,
                        uint64_t max_bytes);
/* fsync and close the active file, free.  NULL ok. */
void ms__spool_free(ms_spool *sp);
/* Append @p n records as one write to the active file (created when
 * needed; rotated past 64 MiB).  All or nothing: MS_EFULL when they would
 * pass the size limit, MS_EIO on a write error (the file is truncated
 * back).  With @p sync, fsync before returning; otherwise the file is
 * marked dirty for ms__spool_sync(). */
ms_status ms__spool_append(ms_spool *sp, ms_err *e, const void *const *recs,
                           const uint32_t *lens, size_t n, bool sync);
/* fsync the active file if dirty. */
ms_status ms__spool_sync(ms_spool *sp, ms_err *e);
/* fsync and close the active file, so that it becomes replayable. */
void ms__spool_rotate(ms_spool *sp);
uint64_t ms__spool_bytes(ms_spool *sp);
/* true when anything was appended since the last ms__spool_clear_pending
 * or files existed at open. */
bool ms__spool_pending(ms_spool *sp);
void ms__spool_set_pending(ms_spool *sp, bool pending);

/* Names (not paths) of pl-*.spool files, sorted oldest first.  Free with
 * ms__spool_names_free. */
ms_status ms__spool_list(ms_spool *sp, ms_err *e, char ***names, size_t *n);
void ms__spool_names_free(char **names, size_t n);

/* One spool file loaded for replay: locked, read and scanned. */
typedef struct ms_spool_file {
	int fd;
	char *path;
	unsigned char *data;
	size_t size;
	ms_spool_rec *recs;
	size_t nrecs, cap;
	ms_spool_scan info;
} ms_spool_file;

/* Lock and load @p name.  MS_EEXISTS when another live process holds it
 * (skip it), MS_ENOTFOUND when it vanished, MS_EIO, MS_ENOMEM. */
ms_status ms__spool_load(ms_spool *sp, ms_err *e, const char *name,
                         ms_spool_file **out);
/* Release @p f; with @p remove, unlink it (and fsync the directory) and
 * subtract its size from the spool's total. */
void ms__spool_release(ms_spool *sp, ms_spool_file *f, bool remove);

#endif
