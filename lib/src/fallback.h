/*
 * fallback.h - the fallback tree on disk: paths, the atomic writer, the
 * sidecar (ms__ names).  Not installed.
 */
#ifndef MS_FALLBACK_H
#define MS_FALLBACK_H

#include "errbuf.h"

#include <stdbool.h>
#include <stddef.h>

/* Path of the fallback binary for @p model_name under @p dir:
 * dir/production/model.bin for "default", dir/production/<name>/model.bin
 * otherwise.  Writes into @p out (size n); false if too long. */
bool ms__fallback_path(char *out, size_t n, const char *dir,
                       const char *model_name, const char *file);

/* Atomic file writer: temp file beside the target, O_EXCL|O_NOFOLLOW,
 * fsync, rename, fsync directory. */
typedef struct ms_atomic_file ms_atomic_file;
ms_status ms__atomic_open(ms_atomic_file **out, ms_err *e, const char *path,
                          int overwrite);
ms_status ms__atomic_write(void *af, const void *data, size_t n); /* ms_write_fn */
ms_status ms__atomic_commit(ms_atomic_file *af, ms_err *e);
void ms__atomic_abort(ms_atomic_file *af); /* unlink temp, free; NULL ok */

/* mkdir -p, refusing symlinked components. */
ms_status ms__mkdirs(ms_err *e, const char *path);

/* Write model.json for @p info (with its sha256 and size) beside
 * model.bin in @p dir_of_model, atomically. */
ms_status ms__sidecar_write(ms_err *e, const char *dir_of_model,
                            const ms_artifact_info *info);

#endif
