/*
 * util.c - allocation, errors, names, hashing, small helpers.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ */
/* allocation                                                          */
/* ------------------------------------------------------------------ */

#ifdef MS_FAULT_INJECTION
static _Atomic long fault_countdown;

void ms__fault_alloc_after(long n) { atomic_store(&fault_countdown, n); }

static bool fault_now(void)
{
	long v = atomic_load(&fault_countdown);
	while (v > 0) {
		if (atomic_compare_exchange_weak(&fault_countdown, &v, v - 1))
			return v == 1;
	}
	return false;
}
#else
void ms__fault_alloc_after(long n) { MS_UNUSED(n); }
#define fault_now() false
#endif

void *ms__malloc(size_t n)
{
	if (fault_now())
		return NULL;
	return malloc(n ? n : 1);
}

void *ms__calloc(size_t n, size_t size)
{
	if (fault_now())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *ms__realloc(void *p, size_t n)
{
	if (fault_now())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *ms__strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = ms__malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

void ms__free(void *p) { free(p); }

/* ------------------------------------------------------------------ */
/* status, errors                                                      */
/* ------------------------------------------------------------------ */

const char *ms_version(void) { return MS_VERSION; }

const char *ms_status_str(ms_status st)
{
	switch (st) {
	case MS_OK: return "ok";
	case MS_ERROR: return "error";
	case MS_EINVAL: return "invalid argument";
	case MS_ENOTFOUND: return "not found";
	case MS_EEXISTS: return "already exists";
	case MS_EUNREACHABLE: return "database unreachable";
	case MS_EINTEGRITY: return "integrity check failed";
	case MS_EIO: return "I/O error";
	case MS_ENOMEM: return "out of memory";
	case MS_ETIMEDOUT: return "timed out";
	case MS_ESCHEMA: return "schema version mismatch";
	case MS_EFULL: return "queue and spool full";
	}
	return "unknown status";
}

void ms__err_clear(ms_err *e)
{
	e->msg[0] = '\0';
	e->sqlstate[0] = '\0';
}

ms_status ms__err_set(ms_err *e, ms_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->sqlstate[0] = '\0';
	return st;
}

bool ms__pg_is_unreachable(PGconn *conn, const PGresult *res)
{
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
		return true;
	if (res) {
		const char *ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (ss == NULL || ss[0] == '\0')
			return PQstatus(conn) != CONNECTION_OK;
		/* 08xxx connection exception, 57P01..03 admin/crash shutdown */
		if (strncmp(ss, "08", 2) == 0 || strncmp(ss, "57P0", 4) == 0)
			return true;
	}
	return false;
}

/* Strip the trailing newline libpq puts on messages. */
static void chomp(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		s[--n] = '\0';
}

ms_status ms__err_pg(ms_err *e, PGconn *conn, const PGresult *res,
                     const char *what)
{
	const char *m = res ? PQresultErrorMessage(res) : NULL;
	const char *ss = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	ms_status st = MS_ERROR;
	char target[256];

	if (m == NULL || m[0] == '\0')
		m = conn ? PQerrorMessage(conn) : "no connection";
	if (ms__pg_is_unreachable(conn, res)) {
		st = MS_EUNREACHABLE;
		ms__conn_target(conn, target, sizeof target);
		snprintf(e->msg, sizeof e->msg, "%s: database %s unreachable: %s",
		         what, target, m);
	} else {
		if (ss && strcmp(ss, "23505") == 0)
			st = MS_EEXISTS;
		else if (ss && (strcmp(ss, "22P02") == 0 || strcmp(ss, "22023") == 0 ||
		                strncmp(ss, "22", 2) == 0))
			st = MS_EINVAL;
		else if (ss && (strcmp(ss, "42P01") == 0 || strcmp(ss, "42703") == 0))
			st = MS_ESCHEMA;
		snprintf(e->msg, sizeof e->msg, "%s: %s", what, m);
	}
	chomp(e->msg);
	snprintf(e->sqlstate, sizeof e->sqlstate, "%s", ss ? ss : "");
	return st;
}

/* ------------------------------------------------------------------ */
/* buffers, names                                                      */
/* ------------------------------------------------------------------ */

void ms_buf_dispose(ms_buf *b)
{
	if (b == NULL)
		return;
	ms__free(b->ptr);
	b->ptr = NULL;
	b->size = 0;
}

ms_status ms__buf_set(ms_buf *b, const char *s, size_t n)
{
	char *p;
	if (b == NULL)
		return MS_OK;
	p = ms__malloc(n + 1);
	if (p == NULL)
		return MS_ENOMEM;
	memcpy(p, s, n);
	p[n] = '\0';
	ms__free(b->ptr);
	b->ptr = p;
	b->size = n;
	return MS_OK;
}

static bool ident_ok(const char *s, size_t max)
{
	size_t i;
	if (s == NULL || s[0] == '\0' || s[0] == '.' || s[0] == '-')
		return false;
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i >= max)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

bool ms__is_selector_word(const char *s)
{
	return strcmp(s, "production") == 0 || strcmp(s, "latest") == 0;
}

ms_status ms_name_check(const char *name)
{
	return ident_ok(name, MS_NAME_MAX) ? MS_OK : MS_EINVAL;
}

ms_status ms_version_check(const char *v)
{
	if (!ident_ok(v, MS_VERSION_MAX) || ms__is_selector_word(v))
		return MS_EINVAL;
	return MS_OK;
}

ms_status ms__name_arg(ms_err *e, const char *what, const char *name)
{
	if (ms_name_check(name) == MS_OK)
		return MS_OK;
	return ms__err_set(e, MS_EINVAL,
	                   "invalid %s: \"%.*s\" (use 1-%d of A-Z a-z 0-9 . _ -, "
	                   "not starting with . or -)", what, MS_NAME_MAX + 8,
	                   name ? name : "", MS_NAME_MAX);
}

ms_status ms__selector_arg(ms_err *e, const char *selector)
{
	if (ms__is_selector_word(selector) || ms_version_check(selector) == MS_OK)
		return MS_OK;
	return ms__err_set(e, MS_EINVAL,
	                   "invalid version: \"%.*s\" (use 1-%d of A-Z a-z 0-9 "
	                   ". _ -, or production/latest)", MS_VERSION_MAX + 8,
	                   selector, MS_VERSION_MAX);
}

/* ------------------------------------------------------------------ */
/* hashing                                                             */
/* ------------------------------------------------------------------ */

struct ms_sha256 {
	EVP_MD_CTX *ctx;
};

ms_sha256 *ms__sha256_new(void)
{
	ms_sha256 *h = ms__malloc(sizeof *h);
	if (h == NULL)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(h->ctx);
		ms__free(h);
		return NULL;
	}
	return h;
}

void ms__sha256_update(ms_sha256 *h, const void *data, size_t n)
{
	if (n)
		EVP_DigestUpdate(h->ctx, data, n);
}

void ms__sha256_final(ms_sha256 *h, unsigned char out[32])
{
	unsigned int len = 32;
	EVP_DigestFinal_ex(h->ctx, out, &len);
}

void ms__sha256_free(ms_sha256 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	ms__free(h);
}

void ms__hex(char *out, const unsigned char *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;
	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int ms__hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

bool ms__unhex32(unsigned char out[32], const char *hex)
{
	int i;
	if (hex == NULL || strlen(hex) != 64)
		return false;
	for (i = 0; i < 32; i++) {
		int hi = ms__hexval(hex[2 * i]), lo = ms__hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* JSON, time                                                          */
/* ------------------------------------------------------------------ */

bool ms__json_is_object(const char *text)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
	bool ok = j != NULL && json_is_object(j);
	json_decref(j);
	return ok;
}

uint64_t ms__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ms__wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
