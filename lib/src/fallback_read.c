/*
 * fallback_read.c - the fallback reader: what the loader serves while the
 * database is out.
 *
 * "production" of a name is served from dir/production[/<name>]/, then
 * from dir/ itself: the payload the sidecar model.json names ("file",
 * model.bin when it names none), verified against it: the copy must be of
 * the name (and version) asked for, of the recorded size, and hash to the
 * recorded SHA-256, which a sidecar must record.  A directory without a
 * sidecar serves its model.bin unverified (a hand-placed file).
 */
#define _GNU_SOURCE
#include "fallback.h"

#include "alloc.h"
#include "errbuf.h"
#include "hash.h"
#include "model.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* one candidate, step by step                                         */
/* ------------------------------------------------------------------ */

/* Open @p bin, which must be a regular file; MS_ENOTFOUND when absent. */
static ms_status bin_open(ms_err *e, const char *bin, int *fd,
                          struct stat *sb)
{
	*fd = open(bin, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return ms__err_set(e, MS_ENOTFOUND, "%s: not found", bin);
		return ms__err_set(e, MS_EIO, "%s: %s", bin, strerror(errno));
	}
	if (fstat(*fd, sb) != 0 || !S_ISREG(sb->st_mode)) {
		close(*fd);
		*fd = -1;
		return ms__err_set(e, MS_EIO, "%s: not a regular file", bin);
	}
	return MS_OK;
}

