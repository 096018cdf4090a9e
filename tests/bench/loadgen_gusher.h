/*
 * loadgen_gusher.h: the gusher.cluster client side of the load generator (loadgen -protocol
 * gusher): what a gusher client sends and how it reads what it gets back.
 *
 * Pure codec, no I/O: the token exchange request (`POST {prefix}auth`, form `jwt`) and its
 * answer (`{"token":"..."}`), the WebSocket path `{prefix}ws/{app}?token=...`, the subscribe
 * command, and the reading of the server's text messages: a subscribe reply
 * (`{"event":"gusher.subscribe_succeeded",...}` or `_error`) or a channel push (the envelope
 * `{"channel":C,"event":E,"data":<data>}`), whose data is handed back for the latency timestamp.
 * The JSON reader only walks the top level of one object (members in any order, values skipped
 * by their syntax: strings with escapes, nested objects and arrays, literals); it does not decode
 * or fully validate: it is the load generator's hot path, run once per delivered message, and the
 * server's messages are checked properly by the integration tests.
 */
#ifndef BENCH_LOADGEN_GUSHER_H
#define BENCH_LOADGEN_GUSHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A token plus its NUL (logic's tokens are 32 hex digits; longer ones are refused). */
#define LOADGEN_GUSHER_TOKEN_SIZE 129

enum loadgen_gusher_message_kind {
    LOADGEN_GUSHER_OTHER,           /* any other object, e.g. another command's reply */
    LOADGEN_GUSHER_SUBSCRIBED,      /* event gusher.subscribe_succeeded */
    LOADGEN_GUSHER_SUBSCRIBE_ERROR, /* event gusher.subscribe_error */
    LOADGEN_GUSHER_CHANNEL_PUSH     /* an envelope: top-level channel, event and data members */
};

/* A server text message as read by loadgen_gusher_read_message. */
struct loadgen_gusher_message {
    enum loadgen_gusher_message_kind kind;
    /* The top-level data member's value inside the message: a string's bytes between its quotes
     * (escapes left as they are), any other value's bytes as written; NULL when there is none. */
    const uint8_t *data;
    size_t data_length;
};

/*
 * Writes the request that exchanges jwt for a token: "POST <prefix>auth HTTP/1.1", Host: host,
 * an urlencoded body `jwt=<jwt percent-encoded>`, Connection: close, into out[0..capacity)
 * without a NUL. Every argument stays the caller's. Returns the request's length, or 0 if it does
 * not fit.
 */
size_t loadgen_gusher_auth_request(char *out, size_t capacity, const char *host, const char *prefix,
                                   const char *jwt);

/*
 * Reads the answer to that request from data[0..length), the bytes received so far; complete
 * says the server has closed the connection (nothing more will come). Returns GIM_OK when the
 * answer is a whole 200 whose body is a JSON object with a "token" string of 1 to
 * LOADGEN_GUSHER_TOKEN_SIZE - 1 characters from [A-Za-z0-9._~-] (it goes into a URL unencoded),
 * copied NUL-terminated into token; GIM_ERR_AGAIN when more bytes are needed (the head's end, or
 * the body's Content-Length, or the close when there is no Content-Length), only while !complete;
 * GIM_ERR_INVALID for anything else (another status, a malformed head or body, no usable token).
 */
int loadgen_gusher_auth_answer(const uint8_t *data, size_t length, bool complete,
                               char token[LOADGEN_GUSHER_TOKEN_SIZE]);

/*
 * Writes the WebSocket request target "<prefix>ws/<app>?token=<token>" into out[0..capacity)
 * with its NUL. prefix ("/gusher/"), app and token are written as they are (the caller keeps them
 * URL-safe). Returns the target's length, or 0 if it does not fit.
 */
size_t loadgen_gusher_ws_target(char *out, size_t capacity, const char *prefix, const char *app,
                                const char *token);

/*
 * Writes the command {"event":"gusher.subscribe","data":{"channel":"<channel>"}} into
 * out[0..capacity) without a NUL. channel stays the caller's and is written as it is, so it must
 * hold no '"', '\\' or control character. Returns the command's length, or 0 if it does not fit
 * or channel holds such a character.
 */
size_t loadgen_gusher_subscribe_command(char *out, size_t capacity, const char *channel);

/*
 * Reads one server text message, text[0..length): a JSON object (whitespace around it allowed).
 * Fills *message (its data points into text) and returns GIM_OK; returns GIM_ERR_INVALID when
 * the text is not one object (a member without a string name or a ':', an unterminated string or
 * container, a stray byte after it).
 */
int loadgen_gusher_read_message(const uint8_t *text, size_t length,
                                struct loadgen_gusher_message *message);

#endif
