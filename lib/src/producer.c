/*
 * producer.c - reading an artifact source for a push: a file with
 * read(2), or memory; hashing what is read; deflating when asked; and
 * handing back stored chunks, noticing the last one so that a small
 * source can be stored inline.
 */
#define _GNU_SOURCE
#include "producer.h"

#include "alloc.h"
#include "errbuf.h"
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define PRODUCER_INBUF (256 << 10)

/* Fill @buf with up to @want source bytes, hashing and counting them and
 * reporting progress; fewer than @want means the source has ended. */
static ms_status read_in(ms_producer *p, ms_err *e, unsigned char *buf,
                         size_t want, size_t *got)
{
	*got = 0;
	if (p->mem) {
		uint64_t left = p->mem_size - p->mem_off;
		size_t n = want < left ? want : (size_t)left;
		memcpy(buf, p->mem + p->mem_off, n);
		p->mem_off += n;
		*got = n;
	} else {
		while (*got < want) {
			ssize_t r = read(p->fd, buf + *got, want - *got);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				return ms__err_set(e, MS_EIO, "%s: read: %s", p->label,
				                   strerror(errno));
			}
			if (r == 0)
				break;
			*got += (size_t)r;
		}
	}
	if (*got < want)
		p->eof = true;
	if (!p->defer_hash)
		ms__sha256_update(p->hash, buf, *got);
	p->in_bytes += *got;
	if (p->progress)
		p->progress(p->progress_payload, p->base_done + p->in_bytes,
		            p->grand_total);
	return MS_OK;
}

ms_status ms__producer_next(ms_producer *p, ms_err *e, unsigned char *chunk,
                            size_t cap, const unsigned char **out,
                            size_t *len, bool *last)
{
	ms_status st;
	*len = 0;
	*out = chunk;
	if (!p->compress && p->mem) {
		uint64_t left = p->mem_size - p->mem_off;
		*len = cap < left ? cap : (size_t)left;
		*out = p->mem + p->mem_off;
		if (!p->defer_hash)
			ms__sha256_update(p->hash, *out, *len);
		p->mem_off += *len;
		p->in_bytes += *len;
		p->out_bytes += *len;
		*last = p->eof = p->mem_off == p->mem_size;
		if (p->progress)
			p->progress(p->progress_payload, p->base_done + p->in_bytes,
			            p->grand_total);
		return MS_OK;
	}
	if (!p->compress) {
		st = read_in(p, e, chunk, cap, len);
		if (st != MS_OK)
			return st;
		if (!p->eof && p->total == p->in_bytes) {
			/* a regular file that ends exactly at a chunk boundary:
			 * peek so that we know this is the last chunk */
			unsigned char b;
			ssize_t r;
			do
				r = read(p->fd, &b, 1);
			while (r < 0 && errno == EINTR);
			if (r == 0)
				p->eof = true;
			else if (r > 0)
				return ms__err_set(e, MS_EIO,
				                   "%s: file grew while being read",
				                   p->label);
		}
		p->out_bytes += *len;
		*last = p->eof;
		return MS_OK;
	}
	p->z.next_out = chunk;
	p->z.avail_out = (uInt)cap;
	while (p->z.avail_out > 0 && !p->z_done) {
		int zr;
		if (p->z.avail_in == 0 && !p->eof) {
			size_t got;
			st = read_in(p, e, p->inbuf, PRODUCER_INBUF, &got);
			if (st != MS_OK)
				return st;
			p->z.next_in = p->inbuf;
			p->z.avail_in = (uInt)got;
		}
		zr = deflate(&p->z, p->eof && p->z.avail_in == 0 ? Z_FINISH
		                                                 : Z_NO_FLUSH);
		if (zr == Z_STREAM_END)
			p->z_done = true;
		else if (zr != Z_OK && zr != Z_BUF_ERROR)
			return ms__err_set(e, MS_ERROR, "%s: deflate failed",
			                   p->label);
	}
	*len = cap - p->z.avail_out;
	p->out_bytes += *len;
	*last = p->z_done;
	return MS_OK;
}

ms_status ms__producer_open(ms_producer *p, ms_err *e,
                            const ms_artifact_source *src, int level)
{
	memset(p, 0, sizeof *p);
	p->fd = -1;
	if (src->path) {
		struct stat st;
		p->label = src->path;
		p->fd = open(src->path, O_RDONLY | O_CLOEXEC);
		if (p->fd < 0)
			return ms__err_set(e, errno == ENOENT ? MS_ENOTFOUND : MS_EIO,
			                   "%s: cannot open: %s", src->path,
			                   strerror(errno));
		if (fstat(p->fd, &st) != 0 || S_ISDIR(st.st_mode)) {
			close(p->fd);
			p->fd = -1;
			return ms__err_set(e, MS_EINVAL, "%s: is a directory, not a "
			                   "model file", src->path);
		}
		p->total = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
		posix_fadvise(p->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	} else {
		if (src->data == NULL && src->size > 0)
			return ms__err_set(e, MS_EINVAL, "artifact %s: no data",
			                   src->name ? src->name : MS_PRIMARY_ARTIFACT);
		p->label = src->name ? src->name : MS_PRIMARY_ARTIFACT;
		p->mem = src->data ? src->data : (const unsigned char *)"";
		p->mem_size = p->total = src->size;
	}
	p->hash = ms__sha256_new();
	if (p->hash == NULL)
		return ms__err_set(e, MS_ENOMEM, "out of memory");
	if (level > 0) {
		p->compress = true;
		p->inbuf = ms__malloc(PRODUCER_INBUF);
		if (p->inbuf == NULL || deflateInit(&p->z, level) != Z_OK)
			return ms__err_set(e, MS_ENOMEM, "out of memory");
		p->z_init = true;
	}
	return MS_OK;
}

void ms__producer_close(ms_producer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	if (p->z_init)
		deflateEnd(&p->z);
	ms__free(p->inbuf);
	ms__sha256_free(p->hash);
}
