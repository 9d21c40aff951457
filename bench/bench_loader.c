/*
 * bench_loader.c - the loader beside the raw ceiling, in one run.
 *
 *   DATABASE_URL=postgresql://... bench_loader [--quick]
 *
 * 1. cached production get + release (median, p99 of batches of BATCH
 *    pairs, per pair: one clock read per pair would measure the clock,
 *    whose resolution here is 10-40 ns), 1 and 16 threads, against a
 *    pthread_rwlock-protected pointer read + atomic reference count;
 * 2. cold load of a 25 MB and a 200 MB production model against plain
 *    libpq reading the same chunk rows (single-row mode, binary) into
 *    one buffer of the model's size (the same result: the model in
 *    memory), each on one connection warmed the same way (see cold());
 *    the size is read before the clock, and the buffer is
 *    faulted in with one MADV_POPULATE_WRITE before the query (measured
 *    here, 200 MB: 425-662 MB/s, against 416-553 MB/s letting the copy
 *    fault the pages in).  Ours faults in and hashes on a helper thread
 *    beside the copy, which a single-threaded plain client cannot: a
 *    ratio above 1 at 200 MB comes from that overlap.
 *    Measured: the whole result at once (PQexecParams, no single-row
 *    mode) then copied is 3-4x slower; single-row without keeping the
 *    bytes is within noise of single-row with the copy;
 * 3. fallback cold start with the database refusing connections, against
 *    a plain read() of the same file;
 * 4. promotion-to-swap delay of a LISTENing loader (target < 200 ms).
 *
 * Models are pushed under the names bench_loader_* (once; reused).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "modelstore.h"

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_loader: %s: %s\n", what, msg);
	exit(1);
}

static const char *url;

static ms_store *store(void)
{
	ms_store *s = NULL;
	if (ms_store_open(&s, url, NULL) != MS_OK)
		die("open", ms_store_errmsg(s));
	return s;
}

/* Push @n random bytes as @name/@version (production) unless present. */
static void ensure_model(const char *name, const char *version, size_t n,
                         int prod)
{
	ms_store *s = store();
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	if (ms_store_show(&info, s, name, version, NULL) == MS_OK) {
		ms_artifact_info_dispose(&info);
	} else {
		unsigned char *d = malloc(n);
		ms_push_options o;
		ms_artifact_source src = { NULL, NULL, d, n };
		uint64_t x = 88172645463325252ull ^ n;
		for (size_t i = 0; i + 8 <= n; i += 8) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			memcpy(d + i, &x, 8);
		}
		ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
		o.model_name = name;
		o.model_version = version;
		o.production = prod;
		if (ms_store_push(NULL, s, &o, &src, 1) != MS_OK)
			die("push", ms_store_errmsg(s));
		free(d);
	}
	if (prod && ms_store_promote(s, name, version, "bench") != MS_OK)
		die("promote", ms_store_errmsg(s));
	ms_store_close(s);
}

static ms_loader *loader(const char *conninfo, const char *dir,
                         ms_watch_mode w, ms_change_fn cb, void *pl)
{
	ms_loader_options o;
	ms_loader *l = NULL;
	ms_loader_options_init(&o, MS_LOADER_OPTIONS_VERSION);
	o.fallback_dir = dir;
	o.watch = w;
	o.on_change = cb;
	o.change_payload = pl;
	if (ms_loader_open(&l, conninfo, &o) != MS_OK)
		die("loader", "open failed");
	return l;
}

/* ---- 1. cached get ---- */

typedef struct ceiling {
	pthread_rwlock_t lock;
	struct obj { _Atomic long refs; const void *data; } *ptr;
} ceiling;

typedef struct worker {
	ms_loader *l;
	ceiling *c;
	int ours;
	size_t iters;
	uint64_t *lat;
	pthread_barrier_t *bar;
} worker;

#define BATCH 64 /* get + release pairs timed together */

