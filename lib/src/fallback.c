/*
 * fallback.c - the fallback tree on disk: its paths and the atomic writer
 * (the sidecar format is sidecar.c's, the reader fallback_read.c's).
 *
 * Layout under the fallback directory D (fallback_write.c writes it):
 *   D/production/model.json, model-<sha256>.bin, model.bin   ("default")
 *   D/production/<name>/...                                  (other names)
 *   D/model.bin                                              (last resort)
 *
 * Writes are atomic: a temp file "<target>.<pid>-<hex>.tmp" opened with
 * O_CREAT|O_EXCL|O_NOFOLLOW in the target's directory, fsync, rename over
 * the target, fsync of the directory.  A crash leaves either the old file
 * or the new one, plus at worst the temp file, which the next write into
 * that directory removes once its writer is dead (or an hour old).
 *
 * A target that exists and is a FIFO or a character device is not
 * replaced: the bytes are written into it (no temp, no rename).  Other
 * special files are refused.
 */
#define _GNU_SOURCE
#include "fallback.h"

#include "alloc.h"
#include "errbuf.h"
#include "util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool ms__fallback_name_ok(const char *name)
{
	size_t n;
	if (name == NULL)
		return true;
	n = strlen(name);
	if (strcmp(name, "model.bin") == 0 || strcmp(name, "model.json") == 0)
		return false;
	return !(strncmp(name, "model-", 6) == 0 && n >= 10 &&
	         strcmp(name + n - 4, ".bin") == 0);
}

bool ms__payload_name_ok(const char *file)
{
	size_t i;
	if (strcmp(file, "model.bin") == 0)
		return true;
	if (strlen(file) != 6 + 64 + 4 || strncmp(file, "model-", 6) != 0 ||
	    strcmp(file + 70, ".bin") != 0)
		return false;
	for (i = 6; i < 70; i++)
		if (!isxdigit((unsigned char)file[i]))
			return false;
	return true;
}

bool ms__fallback_path(char *out, size_t n, const char *dir,
                       const char *model_name, const char *file)
{
	int r;
	if (!ms__fallback_name_ok(model_name))
		return false;
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
	char tmp[PATH_MAX];  /* == path when streaming */
	ms_err *e;
	bool failed;
	bool overwrite;
	bool stream;         /* into a FIFO or character device, no rename */
};

bool ms__temp_name(char *out, size_t n, const char *path, unsigned salt)
{
	int r = snprintf(out, n, "%s.%ld-%08x.tmp", path, (long)getpid(), salt);
	return r > 0 && (size_t)r < n;
}

/* Is @p name a temp file of ours ("<target>.<pid>-<8 hex>.tmp", or the
 * older "<target>.<8 hex>.tmp", whose *pid is 0)? */
static bool temp_of_ours(const char *name, long *pid)
{
	size_t n = strlen(name), i;
	const char *hex, *p;

	if (n < 14 || strcmp(name + n - 4, ".tmp") != 0)
		return false;
	hex = name + n - 12;
	for (i = 0; i < 8; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return false;
	*pid = 0;
	if (hex[-1] == '.')
		return true;
	if (hex[-1] != '-')
		return false;
	for (p = hex - 2; p > name && isdigit((unsigned char)*p); p--)
		;
	if (*p != '.' || p == hex - 2)
		return false;
	*pid = strtol(p + 1, NULL, 10);
	return *pid > 0;
}

void ms__sweep_temps(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);

	while (d && (de = readdir(d)) != NULL) {
		struct stat sb;
		long pid;
		bool dead;
		if (!temp_of_ours(de->d_name, &pid) ||
		    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		dead = pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
		if (dead || now - sb.st_mtime > MS__TEMP_STALE_S)
			(void)unlinkat(dirfd(d), de->d_name, 0);
	}
	if (d)
		closedir(d);
}

/* What is at @p path decides how it is written: *stream for a FIFO or a
 * character device (with MS__AF_REPLACE); refusals as documented. */
static ms_status target_check(ms_err *e, const char *path, int mode,
                              bool *stream)
{
	struct stat st;

	*stream = false;
	if (mode == MS__AF_TEMP || lstat(path, &st) != 0)
		return MS_OK;
	if (S_ISLNK(st.st_mode))
		return ms__err_set(e, MS_EIO, "%s: is a symbolic link; refusing to "
		                   "write through it", path);
	if (S_ISDIR(st.st_mode))
		return ms__err_set(e, MS_EIO, "%s: is a directory", path);
	if (mode == MS__AF_KEEP)
		return ms__err_set(e, MS_EEXISTS,
		                   "%s: file exists (use --force to replace it)",
		                   path);
	if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		*stream = true;
		return MS_OK;
	}
	if (!S_ISREG(st.st_mode))
		return ms__err_set(e, MS_EIO, "%s: not a regular file, FIFO or "
		                   "character device; refusing to replace it", path);
	return MS_OK;
}

