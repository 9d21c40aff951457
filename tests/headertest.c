/* headertest.c - the public header must compile on its own, pedantic. */
#include "modelstore.h"

int ms_headertest_dummy(void);
int ms_headertest_dummy(void)
{
	ms_store_options o = MS_STORE_OPTIONS_INIT;
	ms_loader_options l = MS_LOADER_OPTIONS_INIT;
	ms_predlog_options p = MS_PREDLOG_OPTIONS_INIT;
	return (int)o.version + (int)l.version + (int)p.version + MS_AT_LEAST_VERSION(0, 1, 0);
}
