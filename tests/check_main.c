/* check_main.c - runs every suite; CK_RUN_SUITE selects one (CTest does). */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;
	for (size_t i = 0; ms_test_suites[i]; i++)
		srunner_add_suite(sr, ms_test_suites[i]());
	{
		const char *only = getenv("CK_RUN_SUITE");
		const char *why = mt_suite_skipped(only);
		if (why) {
			printf("SKIPPED: %s needs root (it %s); not run\n", only, why);
			srunner_free(sr);
			return 77; /* CTest SKIP_RETURN_CODE */
		}
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
