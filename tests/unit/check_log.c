/* check_log.c - pure code: the log callback, line folding, backoff. */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "log.h"
#include "util.h"

typedef struct seen {
	int calls;
	ms_log_level level;
	char line[1024];
} seen;

static void record(void *payload, ms_log_level level, const char *message)
{
	seen *s = payload;
	s->calls++;
	s->level = level;
	snprintf(s->line, sizeof s->line, "%s", message);
}

START_TEST(silent_without_callback)
{
	seen s = { 0 };
	ms_set_log_fn(record, &s);
	ms_set_log_fn(NULL, NULL);
	ms__log(MS_LOG_WARN, "dropped %d", 1);
	ck_assert_int_eq(s.calls, 0);
}
END_TEST

START_TEST(events_reach_the_callback_as_one_line)
{
	seen s = { 0 };
	ms_set_log_fn(record, &s);
	ms__log(MS_LOG_WARN, "loader: %s", "connection to server failed: "
	        "refused\n\tIs the server running?\n");
	ms_set_log_fn(NULL, NULL);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(s.level, MS_LOG_WARN);
	ck_assert_str_eq(s.line, "loader: connection to server failed: refused "
	                 "Is the server running?");
}
END_TEST

START_TEST(fold_lines)
{
	char a[] = "one\ntwo\r\n\t  three\n\n";
	char b[] = "\n\nlead";
	char c[] = "plain  ";
	char d[] = "";
	ms__fold_lines(a);
	ms__fold_lines(b);
	ms__fold_lines(c);
	ms__fold_lines(d);
	ck_assert_str_eq(a, "one two three");
	ck_assert_str_eq(b, "lead");
	ck_assert_str_eq(c, "plain");
	ck_assert_str_eq(d, "");
}
END_TEST

START_TEST(level_names)
{
	ck_assert_str_eq(ms_log_level_str(MS_LOG_ERROR), "error");
	ck_assert_str_eq(ms_log_level_str(MS_LOG_WARN), "warning");
	ck_assert_str_eq(ms_log_level_str(MS_LOG_INFO), "info");
	ck_assert_str_eq(ms_log_level_str(MS_LOG_DEBUG), "debug");
	ck_assert_str_eq(ms_log_level_str((ms_log_level)42), "unknown");
}
END_TEST

START_TEST(backoff_doubles_up_to_max)
{
	unsigned b = 0, steps[8];
	for (int i = 0; i < 8; i++)
		steps[i] = b = ms__backoff_next(b, MS_RECONNECT_BACKOFF_MIN_MS,
		                               MS_RECONNECT_BACKOFF_MAX_MS);
	ck_assert_uint_eq(steps[0], 100);
	ck_assert_uint_eq(steps[1], 200);
	ck_assert_uint_eq(steps[4], 1600);
	ck_assert_uint_eq(steps[5], 2000);
	ck_assert_uint_eq(steps[7], 2000);
	/* no overflow near the top of the range */
	ck_assert_uint_eq(ms__backoff_next(0x90000000u, 1, 0xffffffffu),
	                  0xffffffffu);
}
END_TEST

Suite *unit_log_suite(void)
{
	Suite *s = suite_create("unit_log");
	TCase *tc = tcase_create("Core");
	tcase_add_test(tc, silent_without_callback);
	tcase_add_test(tc, events_reach_the_callback_as_one_line);
	tcase_add_test(tc, fold_lines);
	tcase_add_test(tc, level_names);
	tcase_add_test(tc, backoff_doubles_up_to_max);
	suite_add_tcase(s, tc);
	return s;
}
