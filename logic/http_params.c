/* http_params.c: gin-compatible query parameters (see http_params.h). */
#include "logic/http_params.h"

#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

int http_parse_integer(const char *text, int64_t min, int64_t max, int64_t *out)
{
    bool negative = false;
    uint64_t magnitude = 0, limit;

    if (*text == '\0') { /* gin: an empty number is 0 */
        if (0 < min || 0 > max)
            return GIM_ERR_INVALID;
        *out = 0;
        return GIM_OK;
    }
    if (*text == '+' || *text == '-')
        negative = *text++ == '-';
    if (*text == '\0')
        return GIM_ERR_INVALID;
    /* |INT64_MIN| = INT64_MAX + 1, written without overflowing */
    limit = negative ? (uint64_t)INT64_MAX + 1u : (uint64_t)INT64_MAX;
    for (; *text != '\0'; text++) {
        unsigned digit;
        if (*text < '0' || *text > '9')
            return GIM_ERR_INVALID;
        digit = (unsigned)(*text - '0');
        if (magnitude > (limit - digit) / 10)
            return GIM_ERR_INVALID;
        magnitude = magnitude * 10 + digit;
    }
    if (negative) {
        int64_t value = magnitude == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)magnitude;
        if (value < min || value > max) /* max < 0 is possible: [-10, -5] refuses "-1" */
            return GIM_ERR_INVALID;
        *out = value;
    } else {
        if ((int64_t)magnitude > max || (int64_t)magnitude < min)
            return GIM_ERR_INVALID;
        *out = (int64_t)magnitude;
    }
    return GIM_OK;
}

void http_quote_value(const char *text, char *out, size_t size)
{
    static const size_t max_input = 64;
    size_t used = 0, index;

    if (size == 0)
        return;
    for (index = 0; text[index] != '\0' && index < max_input; index++) {
        unsigned char byte = (unsigned char)text[index];
        char piece[8];
        size_t length;

        if (byte >= 0x20 && byte < 0x7f) {
            piece[0] = (char)byte;
            piece[1] = '\0';
        } else {
            snprintf(piece, sizeof(piece), "\\x%02x", byte);
        }
        length = strlen(piece);
        if (used + length + 1 > size)
            break;
        memcpy(out + used, piece, length);
        used += length;
    }
    if (text[index] != '\0' && used + 4 <= size) {
        memcpy(out + used, "...", 3);
        used += 3;
    }
    out[used] = '\0';
}

int http_values_add(struct http_values *values, const char *name, const char *key, size_t key_size,
                    const char *value, size_t value_size)
{
    const char **items;

    if (key == NULL || strlen(name) != key_size || memcmp(key, name, key_size) != 0)
        return GIM_OK;
    if (value == NULL)
        value = ""; /* "?keys" without "=": an empty value, as Go */
    else if (memchr(value, '\0', value_size) != NULL)
        return GIM_ERR_INVALID; /* a %00 inside the value */
    /* Bound: values live in the request's memory pool (httpServer memory limit). */
    items = realloc(values->items, (values->count + 1) * sizeof(*items));
    if (items == NULL)
        return GIM_ERR_NO_MEMORY;
    items[values->count++] = value;
    values->items = items;
    return GIM_OK;
}

/* State of one MHD_get_connection_values_n walk. */
struct http_values_walk {
    const char *name;
    struct http_values *values;
    int status;
};

static enum MHD_Result http_values_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                           size_t key_size, const char *value, size_t value_size)
{
    struct http_values_walk *walk = cls;

    (void)kind;
    walk->status = http_values_add(walk->values, walk->name, key, key_size, value, value_size);
    return walk->status == GIM_OK ? MHD_YES : MHD_NO;
}

int http_param_values(const struct http_request *request, const char *name,
                      struct http_values *values, struct http_answer *answer)
{
    struct http_values_walk walk = {name, values, GIM_OK};

    values->items = NULL;
    values->count = 0;
    MHD_get_connection_values_n(request->connection, MHD_GET_ARGUMENT_KIND, http_values_collect,
                                &walk);
    if (walk.status == GIM_ERR_INVALID)
        http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR,
                          "%s: contains a NUL byte", name);
    else if (walk.status != GIM_OK)
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "out of memory");
    if (walk.status != GIM_OK)
        http_values_free(values);
    return walk.status;
}

