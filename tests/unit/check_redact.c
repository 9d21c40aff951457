/* check_redact.c - ms__conninfo_redact and the messages ms__connect
 * builds: the connection strings and messages the fuzzer
 * (tests/fuzz/fuzz_conn_redact.c) found leaking the password, each
 * kept here.  No server: every string fails before a connection is
 * tried, or is refused by 127.0.0.1 port 1. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "conn.h"

/* A message that quotes @p piece the way libpq quotes values, redacted
 * against @p conninfo, must not hold "SECRET". */
static void assert_hidden(const char *conninfo, const char *piece)
{
	char msg[1024];
	snprintf(msg, sizeof msg, "invalid thing: \"%s\" and more", piece);
	ms__conninfo_redact(msg, sizeof msg, conninfo);
	ck_assert_msg(strstr(msg, "SECRET") == NULL, "[%s] quoting [%s]: %s",
	              conninfo, piece, msg);
	ck_assert_msg(strstr(msg, "invalid thing: ") == msg &&
	              strstr(msg, " and more") != NULL, "[%s] lost the words: %s",
	              conninfo, msg);
}

/* The password holds a quote, so a message quoting the whole string
 * has quotes inside quotes. */
START_TEST(quotes_inside_quotes)
{
	static const char *const cases[] = {
		"postgresql://u:\"SECRETPW@[::1:/x",
		"postgres://:\"SECRET\"@[:/",
		"postgresql://x:\"SECRET\"@:/x?service=n",
		"= password=\"SECRET! ",
		"r password=\"SECRET! tsh",
		"CRETXOQ/OQORdR\" password=eSECRETB!!/tf ",
		NULL
	};
	for (int i = 0; cases[i]; i++)
		assert_hidden(cases[i], cases[i]);
}
END_TEST

/* The password as a URI query parameter, not in the user info. */
START_TEST(password_as_query_parameter)
{
	assert_hidden("postgresql://h/x?password=SECRET%zz&a=b", "SECRET%zz");
	assert_hidden("postgresql://u@h/x?sslmode=bogus&password=SECRET",
	              "SECRET");
	assert_hidden("postgresql:///?password=yyySECRETyyy&", "yyySECRETyyy");
	assert_hidden("postgres:///?password=%53%45%43%52%45%54%43&",
	              "%53%45%43%52%45%54%43");
	assert_hidden("postgres:///?password=%53%45%43%52%45%54%43&",
	              "SECRETC");
}
END_TEST

/* libpq ends the user info at the first '@' before a '/': a '?' may be
 * part of the password. */
START_TEST(question_mark_in_password)
{
	assert_hidden("postgresql://:?tfdsfuSECRET?\?!!!!!@[]:/",
	              "?tfdsfuSECRET?\?!!!!");
	/* no '@' and a ':' in the "user": the port is empty before a '?' */
	assert_hidden("postgresql://90u_b6uyql_:???_rus:SECRETL6",
	              "SECRETL6");
}
END_TEST

/* An unencoded '@' in the user name: libpq takes the rest for host and
 * port, and prints the port percent-decoded. */
START_TEST(decoded_password_in_port_message)
{
	const char *conninfo = "postgresql://me@127.0.0.1:%53ECRET@h/db";
	ms_store *s = NULL;
	assert_hidden(conninfo, "SECRET@h");
	ck_assert_int_ne(ms_store_open(&s, conninfo, NULL), MS_OK);
	ck_assert_msg(strstr(ms_store_errmsg(s), "SECRET") == NULL, "leaked: %s",
	              ms_store_errmsg(s));
	ck_assert_msg(strstr(ms_store_errmsg(s), "invalid integer value") != NULL, "%s",
	              ms_store_errmsg(s));
	ms_store_close(s);
}
END_TEST

/* A line break in the string: the message is redacted before its lines
 * are folded, so the quoted text still matches the string. */
START_TEST(line_break_in_string)
{
	const char *conninfo = "postgresql://\n@u:!!!%25!\"!!SECRET@:d/";
	ms_store *s = NULL;
	ck_assert_int_ne(ms_store_open(&s, conninfo, NULL), MS_OK);
	ck_assert_msg(strstr(ms_store_errmsg(s), "SECRET") == NULL, "leaked: %s",
	              ms_store_errmsg(s));
	ck_assert_ptr_null(strchr(ms_store_errmsg(s), '\n'));
	ms_store_close(s);
}
END_TEST

/* More password keys than the redactor keeps spans for: libpq takes the
 * last one, which must still be hidden. */
START_TEST(many_password_keys)
{
	char conninfo[512] = "", piece[64];
	for (int i = 0; i < 12; i++) {
		snprintf(piece, sizeof piece, "password=p%02d ", i);
		strcat(conninfo, piece);
	}
	strcat(conninfo, "password=SECRET sslmode=bogus");
	assert_hidden(conninfo, "SECRET");
}
END_TEST

/* A quote that is never closed (a message cut short, or libpq's text
 * holding a quote): the rest of the message is its text, and is checked
 * like any quoted part; what replaces it is no longer than it. */
START_TEST(unclosed_quote_hidden)
{
	char msg[32] = "x: \"SECRET";
	ms__conninfo_redact(msg, sizeof msg, "host=h password=SECRET");
	ck_assert_msg(strstr(msg, "SECRET") == NULL, "%s", msg);
	ck_assert_str_eq(msg, "x: \"\"");
}
END_TEST

/* What may be shown still is: values that are not the password. */
START_TEST(other_values_still_shown)
{
	char msg[256] = "invalid sslmode value: \"bogus\"";
	ms__conninfo_redact(msg, sizeof msg,
	                    "postgresql://u:SECRET@h/x?sslmode=bogus");
	ck_assert_str_eq(msg, "invalid sslmode value: \"bogus\"");
	snprintf(msg, sizeof msg, "could not translate host name \"h\"");
	ms__conninfo_redact(msg, sizeof msg, "host=h password='SECRET' x=1");
	ck_assert_str_eq(msg, "could not translate host name \"h\"");
}
END_TEST

Suite *unit_redact_suite(void)
{
	Suite *s = suite_create("unit_redact");
	TCase *tc = tcase_create("Core");
	tcase_add_test(tc, quotes_inside_quotes);
	tcase_add_test(tc, password_as_query_parameter);
	tcase_add_test(tc, question_mark_in_password);
	tcase_add_test(tc, decoded_password_in_port_message);
	tcase_add_test(tc, line_break_in_string);
	tcase_add_test(tc, many_password_keys);
	tcase_add_test(tc, unclosed_quote_hidden);
	tcase_add_test(tc, other_values_still_shown);
	suite_add_tcase(s, tc);
	return s;
}
