/*
 * args.h - the KEY=VALUE arguments of --param and --metric, and the
 * JSON object files of --params-file and --metrics-file.  Depends on
 * jansson only, so that tests/fuzz/fuzz_args.c can build it alone.
 */
#ifndef MS_CLI_ARGS_H
#define MS_CLI_ARGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Add KEY=VALUE (@p arg) to the object @p obj.  The key is the text
 * before the first '=': 1-255 bytes of valid UTF-8.  With @p numeric the
 * value must be a finite number (--metric).  Otherwise (--param) a value
 * that is one JSON document keeps its JSON type: 100 an integer, 0.5 a
 * real, [64,32] an array, true/false a boolean, null, {"a":1} an object,
 * "x" a string; anything else is taken as a string of UTF-8
 * ("relu", "2024-01-01").  A repeated key takes the last value.
 * Returns 0, or -1 with a one-line message in @p err naming the option
 * @p opt ("--param") and what is wrong. */
int cli_kv_add(json_t *obj, const char *opt, const char *arg, bool numeric,
               char *err, size_t errn);

/* Read @p path as one JSON object into *@p out (a new reference).  With
 * @p numeric every member must be a finite number.  Returns 0, or -1 with
 * a message naming the file (and the member). */
int cli_json_object_file(json_t **out, const char *opt, const char *path,
                         bool numeric, char *err, size_t errn);

#endif