/* @p iters batches; lat[i]: ns per get + release pair of batch i */
static void *worker_main(void *arg)
{
	worker *w = arg;
	volatile const void *sink;
	pthread_barrier_wait(w->bar);
	for (size_t i = 0; i < w->iters; i++) {
		uint64_t t0 = now_ns();
		for (int k = 0; k < BATCH; k++) {
			if (w->ours) {
				ms_model *m;
				if (ms_loader_get(&m, w->l, "bench_loader_small",
				                  NULL) != MS_OK)
					abort();
				sink = ms_model_data(m);
				ms_model_release(m);
			} else {
				struct obj *o;
				pthread_rwlock_rdlock(&w->c->lock);
				o = w->c->ptr;
				atomic_fetch_add_explicit(&o->refs, 1,
				                          memory_order_relaxed);
				pthread_rwlock_unlock(&w->c->lock);
				sink = o->data;
				if (atomic_fetch_sub_explicit(&o->refs, 1,
				                              memory_order_acq_rel) == 1)
					abort(); /* a release that would free */
			}
		}
		w->lat[i] = (now_ns() - t0 + BATCH / 2) / BATCH;
	}
	(void)sink;
	return NULL;
}

static void cached_get(ms_loader *l, int threads, size_t iters, int ours,
                       double *med, double *p99)
{
	static struct obj obj = { 1, "x" };
	ceiling c;
	pthread_t t[16];
	worker w[16];
	pthread_barrier_t bar;
	uint64_t *all = malloc(sizeof *all * iters * (size_t)threads);
	pthread_rwlock_init(&c.lock, NULL);
	c.ptr = &obj;
	pthread_barrier_init(&bar, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++) {
		w[i] = (worker){ l, &c, ours, iters, all + (size_t)i * iters, &bar };
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	qsort(all, iters * (size_t)threads, sizeof *all, cmp_u64);
	*med = (double)all[iters * (size_t)threads / 2];
	*p99 = (double)all[iters * (size_t)threads * 99 / 100];
	pthread_barrier_destroy(&bar);
	pthread_rwlock_destroy(&c.lock);
	free(all);
}

/* ---- 2. cold load ---- */

/* The model's size, outside the clock. */
static uint64_t model_size(PGconn *c, const char *name)
{
	const char *p[1] = { name };
	PGresult *r = PQexecParams(c, "SELECT model_size_bytes FROM"
	                           " model_artifacts WHERE model_name = $1 AND"
	                           " is_production", 1, NULL, p, NULL, NULL, 0);
	uint64_t n;
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		die("libpq", PQerrorMessage(c));
	n = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

/* One buffer of @n bytes, faulted in at once (what ms__bytes_alloc does
 * for big models: 2 MiB pages asked for, then one populate call). */
static unsigned char *plain_buffer(size_t n)
{
	unsigned char *b = mmap(NULL, n, PROT_READ | PROT_WRITE,
	                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		die("mmap", "failed");
	madvise(b, n, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
	(void)madvise(b, n, MADV_POPULATE_WRITE);
#endif
	return b;
}

static double plain_libpq(PGconn *c, const char *name, uint64_t size,
                          uint64_t *bytes)
{
	const char *p[1] = { name };
	PGresult *r;
	double t0 = now_s();
	unsigned char *buf = plain_buffer((size_t)size);
	*bytes = 0;
	if (!PQsendQueryParams(c, "SELECT data FROM model_artifact_chunks"
	                       " WHERE artifact_id = (SELECT id FROM"
	                       " model_artifacts WHERE model_name = $1 AND"
	                       " is_production) ORDER BY seq", 1, NULL, p, NULL,
	                       NULL, 1) || !PQsetSingleRowMode(c))
		die("libpq", PQerrorMessage(c));
	while ((r = PQgetResult(c)) != NULL) {
		if (PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
			uint64_t n = (uint64_t)PQgetlength(r, 0, 0);
			if (*bytes + n > size)
				die("libpq", "more bytes than the recorded size");
			memcpy(buf + *bytes, PQgetvalue(r, 0, 0), (size_t)n);
			*bytes += n;
		} else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			die("libpq", PQresultErrorMessage(r));
		}
		PQclear(r);
	}
	t0 = now_s() - t0;
	if (*bytes != size)
		die("libpq", "fewer bytes than the recorded size");
	munmap(buf, (size_t)size);
	return t0;
}

/*
 * Both sides on one long-lived connection each, opened and warmed the
 * same way before the rounds (the small model's query), so that both
 * read through server backends in the same state: a backend's first big
 * read is slow on this machine whoever the client is (plain libpq, same
 * process and query: 146-177 MB/s on a new backend, about 500 MB/s on
 * the next read of the same one), which is why the loader is no longer
 * opened anew each round while the plain side kept its connection.
 * Ours: one loader with a cache budget of 1 byte, so the get of the
 * small model before each round evicts the big one and the timed get is
 * a miss, loaded over the loader's connection (kept: no idle
 * disconnect).
 */
static PGconn *plain_connect(void)
{
	PGconn *c = PQconnectdb(url);
	const char *p[1] = { "bench_loader_small" };
	PGresult *r;
	if (PQstatus(c) != CONNECTION_OK)
		die("connect", PQerrorMessage(c));
	r = PQexecParams(c, "SELECT model_binary FROM model_artifacts WHERE"
	                 " model_name = $1 AND is_production", 1, NULL, p,
	                 NULL, NULL, 1);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("libpq", PQerrorMessage(c));
	PQclear(r);
	return c;
}

static ms_loader *cold_loader(void)
{
	ms_loader_options o;
	ms_loader *l = NULL;
	ms_loader_options_init(&o, MS_LOADER_OPTIONS_VERSION);
	o.fallback_dir = "/nonexistent";
	o.cache_bytes = 1;         /* each model evicts the other */
	o.idle_disconnect_ms = -1; /* one connection for every round */
	if (ms_loader_open(&l, url, &o) != MS_OK)
		die("loader", "open failed");
	return l;
}

static double ours_cold(ms_loader *l, const char *name, uint64_t *bytes)
{
	ms_model *m = NULL;
	ms_source src;
	double t0;
	/* evicts @name (and connects, the first time) */
	if (ms_loader_get(&m, l, "bench_loader_small", NULL) != MS_OK)
		die("get", "small");
	ms_model_release(m);
	t0 = now_s();
	if (ms_loader_get(&m, l, name, NULL) != MS_OK)
		die("get", name);
	t0 = now_s() - t0;
	src = ms_model_source(m);
	if (src != MS_SOURCE_DATABASE)
		die("get", "not a load from the database");
	*bytes = ms_model_size(m);
	ms_model_release(m);
	return t0;
}

static void cold(const char *name, int reps)
{
	PGconn *c = plain_connect();
	ms_loader *l = cold_loader();
	double a[16], b[16], ra[16], rb[16];
	char rname[128];
	uint64_t na = 0, nb = 0, size;
	size = model_size(c, name);
	/* one round untimed: the first time this process maps that much
	 * memory, faulting it in cost 0.8-1.2 s for 200 MB here (against
	 * 0.03-0.05 s later, whichever side), and the first read of a new
	 * backend is slow too; both would land on whichever side came first */
	(void)plain_libpq(c, name, size, &nb);
	(void)ours_cold(l, name, &na);
	for (int i = 0; i < reps; i++) {
		b[i] = plain_libpq(c, name, size, &nb);
		a[i] = ours_cold(l, name, &na);
	}
	PQfinish(c);
	ms_loader_close(l);
	for (int i = 0; i < reps; i++) {
		ra[i] = (double)na / 1e6 / a[i];
		rb[i] = (double)nb / 1e6 / b[i];
	}
	snprintf(rname, sizeof rname, "loader cold load %.0f MB vs plain libpq",
	         na / 1e6);
	bench_result(rname, "MB/s", ra, rb, reps, 1, 0.9);
	qsort(a, (size_t)reps, sizeof *a, cmp_d);
	qsort(b, (size_t)reps, sizeof *b, cmp_d);
	printf("cold load %-22s %4.0f MB: ours %6.0f MB/s (%.3f s)  plain "
	       "libpq %6.0f MB/s (%.3f s)  ratio %.2f\n", name, na / 1e6,
	       na / 1e6 / a[reps / 2], a[reps / 2], nb / 1e6 / b[reps / 2],
	       b[reps / 2], b[reps / 2] / a[reps / 2]);
}

/* ---- 3. fallback cold start ---- */

static void fallback_cold(const char *name, int reps)
{
	char dir[] = "/tmp/bench-loader.XXXXXX", *bad = NULL, path[512];
	double a[16], b[16];
	int fd;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof sa;
	ms_store *s = store();
	uint64_t size = 0;

	if (mkdtemp(dir) == NULL)
		die("mkdtemp", dir);
	if (ms_store_export(NULL, s, name, "production", dir, NULL,
	                    NULL) != MS_OK)
		die("export", ms_store_errmsg(s));
	ms_store_close(s);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof sa);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	if (asprintf(&bad, "postgresql://x@127.0.0.1:%d/x", ntohs(sa.sin_port))
	    < 0)
		die("asprintf", "");
	snprintf(path, sizeof path, "%s/production/%s/model.bin", dir, name);
	for (int i = 0; i < reps; i++) {
		ms_loader *l;
		ms_model *m = NULL;
		double t0 = now_s();
		char *buf;
		struct stat st;
		l = loader(bad, dir, MS_WATCH_OFF, NULL, NULL);
		if (ms_loader_get(&m, l, name, NULL) != MS_OK)
			die("fallback", "get");
		size = ms_model_size(m);
		ms_model_release(m);
		ms_loader_close(l);
		a[i] = now_s() - t0;
		t0 = now_s();
		fd = open(path, O_RDONLY);
		fstat(fd, &st);
		buf = malloc((size_t)st.st_size);
		for (off_t off = 0; off < st.st_size;) {
			ssize_t r = read(fd, buf + off, (size_t)(st.st_size - off));
			if (r <= 0)
				break;
			off += r;
		}
		close(fd);
		free(buf);
		b[i] = now_s() - t0;
	}
	qsort(a, (size_t)reps, sizeof *a, cmp_d);
	qsort(b, (size_t)reps, sizeof *b, cmp_d);
	printf("fallback cold start, DB refusing, %4.1f MB file: ours %5.1f ms"
	       "  plain read() %5.1f ms  overhead %5.1f ms\n", size / 1e6,
	       a[reps / 2] * 1e3, b[reps / 2] * 1e3,
	       (a[reps / 2] - b[reps / 2]) * 1e3);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	(void)!system(path);
	free(bad);
}

/* ---- 4. promotion to swap ---- */

typedef struct swapwait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char version[64];
	double at;
} swapwait;

static void on_change(void *pl, const char *name, const char *version)
{
	swapwait *w = pl;
	(void)name;
	pthread_mutex_lock(&w->mu);
	snprintf(w->version, sizeof w->version, "%s", version);
	w->at = now_s();
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static void promotion(int reps)
{
	swapwait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	               "", 0 };
	ms_loader *l = loader(url, "/nonexistent", MS_WATCH_NOTIFY, on_change,
	                      &w);
	ms_store *s = store();
	ms_model *m = NULL;
	double d[32];
	if (ms_loader_get(&m, l, "bench_loader_small", NULL) != MS_OK)
		die("get", "small");
	ms_model_release(m);
	usleep(300000);
	for (int i = 0; i < reps; i++) {
		const char *v = i % 2 ? "a" : "b";
		double t0 = now_s();
		struct timespec dl;
		if (ms_store_promote(s, "bench_loader_small", v, NULL) != MS_OK)
			die("promote", ms_store_errmsg(s));
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 5;
		pthread_mutex_lock(&w.mu);
		while (strcmp(w.version, v) != 0)
			if (pthread_cond_timedwait(&w.cv, &w.mu, &dl) != 0)
				die("promotion", "not seen within 5 s");
		d[i] = w.at - t0;
		pthread_mutex_unlock(&w.mu);
	}
	qsort(d, (size_t)reps, sizeof *d, cmp_d);
	printf("promotion to swap (1 MB model, LISTEN): median %.1f ms  max "
	       "%.1f ms  (target < 200 ms: %.0fx margin)\n", d[reps / 2] * 1e3,
	       d[reps - 1] * 1e3, 0.2 / d[reps - 1]);
	ms_store_close(s);
	ms_loader_close(l);
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
	double m1, p1, m2, p2;
	ms_loader *l;
	ms_model *m = NULL;
	ms_store *s;

	url = getenv("DATABASE_URL");
	if (url == NULL || !url[0])
		die("DATABASE_URL", "not set");
	{
		ms_store_options o = MS_STORE_OPTIONS_INIT;
		o.check_schema = 0;
		s = NULL;
		if (ms_store_open(&s, url, &o) != MS_OK ||
		    ms_store_migrate(NULL, s) != MS_OK)
			die("migrate", ms_store_errmsg(s));
		ms_store_close(s);
	}
	ensure_model("bench_loader_small", "b", 1u << 20, 0);
	ensure_model("bench_loader_small", "a", 1u << 20, 1);
	ensure_model("bench_loader_25", "1", 25000000, 1);
	if (!quick)
		ensure_model("bench_loader_200", "1", 200000000, 1);

	l = loader(url, "/nonexistent", MS_WATCH_OFF, NULL, NULL);
	if (ms_loader_get(&m, l, "bench_loader_small", NULL) != MS_OK)
		die("get", "small");
	ms_model_release(m);
	{
		/* interleaved rounds: ours and the rwlock ceiling, 1 then 16
		 * threads; the target is ours at 16 threads within 1.5x ours
		 * alone (RESULT ratio: t1 / t16 >= 0.67) */
		int rounds = quick ? 3 : 5;
		double o1[8], o16[8], c1[8], c16[8];
		for (int r = 0; r < rounds; r++) {
			cached_get(l, 1, 200000 / BATCH, 1, &o1[r], &p1);
			cached_get(l, 1, 200000 / BATCH, 0, &c1[r], &p2);
			printf("get+release, round %d,  1 thread : ours median %5.0f ns "
			       "p99 %6.0f ns  ceiling median %5.0f ns p99 %6.0f ns\n",
			       r + 1, o1[r], p1, c1[r], p2);
			cached_get(l, 16, 20000 / BATCH, 1, &o16[r], &p1);
			cached_get(l, 16, 20000 / BATCH, 0, &c16[r], &p2);
			printf("get+release, round %d, 16 threads: ours median %5.0f ns "
			       "p99 %6.0f ns  ceiling median %5.0f ns p99 %6.0f ns\n",
			       r + 1, o16[r], p1, c16[r], p2);
		}
		bench_result("loader cached get: 16 threads vs 1 (t1/t16)", "ns",
		             o16, o1, rounds, 0, 1 / 1.5);
		bench_result("loader cached get, 1 thread, vs rwlock+atomic", "ns",
		             o1, c1, rounds, 0, 0);
		bench_result("loader cached get, 16 threads, vs rwlock+atomic",
		             "ns", o16, c16, rounds, 0, 0);
		(void)m1;
		(void)m2;
	}
	ms_loader_close(l);

	cold("bench_loader_25", quick ? 1 : 5);
	if (!quick)
		cold("bench_loader_200", 5);
	fallback_cold("bench_loader_small", quick ? 3 : 7);
	fallback_cold("bench_loader_25", quick ? 3 : 7);
	promotion(quick ? 6 : 20);
	return 0;
}
