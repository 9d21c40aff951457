/*
 * fallback_write.c - the writer of a fallback copy: payload and sidecar
 * switched as a pair, for `modelstore export` and the loader's refresh.
 *
 * In the model's directory M (production/ or production/<name>/):
 *   model-<sha256>.bin   the payload, named by the hash of its bytes
 *   model.json           the sidecar; its "file" names the payload
 *   model.bin            a hard link to the payload, for readers that
 *                        open the documented path
 *   .modelstore.lock     flock()ed by the writer that switches the pair
 *
 * The bytes stream into a temp file (no lock held while downloading).
 * Then, under an exclusive flock of the lock file:
 *   1. the temp is fsync'ed and renamed to model-<sha256>.bin;
 *   2. model.json (temp, fsync, rename, fsync of M) names that file:
 *      this rename is the switch;
 *   3. model.bin is re-linked to the payload (link to a temp, rename);
 *   4. payload files the sidecar no longer names are removed.
 * Readers follow the sidecar.  A crash before 2 leaves the old sidecar
 * naming the old payload, which is untouched; a crash after 2 leaves the
 * new pair.  Either verifies.  What a crash leaves (a payload nothing
 * names, temp files) is removed by the next writer.
 */
#define _GNU_SOURCE
#include "fallback.h"

#include "alloc.h"
#include "errbuf.h"
#include "hash.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_FILE ".modelstore.lock"

/* @p dir/@p file into @p out; false if too long. */
static bool join(char out[PATH_MAX], const char *dir, const char *file)
{
	int r = snprintf(out, PATH_MAX, "%s/%s", dir, file);
	return r > 0 && r < PATH_MAX;
}

struct ms_fallback_writer {
	ms_atomic_file *af;
	ms_sha256 *h;
	ms_err *e;
	uint64_t size;
	char dir[PATH_MAX];
};

ms_status ms__fallback_begin(ms_fallback_writer **out, ms_err *e,
                             const char *mdir)
{
	char path[PATH_MAX];
	ms_fallback_writer *w;
	ms_status st;

	*out = NULL;
	if (!join(path, mdir, "model.bin"))
		return ms__err_set(e, MS_EINVAL, "fallback: path too long");
	if ((st = ms__mkdirs(e, mdir)) != MS_OK)
		return st;
	w = ms__calloc(1, sizeof *w);
	if (w == NULL || (w->h = ms__sha256_new()) == NULL) {
		ms__free(w);
		return ms__err_set(e, MS_ENOMEM, "fallback: out of memory");
	}
	w->e = e;
	snprintf(w->dir, sizeof w->dir, "%s", mdir);
	st = ms__atomic_open(&w->af, e, path, MS__AF_TEMP);
	if (st != MS_OK) {
		ms__fallback_abort(w);
		return st;
	}
	*out = w;
	return MS_OK;
}

ms_status ms__fallback_write(void *p, const void *data, size_t n)
{
	ms_fallback_writer *w = p;
	ms__sha256_update(w->h, data, n);
	w->size += n;
	return ms__atomic_write(w->af, data, n);
}

void ms__fallback_abort(ms_fallback_writer *w)
{
	if (w == NULL)
		return;
	ms__atomic_abort(w->af);
	ms__sha256_free(w->h);
	ms__free(w);
}

/* Take the directory's lock; *fd holds it until closed. */
static ms_status lock_dir(ms_err *e, const char *dir, int *fd)
{
	char path[PATH_MAX];

	if (!join(path, dir, LOCK_FILE))
		return ms__err_set(e, MS_EINVAL, "fallback: path too long");
	*fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (*fd < 0)
		return ms__err_set(e, MS_EIO, "%s: %s", path, strerror(errno));
	while (flock(*fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int err = errno;
			close(*fd);
			*fd = -1;
			return ms__err_set(e, MS_EIO, "%s: flock: %s", path,
			                   strerror(err));
		}
	}
	return MS_OK;
}

/* Point model.bin at @p file (both in @p dir): a hard link made under a
 * temp name and renamed over model.bin. */
static ms_status link_compat(ms_err *e, const char *dir, const char *file)
{
	char src[PATH_MAX], bin[PATH_MAX], tmp[PATH_MAX];
	ms_status st = MS_OK;

	if (!join(src, dir, file) || !join(bin, dir, "model.bin") ||
	    !ms__temp_name(tmp, sizeof tmp, bin, (unsigned)ms__now_ns()))
		return ms__err_set(e, MS_EINVAL, "fallback: path too long");
	if (link(src, tmp) != 0)
		return ms__err_set(e, MS_EIO, "%s: link to %s: %s", src, tmp,
		                   strerror(errno));
	if (rename(tmp, bin) != 0) {
		st = ms__err_set(e, MS_EIO, "%s: rename: %s", bin, strerror(errno));
		unlink(tmp);
		return st;
	}
	return ms__fsync_dir_of(e, bin);
}

