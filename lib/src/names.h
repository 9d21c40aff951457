/*
 * names.h - checks of model names, versions and selectors (ms__ names).
 * Not installed.
 */
#ifndef MS_NAMES_H
#define MS_NAMES_H

#include "errbuf.h"

#include <stdbool.h>

bool ms__is_selector_word(const char *s);
/* MS_OK, or MS_EINVAL with one message shape naming the value and the
 * allowed alphabet.  @what: "model name", "artifact name". */
ms_status ms__name_arg(ms_err *e, const char *what, const char *name);
/* true when @p s is an alias selector, "@ALIAS". */
bool ms__is_alias_selector(const char *s);
/* MS_OK, or MS_EINVAL naming the alias (and why: reserved word or
 * alphabet). */
ms_status ms__alias_arg(ms_err *e, const char *alias);
/* A version, "production", "latest" or "@ALIAS". */
ms_status ms__selector_arg(ms_err *e, const char *selector);

#endif
