/*
 * hash.c - SHA-256 (OpenSSL's SHA256_* functions) and hex encoding.
 *
 * Not EVP: in OpenSSL 3 a process's first EVP digest reads openssl.cnf,
 * loads the providers it names and builds OpenSSL's name tables, and an
 * atexit handler frees them again.  That cost a short process 4.4 ms of
 * wall time on the test machine (a 1 MiB digest in a fresh process,
 * medians of 50: 16.3 ms through EVP, 11.7 ms through SHA256_Init, 11.9 ms
 * hashing nothing), about 5% of a 1 MB `modelstore push` or `pull`; and a
 * configuration that cannot be loaded (a provider that is not installed)
 * makes every EVP digest fail, which would refuse every push and pull.
 * SHA256_Init and friends run the same assembly (SHA-NI where the CPU
 * has it: 1.6 GB/s either way here) without providers; OpenSSL 3 marks
 * them deprecated but keeps them.  Built against an OpenSSL configured
 * without the deprecated API, this falls back to EVP.
 * docs/architecture.md, "Hashing".
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "hash.h"

#include "alloc.h"

#include <openssl/opensslconf.h>
#include <string.h>

#ifdef OPENSSL_NO_DEPRECATED_3_0
#include <openssl/evp.h>

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

#else
#include <openssl/sha.h>

struct ms_sha256 {
	SHA256_CTX ctx;
};

ms_sha256 *ms__sha256_new(void)
{
	ms_sha256 *h = ms__malloc(sizeof *h);
	if (h != NULL)
		SHA256_Init(&h->ctx); /* sets the initial state; cannot fail */
	return h;
}

void ms__sha256_update(ms_sha256 *h, const void *data, size_t n)
{
	if (n)
		SHA256_Update(&h->ctx, data, n);
}

void ms__sha256_final(ms_sha256 *h, unsigned char out[32])
{
	SHA256_Final(out, &h->ctx);
}

void ms__sha256_free(ms_sha256 *h)
{
	ms__free(h);
}
#endif

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