/* Open the temp file of @p af beside its target. */
static ms_status temp_create(ms_atomic_file *af, ms_err *e)
{
	char dir[PATH_MAX];
	int tries;

	if (!ms__dir_of(dir, sizeof dir, af->path))
		return ms__err_set(e, MS_EINVAL, "path too long: \"%.64s...\"",
		                   af->path);
	ms__sweep_temps(dir);
	for (tries = 0; tries < 100 && af->fd < 0; tries++) {
		unsigned r = (unsigned)ms__now_ns() + (unsigned)tries * 7919u;
		if (!ms__temp_name(af->tmp, sizeof af->tmp, af->path, r))
			return ms__err_set(e, MS_EINVAL, "path too long: "
			                   "\"%.64s...\"", af->path);
		af->fd = open(af->tmp,
		              O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		              0644);
		if (af->fd < 0 && (errno == ENOENT || errno == ENOTDIR))
			return ms__err_set(e, MS_EIO, "%s: cannot create a file there: "
			                   "directory %s does not exist", af->path,
			                   dir);
		if (af->fd < 0 && errno != EEXIST)
			return ms__err_set(e, MS_EIO, "%s: cannot create a file there: "
			                   "%s", af->path, strerror(errno));
	}
	if (af->fd < 0)
		return ms__err_set(e, MS_EIO, "%s: cannot create a temp file",
		                   af->path);
	return MS_OK;
}

ms_status ms__atomic_open(ms_atomic_file **out, ms_err *e, const char *path,
                          int mode)
{
	ms_atomic_file *af;
	ms_status st;
	bool stream;

	*out = NULL;
	if ((st = target_check(e, path, mode, &stream)) != MS_OK)
		return st;
	af = ms__calloc(1, sizeof *af);
	if (af == NULL)
		return ms__err_set(e, MS_ENOMEM, "out of memory");
	af->e = e;
	af->fd = -1;
	af->overwrite = mode != MS__AF_KEEP;
	af->stream = stream;
	if ((size_t)snprintf(af->path, sizeof af->path, "%s", path) >=
	    sizeof af->path) {
		ms__free(af);
		return ms__err_set(e, MS_EINVAL, "path too long: \"%.64s...\"", path);
	}
	if (stream) {
		snprintf(af->tmp, sizeof af->tmp, "%s", path);
		af->fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (af->fd < 0)
			st = ms__err_set(e, MS_EIO, "%s: %s", path, strerror(errno));
	} else {
		st = temp_create(af, e);
	}
	if (st != MS_OK) {
		ms__free(af);
		return st;
	}
	*out = af;
	return MS_OK;
}

bool ms__atomic_retarget(ms_atomic_file *af, const char *path)
{
	int r = snprintf(af->path, sizeof af->path, "%s", path);
	return !af->stream && r > 0 && (size_t)r < sizeof af->path;
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

ms_status ms__fsync_dir_of(ms_err *e, const char *path)
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
	if (af->stream) {
		if (close(af->fd) != 0)
			st = ms__err_set(e, MS_EIO, "%s: close: %s", af->path,
			                 strerror(errno));
		ms__free(af);
		return st;
	}
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
		st = ms__fsync_dir_of(e, af->path);
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
	if (!af->stream)
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
