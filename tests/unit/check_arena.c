/* check_arena.c - the prediction logger's row arena (lib/src/arena.c):
 * every row keeps its bytes until it is released, oldest first, however
 * rows of mixed sizes straddle chunks; released chunks are reused, so a
 * steady stream allocates nothing once warm; the spare list is bounded. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "common.h"

typedef struct live {
	unsigned char *p;
	size_t len;
	uint32_t tag;
} live;

static void fill(unsigned char *p, size_t len, uint32_t tag)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(tag * 31u + i);
}

static bool intact(const unsigned char *p, size_t len, uint32_t tag)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)(tag * 31u + i))
			return false;
	return true;
}

/* A FIFO of up to @p cap live rows, fed and drained in random steps. */
static void churn(ms_arena *a, live *q, size_t cap, size_t rows,
                  unsigned *seed, bool expect_no_malloc)
{
	size_t head = 0, count = 0;
	uint32_t tag = 0;
	while (rows > 0 || count > 0) {
		size_t add = rows ? (size_t)rand_r(seed) % 3000 : 0, drop;
		for (size_t i = 0; i < add && rows > 0 && count < cap; i++) {
			size_t len = 1 + (size_t)rand_r(seed) % 400;
			live *l = &q[(head + count) % cap];
			if (rand_r(seed) % 500 == 0)
				len = MS__ARENA_ROW_MAX; /* the largest row */
			l->p = ms__arena_alloc(a, len);
			ck_assert_msg(l->p != NULL || !expect_no_malloc,
			              "a warm arena allocated");
			ck_assert_ptr_nonnull(l->p);
			ck_assert_uint_eq((uintptr_t)l->p % 16, 0);
			l->len = len;
			l->tag = ++tag;
			fill(l->p, len, l->tag);
			count++;
			rows--;
		}
		drop = count ? 1 + (size_t)rand_r(seed) % count : 0;
		if (rows > 0 && rand_r(seed) % 4 != 0)
			drop /= 2;
		for (size_t i = 0; i < drop; i++) {
			live *l = &q[(head + i) % cap];
			ck_assert_msg(intact(l->p, l->len, l->tag), "row %u changed "
			              "before it was released", l->tag);
		}
		ms__arena_release(a, drop);
		head = (head + drop) % cap;
		count -= drop;
	}
}

START_TEST(rows_keep_their_bytes_until_released_oldest_first)
{
	enum { CAP = 20000 };
	ms_arena a = { 0 };
	live *q = calloc(CAP, sizeof *q);
	unsigned seed = 12;
	churn(&a, q, CAP, 60000, &seed, false);
	/* all released: what is kept for reuse is bounded */
	ck_assert_uint_le(a.spare_bytes, MS__ARENA_SPARE_MAX);
	ms__arena_free(&a);
	free(q);
}
END_TEST

/* Once a stream has reached its peak, chunks are recycled: every further
 * allocation of the library would fail, and none is attempted. */
START_TEST(a_warm_arena_allocates_nothing)
{
	enum { CAP = 4000 };
	ms_arena a = { 0 };
	live *q = calloc(CAP, sizeof *q);
	unsigned seed = 7;
	/* warm: hold CAP rows of the largest size at once (about 3 MiB of
	 * chunks, under the spare bound), then drain */
	for (size_t i = 0; i < CAP; i++) {
		q[i].p = ms__arena_alloc(&a, 800);
		ck_assert_ptr_nonnull(q[i].p);
	}
	ms__arena_release(&a, CAP);
	ms__fault_alloc_arm(1, MS__FAULT_ANY, true);
	churn(&a, q, CAP, 30000, &seed, true);
	ck_assert_int_eq(ms__fault_alloc_failed(), 0);
	ms__fault_alloc_arm(0, MS__FAULT_ANY, false);
	ms__arena_free(&a);
	free(q);
}
END_TEST

START_TEST(oversized_and_failed_allocations_return_null)
{
	ms_arena a = { 0 };
	ck_assert_ptr_null(ms__arena_alloc(&a, MS__ARENA_CHUNK));
	ms__fault_alloc_arm(1, MS__FAULT_ANY, false);
	ck_assert_ptr_null(ms__arena_alloc(&a, 100));
	ms__fault_alloc_arm(0, MS__FAULT_ANY, false);
	ck_assert_ptr_nonnull(ms__arena_alloc(&a, 100));
	ms__arena_release(&a, 1);
	ms__arena_free(&a);
}
END_TEST

Suite *unit_arena_suite(void)
{
	Suite *s = suite_create("unit_arena");
	TCase *tc = tcase_create("Arena");
	tcase_add_test(tc, rows_keep_their_bytes_until_released_oldest_first);
	tcase_add_test(tc, a_warm_arena_allocates_nothing);
	tcase_add_test(tc, oversized_and_failed_allocations_return_null);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
