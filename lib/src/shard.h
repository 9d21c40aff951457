/*
 * shard.h - the loader's read-mostly lock: one mutex per shard, each on
 * its own cache line, a thread always taking the same one (ms__ names).
 * Not installed.
 *
 * A reader (a cached get, a handle's retain or release) locks only its
 * own shard, so readers on different shards share no written cache line;
 * a writer (a swap, an install, an eviction) locks every shard, in
 * order.  The shards are process-wide, not per loader, so that a model
 * handle, which may outlive its loader, can always reach them.
 */
#ifndef MS_SHARD_H
#define MS_SHARD_H

#define MS__NSHARDS 32

/* This thread's shard (fixed for the thread's life: the first call
 * deals it round robin). */
unsigned ms__shard_me(void);

/* Lock and unlock shard @p s (a reader's own, from ms__shard_me()). */
void ms__shard_lock(unsigned s);
void ms__shard_unlock(unsigned s);

/* Lock every shard, in order (a writer), and unlock them. */
void ms__shard_lock_all(void);
void ms__shard_unlock_all(void);

#endif
