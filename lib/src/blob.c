/*
 * blob.c - packing and parsing the blob of one logged prediction (layout
 * in blob.h).  The logger packs (ms_predlog_log) and the COPY encoder
 * parses (copy.c), also blobs read back from a spool file written by
 * another process; both directions live here, next to the one layout, so
 * that the writer and the reader of the format cannot drift apart.
 */
#include "blob.h"

#include <string.h>

void ms__blob_pack(unsigned char *b, const ms_blob *v)
{
	uint16_t u16;
	memset(b, 0, MS__BLOB_HDR);
	b[0] = 1;
	u16 = (uint16_t)v->nl;
	memcpy(b + 2, &u16, 2);
	u16 = (uint16_t)v->vl;
	memcpy(b + 4, &u16, 2);
	memcpy(b + 8, &v->fl, 4);
	memcpy(b + 16, v->uuid, 16);
	memcpy(b + 32, &v->time_us, 8);
	memcpy(b + 40, &v->pred, 8);
	memcpy(b + 48, &v->actual, 8);
	memcpy(b + 56, &v->conf, 8);
	memcpy(b + MS__BLOB_HDR, v->name, v->nl);
	memcpy(b + MS__BLOB_HDR + v->nl, v->ver, v->vl);
	memcpy(b + MS__BLOB_HDR + v->nl + v->vl, v->feat, v->fl);
}

bool ms__blob_parse(const unsigned char *b, uint32_t len, ms_blob *v)
{
	uint16_t nl, vl;
	uint32_t fl;
	if (len < MS__BLOB_HDR || b[0] != 1)
		return false;
	memcpy(&nl, b + 2, 2);
	memcpy(&vl, b + 4, 2);
	memcpy(&fl, b + 8, 4);
	if (nl == 0 || vl == 0 || fl < 2 ||
	    (uint64_t)MS__BLOB_HDR + nl + vl + fl != len)
		return false;
	v->uuid = b + 16;
	memcpy(&v->time_us, b + 32, 8);
	memcpy(&v->pred, b + 40, 8);
	memcpy(&v->actual, b + 48, 8);
	memcpy(&v->conf, b + 56, 8);
	v->nl = nl;
	v->vl = vl;
	v->fl = fl;
	v->name = (const char *)b + MS__BLOB_HDR;
	v->ver = v->name + nl;
	v->feat = v->ver + vl;
	return true;
}
