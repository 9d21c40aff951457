/*
 * log.c - the log callback: the only way the library reports events that
 * no call returns (a lost watch connection, a fallback served, a spool
 * replayed).  The library never writes to its caller's stdout or stderr;
 * with no callback installed, events are dropped.
 *
 * The callback runs under a read lock, so ms_set_log_fn() returns only
 * once no thread is still inside the old callback: after it returns, the
 * old payload may be freed.
 */
#define _GNU_SOURCE
#include "log.h"

#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;
static ms_log_fn log_fn;
static void *log_payload;

void ms_set_log_fn(ms_log_fn fn, void *payload)
{
	pthread_rwlock_wrlock(&log_lock);
	log_fn = fn;
	log_payload = payload;
	pthread_rwlock_unlock(&log_lock);
}

const char *ms_log_level_str(ms_log_level level)
{
	switch (level) {
	case MS_LOG_ERROR: return "error";
	case MS_LOG_WARN: return "warning";
	case MS_LOG_INFO: return "info";
	case MS_LOG_DEBUG: return "debug";
	}
	return "unknown";
}

void ms__log(ms_log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	pthread_rwlock_rdlock(&log_lock);
	if (log_fn != NULL) {
		va_start(ap, fmt);
		vsnprintf(line, sizeof line, fmt, ap);
		va_end(ap);
		ms__fold_lines(line);
		log_fn(log_payload, level, line);
	}
	pthread_rwlock_unlock(&log_lock);
}
