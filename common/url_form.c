/* url_form.c: percent-decoding, form fields and path segments (see url_form.h). */
#include "common/url_form.h"

#include <string.h>

#include "common/status.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int gim_url_decode(const char *text, size_t length, bool plus_is_space, char *out, size_t size)
{
    size_t in = 0, written = 0;

    while (in < length) {
        char c = text[in];
        if (c == '%') {
            int high, low;
            if (length - in < 3 || (high = hex_digit(text[in + 1])) < 0 ||
                (low = hex_digit(text[in + 2])) < 0 || (high == 0 && low == 0))
                return GIM_ERR_INVALID;
            c = (char)(high * 16 + low);
            in += 3;
        } else {
            if (c == '+' && plus_is_space)
                c = ' ';
            else if (c == '\0')
                return GIM_ERR_INVALID;
            in++;
        }
        if (written + 1 >= size)
            return GIM_ERR_TOO_LARGE;
        out[written++] = c;
    }
    if (size == 0)
        return GIM_ERR_TOO_LARGE;
    out[written] = '\0';
    return written > (size_t)0x7fffffff ? GIM_ERR_TOO_LARGE : (int)written;
}

int gim_url_form_value(const char *form, size_t length, const char *name, char *out, size_t size)
{
    size_t name_length = strlen(name), offset = 0;
    char key[256];

    while (offset <= length) {
        const char *field = form + offset;
        const char *amp = memchr(field, '&', length - offset);
        size_t field_length = amp != NULL ? (size_t)(amp - field) : length - offset;
        const char *equals = memchr(field, '=', field_length);
        size_t key_length = equals != NULL ? (size_t)(equals - field) : field_length;
        int decoded;

        offset += field_length + 1;
        if (field_length == 0)
            continue;
        decoded = gim_url_decode(field, key_length, true, key, sizeof(key));
        if (decoded < 0 || (size_t)decoded != name_length || memcmp(key, name, name_length) != 0)
            continue;
        if (equals == NULL) {
            if (size == 0)
                return GIM_ERR_TOO_LARGE;
            out[0] = '\0';
            return GIM_OK;
        }
        decoded = gim_url_decode(equals + 1, field_length - key_length - 1, true, out, size);
        return decoded < 0 ? decoded : GIM_OK;
    }
    return GIM_ERR_NOT_FOUND;
}

/* Drops the one leading '/' the counting ignores. */
static void skip_leading_slash(const char **path, size_t *length)
{
    if (*length > 0 && (*path)[0] == '/') {
        (*path)++;
        (*length)--;
    }
}

size_t gim_url_path_segment_count(const char *path, size_t length)
{
    size_t count = 1, index;

    skip_leading_slash(&path, &length);
    if (length == 0)
        return 0;
    for (index = 0; index < length; index++)
        if (path[index] == '/')
            count++;
    return count;
}

int gim_url_path_segment(const char *path, size_t length, size_t index, char *out, size_t size)
{
    const char *start, *end;
    int decoded;

    skip_leading_slash(&path, &length);
    if (length == 0)
        return GIM_ERR_NOT_FOUND;
    start = path;
    while (index > 0) {
        const char *slash = memchr(start, '/', length - (size_t)(start - path));
        if (slash == NULL)
            return GIM_ERR_NOT_FOUND;
        start = slash + 1;
        index--;
    }
    end = memchr(start, '/', length - (size_t)(start - path));
    if (end == NULL)
        end = path + length;
    decoded = gim_url_decode(start, (size_t)(end - start), false, out, size);
    if (decoded < 0)
        return decoded;
    if (memchr(out, '/', (size_t)decoded) != NULL)
        return GIM_ERR_INVALID; /* "%2F" would make one segment look like two elsewhere */
    return GIM_OK;
}