/* Remove the payload files in @p dir that its sidecar does not name
 * (none when the sidecar cannot be read). */
static void remove_stale_payloads(const char *dir)
{
	char side[PATH_MAX];
	ms_sidecar sc;
	ms_err e;
	DIR *d;
	struct dirent *de;

	ms__err_clear(&e);
	memset(&sc, 0, sizeof sc);
	if (!ms__sidecar_path(side, sizeof side, dir) ||
	    ms__sidecar_read(&e, side, &sc) != MS_OK || sc.file == NULL) {
		ms__sidecar_dispose(&sc);
		return;
	}
	d = opendir(dir);
	while (d && (de = readdir(d)) != NULL) {
		if (ms__payload_name_ok(de->d_name) &&
		    strcmp(de->d_name, "model.bin") != 0 &&
		    strcmp(de->d_name, sc.file) != 0)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
	ms__sidecar_dispose(&sc);
}

/* A test build stops the commit at @p step as if the process died. */
static bool crashed(ms_err *e, ms_status *st, int step)
{
	if (*st != MS_OK || !ms__fault_step(step))
		return false;
	*st = ms__err_set(e, MS_EIO, "fallback: stopped at step %d (test)",
	                  step);
	return true;
}

/* Steps 2 to 4 of the switch, the lock held. */
static ms_status switch_pair(ms_fallback_writer *w, ms_err *e,
                             const ms_artifact_info *rec, const char *file)
{
	ms_status st = MS_OK;

	if (ms__fault_step(MS__FB_STEP_SIDECAR))
		st = ms__err_set(e, MS_EIO, "%s/model.json: write failed (test)",
		                 w->dir);
	else
		st = ms__sidecar_write(e, w->dir, rec, file);
	if (crashed(e, &st, MS__FB_STEP_SWITCHED))
		return st;
	if (st == MS_OK)
		st = link_compat(e, w->dir, file);
	if (crashed(e, &st, MS__FB_STEP_LINKED))
		return st;
	remove_stale_payloads(w->dir);
	return st;
}

ms_status ms__fallback_commit(ms_fallback_writer *w, ms_err *e,
                              const ms_artifact_info *info)
{
	char hex[65], file[80], path[PATH_MAX];
	unsigned char digest[32];
	ms_artifact_info rec = *info;
	ms_status st;
	int lock = -1;

	ms__sha256_final(w->h, digest);
	ms__hex(hex, digest, 32);
	snprintf(file, sizeof file, "model-%s.bin", hex);
	if (info->sha256[0] && strcasecmp(info->sha256, hex) != 0)
		st = ms__err_set(e, MS_EINTEGRITY, "fallback: bytes hash to %s, "
		                 "not the recorded %s", hex, info->sha256);
	else if (!join(path, w->dir, file) || !ms__atomic_retarget(w->af, path))
		st = ms__err_set(e, MS_EINVAL, "fallback: path too long");
	else
		st = lock_dir(e, w->dir, &lock);
	if (st != MS_OK) {
		ms__fallback_abort(w);
		return st;
	}
	st = ms__atomic_commit(w->af, e);
	w->af = NULL;
	memcpy(rec.sha256, hex, sizeof rec.sha256);
	rec.size = (int64_t)w->size;
	if (!crashed(e, &st, MS__FB_STEP_PAYLOAD) && st == MS_OK)
		st = switch_pair(w, e, &rec, file);
	close(lock);
	ms__fallback_abort(w);
	return st;
}

bool ms__fallback_holds(const char *mdir, const char *sha256,
                        const char *version, uint64_t size)
{
	char side[PATH_MAX], bin[PATH_MAX];
	ms_sidecar sc;
	struct stat sb;
	ms_err e;
	bool same;

	ms__err_clear(&e);
	memset(&sc, 0, sizeof sc);
	if (!ms__sidecar_path(side, sizeof side, mdir) ||
	    ms__sidecar_read(&e, side, &sc) != MS_OK || sc.json == NULL ||
	    sc.file == NULL) {
		ms__sidecar_dispose(&sc);
		return false;
	}
	same = strcasecmp(sc.sha256, sha256) == 0 &&
	       strcmp(sc.version, version) == 0 &&
	       join(bin, mdir, sc.file) && stat(bin, &sb) == 0 &&
	       (uint64_t)sb.st_size == size;
	ms__sidecar_dispose(&sc);
	return same;
}
