/*
 * go_json.h: JSON text with the bytes Go's encoding/json writes, for the
 * dialects whose clients compare answers byte for byte (gopusher, gusher).
 *
 * jansson builds and dumps the value (compact, members in insertion order);
 * the escapes then follow Go 1.19's encoder: '<' '>' '&' as \u003c \u003e
 * \u0026, U+2028 and U+2029 as \u2028 \u2029, backspace and form feed as
 * \u0008 and \u000c (jansson writes \b and \f). Strings must be valid UTF-8
 * (jansson's json_string refuses anything else).
 */
#ifndef GIM_GO_JSON_H
#define GIM_GO_JSON_H

#include <jansson.h>
#include <stddef.h>

/*
 * The text of value (any JSON value) as Go writes it; flags are extra
 * jansson dump flags (e.g. JSON_SORT_KEYS for a Go map). Returns a malloc'd,
 * NUL-terminated string the caller frees, its length in *length; NULL when
 * out of memory (or value is NULL).
 */
char *gim_go_json_dumps(const json_t *value, size_t flags, size_t *length);

#endif
