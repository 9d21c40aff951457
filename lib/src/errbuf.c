/*
 * errbuf.c - status texts and the error buffer each handle carries.
 */
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>

const char *ms_version(void) { return MS_VERSION; }

const char *ms_status_str(ms_status st)
{
	switch (st) {
	case MS_OK: return "ok";
	case MS_ERROR: return "error";
	case MS_EINVAL: return "invalid argument";
	case MS_ENOTFOUND: return "not found";
	case MS_EEXISTS: return "already exists";
	case MS_EUNREACHABLE: return "database unreachable";
	case MS_EINTEGRITY: return "integrity check failed";
	case MS_EIO: return "I/O error";
	case MS_ENOMEM: return "out of memory";
	case MS_ETIMEDOUT: return "timed out";
	case MS_ESCHEMA: return "schema version mismatch";
	case MS_EFULL: return "queue and spool full";
	}
	return "unknown status";
}

void ms__err_clear(ms_err *e)
{
	e->msg[0] = '\0';
	e->sqlstate[0] = '\0';
}

ms_status ms__err_set(ms_err *e, ms_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->sqlstate[0] = '\0';
	return st;
}