void http_values_free(struct http_values *values)
{
    free(values->items);
    values->items = NULL;
    values->count = 0;
}

int http_values_int32(const struct http_values *values, const char *name, int32_t fallback,
                      int32_t *out, struct http_answer *answer)
{
    int64_t parsed;

    *out = fallback;
    if (values->count == 0)
        return GIM_OK;
    if (http_parse_integer(values->items[0], INT32_MIN, INT32_MAX, &parsed) != GIM_OK) {
        char quoted[300];
        http_quote_value(values->items[0], quoted, sizeof(quoted));
        http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR,
                          "%s: not an int32: \"%s\"", name, quoted);
        return GIM_ERR_INVALID;
    }
    *out = (int32_t)parsed;
    return GIM_OK;
}

int http_values_required_int32(const struct http_values *values, const char *name, int32_t *out,
                               struct http_answer *answer)
{
    int status = http_values_int32(values, name, 0, out, answer);

    if (status == GIM_OK && *out == 0) {
        http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR,
                          "%s: required, non-zero", name);
        return GIM_ERR_INVALID;
    }
    return status;
}

int http_values_int64_list(const struct http_values *values, const char *name, int64_t **out,
                           size_t *count, struct http_answer *answer)
{
    size_t index;

    *out = NULL;
    *count = 0;
    if (values->count == 0)
        return GIM_OK;
    *out = calloc(values->count, sizeof(**out));
    if (*out == NULL) {
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "out of memory");
        return GIM_ERR_NO_MEMORY;
    }
    for (index = 0; index < values->count; index++) {
        if (http_parse_integer(values->items[index], INT64_MIN, INT64_MAX, &(*out)[index]) !=
            GIM_OK) {
            char quoted[300];
            http_quote_value(values->items[index], quoted, sizeof(quoted));
            http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR,
                              "%s: not an int64: \"%s\"", name, quoted);
            free(*out);
            *out = NULL;
            return GIM_ERR_INVALID;
        }
    }
    *count = values->count;
    return GIM_OK;
}

int http_values_string(const struct http_values *values, const char *name, bool required,
                       const char **out, struct http_answer *answer)
{
    *out = values->count > 0 ? values->items[0] : NULL;
    if (required && (*out == NULL || (*out)[0] == '\0')) {
        http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR, "%s: required",
                          name);
        return GIM_ERR_INVALID;
    }
    return GIM_OK;
}

int http_param_int32(const struct http_request *request, const char *name, int32_t fallback,
                     int32_t *out, struct http_answer *answer)
{
    struct http_values values;
    int status = http_param_values(request, name, &values, answer);

    if (status != GIM_OK)
        return status;
    status = http_values_int32(&values, name, fallback, out, answer);
    http_values_free(&values);
    return status;
}

int http_param_int64_list(const struct http_request *request, const char *name, int64_t **out,
                          size_t *count, struct http_answer *answer)
{
    struct http_values values;
    int status = http_param_values(request, name, &values, answer);

    *out = NULL;
    *count = 0;
    if (status != GIM_OK)
        return status;
    status = http_values_int64_list(&values, name, out, count, answer);
    http_values_free(&values);
    return status;
}

int http_param_string(const struct http_request *request, const char *name, bool required,
                      const char **out, struct http_answer *answer)
{
    struct http_values values;
    int status = http_param_values(request, name, &values, answer);

    *out = NULL;
    if (status != GIM_OK)
        return status;
    status = http_values_string(&values, name, required, out, answer);
    http_values_free(&values); /* *out stays valid: it is libmicrohttpd's string */
    return status;
}

int http_param_required_int32(const struct http_request *request, const char *name, int32_t *out,
                              struct http_answer *answer)
{
    struct http_values values;
    int status = http_param_values(request, name, &values, answer);

    if (status != GIM_OK)
        return status;
    status = http_values_required_int32(&values, name, out, answer);
    http_values_free(&values);
    return status;
}
