/*
 * spool.c - the prediction logger's on-disk spool (format described in
 * spool.h).
 *
 * Writers append whole batches with one write() and fsync per batch; a
 * failed write is truncated back so a file never holds a half record in
 * the middle.  A crash can still leave a torn last record: the reader
 * drops it and keeps everything before it.  Damage in the middle is
 * skipped by resynchronising on the next record magic whose CRC checks.
 * Files of version 1 and 2 are read; any other version is refused whole.
 */
#define _GNU_SOURCE
#include "spool.h"

#include "alloc.h"
#include "errbuf.h"
#include "fallback.h"
#include "uuid.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define ROTATE_BYTES (64u << 20)

static void put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint32_t rec_crc(const unsigned char *lenfield, const void *payload,
                        uint32_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);
	c = crc32(c, lenfield, 4);
	c = crc32(c, payload, len);
	return (uint32_t)c;
}

void ms__spool_frame(unsigned char *out, const void *payload, uint32_t len)
{
	put_u32(out, MS__SPOOL_REC_MAGIC);
	put_u32(out + 4, len);
	put_u32(out + 8, rec_crc(out + 4, payload, len));
	memcpy(out + MS__SPOOL_REC_HDR, payload, len);
}

/* A complete, checksummed record at @p off?  Returns its total size. */
static size_t rec_at(const unsigned char *d, size_t size, size_t off)
{
	uint32_t len;
	if (size - off < MS__SPOOL_REC_HDR)
		return 0;
	if (get_u32(d + off) != MS__SPOOL_REC_MAGIC)
		return 0;
	len = get_u32(d + off + 4);
	if (len > MS__SPOOL_REC_MAX || size - off - MS__SPOOL_REC_HDR < len)
		return 0;
	if (rec_crc(d + off + 4, d + off + MS__SPOOL_REC_HDR, len) !=
	    get_u32(d + off + 8))
		return 0;
	return MS__SPOOL_REC_HDR + (size_t)len;
}

static ms_status push_rec(ms_spool_rec **recs, size_t *n, size_t *cap,
                          const unsigned char *data, uint32_t len)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		ms_spool_rec *r = ms__realloc(*recs, nc * sizeof *r);
		if (r == NULL)
			return MS_ENOMEM;
		*recs = r;
		*cap = nc;
	}
	(*recs)[*n].data = data;
	(*recs)[*n].len = len;
	(*n)++;
	return MS_OK;
}

ms_status ms__spool_scan(const unsigned char *d, size_t size,
                         ms_spool_rec **recs, size_t *nrecs, size_t *cap,
                         ms_spool_scan *info)
{
	size_t off = MS__SPOOL_MAGIC_LEN;

	memset(info, 0, sizeof *info);
	if (size < MS__SPOOL_MAGIC_LEN || memcmp(d, MS__SPOOL_MAGIC, 6) != 0 ||
	    d[6] <= ' ' || d[6] > '~' || d[7] != '\n') {
		/* an empty file is a file created and never written: fine */
		info->bad_header = size != 0;
		return MS_OK;
	}
	if (d[6] != '1' && d[6] != '0' + MS__SPOOL_VERSION) {
		info->bad_version = (char)d[6];
		return MS_OK;
	}
	info->version = (unsigned)(d[6] - '0');
	while (off < size) {
		size_t k = rec_at(d, size, off);
		if (k) {
			if (push_rec(recs, nrecs, cap, d + off + MS__SPOOL_REC_HDR,
			             (uint32_t)(k - MS__SPOOL_REC_HDR)) != MS_OK)
				return MS_ENOMEM;
			info->records++;
			off += k;
			continue;
		}
		/* Damage: look for the next good record. */
		{
			size_t next = off + 1, found = 0;
			unsigned char m[4];
			put_u32(m, MS__SPOOL_REC_MAGIC);
			while (next + MS__SPOOL_REC_HDR <= size) {
				const unsigned char *p =
					memmem(d + next, size - next, m, 4);
				if (p == NULL)
					break;
				next = (size_t)(p - d);
				if (rec_at(d, size, next)) {
					found = 1;
					break;
				}
				next++;
			}
			if (!found) {
				info->torn = true;
				info->torn_bytes = size - off;
				return MS_OK;
			}
			info->corrupt++;
			info->corrupt_bytes += next - off;
			off = next;
		}
	}
	return MS_OK;
}

