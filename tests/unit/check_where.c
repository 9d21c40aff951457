/* check_where.c - the `--where` parser (lib/src/where.c), the metric and
 * alias name rules, and the KEY=VALUE parser of --param/--metric
 * (cli/args.c): what they accept, what they refuse, and that a refusal
 * names the offset and the offending token. */
#define _GNU_SOURCE
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "common.h"
#include "where.h"

START_TEST(where_accepts_the_grammar)
{
	ms__where w;
	ms_err e;
	ck_assert_int_eq(ms__where_parse(&w, &e, "accuracy>=0.9"), MS_OK);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_str_eq(w.c[0].metric, "accuracy");
	ck_assert_int_eq(w.c[0].op, MS__OP_GE);
	ck_assert(w.c[0].value == 0.9);

	ck_assert_int_eq(ms__where_parse(&w, &e, "  val/loss < -1e-3 AND r2 != 2"
	                                 " and f1.macro=1 and x_<=.5 and y>+3 "),
	                 MS_OK);
	ck_assert_uint_eq(w.n, 5);
	ck_assert_str_eq(w.c[0].metric, "val/loss");
	ck_assert_int_eq(w.c[0].op, MS__OP_LT);
	ck_assert(w.c[0].value == -1e-3);
	ck_assert_int_eq(w.c[1].op, MS__OP_NE);
	ck_assert_int_eq(w.c[2].op, MS__OP_EQ);
	ck_assert_int_eq(w.c[3].op, MS__OP_LE);
	ck_assert(w.c[3].value == 0.5);
	ck_assert_int_eq(w.c[4].op, MS__OP_GT);
	ck_assert_str_eq(ms__where_op_sql(w.c[4].op), ">");

	/* nothing: no condition */
	ck_assert_int_eq(ms__where_parse(&w, &e, NULL), MS_OK);
	ck_assert_uint_eq(w.n, 0);
	ck_assert_int_eq(ms__where_parse(&w, &e, " \t"), MS_OK);
	ck_assert_uint_eq(w.n, 0);
}
END_TEST

