/* fuzz_args.c - libFuzzer harness for what users type on the command
 * line and the library parses: the --where expression (ms__where_parse,
 * lib/src/where.c) and the KEY=VALUE of --param/--metric (cli_kv_add,
 * cli/args.c).  The input up to its first newline is a where expression,
 * the rest one KEY=VALUE argument.  Besides "no crash, no out-of-bounds
 * read", every call must keep its contract:
 *  - where accepted: 1..16 conditions, each metric a valid metric name,
 *    each value finite and equal to its SQL text read back, each
 *    operator one of the six;
 *  - where refused: no condition, a message naming an offset within the
 *    input, printable ASCII only (the offending token is escaped);
 *  - the same verdict twice;
 *  - kv accepted: the key is in the object and the object dumps as JSON;
 *    with numeric, its value is a finite number; refused: a message, the
 *    object unchanged. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "where.h"

#define REQUIRE(c)                                                    \
	do {                                                              \
		if (!(c)) {                                                   \
			fprintf(stderr, "fuzz_args: %s:%d: %s\n", __FILE__,       \
			        __LINE__, #c);                                    \
			abort();                                                  \
		}                                                             \
	} while (0)

static void check_where(const char *s, size_t len)
{
	ms__where w, w2;
	ms_err e, e2;
	ms_status st = ms__where_parse(&w, &e, s);
	REQUIRE(ms__where_parse(&w2, &e2, s) == st);
	if (st == MS_OK) {
		REQUIRE(w.n <= MS__WHERE_MAX);
		REQUIRE(w.n == w2.n);
		for (size_t i = 0; i < w.n; i++) {
			REQUIRE(ms_metric_name_check(w.c[i].metric) == MS_OK);
			REQUIRE(isfinite(w.c[i].value));
			REQUIRE(strtod(w.c[i].value_text, NULL) == w.c[i].value);
			REQUIRE((unsigned)w.c[i].op <= MS__OP_NE);
			REQUIRE(strlen(ms__where_op_sql(w.c[i].op)) <= 2);
		}
	} else {
		const char *off = strstr(e.msg, "offset ");
		REQUIRE(st == MS_EINVAL);
		REQUIRE(w.n == 0);
		REQUIRE(strcmp(e.msg, e2.msg) == 0);
		REQUIRE(off != NULL);
		REQUIRE(strtoul(off + 7, NULL, 10) <= len);
		for (const char *p = e.msg; *p; p++)
			REQUIRE(*p >= 0x20 && *p < 0x7f);
	}
}

static void check_kv(const char *arg, bool numeric)
{
	json_t *o = json_object();
	char err[512] = "";
	REQUIRE(o != NULL);
	if (cli_kv_add(o, "--param", arg, numeric, err, sizeof err) == 0) {
		const char *eq = strchr(arg, '=');
		char key[256];
		json_t *v;
		char *text;
		REQUIRE(eq != NULL && eq != arg && (size_t)(eq - arg) < sizeof key);
		memcpy(key, arg, (size_t)(eq - arg));
		key[eq - arg] = '\0';
		v = json_object_get(o, key);
		REQUIRE(v != NULL);
		if (numeric)
			REQUIRE(json_is_number(v) && isfinite(json_number_value(v)));
		text = json_dumps(o, JSON_COMPACT);
		REQUIRE(text != NULL);
		free(text);
	} else {
		REQUIRE(err[0] != '\0');
		REQUIRE(json_object_size(o) == 0);
	}
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t a = nl ? (size_t)(nl - data) : size;
	char *where = malloc(a + 1), *kv;
	size_t b = nl ? size - a - 1 : 0;

	REQUIRE(where != NULL);
	memcpy(where, data, a);
	where[a] = '\0';
	check_where(where, strlen(where));
	free(where);
	if (nl) {
		kv = malloc(b + 1);
		REQUIRE(kv != NULL);
		memcpy(kv, nl + 1, b);
		kv[b] = '\0';
		check_kv(kv, false);
		check_kv(kv, true);
		free(kv);
	}
	return 0;
}