/* ------------------------------------------------------------------ */
/* the directory                                                       */
/* ------------------------------------------------------------------ */

struct ms_spool {
	pthread_mutex_t mu;
	char *dir;
	uint64_t max_bytes;
	uint64_t bytes;      /* all pl-*.spool files we know of */
	int fd;              /* active file, -1 when none */
	uint64_t fd_size;
	bool dirty;          /* written since the last fsync */
	bool pending;        /* something to replay */
	bool dir_made;
};

static bool is_spool_name(const char *n)
{
	size_t l = strlen(n);
	return strncmp(n, "pl-", 3) == 0 && l > 9 &&
	       strcmp(n + l - 6, ".spool") == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static ms_status list_names(const char *dir, ms_err *e, char ***out,
                            size_t *count, uint64_t *total)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*count = 0;
	if (total)
		*total = 0;
	if (d == NULL) {
		if (errno == ENOENT)
			return MS_OK;
		return ms__err_set(e, MS_EIO, "spool: cannot open directory "
		                   "\"%s\": %s", dir, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_spool_name(de->d_name))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			char **nn = ms__realloc(names, nc * sizeof *nn);
			if (nn == NULL)
				goto oom;
			names = nn;
			cap = nc;
		}
		names[n] = ms__strdup(de->d_name);
		if (names[n] == NULL)
			goto oom;
		n++;
		if (total) {
			struct stat st;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				*total += (uint64_t)st.st_size;
		}
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_names);
	*out = names;
	*count = n;
	return MS_OK;
oom:
	closedir(d);
	ms__spool_names_free(names, n);
	return ms__err_set(e, MS_ENOMEM, "spool: out of memory");
}

void ms__spool_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ms__free(names[i]);
	ms__free(names);
}

ms_status ms__spool_new(ms_spool **out, ms_err *e, const char *dir,
                        uint64_t max_bytes)
{
	ms_spool *sp;
	char **names;
	size_t n;
	ms_status st;

	*out = NULL;
	sp = ms__calloc(1, sizeof *sp);
	if (sp == NULL)
		return ms__err_set(e, MS_ENOMEM, "spool: out of memory");
	sp->dir = ms__strdup(dir);
	if (sp->dir == NULL) {
		ms__free(sp);
		return ms__err_set(e, MS_ENOMEM, "spool: out of memory");
	}
	sp->fd = -1;
	sp->max_bytes = max_bytes;
	st = list_names(dir, e, &names, &n, &sp->bytes);
	if (st != MS_OK) {
		ms__free(sp->dir);
		ms__free(sp);
		return st;
	}
	sp->pending = n > 0;
	ms__spool_names_free(names, n);
	pthread_mutex_init(&sp->mu, NULL);
	*out = sp;
	return MS_OK;
}

static void close_active(ms_spool *sp)
{
	if (sp->fd >= 0) {
		if (sp->dirty)
			(void)fsync(sp->fd);
		close(sp->fd); /* releases our flock: now replayable */
		sp->fd = -1;
		sp->dirty = false;
	}
}

void ms__spool_free(ms_spool *sp)
{
	if (sp == NULL)
		return;
	close_active(sp);
	pthread_mutex_destroy(&sp->mu);
	ms__free(sp->dir);
	ms__free(sp);
}

static ms_status fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return MS_EIO;
	(void)fsync(fd);
	close(fd);
	return MS_OK;
}

