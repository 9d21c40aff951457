/*
 * bghash.c - SHA-256 on a helper thread (see bghash.h).
 *
 * A pull into a file spends, per MiB on this project's test machine,
 * about 0.6 ms hashing and 1.2 ms in write(2) copying into the page
 * cache; one thread does them one after the other, two at once.  The
 * handoff is one mutex and one condition variable: a 1 MiB chunk per
 * handoff makes its cost (a few microseconds) negligible.
 */
#include "bghash.h"

#include "alloc.h"

#include <pthread.h>
#include <stdbool.h>

struct ms_bghash {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	ms_sha256 *h;
	const void *data;
	size_t n;
	bool pending, stop;
};

static void *bghash_main(void *arg)
{
	ms_bghash *b = arg;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->pending && !b->stop)
			pthread_cond_wait(&b->cv, &b->mu);
		if (!b->pending)
			break; /* stop, nothing left */
		pthread_mutex_unlock(&b->mu);
		ms__sha256_update(b->h, b->data, b->n);
#if defined(__SANITIZE_ADDRESS__)
		/* OpenSSL's assembly is not instrumented: read the last
		 * byte again here, after the hash, so that ASan sees a
		 * caller that freed the bytes before waiting */
		if (b->n > 0)
			(void)((const volatile unsigned char *)b->data)[b->n - 1];
#endif
		pthread_mutex_lock(&b->mu);
		b->pending = false;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

ms_bghash *ms__bghash_start(ms_sha256 *h)
{
	ms_bghash *b = ms__calloc(1, sizeof *b);
	if (b == NULL)
		return NULL;
	b->h = h;
	if (pthread_mutex_init(&b->mu, NULL) != 0) {
		ms__free(b);
		return NULL;
	}
	if (pthread_cond_init(&b->cv, NULL) != 0) {
		pthread_mutex_destroy(&b->mu);
		ms__free(b);
		return NULL;
	}
	if (pthread_create(&b->thread, NULL, bghash_main, b) != 0) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		ms__free(b);
		return NULL;
	}
	return b;
}

void ms__bghash_wait(ms_bghash *b)
{
	pthread_mutex_lock(&b->mu);
	while (b->pending)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

void ms__bghash_submit(ms_bghash *b, const void *data, size_t n)
{
	pthread_mutex_lock(&b->mu);
	while (b->pending)
		pthread_cond_wait(&b->cv, &b->mu);
	b->data = data;
	b->n = n;
	b->pending = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

void ms__bghash_stop(ms_bghash *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = true;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	ms__free(b);
}
