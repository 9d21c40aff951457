/*
 * names.c - model names, versions and selectors: the one alphabet they
 * share (they become directory names in the fallback tree).
 */
#include "names.h"

#include <string.h>

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

/* Words an alias may not be: the selectors, and "previous", kept for a
 * selector to come.  The table model_aliases has the same list. */
static bool reserved_alias(const char *s)
{
	return ms__is_selector_word(s) || strcmp(s, "previous") == 0;
}

ms_status ms_alias_check(const char *alias)
{
	if (!ident_ok(alias, MS_ALIAS_MAX) || reserved_alias(alias))
		return MS_EINVAL;
	return MS_OK;
}

ms_status ms_metric_name_check(const char *m)
{
	size_t i;
	if (m == NULL || !((m[0] >= 'a' && m[0] <= 'z') ||
	                   (m[0] >= 'A' && m[0] <= 'Z') || m[0] == '_'))
		return MS_EINVAL;
	for (i = 0; m[i]; i++) {
		unsigned char c = (unsigned char)m[i];
		if (i >= MS_METRIC_MAX)
			return MS_EINVAL;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
		      c == '/'))
			return MS_EINVAL;
	}
	return MS_OK;
}

bool ms__is_alias_selector(const char *s)
{
	return s != NULL && s[0] == '@';
}

ms_status ms__alias_arg(ms_err *e, const char *alias)
{
	if (alias != NULL && reserved_alias(alias))
		return ms__err_set(e, MS_EINVAL,
		                   "invalid alias: \"%s\" is a reserved word "
		                   "(production, latest, previous)", alias);
	if (ms_alias_check(alias) == MS_OK)
		return MS_OK;
	return ms__err_set(e, MS_EINVAL,
	                   "invalid alias: \"%.*s\" (use 1-%d of A-Z a-z 0-9 . _ "
	                   "-, not starting with . or -)", MS_ALIAS_MAX + 8,
	                   alias ? alias : "", MS_ALIAS_MAX);
}

ms_status ms_name_check(const char *name)
{
	return ident_ok(name, MS_NAME_MAX) ? MS_OK : MS_EINVAL;
}

ms_status ms_model_version_check(const char *v)
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
	if (ms__is_alias_selector(selector))
		return ms__alias_arg(e, selector + 1);
	if (ms__is_selector_word(selector) ||
	    ms_model_version_check(selector) == MS_OK)
		return MS_OK;
	return ms__err_set(e, MS_EINVAL,
	                   "invalid version: \"%.*s\" (use 1-%d of A-Z a-z 0-9 "
	                   ". _ -, or production, latest, @ALIAS)", MS_VERSION_MAX + 8,
	                   selector, MS_VERSION_MAX);
}
