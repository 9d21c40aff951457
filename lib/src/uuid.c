/*
 * uuid.c - UUIDv7 for prediction ids (RFC 9562, method 1).
 *
 *   48 bits  Unix time in milliseconds
 *    4 bits  version 7
 *   12 bits  counter (rand_a): restarts at a random value below 2048 each
 *            new millisecond, so a millisecond holds >= 2048 ids before
 *            the clock is borrowed from (the id's time runs ahead by at
 *            most the overflow, and real time catches up)
 *    2 bits  variant 10
 *   62 bits  random (getrandom)
 *
 * The (ms, counter) pair lives in one 64-bit atomic advanced by CAS, so
 * ids are strictly increasing within a process from any thread, with no
 * lock.  Random bytes come from a per-thread 512-byte buffer refilled by
 * getrandom(); a fork() invalidates every buffer (pthread_atfork), so a
 * child never repeats its parent's bits.
 */
#define _GNU_SOURCE
#include "uuid.h"

#include "hash.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static _Atomic uint64_t last_state; /* ms << 12 | counter */
static _Atomic unsigned fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) { atomic_fetch_add(&fork_gen, 1); }
static void install_atfork(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

typedef struct rnd_pool {
	unsigned char buf[512];
	size_t pos;
	unsigned gen;
	bool init;
} rnd_pool;

static _Thread_local rnd_pool pool;

static void fill_random(unsigned char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = getrandom(p + done, n - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* No entropy source at all: degrade to time-seeded bits
			 * (ids stay unique within the process via the counter). */
			uint64_t x = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)p ^
			             0x9E3779B97F4A7C15ull;
			for (; done < n; done++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				p[done] = (unsigned char)x;
			}
			return;
		}
		done += (size_t)r;
	}
}

static void random_bytes(unsigned char *out, size_t n)
{
	unsigned g = atomic_load_explicit(&fork_gen, memory_order_relaxed);
	if (!pool.init || pool.gen != g || pool.pos + n > sizeof pool.buf) {
		pthread_once(&atfork_once, install_atfork);
		fill_random(pool.buf, sizeof pool.buf);
		pool.pos = 0;
		pool.gen = g;
		pool.init = true;
	}
	memcpy(out, pool.buf + pool.pos, n);
	pool.pos += n;
}

void ms__uuid7(unsigned char out[16])
{
	unsigned char r[10];
	struct timespec ts;
	uint64_t now_ms, cur, next;

	random_bytes(r, sizeof r);
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	now_ms &= 0xFFFFFFFFFFFFull;

	cur = atomic_load_explicit(&last_state, memory_order_relaxed);
	do {
		if ((cur >> 12) < now_ms)
			/* new millisecond: counter starts at a random value < 2048 */
			next = now_ms << 12 | ((uint64_t)(r[8] << 8 | r[9]) & 0x7FF);
		else
			next = cur + 1; /* same (or earlier) ms: count on; a carry
			                   into the ms field borrows from the future */
	} while (!atomic_compare_exchange_weak_explicit(
		&last_state, &cur, next, memory_order_relaxed, memory_order_relaxed));

	{
		uint64_t ms = next >> 12;
		unsigned ctr = (unsigned)(next & 0xFFF);
		out[0] = (unsigned char)(ms >> 40);
		out[1] = (unsigned char)(ms >> 32);
		out[2] = (unsigned char)(ms >> 24);
		out[3] = (unsigned char)(ms >> 16);
		out[4] = (unsigned char)(ms >> 8);
		out[5] = (unsigned char)ms;
		out[6] = (unsigned char)(0x70 | (ctr >> 8));
		out[7] = (unsigned char)ctr;
		out[8] = (unsigned char)(0x80 | (r[0] & 0x3F));
		memcpy(out + 9, r + 1, 7);
	}
}

uint64_t ms__uuid7_ms(const unsigned char in[16])
{
	uint64_t ms = 0;
	for (int i = 0; i < 6; i++)
		ms = ms << 8 | in[i];
	return ms;
}

void ms__uuid_format(char out[MS_UUID_STRLEN], const unsigned char in[16])
{
	static const char hx[] = "0123456789abcdef";
	int o = 0;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hx[in[i] >> 4];
		out[o++] = hx[in[i] & 15];
	}
	out[o] = '\0';
}

bool ms__uuid_parse(unsigned char out[16], const char *s)
{
	int o = 0;
	if (s == NULL)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		int hi = ms__hexval(s[i]);
		int lo = hi < 0 ? -1 : ms__hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[o++] = (unsigned char)(hi << 4 | lo);
		i++;
	}
	return s[36] == '\0';
}
