/*
 * store.h - struct ms_store and the helpers shared by the files that
 * implement its operations: store.c (open, close, errors, transactions,
 * argument checks), push.c, promote.c, read.c and actual.c (ms__store_
 * names).  Not installed.
 */
#ifndef MS_STORE_H
#define MS_STORE_H

#include "errbuf.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct ms_store {
	PGconn *conn;
	ms_err err;
	char target[256];
	size_t chunk_size;
	unsigned char *chunk_buf; /* reused by every push: no fresh pages */
	ms_progress_fn progress;  /* ms_store_set_progress: verify, backfill */
	void *progress_payload;
};

/* true when connected, clearing the handle's error; otherwise false with
 * MS_EUNREACHABLE naming the target. */
bool ms__store_usable(ms_store *s);

/* Entry check of every operation: MS_EINVAL for a NULL handle,
 * MS_EUNREACHABLE when not connected. */
#define MS__STORE_REQUIRE_CONN(s)                                       \
	do {                                                            \
		if ((s) == NULL)                                        \
			return MS_EINVAL;                               \
		if (!ms__store_usable(s))                               \
			return MS_EUNREACHABLE;                         \
	} while (0)

/* Transactions; @p what names the operation in messages.  commit rolls
 * back when it fails; rollback is a no-op outside a transaction or on a
 * broken connection. */
ms_status ms__store_begin(ms_store *s, const char *what);
ms_status ms__store_commit(ms_store *s, const char *what);
void ms__store_rollback(ms_store *s);

/* A model name argument: NULL becomes MS_DEFAULT_NAME in *@p name. */
ms_status ms__store_check_name(ms_store *s, const char **name);
/* A concrete version: a valid selector that is not a selector word. */
ms_status ms__store_check_version(ms_store *s, const char *v);

/* promote.c.  Inside an open transaction: the per-model advisory lock
 * that promotions, rollbacks, prunes and alias moves of @p name take. */
ms_status ms__store_lock_model(ms_store *s, const char *name,
                               const char *what);

/* promote.c.  Inside an open transaction: make @p version production of
 * @p name, recording @p action ("promote", "rollback") and @p reason.
 * MS_ENOTFOUND when the version has no primary artifact; a no-op when it
 * is production already. */
ms_status ms__store_promote_tx(ms_store *s, const char *name,
                               const char *version, const char *action,
                               const char *reason);

#endif
