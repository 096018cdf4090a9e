/* go_json.c: Go's JSON bytes and gusher's data coercion (see go_json.h). */
#include "common/go_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

bool gim_go_json_append_string(struct gim_text *text, const char *string, size_t length)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *bytes = (const unsigned char *)string;
    size_t at = 0, plain = 0;

    if (!gim_text_append(text, "\"", 1))
        return false;
    while (at < length) {
        unsigned char c = bytes[at];
        char escape[8];
        size_t escape_length = 0, step = 1;

        if (c >= 0x80) {
            step = gim_utf8_sequence(bytes + at, length - at);
            if (step == 0) {
                memcpy(escape, "\\ufffd", 6); /* an invalid byte: Go writes \ufffd */
                escape_length = 6;
                step = 1;
            } else if (step == 3 && c == 0xe2 && bytes[at + 1] == 0x80 &&
                       (bytes[at + 2] == 0xa8 || bytes[at + 2] == 0xa9)) {
                memcpy(escape, bytes[at + 2] == 0xa8 ? "\\u2028" : "\\u2029", 6);
                escape_length = 6;
            }
        } else if (c == '"' || c == '\\') {
            escape[0] = '\\';
            escape[1] = (char)c;
            escape_length = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            escape[0] = '\\';
            escape[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            escape_length = 2;
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            memcpy(escape, "\\u00", 4);
            escape[4] = hex[c >> 4];
            escape[5] = hex[c & 0xf];
            escape_length = 6;
        }
        if (escape_length == 0) {
            at += step;
            continue;
        }
        if (!gim_text_append(text, string + plain, at - plain) ||
            !gim_text_append(text, escape, escape_length))
            return false;
        at += step;
        plain = at;
    }
    return gim_text_append(text, string + plain, at - plain) && gim_text_append(text, "\"", 1);
}

size_t gim_go_json_format_double(double value, char *out, size_t size)
{
    char scientific[40], digits[24];
    double magnitude = fabs(value);
    size_t digit_count = 0, written = 0, index;
    int precision, exponent;
    const char *at;

    if (!isfinite(value) || size < 32)
        return 0;
    /* The fewest significant digits that read back as value (17 always do). */
    for (precision = 1; precision <= 17; precision++) {
        snprintf(scientific, sizeof(scientific), "%.*e", precision - 1, value);
        if (strtod(scientific, NULL) == value)
            break;
    }
    if (magnitude != 0 && (magnitude < 1e-6 || magnitude >= 1e21)) {
        /* C's %e is Go's 'e': at least two exponent digits, a sign. */
        return (size_t)snprintf(out, size, "%s", scientific);
    }
    at = scientific;
    if (*at == '-')
        at++;
    for (; *at != 'e' && *at != '\0'; at++)
        if (*at >= '0' && *at <= '9')
            digits[digit_count++] = *at;
    exponent = *at == 'e' ? atoi(at + 1) : 0;
    while (digit_count > 1 && digits[digit_count - 1] == '0')
        digit_count--;
    if (signbit(value))
        out[written++] = '-';
    if (magnitude == 0) {
        out[written++] = '0';
    } else if (exponent >= 0) {
        /* |value| < 1e21: at most 21 integer digits */
        for (index = 0; index <= (size_t)exponent; index++)
            out[written++] = index < digit_count ? digits[index] : '0';
        if (digit_count > (size_t)exponent + 1) {
            out[written++] = '.';
            for (; index < digit_count; index++)
                out[written++] = digits[index];
        }
    } else {
        /* |value| >= 1e-6: at most 5 zeros after the point before the digits */
        out[written++] = '0';
        out[written++] = '.';
        for (index = 1; index < (size_t)-exponent; index++)
            out[written++] = '0';
        for (index = 0; index < digit_count; index++)
            out[written++] = digits[index];
    }
    out[written] = '\0';
    return written;
}

/* One member of an object, for sorting. */
struct member {
    const char *key;
    size_t key_length;
    const json_t *value;
};

static int member_compare(const void *left, const void *right)
{
    const struct member *a = left, *b = right;
    size_t shorter = a->key_length < b->key_length ? a->key_length : b->key_length;
    int order = memcmp(a->key, b->key, shorter);

    if (order != 0)
        return order;
    return a->key_length < b->key_length ? -1 : a->key_length > b->key_length;
}

