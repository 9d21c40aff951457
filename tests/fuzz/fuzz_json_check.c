/* fuzz_json_check.c - libFuzzer harness for the features scanner
 * (ms__features_valid) and the UTF-8 rule (ms__utf8_len).  Built by
 * -DMS_FUZZ=ON with -fsanitize=fuzzer,address,undefined; run it with
 * tests/fuzz/run.sh SECONDS.  Besides "no crash, no out-of-bounds read"
 * (the input sits in a buffer of exactly its size), every call must keep
 * its contract:
 *  - *where is within the input: at most n;
 *  - accepted means *where == n and *why NULL; refused means *why set;
 *  - the verdict does not depend on the output pointers, and is the same
 *    twice;
 *  - ms__utf8_len never claims bytes past the end, and a sequence it
 *    accepts is accepted again when cut out exactly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"

#define REQUIRE(c)                                                    \
	do {                                                              \
		if (!(c)) {                                                   \
			fprintf(stderr, "fuzz_json_check: %s:%d: %s\n", __FILE__, \
			        __LINE__, #c);                                    \
			abort();                                                  \
		}                                                             \
	} while (0)

static void check_utf8(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n && i < 64; i++) {
		size_t k = ms__utf8_len(d + i, d + n);
		REQUIRE(k <= 4 && k <= n - i);
		if (k > 0) {
			uint8_t *copy = malloc(k);
			REQUIRE(copy != NULL);
			memcpy(copy, d + i, k);
			REQUIRE(ms__utf8_len(copy, copy + k) == k);
			free(copy);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	size_t where = (size_t)-1;
	const char *why = "unset";
	bool ok = ms__features_valid(s, size, &where, &why);
	REQUIRE(where <= size);
	if (ok)
		REQUIRE(where == size && why == NULL);
	else
		REQUIRE(why != NULL && why[0] != '\0');
	REQUIRE(ms__features_valid(s, size, NULL, NULL) == ok);
	if (size > 0)
		check_utf8(data, size);
	return 0;
}
