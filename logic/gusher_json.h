/*
 * gusher_json.h: the JSON bytes gusher's master writes, and its `data`
 * coercion, for logic's gusher API (logic/gusher_api.h).
 *
 * gusher v1.13.8 encodes with json-iterator's ConfigCompatibleWithStandardLibrary
 * and decodes `data` into Go's interface{} (JsonCheck): a value that parses
 * as JSON is embedded as that value, anything else as a JSON string. An
 * embedded value is re-serialised, so its bytes are Go's, not the caller's:
 *   - objects: keys sorted bytewise, the last of duplicate keys kept;
 *   - numbers: float64, written as strconv.AppendFloat(v, 'f', -1, 64), or
 *     'e' when |v| < 1e-6 or |v| >= 1e21 (so 1e21 -> 1e+21, 0.0000001 ->
 *     1e-07, 1.0 -> 1, 12345678901234567890 -> 12345678901234567000,
 *     integers past 2^53 rounded); a number out of float64's range (1e400)
 *     makes the text invalid JSON, so it is embedded as a string;
 *   - strings: '"' '\\' \n \r \t escaped, other bytes below 0x20 as \u00XX,
 *     '<' '>' '&' U+2028 U+2029 as \u003c ..., invalid UTF-8 as U+FFFD;
 *   - compact, no trailing newline (json.Marshal).
 * Pure functions of their input (tests/fuzz/fuzz_logic_gusher_json.c).
 */
#ifndef LOGIC_GUSHER_JSON_H
#define LOGIC_GUSHER_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growing byte string; zero-initialise. After a failed append, failed is set and data is NULL. */
struct gusher_text {
    char *data; /* malloc'd, NUL-terminated when not NULL */
    size_t length;
    size_t capacity;
    bool failed; /* out of memory (or past GUSHER_TEXT_MAX) */
};

/* Largest text built (a Kafka record is smaller); past it the text fails. */
#define GUSHER_TEXT_MAX (64u * 1024u * 1024u)

/* Appends bytes[0..length) raw. Returns false (and sets failed) when out of memory. */
bool gusher_text_append(struct gusher_text *text, const void *bytes, size_t length);

/* Appends a NUL-terminated string raw. */
bool gusher_text_append_cstring(struct gusher_text *text, const char *string);

/* Appends a decimal integer. */
bool gusher_text_append_integer(struct gusher_text *text, int64_t value);

/* Appends string[0..length) (any bytes) as a Go-encoded JSON string. */
bool gusher_text_append_string(struct gusher_text *text, const char *string, size_t length);

/* Appends value as Go encodes an interface{} (above); reals and integers alike as float64. */
bool gusher_text_append_value(struct gusher_text *text, const json_t *value);

/* Frees text->data and zeroes text. */
void gusher_text_clear(struct gusher_text *text);

/*
 * Go's float64 in JSON (above) into out[0..size) (size >= 32). Returns the
 * length, or 0 for NaN and infinities (which JSON cannot hold).
 */
size_t gusher_json_format_double(double value, char *out, size_t size);

/*
 * Parses text[0..length) as Go's json.Unmarshal into interface{} does:
 * any JSON value with surrounding whitespace, numbers as reals, NUL
 * characters in strings kept, invalid UTF-8 read as U+FFFD. Returns a new
 * reference (the caller's), or NULL when it is not JSON (or out of memory).
 */
json_t *gusher_json_parse(const char *text, size_t length);

/*
 * gusher's JsonCheck: appends the JSON of data[0..length): its parsed value
 * re-serialised when it parses (gusher_json_parse), else the Go-encoded
 * string of data. Returns false when out of memory.
 */
bool gusher_text_append_coerced(struct gusher_text *text, const char *data, size_t length);

#endif
