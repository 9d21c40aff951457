/*
 * args.c - KEY=VALUE arguments and JSON object files (see args.h).
 */
#define _GNU_SOURCE
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Valid UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
static bool utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		for (size_t j = 1; j <= k; j++) {
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += k + 1;
	}
	return true;
}

static bool finite_number(const char *s, double *out)
{
	char *end;
	if (*s == '\0')
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

int cli_kv_add(json_t *obj, const char *opt, const char *arg, bool numeric,
               char *err, size_t errn)
{
	const char *eq = strchr(arg, '=');
	const char *val;
	char key[256];
	size_t klen;
	json_t *v;
	double d;

	if (eq == NULL || eq == arg) {
		snprintf(err, errn, "invalid %s value: expected KEY=VALUE", opt);
		return -1;
	}
	klen = (size_t)(eq - arg);
	if (klen >= sizeof key) {
		snprintf(err, errn, "invalid %s key: longer than %zu bytes", opt,
		         sizeof key - 1);
		return -1;
	}
	memcpy(key, arg, klen);
	key[klen] = '\0';
	if (!utf8_ok((const unsigned char *)key, klen)) {
		snprintf(err, errn, "invalid %s key: not valid UTF-8", opt);
		return -1;
	}
	val = eq + 1;
	if (numeric) {
		if (!finite_number(val, &d)) {
			snprintf(err, errn, "invalid %s value: \"%.300s\" (not a "
			         "number)", opt, arg);
			return -1;
		}
		v = json_real(d);
	} else {
		/* one JSON document keeps its type; anything else is text */
		v = json_loads(val, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
		if (v == NULL) {
			if (!utf8_ok((const unsigned char *)val, strlen(val))) {
				snprintf(err, errn, "invalid %s value for \"%s\": not "
				         "valid UTF-8", opt, key);
				return -1;
			}
			v = json_string(val);
		}
	}
	if (v == NULL || json_object_set_new(obj, key, v) != 0) {
		snprintf(err, errn, "%s: out of memory", opt);
		return -1;
	}
	return 0;
}

int cli_json_object_file(json_t **out, const char *opt, const char *path,
                         bool numeric, char *err, size_t errn)
{
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	const char *k;
	json_t *v;

	*out = NULL;
	if (j == NULL) {
		snprintf(err, errn, "%s %s: line %d: %s", opt, path, je.line,
		         je.text);
		return -1;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		snprintf(err, errn, "%s %s: not a JSON object", opt, path);
		return -1;
	}
	if (numeric) {
		json_object_foreach(j, k, v) {
			if (!json_is_number(v) || !isfinite(json_number_value(v))) {
				snprintf(err, errn, "%s %s: member \"%.200s\" is not a "
				         "number", opt, path, k);
				json_decref(j);
				return -1;
			}
		}
	}
	*out = j;
	return 0;
}
