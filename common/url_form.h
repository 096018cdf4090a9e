/*
 * url_form.h: reading parts of an HTTP request target and of an
 * application/x-www-form-urlencoded body: percent-decoding, one form (or query string) field,
 * one path segment. Used by comet's HTTP routes on its WebSocket listener (comet/websocket.h),
 * where every byte comes from a client: each function is bounded by its output size and refuses
 * a bad escape instead of guessing.
 */
#ifndef GIM_URL_FORM_H
#define GIM_URL_FORM_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Decodes text[0..length) into out[0..size), NUL-terminated: "%XY" (two hex digits) is one
 * byte, and '+' a space when plus_is_space (form and query values; not in paths). Returns the
 * decoded length (>= 0), GIM_ERR_INVALID for a '%' not followed by two hex digits or one that
 * decodes to NUL (a C string could not hold it), or GIM_ERR_TOO_LARGE when the result and its
 * NUL do not fit in size (out is then undefined).
 */
int gim_url_decode(const char *text, size_t length, bool plus_is_space, char *out, size_t size);

/*
 * The first value of field name in form[0..length) ("a=1&b=2", as a query string or a
 * urlencoded body; keys and values decoded with '+' as space, a field without '=' has the
 * value ""), decoded into out[0..size). Fields whose key or value has a bad escape are skipped
 * when looking for name; the value found must decode. Returns GIM_OK, GIM_ERR_NOT_FOUND,
 * GIM_ERR_INVALID (its value has a bad escape) or GIM_ERR_TOO_LARGE (it does not fit out).
 */
int gim_url_form_value(const char *form, size_t length, const char *name, char *out, size_t size);

/*
 * Number of segments of path[0..length) split at '/', ignoring one leading '/': "" and "/" have
 * 0, "a" and "/a" 1, "/a/b" 2, "/a/" 2 (the last one empty).
 */
size_t gim_url_path_segment_count(const char *path, size_t length);

/*
 * The segment at index (0-based, as gim_url_path_segment_count counts them) of path,
 * percent-decoded ('+' stays '+') into out[0..size). Returns GIM_OK, GIM_ERR_NOT_FOUND (no
 * such segment), GIM_ERR_INVALID (bad escape, or an escape decoding to '/' or NUL) or
 * GIM_ERR_TOO_LARGE.
 */
int gim_url_path_segment(const char *path, size_t length, size_t index, char *out, size_t size);

#endif
