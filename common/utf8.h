/*
 * utf8.h: Go's idea of valid UTF-8 (unicode/utf8): no overlong forms, no
 * surrogates, nothing past U+10FFFF, no sequence cut short.
 */
#ifndef GIM_UTF8_H
#define GIM_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Length (1 to 4) of the valid UTF-8 sequence at text[0..length)
 * (length > 0), or 0 when it is not one.
 */
size_t gim_utf8_sequence(const unsigned char *text, size_t length);

/* True when text[0..length) is valid UTF-8 throughout. */
bool gim_utf8_valid(const char *text, size_t length);

#endif
