/*
 * errbuf.h - the error buffer each handle carries (ms__ names).  Not
 * installed.
 */
#ifndef MS_ERRBUF_H
#define MS_ERRBUF_H

#include "modelstore.h"

typedef struct ms_err {
	char msg[1024];
	char sqlstate[6];
} ms_err;

void ms__err_clear(ms_err *e);
ms_status ms__err_set(ms_err *e, ms_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
