/* utf8.c: Go's idea of valid UTF-8 (see utf8.h). */
#include "common/utf8.h"

#include <stdint.h>

size_t gim_utf8_sequence(const unsigned char *text, size_t length)
{
    size_t need, index;
    uint32_t code;

    if (text[0] < 0x80)
        return 1;
    if (text[0] >= 0xc2 && text[0] <= 0xdf) {
        need = 2;
        code = text[0] & 0x1f;
    } else if (text[0] >= 0xe0 && text[0] <= 0xef) {
        need = 3;
        code = text[0] & 0x0f;
    } else if (text[0] >= 0xf0 && text[0] <= 0xf4) {
        need = 4;
        code = text[0] & 0x07;
    } else {
        return 0;
    }
    if (length < need)
        return 0;
    for (index = 1; index < need; index++) {
        if ((text[index] & 0xc0) != 0x80)
            return 0;
        code = (code << 6) | (text[index] & 0x3f);
    }
    if ((need == 3 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) ||
        (need == 4 && (code < 0x10000 || code > 0x10ffff)))
        return 0;
    return need;
}

bool gim_utf8_valid(const char *text, size_t length)
{
    size_t at = 0;

    while (at < length) {
        size_t step = gim_utf8_sequence((const unsigned char *)text + at, length - at);
        if (step == 0)
            return false;
        at += step;
    }
    return true;
}
