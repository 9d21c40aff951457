/*
 * log.h - the library's log events, delivered to the callback installed
 * with ms_set_log_fn() and nowhere else (ms__ names).  Not installed.
 */
#ifndef MS_LOG_H
#define MS_LOG_H

#include "modelstore.h"

/* Format one event and hand it to the installed callback as one line
 * (newlines folded).  Costs a lock and nothing else when no callback is
 * installed.  Thread-safe. */
void ms__log(ms_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