static bool sha256_ok(const char *hex)
{
	size_t i;
	for (i = 0; i < 64; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return false;
	return hex[64] == '\0';
}

/* Check what the sidecar records before reading a byte: another model or
 * version is MS_ENOTFOUND; a malformed hash, or a size other than the
 * file's (@p sb), is MS_EINTEGRITY. */
static ms_status sidecar_admits(ms_err *e, const char *bin, const char *side,
                                const ms_sidecar *sc, const char *name,
                                const char *want_version,
                                const struct stat *sb)
{
	if (sc->name && strcmp(sc->name, name) != 0)
		return ms__err_set(e, MS_ENOTFOUND, "%s holds model \"%s\", "
		                   "not \"%s\"", bin, sc->name, name);
	if (want_version && strcmp(want_version, sc->version) != 0)
		return ms__err_set(e, MS_ENOTFOUND, "%s: holds version \"%s\", "
		                   "not \"%s\"", bin, sc->version, want_version);
	if (sc->json && !sha256_ok(sc->sha256))
		return ms__err_set(e, MS_EINTEGRITY, "%s: %s sha256%s%.70s%s; "
		                   "not served", side, sc->sha256[0] ? "malformed"
		                   : "records no", sc->sha256[0] ? " \"" : "",
		                   sc->sha256, sc->sha256[0] ? "\"" : "");
	if (sc->size >= 0 && (uint64_t)sc->size != (uint64_t)sb->st_size)
		return ms__err_set(e, MS_EINTEGRITY, "%s: size mismatch: sidecar "
		                   "records %lld bytes, file has %lld", bin,
		                   (long long)sc->size, (long long)sb->st_size);
	return MS_OK;
}

/* Read the @p size bytes of @p fd into a new payload (*out), hashing
 * them; @p hex receives the SHA-256. */
static ms_status read_bytes(ms_err *e, int fd, const char *bin,
                            uint64_t size, ms_payload **out, char hex[65])
{
	unsigned char digest[32];
	ms_payload *p = ms__payload_new();
	ms_sha256 *h = ms__sha256_new();
	uint64_t done = 0;
	ms_status st = MS_OK;

	if (p == NULL || h == NULL) {
		st = ms__err_set(e, MS_ENOMEM, "fallback: out of memory");
		goto out;
	}
	p->size = size;
	p->data = ms__bytes_alloc(p->size, &p->map_len);
	if (p->data == NULL) {
		st = ms__err_set(e, MS_ENOMEM, "%s: cannot allocate %llu bytes",
		                 bin, (unsigned long long)p->size);
		goto out;
	}
	while (done < p->size) {
		size_t want = p->size - done < MS__READ_BLOCK
		              ? (size_t)(p->size - done) : MS__READ_BLOCK;
		ssize_t r = read(fd, p->data + done, want);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			st = ms__err_set(e, MS_EIO, "%s: read: %s", bin,
			                 r < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		ms__sha256_update(h, p->data + done, (size_t)r);
		done += (uint64_t)r;
	}
	ms__sha256_final(h, digest);
	ms__hex(hex, digest, 32);
	*out = p;
	p = NULL;
out:
	ms__sha256_free(h);
	ms__payload_release(p);
	return st;
}

/* The bytes must hash to the SHA-256 the sidecar records, if any. */
static ms_status verify(ms_err *e, const char *bin, const ms_sidecar *sc,
                        const char *hex)
{
	if (sc->sha256[0] && strcasecmp(sc->sha256, hex) != 0)
		return ms__err_set(e, MS_EINTEGRITY, "%s: SHA-256 mismatch: "
		                   "sidecar records %s, bytes hash to %s; not "
		                   "served", bin, sc->sha256, hex);
	return MS_OK;
}

/* Label @p p the fallback copy of @p name that @p sc describes. */
static ms_status label(ms_err *e, ms_payload *p, const char *name,
                       const ms_sidecar *sc, const char hex[65])
{
	p->origin = MS_SOURCE_FALLBACK;
	p->verified = sc->sha256[0] != '\0';
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->version, sizeof p->version, "%s", sc->version);
	snprintf(p->type, sizeof p->type, "%s", sc->type);
	memcpy(p->sha256, hex, 65);
	p->metrics = ms__strdup(sc->metrics ? sc->metrics : "{}");
	if (p->metrics == NULL)
		return ms__err_set(e, MS_ENOMEM, "fallback: out of memory");
	return MS_OK;
}

/* Open the payload the sidecar in @p mdir names (@p side: its path),
 * reading the sidecar into @p sc.  A named payload that is gone was
 * usually replaced by a writer meanwhile: the sidecar is read again, a
 * few times, before the copy counts as absent (MS_ENOTFOUND, so the next
 * candidate is tried). */
static ms_status open_pair(ms_err *e, const char *mdir, const char *side,
                           ms_sidecar *sc, char bin[PATH_MAX], int *fd,
                           struct stat *sb)
{
	ms_status st = MS_OK;
	int tries;

	for (tries = 0; tries < 5; tries++) {
		ms__sidecar_dispose(sc);
		if ((st = ms__sidecar_read(e, side, sc)) != MS_OK)
			return st;
		if ((size_t)snprintf(bin, PATH_MAX, "%s/%s", mdir,
		                     sc->file ? sc->file : "model.bin") >= PATH_MAX)
			return ms__err_set(e, MS_EINVAL, "%s: path too long", mdir);
		st = bin_open(e, bin, fd, sb);
		if (st != MS_ENOTFOUND || sc->file == NULL)
			return st;
	}
	return ms__err_set(e, MS_ENOTFOUND, "%s names %s, which is missing",
	                   side, bin);
}

/* Load the fallback copy in @p mdir.  MS_ENOTFOUND when there is none or
 * it belongs to another model (or version, with @p want_version). */
static ms_status fallback_try(ms_err *e, const char *mdir, const char *name,
                              const char *want_version, ms_payload **out)
{
	char side[PATH_MAX], bin[PATH_MAX], hex[65];
	ms_sidecar sc;
	struct stat sb;
	ms_payload *p = NULL;
	ms_status st;
	int fd = -1;

	*out = NULL;
	memset(&sc, 0, sizeof sc);
	if (!ms__sidecar_path(side, sizeof side, mdir))
		return ms__err_set(e, MS_EINVAL, "%s: path too long", mdir);
	st = open_pair(e, mdir, side, &sc, bin, &fd, &sb);
	if (st == MS_OK)
		st = sidecar_admits(e, bin, side, &sc, name, want_version, &sb);
	if (st == MS_OK)
		st = read_bytes(e, fd, bin, (uint64_t)sb.st_size, &p, hex);
	if (st == MS_OK)
		st = verify(e, bin, &sc, hex);
	if (st == MS_OK)
		st = label(e, p, name, &sc, hex);
	if (st == MS_OK) {
		*out = p;
		p = NULL;
	}
	if (fd >= 0)
		close(fd);
	ms__sidecar_dispose(&sc);
	ms__payload_release(p);
	return st;
}

/* ------------------------------------------------------------------ */
/* the chain, and what it holds                                        */
/* ------------------------------------------------------------------ */

ms_status ms__fallback_load(ms_err *e, const char *dir, const char *name,
                            const char *want_version, const char *why,
                            ms_payload **out)
{
	char paths[2][PATH_MAX], side[PATH_MAX];
	ms_err e1, e2;
	ms_status st;

	ms__err_clear(&e1);
	ms__err_clear(&e2);
	if (!ms__fallback_name_ok(name))
		return ms__err_set(e, MS_EUNREACHABLE, "%s; no fallback: a model "
		                   "named \"%s\" cannot have a fallback copy (the "
		                   "name is one of the fallback files)", why, name);
	if (!ms__fallback_path(side, sizeof side, dir, name, "model.json") ||
	    !ms__dir_of(paths[0], sizeof paths[0], side) ||
	    (size_t)snprintf(paths[1], sizeof paths[1], "%s", dir) >=
	    sizeof paths[1])
		return ms__err_set(e, MS_EINVAL, "fallback: path too long");
	st = fallback_try(&e1, paths[0], name, want_version, out);
	if (st == MS_ENOTFOUND)
		st = fallback_try(&e2, paths[1], name, want_version, out);
	if (st == MS_OK)
		return MS_OK;
	if (st == MS_ENOTFOUND)
		return ms__err_set(e, MS_EUNREACHABLE, "%s; no fallback: %s; %s",
		                   why, e1.msg, e2.msg);
	return ms__err_set(e, st, "%s; fallback refused: %s", why,
	                   e2.msg[0] ? e2.msg : e1.msg);
}

/* Is there a copy (a sidecar or a model.bin) in @p dir@p sub? */
static bool has_copy(const char *dir, const char *sub)
{
	char path[PATH_MAX];
	struct stat sb;
	return ((size_t)snprintf(path, sizeof path, "%s%s/model.json", dir,
	                         sub) < sizeof path && stat(path, &sb) == 0) ||
	       ((size_t)snprintf(path, sizeof path, "%s%s/model.bin", dir,
	                         sub) < sizeof path && stat(path, &sb) == 0);
}

size_t ms__fallback_names(const char *dir, char ***out)
{
	char path[PATH_MAX];
	char **names = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	*out = NULL;
	if (has_copy(dir, "/production") || has_copy(dir, "")) {
		names = ms__calloc(1, sizeof *names);
		if (names && (names[0] = ms__strdup(MS_DEFAULT_NAME)) != NULL)
			n = 1;
	}
	snprintf(path, sizeof path, "%s/production", dir);
	d = opendir(path);
	while (d && (de = readdir(d)) != NULL) {
		char **q;
		if (ms_name_check(de->d_name) != MS_OK ||
		    !ms__fallback_name_ok(de->d_name) ||
		    strcmp(de->d_name, MS_DEFAULT_NAME) == 0)
			continue;
		if ((size_t)snprintf(path, sizeof path, "/production/%s",
		                     de->d_name) >= sizeof path ||
		    !has_copy(dir, path))
			continue;
		q = ms__realloc(names, (n + 1) * sizeof *names);
		if (q == NULL)
			break;
		names = q;
		if ((names[n] = ms__strdup(de->d_name)) != NULL)
			n++;
	}
	if (d)
		closedir(d);
	*out = names;
	return n;
}
