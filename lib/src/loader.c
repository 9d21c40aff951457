/* loader.c - placeholder until the loader lands (issue 3). */
#include "internal.h"
#include <string.h>
ms_status ms_loader_options_init(ms_loader_options *o, unsigned int v)
{ ms_loader_options d = MS_LOADER_OPTIONS_INIT; if (!o || v != MS_LOADER_OPTIONS_VERSION) return MS_EINVAL; *o = d; return MS_OK; }
ms_status ms_loader_open(ms_loader **out, const char *c, const ms_loader_options *o) { (void)c; (void)o; if (out) *out = NULL; return MS_ERROR; }
ms_status ms_loader_get(ms_loader *l, ms_model **out, const char *n, const char *s) { (void)l; (void)n; (void)s; if (out) *out = NULL; return MS_ERROR; }
ms_status ms_loader_preload(ms_loader *l, size_t *n) { (void)l; if (n) *n = 0; return MS_ERROR; }
void ms_loader_stats_get(ms_loader *l, ms_loader_stats *o) { (void)l; memset(o, 0, sizeof *o); }
ms_status ms_loader_last_error(ms_loader *l, ms_buf *o) { (void)l; return ms__buf_set(o, "", 0); }
void ms_loader_close(ms_loader *l) { (void)l; }
const char *ms_source_str(ms_source s) { return s == MS_SOURCE_DATABASE ? "database" : s == MS_SOURCE_CACHE ? "cache" : "fallback"; }
