/* text.c: a growing byte string (see text.h). */
#include "common/text.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/status.h"

static bool gim_text_fail(struct gim_text *text)
{
    gim_text_clear(text);
    text->failed = true;
    return false;
}

bool gim_text_append(struct gim_text *text, const void *bytes, size_t length)
{
    if (text->failed)
        return false;
    if (length > GIM_TEXT_MAX - text->length)
        return gim_text_fail(text);
    if (gim_grow(&text->data, &text->capacity, text->length + length + 1, 1, 256, SIZE_MAX) !=
        GIM_OK)
        return gim_text_fail(text);
    if (length > 0)
        memcpy(text->data + text->length, bytes, length);
    text->length += length;
    text->data[text->length] = '\0';
    return true;
}

bool gim_text_append_cstring(struct gim_text *text, const char *string)
{
    return gim_text_append(text, string, strlen(string));
}

bool gim_text_append_integer(struct gim_text *text, int64_t value)
{
    char digits[24];
    int length = snprintf(digits, sizeof(digits), "%" PRId64, value);

    return gim_text_append(text, digits, (size_t)length);
}

char *gim_text_take(struct gim_text *text, size_t *length)
{
    char *data;

    if (!text->failed && text->data == NULL)
        gim_text_append(text, "", 0);
    if (text->failed) {
        gim_text_clear(text);
        return NULL;
    }
    data = text->data;
    *length = text->length;
    memset(text, 0, sizeof(*text));
    return data;
}

void gim_text_clear(struct gim_text *text)
{
    free(text->data);
    memset(text, 0, sizeof(*text));
}
