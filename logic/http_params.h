/*
 * http_params.h: goim's query parameters, read as gin's BindQuery does.
 *
 * Parameters come from the URL query only, never from the body. A list
 * parameter is the parameter repeated (?mids=1&mids=2); "1,2" is one value.
 * A scalar takes the first value. An empty value of a number is 0, an
 * absent one the default. Numbers parse strictly as Go's strconv.ParseInt
 * (base 10, optional sign, nothing else, range checked). A failure fills the
 * answer with HTTP 400 and code -400 and a message naming the parameter,
 * e.g. `operation: not an int32: "abc"`.
 *
 * Each http_param_* call is two steps: collect the values libmicrohttpd
 * parsed from the query (http_values_add, once per query pair), then read
 * them (the http_values_* functions). Both steps are pure functions of
 * strings, so tests/fuzz/fuzz_logic_params.c drives them without a server.
 */
#ifndef LOGIC_HTTP_PARAMS_H
#define LOGIC_HTTP_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "logic/http.h"

/* All values of one parameter; the strings point into libmicrohttpd's request memory. */
struct http_values {
    const char **items; /* owned by the struct (free with http_values_free); strings are not */
    size_t count;
};

/*
 * Parses text as a base-10 integer within [min, max] (empty text is 0, as
 * gin). Returns GIM_OK or GIM_ERR_INVALID. A pure function (fuzz target).
 */
int http_parse_integer(const char *text, int64_t min, int64_t max, int64_t *out);

/*
 * Collects every value of parameter name, in order. Returns GIM_OK, or
 * GIM_ERR_INVALID with the answer filled (a value with a NUL byte), or
 * GIM_ERR_NO_MEMORY with the answer filled (-500).
 */
int http_param_values(const struct http_request *request, const char *name,
                      struct http_values *values, struct http_answer *answer);

/* Frees values->items; the strings stay libmicrohttpd's. */
void http_values_free(struct http_values *values);

/*
 * Adds value to values when key (key_size bytes, NULL allowed) is exactly
 * name; other keys are skipped. value is value_size bytes followed by a NUL
 * (as libmicrohttpd hands it over), or NULL for "?name" without "=" (added
 * as ""). value is not copied: it must outlive values. Returns GIM_OK
 * (added or skipped), GIM_ERR_INVALID (a NUL byte inside value, e.g. %00)
 * or GIM_ERR_NO_MEMORY; on failure values is unchanged.
 */
int http_values_add(struct http_values *values, const char *name, const char *key, size_t key_size,
                    const char *value, size_t value_size);

/*
 * Reads values of int32 parameter name: the first value, or fallback when
 * there is none. Returns GIM_OK, or GIM_ERR_INVALID with the answer filled
 * (400, -400, `name: not an int32: "<quoted value>"`).
 */
int http_values_int32(const struct http_values *values, const char *name, int32_t fallback,
                      int32_t *out, struct http_answer *answer);

/*
 * As http_values_int32 without a fallback: absent, empty or 0 is
 * GIM_ERR_INVALID with the answer filled ("name: required, non-zero").
 */
int http_values_required_int32(const struct http_values *values, const char *name, int32_t *out,
                               struct http_answer *answer);

/*
 * Reads every value of int64 list parameter name into *out (malloc'd, the
 * caller frees; NULL when *count is 0), in order, *count = values->count.
 * Returns GIM_OK, or GIM_ERR_INVALID / GIM_ERR_NO_MEMORY with the answer
 * filled, *out NULL and *count 0.
 */
int http_values_int64_list(const struct http_values *values, const char *name, int64_t **out,
                           size_t *count, struct http_answer *answer);

/*
 * Reads string parameter name: *out = the first value (the same pointer as
 * values->items[0], so it lives as long as that string; NULL when there is
 * none). With required, an absent or empty value is GIM_ERR_INVALID with
 * the answer filled ("name: required"). Returns GIM_OK or GIM_ERR_INVALID.
 */
int http_values_string(const struct http_values *values, const char *name, bool required,
                       const char **out, struct http_answer *answer);

/*
 * Reads int32 parameter name (first value; absent: fallback). Returns
 * GIM_OK or GIM_ERR_INVALID / GIM_ERR_NO_MEMORY with the answer filled.
 */
int http_param_int32(const struct http_request *request, const char *name, int32_t fallback,
                     int32_t *out, struct http_answer *answer);

/*
 * Reads every value of int64 list parameter name into *out (malloc'd, the
 * caller frees; NULL when *count is 0). Returns GIM_OK or GIM_ERR_INVALID /
 * GIM_ERR_NO_MEMORY with the answer filled.
 */
int http_param_int64_list(const struct http_request *request, const char *name, int64_t **out,
                          size_t *count, struct http_answer *answer);

/*
 * Reads string parameter name (first value) into *out (points into
 * libmicrohttpd's request memory, valid during the handler; NULL when
 * absent). With required, an absent or empty value is an error ("name:
 * required", as gin's binding:"required"). Returns GIM_OK or
 * GIM_ERR_INVALID / GIM_ERR_NO_MEMORY with the answer filled.
 */
int http_param_string(const struct http_request *request, const char *name, bool required,
                      const char **out, struct http_answer *answer);

/*
 * Reads int32 parameter name that gin's binding:"required" demands: absent,
 * empty or 0 is an error ("name: required, non-zero"). Returns GIM_OK or
 * GIM_ERR_INVALID / GIM_ERR_NO_MEMORY with the answer filled.
 */
int http_param_required_int32(const struct http_request *request, const char *name, int32_t *out,
                              struct http_answer *answer);

/*
 * Writes text as printable ASCII into out[0..size) for an error message:
 * at most 64 input bytes, other bytes as \xNN, a trailing "..." if cut.
 */
void http_quote_value(const char *text, char *out, size_t size);

#endif
