/*
 * shard.c - the loader's read-mostly lock (see shard.h).
 *
 * Why not a pthread_rwlock: every rdlock and unlock writes the lock's
 * reader count, one cache line that then bounces between the cores on
 * every cached get (measured: 16 threads on 2 cores, 700 ns a get
 * against 80 ns alone).  Here a reader writes only its shard's line.
 * Threads are dealt shards round robin, so up to MS__NSHARDS threads
 * never share one; beyond that, a few threads share each shard and
 * contend only among themselves.  Writers are rare (a swap, a miss being
 * installed) and pay MS__NSHARDS lock operations.
 */
#include "shard.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>

typedef struct shard {
	_Alignas(64) pthread_mutex_t mu;
} shard;

static shard shards[MS__NSHARDS] = {
#define S1 { PTHREAD_MUTEX_INITIALIZER }
#define S4 S1, S1, S1, S1
#define S16 S4, S4, S4, S4
	S16, S16
#undef S16
#undef S4
#undef S1
};
_Static_assert(MS__NSHARDS == 32, "shards[] initializer lists 32");

static _Atomic unsigned next_shard;
static _Thread_local unsigned my_shard = UINT_MAX;

unsigned ms__shard_me(void)
{
	if (my_shard == UINT_MAX)
		my_shard = atomic_fetch_add_explicit(&next_shard, 1,
		                                     memory_order_relaxed) %
		           MS__NSHARDS;
	return my_shard;
}

void ms__shard_lock(unsigned s)
{
	pthread_mutex_lock(&shards[s].mu);
}

void ms__shard_unlock(unsigned s)
{
	pthread_mutex_unlock(&shards[s].mu);
}

void ms__shard_lock_all(void)
{
	for (unsigned s = 0; s < MS__NSHARDS; s++)
		pthread_mutex_lock(&shards[s].mu);
}

void ms__shard_unlock_all(void)
{
	for (unsigned s = MS__NSHARDS; s-- > 0;)
		pthread_mutex_unlock(&shards[s].mu);
}
