/*
 * fallback.c - the fallback tree on disk: its paths and the atomic writer
 * (the sidecar format is sidecar.c's, the reader fallback_read.c's).
 *
 * Layout under the fallback directory D:
 *   D/production/model.bin, D/production/model.json     (model "default")
 *   D/production/<name>/model.bin, .../model.json        (other names)
 *   D/model.bin                                          (last resort)
 *
 * Writes are atomic: a temp file opened with O_CREAT|O_EXCL|O_NOFOLLOW in
 * the target's directory, fsync, rename over the target, fsync of the
 * directory.  A crash leaves either the old file or the new one, plus at
 * worst a stray ".tmp" file that the next writer ignores.
 */
#define _GNU_SOURCE
#include "fallback.h"

#include "alloc.h"
#include "errbuf.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool ms__fallback_path(char *out, size_t n, const char *dir,
                       const char *model_name, const char *file)
{
	int r;
	if (model_name == NULL || strcmp(model_name, MS_DEFAULT_NAME) == 0)
		r = snprintf(out, n, "%s/production/%s", dir, file);
	else
		r = snprintf(out, n, "%s/production/%s/%s", dir, model_name, file);
	return r > 0 && (size_t)r < n;
}

bool ms__dir_of(char *out, size_t n, const char *path)
{
	const char *slash = strrchr(path, '/');
	int r;
	if (slash == NULL)
		r = snprintf(out, n, ".");
	else
		r = snprintf(out, n, "%.*s", (int)(slash - path), path);
	return r > 0 && (size_t)r < n;
}

ms_status ms__mkdirs(ms_err *e, const char *path)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);
	struct stat st;

	if (n == 0 || n >= sizeof buf)
		return ms__err_set(e, MS_EINVAL, "invalid directory: \"%s\"", path);
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return ms__err_set(e, MS_EIO, "mkdir %s: %s", buf,
			                   strerror(errno));
		if (stat(buf, &st) != 0)
			return ms__err_set(e, MS_EIO, "stat %s: %s", buf,
			                   strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return ms__err_set(e, MS_EIO, "%s: not a directory", buf);
		if (i < n)
			buf[i] = '/';
	}
	return MS_OK;
}

struct ms_atomic_file {
	int fd;
	char path[PATH_MAX];
	char tmp[PATH_MAX];
	ms_err *e;
	bool failed;
	bool overwrite;
};

ms_status ms__atomic_open(ms_atomic_file **out, ms_err *e, const char *path,
                          int overwrite)
{
	ms_atomic_file *af;
	struct stat st;
	int tries;

	*out = NULL;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode))
			return ms__err_set(e, MS_EIO,
			                   "%s: is a symbolic link; refusing to write "
			                   "through it", path);
		if (S_ISDIR(st.st_mode))
			return ms__err_set(e, MS_EIO, "%s: is a directory", path);
		if (!overwrite)
			return ms__err_set(e, MS_EEXISTS,
			                   "%s: file exists (use --force to replace it)",
			                   path);
	}
	af = ms__calloc(1, sizeof *af);
	if (af == NULL)
		return ms__err_set(e, MS_ENOMEM, "out of memory");
	af->e = e;
	af->fd = -1;
	af->overwrite = overwrite != 0;
	if ((size_t)snprintf(af->path, sizeof af->path, "%s", path) >=
	    sizeof af->path) {
		ms__free(af);
		return ms__err_set(e, MS_EINVAL, "path too long: \"%.64s...\"", path);
	}
	for (tries = 0; tries < 100 && af->fd < 0; tries++) {
		unsigned r = (unsigned)(ms__now_ns() ^ ((uint64_t)getpid() << 16)) +
		             (unsigned)tries * 7919u;
		if ((size_t)snprintf(af->tmp, sizeof af->tmp, "%s.%08x.tmp", path,
		                     r) >= sizeof af->tmp) {
			ms__free(af);
			return ms__err_set(e, MS_EINVAL, "path too long: \"%.64s...\"",
			                   path);
		}
		af->fd = open(af->tmp,
		              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		              0644);
		if (af->fd < 0 && errno != EEXIST) {
			ms_status st2 = ms__err_set(e, errno == ENOENT ? MS_ENOTFOUND
			                                               : MS_EIO,
			                            "%s: cannot create a file there: %s",
			                            path, strerror(errno));
			ms__free(af);
			return st2;
		}
	}
	if (af->fd < 0) {
		ms__free(af);
		return ms__err_set(e, MS_EIO, "%s: cannot create a temp file", path);
	}
	*out = af;
	return MS_OK;
}

ms_status ms__atomic_write(void *p, const void *data, size_t n)
{
	ms_atomic_file *af = p;
	const char *c = data;
	while (n > 0) {
		ssize_t w = write(af->fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			af->failed = true;
			return ms__err_set(af->e, MS_EIO, "%s: write: %s", af->tmp,
			                   strerror(errno));
		}
		c += w;
		n -= (size_t)w;
	}
	return MS_OK;
}

static ms_status fsync_dir_of(ms_err *e, const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;
	snprintf(dir, sizeof dir, "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ms__err_set(e, MS_EIO, "%s: open directory: %s", dir,
		                   strerror(errno));
	if (fsync(fd) != 0) {
		int err = errno;
		close(fd);
		return ms__err_set(e, MS_EIO, "%s: fsync directory: %s", dir,
		                   strerror(err));
	}
	close(fd);
	return MS_OK;
}

ms_status ms__atomic_commit(ms_atomic_file *af, ms_err *e)
{
	ms_status st = MS_OK;
	if (fsync(af->fd) != 0)
		st = ms__err_set(e, MS_EIO, "%s: fsync: %s", af->tmp, strerror(errno));
	if (close(af->fd) != 0 && st == MS_OK)
		st = ms__err_set(e, MS_EIO, "%s: close: %s", af->tmp, strerror(errno));
	af->fd = -1;
	/* without overwrite, a file that appeared meanwhile is not replaced */
	if (st == MS_OK &&
	    renameat2(AT_FDCWD, af->tmp, AT_FDCWD, af->path,
	              af->overwrite ? 0 : RENAME_NOREPLACE) != 0)
		st = ms__err_set(e, errno == EEXIST ? MS_EEXISTS : MS_EIO,
		                 "%s: rename: %s", af->path, strerror(errno));
	if (st == MS_OK)
		st = fsync_dir_of(e, af->path);
	if (st != MS_OK) {
		ms__atomic_abort(af);
		return st;
	}
	ms__free(af);
	return MS_OK;
}

void ms__atomic_abort(ms_atomic_file *af)
{
	if (af == NULL)
		return;
	if (af->fd >= 0)
		close(af->fd);
	unlink(af->tmp);
	ms__free(af);
}

ms_status ms_file_write_atomic(ms_buf *errmsg_out, const char *path,
                               const void *data, size_t len, int overwrite)
{
	ms_atomic_file *af = NULL;
	ms_status st;
	ms_err e;

	ms__err_clear(&e);
	if (path == NULL || path[0] == '\0' || (data == NULL && len > 0))
		st = ms__err_set(&e, MS_EINVAL, "write file: need a path and data");
	else
		st = ms__atomic_open(&af, &e, path, overwrite);
	if (st == MS_OK)
		st = ms__atomic_write(af, data, len);
	if (st == MS_OK)
		st = ms__atomic_commit(af, &e);
	else
		ms__atomic_abort(af);
	if (st != MS_OK && errmsg_out)
		ms__buf_set(errmsg_out, e.msg, strlen(e.msg));
	return st;
}
