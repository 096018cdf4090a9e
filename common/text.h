/*
 * text.h: a growing byte string (struct gim_text), bounded by GIM_TEXT_MAX,
 * for building the bytes of an answer or a record piece by piece.
 */
#ifndef GIM_TEXT_H
#define GIM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A growing byte string; zero-initialise. After a failed append, failed is
 * set, data is NULL and every later append fails too (so a chain of appends
 * is checked once, at its end).
 */
struct gim_text {
    char *data; /* malloc'd, NUL-terminated when not NULL; the text's owner frees it */
    size_t length;
    size_t capacity;
    bool failed; /* out of memory (or past GIM_TEXT_MAX) */
};

/* Largest text built (a Kafka record or a client message is smaller); past it the text
 * fails rather than grow without bound. */
#define GIM_TEXT_MAX (64u * 1024u * 1024u)

/* Appends bytes[0..length) raw. Returns false (and sets failed) when out of memory. */
bool gim_text_append(struct gim_text *text, const void *bytes, size_t length);

/* Appends a NUL-terminated string raw. Returns false when out of memory. */
bool gim_text_append_cstring(struct gim_text *text, const char *string);

/* Appends a decimal integer. Returns false when out of memory. */
bool gim_text_append_integer(struct gim_text *text, int64_t value);

/*
 * Hands text->data over (the caller frees it), its length in *length, and
 * zeroes text. Returns NULL (text cleared) when the text failed; an empty
 * text gives a malloc'd "".
 */
char *gim_text_take(struct gim_text *text, size_t *length);

/* Frees text->data and zeroes text. */
void gim_text_clear(struct gim_text *text);

#endif
