/* check_main.c - runs every suite; CK_RUN_SUITE selects one (CTest does). */
#include <stdlib.h>

#include "common.h"
#include "suites.h"

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;
	for (size_t i = 0; ms_test_suites[i]; i++)
		srunner_add_suite(sr, ms_test_suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
