/* placeholder, filled below */
#include "common.h"
Suite *db_predlog_suite(void) { return suite_create("db_predlog"); }
