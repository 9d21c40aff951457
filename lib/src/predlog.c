/* predlog.c - placeholder until the prediction logger lands (issue 4). */
#include "internal.h"
#include <string.h>
ms_status ms_predlog_options_init(ms_predlog_options *o, unsigned int v)
{ ms_predlog_options d = MS_PREDLOG_OPTIONS_INIT; if (!o || v != MS_PREDLOG_OPTIONS_VERSION) return MS_EINVAL; *o = d; return MS_OK; }
ms_status ms_predlog_open(ms_predlog **out, const char *c, const ms_predlog_options *o) { (void)c; (void)o; if (out) *out = NULL; return MS_ERROR; }
ms_status ms_predlog_log(ms_predlog *l, char id[MS_UUID_STRLEN], const ms_prediction *p) { (void)l; (void)id; (void)p; return MS_ERROR; }
ms_status ms_predlog_flush(ms_predlog *l, unsigned t) { (void)l; (void)t; return MS_ERROR; }
void ms_predlog_stats_get(ms_predlog *l, ms_predlog_stats *o) { (void)l; memset(o, 0, sizeof *o); }
ms_status ms_predlog_last_error(ms_predlog *l, ms_buf *o) { (void)l; return ms__buf_set(o, "", 0); }
ms_status ms_predlog_close(ms_predlog *l) { (void)l; return MS_OK; }
