/*
 * gopusher_reply.h: the bytes of gopusher's answers, as Go's net/http and
 * encoding/json write them.
 *
 * Errors are http.Error's: the text and a newline (the sender adds
 * "X-Content-Type-Options: nosniff"). JSON is json.Encoder's: compact, in
 * the struct's field order, '<' '>' '&' U+2028 U+2029 escaped as \u003c
 * ..., invalid UTF-8 replaced by U+FFFD, and a trailing newline. Both go
 * out as "text/plain; charset=utf-8" (what Go sniffs for them).
 */
#ifndef LOGIC_GOPUSHER_REPLY_H
#define LOGIC_GOPUSHER_REPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* One answer; zero-initialise it, free body when sent. */
struct gopusher_reply {
    unsigned int status;
    char *body; /* malloc'd; NULL only when out of memory */
    size_t length;
    bool error; /* http.Error's text */
};

/* Makes reply http.Error(status, formatted text + "\n"); a previous body is freed. */
void gopusher_reply_text(struct gopusher_reply *reply, unsigned int status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Makes reply 200 with json.Encoder's bytes of value, taking value (its
 * reference is released). NULL value, or out of memory: a 500 text.
 */
void gopusher_reply_json(struct gopusher_reply *reply, json_t *value);

/* Makes reply a 500 "redis: <what status says>". */
void gopusher_reply_redis_failed(struct gopusher_reply *reply, int status);

/*
 * A new JSON string of text[0..length) (any bytes; invalid UTF-8 becomes
 * U+FFFD per byte, as Go's encoder does), or NULL when out of memory.
 */
json_t *gopusher_json_string(const char *text, size_t length);

/*
 * Sets object[key] to value, taking value's reference. Returns false (and
 * sets nothing) when value is NULL or setting fails, so that a chain of
 * sets stops at the first failure.
 */
bool gopusher_json_set(json_t *object, const char *key, json_t *value);

#endif