/* Create a new active file: temp name, lock, header, rename. */
static ms_status open_active(ms_spool *sp, ms_err *e)
{
	unsigned char id[16];
	char uuid[MS_UUID_STRLEN];
	char *tmp = NULL, *fin = NULL;
	int fd;
	ms_status st = MS_OK;

	if (!sp->dir_made) {
		st = ms__mkdirs(e, sp->dir);
		if (st != MS_OK)
			return st;
		sp->dir_made = true;
	}
	ms__uuid7(id);
	ms__uuid_format(uuid, id);
	tmp = ms__asprintf("%s/.tmp-%s", sp->dir, uuid);
	fin = ms__asprintf("%s/pl-%s.spool", sp->dir, uuid);
	if (tmp == NULL || fin == NULL) {
		st = ms__err_set(e, MS_ENOMEM, "spool: out of memory");
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC |
	                  O_NOFOLLOW, 0600);
	if (fd < 0) {
		st = ms__err_set(e, MS_EIO, "spool: cannot create \"%s\": %s", tmp,
		                 strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX) != 0 ||
	    write(fd, MS__SPOOL_MAGIC, MS__SPOOL_MAGIC_LEN) != MS__SPOOL_MAGIC_LEN ||
	    rename(tmp, fin) != 0) {
		st = ms__err_set(e, MS_EIO, "spool: cannot create \"%s\": %s", fin,
		                 strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	fsync_dir(sp->dir);
	sp->fd = fd;
	sp->fd_size = MS__SPOOL_MAGIC_LEN;
	sp->bytes += MS__SPOOL_MAGIC_LEN;
	sp->dirty = true;
out:
	ms__free(tmp);
	ms__free(fin);
	return st;
}

ms_status ms__spool_append(ms_spool *sp, ms_err *e, const void *const *recs,
                           const uint32_t *lens, size_t n, bool sync)
{
	size_t total = 0, off = 0, i;
	unsigned char *buf;
	ms_status st = MS_OK;

	for (i = 0; i < n; i++)
		total += MS__SPOOL_REC_HDR + (size_t)lens[i];
	if (total == 0)
		return MS_OK;
	buf = ms__malloc(total);
	if (buf == NULL)
		return ms__err_set(e, MS_ENOMEM, "spool: out of memory");
	for (i = 0; i < n; i++) {
		ms__spool_frame(buf + off, recs[i], lens[i]);
		off += MS__SPOOL_REC_HDR + (size_t)lens[i];
	}

	pthread_mutex_lock(&sp->mu);
	if (sp->bytes + total + MS__SPOOL_MAGIC_LEN > sp->max_bytes) {
		st = ms__err_set(e, MS_EFULL, "spool: \"%s\" is full (%llu of "
		                 "%llu bytes)", sp->dir,
		                 (unsigned long long)sp->bytes,
		                 (unsigned long long)sp->max_bytes);
		goto out;
	}
	if (sp->fd >= 0 && sp->fd_size + total > ROTATE_BYTES)
		close_active(sp);
	if (sp->fd < 0 && (st = open_active(sp, e)) != MS_OK)
		goto out;
	for (off = 0; off < total;) {
		ssize_t w = write(sp->fd, buf + off, total - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			st = ms__err_set(e, MS_EIO, "spool: write to \"%s\" failed: %s",
			                 sp->dir, w < 0 ? strerror(errno) : "short");
			/* never leave half a batch in the middle of a file */
			if (ftruncate(sp->fd, (off_t)sp->fd_size) != 0)
				close_active(sp);
			goto out;
		}
		off += (size_t)w;
	}
	sp->fd_size += total;
	sp->bytes += total;
	sp->pending = true;
	sp->dirty = true;
	if (sync) {
		if (fsync(sp->fd) != 0) {
			st = ms__err_set(e, MS_EIO, "spool: fsync of \"%s\" failed: %s",
			                 sp->dir, strerror(errno));
			goto out;
		}
		sp->dirty = false;
	}
out:
	pthread_mutex_unlock(&sp->mu);
	ms__free(buf);
	return st;
}

ms_status ms__spool_sync(ms_spool *sp, ms_err *e)
{
	ms_status st = MS_OK;
	pthread_mutex_lock(&sp->mu);
	if (sp->fd >= 0 && sp->dirty) {
		if (fsync(sp->fd) != 0)
			st = ms__err_set(e, MS_EIO, "spool: fsync of \"%s\" failed: %s",
			                 sp->dir, strerror(errno));
		else
			sp->dirty = false;
	}
	pthread_mutex_unlock(&sp->mu);
	return st;
}

void ms__spool_rotate(ms_spool *sp)
{
	pthread_mutex_lock(&sp->mu);
	close_active(sp);
	pthread_mutex_unlock(&sp->mu);
}

uint64_t ms__spool_bytes(ms_spool *sp)
{
	uint64_t b;
	pthread_mutex_lock(&sp->mu);
	b = sp->bytes;
	pthread_mutex_unlock(&sp->mu);
	return b;
}

bool ms__spool_pending(ms_spool *sp)
{
	bool p;
	pthread_mutex_lock(&sp->mu);
	p = sp->pending;
	pthread_mutex_unlock(&sp->mu);
	return p;
}

void ms__spool_set_pending(ms_spool *sp, bool pending)
{
	pthread_mutex_lock(&sp->mu);
	sp->pending = pending;
	pthread_mutex_unlock(&sp->mu);
}

ms_status ms__spool_list(ms_spool *sp, ms_err *e, char ***names, size_t *n)
{
	return list_names(sp->dir, e, names, n, NULL);
}

ms_status ms__spool_load(ms_spool *sp, ms_err *e, const char *name,
                         ms_spool_file **out)
{
	ms_spool_file *f;
	struct stat st;
	ms_status rc;
	size_t done = 0;

	*out = NULL;
	f = ms__calloc(1, sizeof *f);
	if (f == NULL)
		return ms__err_set(e, MS_ENOMEM, "spool: out of memory");
	f->fd = -1;
	f->path = ms__asprintf("%s/%s", sp->dir, name);
	if (f->path == NULL) {
		rc = ms__err_set(e, MS_ENOMEM, "spool: out of memory");
		goto fail;
	}
	/* O_NONBLOCK: a FIFO under a spool name must not block the writer;
	 * a symbolic link (ELOOP), a directory, a FIFO or a device is not a
	 * file we wrote: it is reported as "not a spool file" and left where
	 * it is, and the replay goes on with the other files. */
	f->fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (f->fd < 0 && errno == ELOOP) {
		f->info.bad_header = true;
		*out = f;
		return MS_OK;
	}
	if (f->fd < 0) {
		rc = errno == ENOENT ? MS_ENOTFOUND
		     : ms__err_set(e, MS_EIO, "spool: cannot open \"%s\": %s",
		                   f->path, strerror(errno));
		goto fail;
	}
	if (fstat(f->fd, &st) == 0 && !S_ISREG(st.st_mode)) {
		f->info.bad_header = true;
		*out = f;
		return MS_OK;
	}
	if (flock(f->fd, LOCK_EX | LOCK_NB) != 0) {
		rc = MS_EEXISTS; /* a live process owns it */
		goto fail;
	}
	/* It may have been replayed and unlinked between readdir and flock. */
	{
		struct stat st2;
		if (fstat(f->fd, &st) != 0 || stat(f->path, &st2) != 0 ||
		    st.st_ino != st2.st_ino) {
			rc = MS_ENOTFOUND;
			goto fail;
		}
	}
	f->size = (size_t)st.st_size;
	f->data = ms__malloc(f->size ? f->size : 1);
	if (f->data == NULL) {
		rc = ms__err_set(e, MS_ENOMEM, "spool: out of memory");
		goto fail;
	}
	while (done < f->size) {
		ssize_t r = read(f->fd, f->data + done, f->size - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	f->size = done;
	rc = ms__spool_scan(f->data, f->size, &f->recs, &f->nrecs, &f->cap,
	                    &f->info);
	if (rc != MS_OK) {
		ms__err_set(e, rc, "spool: out of memory");
		goto fail;
	}
	*out = f;
	return MS_OK;
fail:
	ms__spool_release(sp, f, false);
	return rc;
}

void ms__spool_release(ms_spool *sp, ms_spool_file *f, bool remove)
{
	if (f == NULL)
		return;
	if (remove && f->path) {
		struct stat st;
		uint64_t sz = fstat(f->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
		if (unlink(f->path) == 0) {
			fsync_dir(sp->dir);
			pthread_mutex_lock(&sp->mu);
			sp->bytes = sp->bytes > sz ? sp->bytes - sz : 0;
			pthread_mutex_unlock(&sp->mu);
		}
	}
	if (f->fd >= 0)
		close(f->fd);
	ms__free(f->path);
	ms__free(f->data);
	ms__free(f->recs);
	ms__free(f);
}
