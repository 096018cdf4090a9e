/*
 * go_json.h: the JSON bytes Go's encoding/json writes, for the dialects whose
 * clients compare answers byte for byte (gopusher, gusher), and gusher's
 * `data` coercion (JsonCheck) for logic's master API and comet's remote.
 *
 * A jansson value stands for a Go value: an object is a Go struct (members
 * in insertion order, the declared order) or, with GIM_GO_JSON_SORT_KEYS, a
 * Go map (keys sorted bytewise); a JSON_INTEGER is an int64 (its decimal
 * digits); a JSON_REAL is a float64. The bytes are:
 *   - numbers: a float64 as strconv.AppendFloat(v, 'f', -1, 64), or 'e'
 *     when |v| < 1e-6 or |v| >= 1e21 (so 1e21 -> 1e+21, 0.0000001 -> 1e-07,
 *     1.0 -> 1, 12345678901234567890 -> 12345678901234567000);
 *   - strings: '"' '\\' \n \r \t escaped, other bytes below 0x20 as
 *     \u00XX (backspace \u0008, form feed \u000c), '<' '>' '&' U+2028
 *     U+2029 as \u003c ..., an invalid UTF-8 byte as the escape \ufffd (one
 *     per byte, as Go's encoder writes it);
 *   - compact, no trailing newline (json.Marshal).
 *
 * gusher v1.13.8 encodes with json-iterator's ConfigCompatibleWithStandardLibrary
 * and decodes `data` into Go's interface{} (JsonCheck): a value that parses
 * as JSON is embedded as that value, anything else as a JSON string. An
 * embedded value is re-serialised, so its bytes are Go's, not the caller's:
 * objects are maps (keys sorted, the last of duplicate keys kept), numbers
 * float64 (integers past 2^53 rounded); a number out of float64's range
 * (1e400) makes the text invalid JSON, so it is embedded as a string.
 * Pure functions of their input (tests/fuzz/fuzz_logic_gusher_json.c).
 */
#ifndef GIM_GO_JSON_H
#define GIM_GO_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/text.h"

/* Flags of gim_go_json_append_value and gim_go_json_dumps. */
#define GIM_GO_JSON_SORT_KEYS 0x1u /* every object is a Go map: members sorted bytewise */

/* Appends string[0..length) (any bytes) as a Go-encoded JSON string. Returns false when out
 * of memory. */
bool gim_go_json_append_string(struct gim_text *text, const char *string, size_t length);

/* Appends value as Go encodes it (above; flags: GIM_GO_JSON_SORT_KEYS or 0). Returns false
 * when out of memory. */
bool gim_go_json_append_value(struct gim_text *text, const json_t *value, unsigned flags);

/*
 * The text of value as Go writes it (flags as gim_go_json_append_value).
 * Returns a malloc'd, NUL-terminated string the caller frees, its length in
 * *length; NULL when out of memory (or value is NULL).
 */
char *gim_go_json_dumps(const json_t *value, unsigned flags, size_t *length);

/*
 * Go's float64 in JSON (above) into out[0..size) (size >= 32), NUL-terminated.
 * Returns the length, or 0 for NaN and infinities (which JSON cannot hold).
 */
size_t gim_go_json_format_double(double value, char *out, size_t size);

/*
 * Parses text[0..length) as Go's json.Unmarshal into interface{} does:
 * any JSON value with surrounding whitespace, numbers as reals, NUL
 * characters in strings kept, invalid UTF-8 read as U+FFFD. Returns a new
 * reference (the caller's), or NULL when it is not JSON (or out of memory).
 */
json_t *gim_go_json_parse(const char *text, size_t length);

/*
 * gusher's JsonCheck: appends the JSON of data[0..length): its parsed value
 * (gim_go_json_parse) re-serialised with sorted keys when it parses, else
 * the Go-encoded string of data. Returns false when out of memory.
 */
bool gim_go_json_append_coerced(struct gim_text *text, const char *data, size_t length);

#endif
