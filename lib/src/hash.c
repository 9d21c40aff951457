/*
 * hash.c - SHA-256 (OpenSSL EVP) and hex encoding.
 */
#include "hash.h"

#include "alloc.h"

#include <openssl/evp.h>
#include <string.h>

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

void ms__sha256_warm(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c != NULL)
		(void)EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_MD_CTX_free(c);
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