static bool append_object(struct gim_text *text, const json_t *object, unsigned flags)
{
    size_t count = json_object_size(object), index = 0;
    struct member *members;
    const char *key;
    json_t *value;
    bool ok = true;

    if (count == 0)
        return gim_text_append(text, "{}", 2);
    members = calloc(count, sizeof(*members));
    if (members == NULL) {
        gim_text_clear(text);
        text->failed = true;
        return false;
    }
    json_object_foreach((json_t *)object, key, value)
    {
        members[index].key = key;
        members[index].key_length = json_object_iter_key_len(json_object_key_to_iter(key));
        members[index].value = value;
        index++;
    }
    if (flags & GIM_GO_JSON_SORT_KEYS)
        qsort(members, count, sizeof(*members), member_compare);
    ok = gim_text_append(text, "{", 1);
    for (index = 0; ok && index < count; index++) {
        ok = (index == 0 || gim_text_append(text, ",", 1)) &&
             gim_go_json_append_string(text, members[index].key, members[index].key_length) &&
             gim_text_append(text, ":", 1) &&
             gim_go_json_append_value(text, members[index].value, flags);
    }
    free(members);
    return ok && gim_text_append(text, "}", 1);
}

bool gim_go_json_append_value(struct gim_text *text, const json_t *value, unsigned flags)
{
    char number[40];
    size_t index, length;

    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return append_object(text, value, flags);
    case JSON_ARRAY:
        if (!gim_text_append(text, "[", 1))
            return false;
        for (index = 0; index < json_array_size(value); index++)
            if ((index > 0 && !gim_text_append(text, ",", 1)) ||
                !gim_go_json_append_value(text, json_array_get(value, index), flags))
                return false;
        return gim_text_append(text, "]", 1);
    case JSON_STRING:
        return gim_go_json_append_string(text, json_string_value(value), json_string_length(value));
    case JSON_INTEGER:
        return gim_text_append_integer(text, (int64_t)json_integer_value(value));
    case JSON_REAL:
        length = gim_go_json_format_double(json_real_value(value), number, sizeof(number));
        if (length == 0)
            return gim_text_append(text, "null", 4); /* not reached: jansson holds no NaN */
        return gim_text_append(text, number, length);
    case JSON_TRUE:
        return gim_text_append(text, "true", 4);
    case JSON_FALSE:
        return gim_text_append(text, "false", 5);
    case JSON_NULL:
    default:
        return gim_text_append(text, "null", 4);
    }
}

char *gim_go_json_dumps(const json_t *value, unsigned flags, size_t *length)
{
    struct gim_text text = {0};

    if (value == NULL || !gim_go_json_append_value(&text, value, flags)) {
        gim_text_clear(&text);
        return NULL;
    }
    return gim_text_take(&text, length);
}

json_t *gim_go_json_parse(const char *text, size_t length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    struct gim_text clean = {0};
    const char *input = text;
    size_t at = 0, plain = 0;
    json_error_t error;
    json_t *value;

    /* Go reads an invalid UTF-8 byte as U+FFFD (inside a string; elsewhere it is an error
     * either way); jansson refuses the whole text, so the bytes are replaced first. */
    while (at < length) {
        size_t step = bytes[at] < 0x80 ? 1 : gim_utf8_sequence(bytes + at, length - at);
        if (step != 0) {
            at += step;
            continue;
        }
        if (!gim_text_append(&clean, text + plain, at - plain) ||
            !gim_text_append(&clean, "\xef\xbf\xbd", 3))
            return NULL;
        plain = ++at;
    }
    if (plain > 0) {
        if (!gim_text_append(&clean, text + plain, length - plain))
            return NULL;
        input = clean.data;
        length = clean.length;
    }
    value = json_loadb(input, length, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL,
                       &error);
    gim_text_clear(&clean);
    return value;
}

bool gim_go_json_append_coerced(struct gim_text *text, const char *data, size_t length)
{
    json_t *value = gim_go_json_parse(data, length);
    bool ok;

    if (value == NULL)
        return gim_go_json_append_string(text, data, length);
    ok = gim_go_json_append_value(text, value, GIM_GO_JSON_SORT_KEYS);
    json_decref(value);
    return ok;
}
