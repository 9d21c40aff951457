/* headertest.c - the public header must compile on its own, pedantic. */
#include "modelstore.h"

int ms_headertest_dummy(void);
int ms_headertest_dummy(void)
{
	ms_store_options o = MS_STORE_OPTIONS_INIT;
	ms_loader_options l = MS_LOADER_OPTIONS_INIT;
	ms_predlog_options p = MS_PREDLOG_OPTIONS_INIT;
	ms_push_options po = MS_PUSH_OPTIONS_INIT;
	ms_artifact_info ai = MS_ARTIFACT_INFO_INIT;
	ms_loader_stats ls = MS_LOADER_STATS_INIT;
	ms_predlog_stats ps = MS_PREDLOG_STATS_INIT;
	ms_buf b = MS_BUF_INIT;
	return (int)o.version + (int)l.version + (int)p.version +
	       (int)po.version + (int)ai.version + (int)ls.version +
	       (int)ps.version + (b.ptr == NULL) + MS_AT_LEAST_VERSION(0, 1, 0);
}