/* Each bad expression is refused with the offset and token named. */
START_TEST(where_refusals_name_the_token)
{
	static const struct {
		const char *in, *msg;
	} cases[] = {
		{ "accuracy => 0.9", "offset 9: expected an operator (>= <= > < = "
		                     "!=), found \"=>\"" },
		{ "accuracy >= 0.9 or r2 > 1", "offset 16: expected \"and\" or "
		                               "the end, found \"or\"" },
		{ "accuracy >= abc", "offset 12: expected a number, found \"abc\"" },
		{ "accuracy >= 0.9x", "offset 12: expected a number, found "
		                      "\"0.9x\"" },
		{ "accuracy >= inf", "expected a number, found \"inf\"" },
		{ "accuracy >= 1e999", "expected a finite number, found \"1e999\"" },
		{ "accuracy >=", "offset 11: expected a number, found end of input" },
		{ "1acc > 2", "offset 0: expected a metric name, found \"1acc\"" },
		{ "and > 2", "offset 0: expected a metric name, found \"and\"" },
		{ "a > 1 and", "offset 9: expected a metric name, found end of "
		               "input" },
		{ "a; DROP TABLE model_artifacts", "offset 1: expected an "
		                                   "operator" },
		{ "a'>1", "offset 1: expected an operator (>= <= > < = !=), found "
		          "\"'>1\"" },
		{ "a > 1 \x1b[2J", "found \"\\x1b[2J\"" },
		{ "acc\xff > 1", "found \"\\xff\"" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ms__where w;
		ms_err e;
		ck_assert_int_eq(ms__where_parse(&w, &e, cases[i].in), MS_EINVAL);
		ck_assert_uint_eq(w.n, 0);
		ck_assert_msg(strstr(e.msg, cases[i].msg) != NULL,
		              "%s: got \"%s\"", cases[i].in, e.msg);
	}
}
END_TEST

START_TEST(where_limits)
{
	char buf[1024] = "", name[200];
	ms__where w;
	ms_err e;
	for (int i = 0; i < MS__WHERE_MAX; i++)
		strcat(buf, i ? " and a>1" : "a>1");
	ck_assert_int_eq(ms__where_parse(&w, &e, buf), MS_OK);
	ck_assert_uint_eq(w.n, MS__WHERE_MAX);
	strcat(buf, " and a>1");
	ck_assert_int_eq(ms__where_parse(&w, &e, buf), MS_EINVAL);
	/* refused: no condition left over (found by fuzz_args) */
	ck_assert_uint_eq(w.n, 0);
	ck_assert_ptr_nonnull(strstr(e.msg, "more than 16 conditions"));

	memset(name, 'm', MS_METRIC_MAX + 1);
	strcpy(name + MS_METRIC_MAX + 1, ">1");
	ck_assert_int_eq(ms__where_parse(&w, &e, name), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(e.msg, "longer than 128"));
	name[MS_METRIC_MAX] = '>';
	name[MS_METRIC_MAX + 1] = '1';
	name[MS_METRIC_MAX + 2] = '\0';
	ck_assert_int_eq(ms__where_parse(&w, &e, name), MS_OK);
}
END_TEST

START_TEST(metric_and_alias_names)
{
	ck_assert_int_eq(ms_metric_name_check("val/loss"), MS_OK);
	ck_assert_int_eq(ms_metric_name_check("_x.y-z"), MS_OK);
	ck_assert_int_eq(ms_metric_name_check("1x"), MS_EINVAL);
	ck_assert_int_eq(ms_metric_name_check(""), MS_EINVAL);
	ck_assert_int_eq(ms_metric_name_check(NULL), MS_EINVAL);
	ck_assert_int_eq(ms_metric_name_check("a b"), MS_EINVAL);
	ck_assert_int_eq(ms_metric_name_check("a'"), MS_EINVAL);

	ck_assert_int_eq(ms_alias_check("champion"), MS_OK);
	ck_assert_int_eq(ms_alias_check("canary-2"), MS_OK);
	ck_assert_int_eq(ms_alias_check("production"), MS_EINVAL);
	ck_assert_int_eq(ms_alias_check("latest"), MS_EINVAL);
	ck_assert_int_eq(ms_alias_check("previous"), MS_EINVAL);
	ck_assert_int_eq(ms_alias_check("@x"), MS_EINVAL);
	ck_assert_int_eq(ms_alias_check("-x"), MS_EINVAL);
	ck_assert_int_eq(ms_alias_check(NULL), MS_EINVAL);

	{
		ms_buf why = MS_BUF_INIT;
		ck_assert_int_eq(ms_list_where_check(&why, "a >= 1"), MS_OK);
		ck_assert_ptr_null(why.ptr);
		ck_assert_int_eq(ms_list_where_check(&why, "a >= x"), MS_EINVAL);
		ck_assert_ptr_nonnull(strstr(why.ptr, "found \"x\""));
		ms_buf_dispose(&why);
	}
}
END_TEST

/* --param keeps JSON types; --metric wants a finite number. */
START_TEST(kv_keeps_json_types)
{
	json_t *o = json_object();
	char err[256];
	ck_assert_int_eq(cli_kv_add(o, "--param", "n=100", false, err,
	                            sizeof err), 0);
	ck_assert_int_eq(cli_kv_add(o, "--param", "lr=0.5", false, err,
	                            sizeof err), 0);
	ck_assert_int_eq(cli_kv_add(o, "--param", "layers=[64,32]", false, err,
	                            sizeof err), 0);
	ck_assert_int_eq(cli_kv_add(o, "--param", "b=true", false, err,
	                            sizeof err), 0);
	ck_assert_int_eq(cli_kv_add(o, "--param", "act=relu", false, err,
	                            sizeof err), 0);
	ck_assert_int_eq(cli_kv_add(o, "--param", "eq=a=b", false, err,
	                            sizeof err), 0);
	ck_assert_int_eq(cli_kv_add(o, "--param", "empty=", false, err,
	                            sizeof err), 0);
	ck_assert(json_is_integer(json_object_get(o, "n")));
	ck_assert_int_eq(json_integer_value(json_object_get(o, "n")), 100);
	ck_assert(json_is_real(json_object_get(o, "lr")));
	ck_assert(json_is_array(json_object_get(o, "layers")));
	ck_assert_uint_eq(json_array_size(json_object_get(o, "layers")), 2);
	ck_assert(json_is_true(json_object_get(o, "b")));
	ck_assert_str_eq(json_string_value(json_object_get(o, "act")), "relu");
	ck_assert_str_eq(json_string_value(json_object_get(o, "eq")), "a=b");
	ck_assert_str_eq(json_string_value(json_object_get(o, "empty")), "");

	ck_assert_int_eq(cli_kv_add(o, "--metric", "acc=0.5", true, err,
	                            sizeof err), 0);
	ck_assert(json_real_value(json_object_get(o, "acc")) == 0.5);
	ck_assert_int_eq(cli_kv_add(o, "--metric", "acc=nan", true, err,
	                            sizeof err), -1);
	ck_assert_str_eq(err, "invalid --metric value: \"acc=nan\" (not a "
	                 "number)");
	ck_assert_int_eq(cli_kv_add(o, "--metric", "acc=[1]", true, err,
	                            sizeof err), -1);
	ck_assert_int_eq(cli_kv_add(o, "--param", "novalue", false, err,
	                            sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "expected KEY=VALUE"));
	ck_assert_int_eq(cli_kv_add(o, "--param", "=x", false, err,
	                            sizeof err), -1);
	json_decref(o);
}
END_TEST

/* A non-UTF-8 key used to be dropped without a word; now it is refused
 * and nothing is added. */
START_TEST(kv_refuses_non_utf8)
{
	json_t *o = json_object();
	char err[256];
	ck_assert_int_eq(cli_kv_add(o, "--param", "k\xff=1", false, err,
	                            sizeof err), -1);
	ck_assert_str_eq(err, "invalid --param key: not valid UTF-8");
	ck_assert_int_eq(cli_kv_add(o, "--param", "k\xed\xa0\x80=1", false, err,
	                            sizeof err), -1);
	ck_assert_int_eq(cli_kv_add(o, "--param", "k=\xc3(", false, err,
	                            sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not valid UTF-8"));
	ck_assert_uint_eq(json_object_size(o), 0);
	ck_assert_int_eq(cli_kv_add(o, "--param", "caf\xc3\xa9=\xe2\x82\xac", false,
	                            err, sizeof err), 0);
	ck_assert_uint_eq(json_object_size(o), 1);
	json_decref(o);
}
END_TEST

Suite *unit_where_suite(void)
{
	Suite *s = suite_create("unit_where");
	TCase *t = tcase_create("parse");
	tcase_add_test(t, where_accepts_the_grammar);
	tcase_add_test(t, where_refusals_name_the_token);
	tcase_add_test(t, where_limits);
	tcase_add_test(t, metric_and_alias_names);
	tcase_add_test(t, kv_keeps_json_types);
	tcase_add_test(t, kv_refuses_non_utf8);
	suite_add_tcase(s, t);
	return s;
}
