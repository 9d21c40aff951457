/* check_main.c - runs every suite; CK_RUN_SUITE selects one (CTest does). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	const char *only = getenv("CK_RUN_SUITE");
	const char *why;
	bool found = only == NULL;
	int failed;
	for (size_t i = 0; ms_test_suites[i]; i++) {
		Suite *s = ms_test_suites[i]();
		found = found || strcmp(ms_test_suite_names[i], only) == 0;
		srunner_add_suite(sr, s);
	}
	/* A suite that was asked for and is not built must not pass as
	 * "0 checks, 0 failures". */
	if (!found) {
		fprintf(stderr, "no test suite named \"%s\"\n", only);
		srunner_free(sr);
		return EXIT_FAILURE;
	}
	why = mt_suite_skipped(only);
	if (why) {
		printf("SKIPPED: %s needs root (it %s); not run\n", only, why);
		srunner_free(sr);
		return 77; /* CTest SKIP_RETURN_CODE */
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
