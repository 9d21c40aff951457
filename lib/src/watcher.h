/*
 * watcher.h - the loader's hot-reload thread (ms__ names).  Not
 * installed.
 */
#ifndef MS_WATCHER_H
#define MS_WATCHER_H

#include "errbuf.h"

#include <stdint.h>

/* Make the wake pipe and start the thread (l->watch says how it
 * watches); sets l->watching.  MS_ERROR, with @p e set, when either
 * cannot be made. */
ms_status ms__watcher_start(ms_loader *l, ms_err *e);

/* Stop and join the thread if one runs; close the wake pipe. */
void ms__watcher_stop(ms_loader *l);

/* A caller's load of a production model began when l->notify_seq was
 * @p seq.  A promotion notified since may have been skipped by the
 * watcher (the name was not tracked yet): have it re-check. */
void ms__watcher_resync_since(ms_loader *l, uint64_t seq);

#endif
