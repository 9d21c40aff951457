/* bench.h - clocks and sorting shared by the bench_*.c programs. */
#ifndef MS_BENCH_H
#define MS_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static inline int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Median of @n doubles (sorts them in place). */
static inline double median_d(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return v[n / 2];
}

/* Median, min and max of @n doubles (not modified). */
typedef struct bstat {
	double med, min, max;
} bstat;

static inline bstat bstat_of(const double *v, int n)
{
	double tmp[64];
	bstat s = { 0, 0, 0 };
	if (n < 1)
		return s;
	if (n > 64)
		n = 64;
	for (int i = 0; i < n; i++)
		tmp[i] = v[i];
	qsort(tmp, (size_t)n, sizeof *tmp, cmp_d);
	s.med = tmp[n / 2];
	s.min = tmp[0];
	s.max = tmp[n - 1];
	return s;
}

/*
 * One line of the summary table that bench/run.sh collects:
 *   RESULT|benchmark|ours|ceiling|ratio|spread|target|pass
 * @ours and @ceil are per-round figures (@n rounds, interleaved) in @unit;
 * the ratio is of the medians, ours/ceiling when @higher_better (rates),
 * ceiling/ours otherwise (times); the spread is the min-max of the
 * per-round ratios; @target the least acceptable ratio (0: no target).
 */
static inline void bench_result(const char *name, const char *unit,
                                const double *ours, const double *ceil,
                                int n, int higher_better, double target)
{
	bstat o = bstat_of(ours, n), c = bstat_of(ceil, n);
	double r[64], ratio;
	bstat rs;
	int k = n > 64 ? 64 : n;
	for (int i = 0; i < k; i++)
		r[i] = higher_better ? ours[i] / ceil[i] : ceil[i] / ours[i];
	rs = bstat_of(r, k);
	ratio = higher_better ? o.med / c.med : c.med / o.med;
	char tgt[32] = "none (reference)";
	if (target > 0)
		snprintf(tgt, sizeof tgt, ">= %.2f", target);
	printf("RESULT|%s|%.4g %s (%.4g-%.4g)|%.4g %s (%.4g-%.4g)|%.2f|"
	       "%.2f-%.2f (n=%d)|%s|%s\n", name, o.med, unit, o.min, o.max,
	       c.med, unit, c.min, c.max, ratio, rs.min, rs.max, n, tgt,
	       target <= 0 ? "-" : ratio > 1.0 ? "PASS (>1: re-check ceiling)"
	       : ratio >= target ? "PASS" : "FAIL");
	fflush(stdout);
}

/* A summary line for a figure with a budget rather than a ceiling (a
 * time that must stay under @budget): the ratio is budget/median. */
static inline void bench_budget(const char *name, const char *unit,
                                const double *v, int n, double budget)
{
	bstat o = bstat_of(v, n);
	printf("RESULT|%s|%.3g %s (%.3g-%.3g)|budget %.3g %s|%.2f|"
	       "%.2f-%.2f (n=%d)|<= %.3g %s|%s\n", name, o.med, unit, o.min,
	       o.max, budget, unit, budget / o.med, budget / o.max,
	       budget / o.min, n, budget, unit,
	       o.med <= budget ? "PASS" : "FAIL");
	fflush(stdout);
}

/* A growing byte buffer for encoding COPY data before the clock; out of
 * memory ends the benchmark. */
typedef struct obuf {
	char *p;
	size_t len, cap;
} obuf;

static inline void ob_put(obuf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL) {
			fprintf(stderr, "bench: out of memory\n");
			exit(1);
		}
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

/* @p v as an @p n-byte big-endian integer (COPY BINARY's byte order). */
static inline void ob_be(obuf *b, uint64_t v, int n)
{
	unsigned char t[8];
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		t[i] = (unsigned char)v;
	ob_put(b, t, (size_t)n);
}

#endif
