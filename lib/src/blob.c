/*
 * blob.c - packing and parsing the blob of one logged prediction (layout
 * in blob.h).  The logger packs (ms_predlog_log) and the COPY encoder
 * parses (copy.c), also blobs read back from a spool file written by
 * another process, perhaps on another machine; both directions live here,
 * next to the one layout, so that the writer and the reader of the
 * format cannot drift apart.  Every multi-byte field is read and written
 * in a fixed byte order (endian.h), never in the host's.
 */
#define _DEFAULT_SOURCE /* endian.h: htobe64 and friends */
#include "blob.h"

#include <endian.h>
#include <string.h>

/* Fixed-order loads and stores: one unaligned load or store and a byte
 * swap where the host order differs (endian.h).  @p big: big-endian,
 * else little-endian. */
static uint64_t get_u64(const unsigned char *p, bool big)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return big ? be64toh(v) : le64toh(v);
}

static uint32_t get_u32(const unsigned char *p, bool big)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return big ? be32toh(v) : le32toh(v);
}

static uint32_t get_u16(const unsigned char *p, bool big)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return big ? be16toh(v) : le16toh(v);
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
	if (n == 8) {
		v = htobe64(v);
		memcpy(p, &v, 8);
	} else if (n == 4) {
		uint32_t w = htobe32((uint32_t)v);
		memcpy(p, &w, 4);
	} else {
		uint16_t w = htobe16((uint16_t)v);
		memcpy(p, &w, 2);
	}
}

static void put_f64(unsigned char *p, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	put_be(p, u, 8);
}

static double get_f64(const unsigned char *p, bool big)
{
	uint64_t u = get_u64(p, big);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

void ms__blob_pack(unsigned char *b, const ms_blob *v)
{
	memset(b, 0, MS__BLOB_HDR);
	b[0] = MS__BLOB_FORMAT;
	put_be(b + 2, v->nl, 2);
	put_be(b + 4, v->vl, 2);
	put_be(b + 8, v->fl, 4);
	memcpy(b + 16, v->uuid, 16);
	put_be(b + 32, (uint64_t)v->time_us, 8);
	put_f64(b + 40, v->pred);
	put_f64(b + 48, v->actual);
	put_f64(b + 56, v->conf);
	memcpy(b + MS__BLOB_HDR, v->name, v->nl);
	memcpy(b + MS__BLOB_HDR + v->nl, v->ver, v->vl);
	memcpy(b + MS__BLOB_HDR + v->nl + v->vl, v->feat, v->fl);
}

/* The parse of one byte order; inlined twice, each with a constant
 * @p big, so each copy has plain loads and byte swaps. */
static inline bool parse_order(const unsigned char *b, uint32_t len,
                               ms_blob *v, bool big)
{
	uint32_t nl = get_u16(b + 2, big), vl = get_u16(b + 4, big),
		 fl = get_u32(b + 8, big);
	if (nl == 0 || vl == 0 || fl < 2 ||
	    (uint64_t)MS__BLOB_HDR + nl + vl + fl != len)
		return false;
	v->uuid = b + 16;
	v->time_us = (int64_t)get_u64(b + 32, big);
	v->pred = get_f64(b + 40, big);
	v->actual = get_f64(b + 48, big);
	v->conf = get_f64(b + 56, big);
	v->nl = nl;
	v->vl = vl;
	v->fl = fl;
	v->name = (const char *)b + MS__BLOB_HDR;
	v->ver = v->name + nl;
	v->feat = v->ver + vl;
	return true;
}

bool ms__blob_parse(const unsigned char *b, uint32_t len, ms_blob *v)
{
	if (len < MS__BLOB_HDR)
		return false;
	if (b[0] == MS__BLOB_FORMAT)
		return parse_order(b, len, v, true);
	if (b[0] == 1) /* modelstore 0.1: little-endian (x86-64) */
		return parse_order(b, len, v, false);
	return false;
}
