/*
 * bghash.h - SHA-256 on a helper thread, so that a pull hashes one piece
 * while it writes that piece out and receives the next (ms__ names).
 * Not installed.
 *
 * One submission at a time: ms__bghash_submit() first waits for the one
 * before.  The submitted bytes must stay valid and unchanged until
 * ms__bghash_wait() (or the next submit) returns.  The ms_sha256 belongs
 * to the thread from start to stop: the caller touches it only after a
 * wait.  One caller thread per ms_bghash.
 */
#ifndef MS_BGHASH_H
#define MS_BGHASH_H

#include "hash.h"

#include <stddef.h>

typedef struct ms_bghash ms_bghash;

/* A thread that updates @p h; NULL when it cannot be had (no memory, no
 * thread): the caller then hashes in line. */
ms_bghash *ms__bghash_start(ms_sha256 *h);

/* Hash @p n bytes at @p data on the thread; returns once the previous
 * submission is done, without waiting for this one. */
void ms__bghash_submit(ms_bghash *b, const void *data, size_t n);

/* Returns when every submission is hashed. */
void ms__bghash_wait(ms_bghash *b);

/* Wait, end the thread and free @p b (NULL is fine). */
void ms__bghash_stop(ms_bghash *b);

#endif
