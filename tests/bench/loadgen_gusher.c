/* loadgen_gusher.c: the load generator's gusher client codec (see loadgen_gusher.h). */
#include "tests/bench/loadgen_gusher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/status.h"

/* A piece of the input: not NUL-terminated. */
struct span {
    const uint8_t *text;
    size_t length;
};

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

size_t loadgen_gusher_auth_request(char *out, size_t capacity, const char *host, const char *prefix,
                                   const char *jwt)
{
    size_t jwt_length = strlen(jwt), body_length = 4, head_length;
    int written;

    for (size_t index = 0; index < jwt_length; index++)
        body_length += is_unreserved((unsigned char)jwt[index]) ? 1 : 3;
    written = snprintf(out, capacity,
                       "POST %sauth HTTP/1.1\r\nHost: %s\r\n"
                       "Content-Type: application/x-www-form-urlencoded\r\n"
                       "Content-Length: %zu\r\nConnection: close\r\n\r\njwt=",
                       prefix, host, body_length);
    if (written < 0 || (size_t)written >= capacity || capacity - (size_t)written < body_length - 4)
        return 0;
    head_length = (size_t)written;
    for (size_t index = 0; index < jwt_length; index++) {
        unsigned char c = (unsigned char)jwt[index];
        if (is_unreserved(c)) {
            out[head_length++] = (char)c;
        } else {
            static const char hex[] = "0123456789ABCDEF";
            out[head_length++] = '%';
            out[head_length++] = hex[c >> 4];
            out[head_length++] = hex[c & 15];
        }
    }
    return head_length;
}

static size_t skip_space(const uint8_t *text, size_t length, size_t at)
{
    while (at < length &&
           (text[at] == ' ' || text[at] == '\t' || text[at] == '\r' || text[at] == '\n'))
        at++;
    return at;
}

/* At an opening quote: returns the offset just past the closing one, or 0 if there is none. */
static size_t skip_string(const uint8_t *text, size_t length, size_t at)
{
    for (at++; at < length; at++) {
        if (text[at] == '\\')
            at++; /* the escaped byte (the rest of a \u escape is plain bytes) */
        else if (text[at] == '"')
            return at + 1;
    }
    return 0;
}

/* At a value: returns the offset just past it, or 0 if it is unterminated or empty. */
static size_t skip_value(const uint8_t *text, size_t length, size_t at)
{
    size_t depth = 0, start = at;

    if (at >= length)
        return 0;
    if (text[at] == '"')
        return skip_string(text, length, at);
    if (text[at] != '{' && text[at] != '[') {
        /* a number or a literal: up to the next separator */
        while (at < length && strchr(",}] \t\r\n", text[at]) == NULL && text[at] != '\0')
            at++;
        return at > start ? at : 0;
    }
    while (at < length) {
        if (text[at] == '"') {
            at = skip_string(text, length, at);
            if (at == 0)
                return 0;
            continue;
        }
        if (text[at] == '{' || text[at] == '[')
            depth++;
        else if ((text[at] == '}' || text[at] == ']') && --depth == 0)
            return at + 1;
        at++;
    }
    return 0;
}

static bool span_is(struct span value, const char *expected)
{
    size_t expected_length = strlen(expected);
    return value.length == expected_length && memcmp(value.text, expected, expected_length) == 0;
}

/*
 * Walks the top-level members of the object in text[0..length). For each name in names (count
 * of them; compared with the raw bytes between the quotes), sets values[i] to the member's value
 * bytes (a string's without its quotes) and is_string[i]; a name that does not occur gets
 * {NULL, 0}. Returns GIM_OK or GIM_ERR_INVALID.
 */
static int read_members(const uint8_t *text, size_t length, const char *const *names,
                        struct span *values, bool *is_string, size_t count)
{
    size_t at = skip_space(text, length, 0);

    for (size_t index = 0; index < count; index++)
        values[index] = (struct span){NULL, 0};
    if (at >= length || text[at] != '{')
        return GIM_ERR_INVALID;
    at = skip_space(text, length, at + 1);
    if (at < length && text[at] == '}')
        return skip_space(text, length, at + 1) == length ? GIM_OK : GIM_ERR_INVALID;
    for (;;) {
        struct span name, value;
        size_t end;

        if (at >= length || text[at] != '"' || (end = skip_string(text, length, at)) == 0)
            return GIM_ERR_INVALID;
        name = (struct span){text + at + 1, end - at - 2};
        at = skip_space(text, length, end);
        if (at >= length || text[at] != ':')
            return GIM_ERR_INVALID;
        at = skip_space(text, length, at + 1);
        if ((end = skip_value(text, length, at)) == 0)
            return GIM_ERR_INVALID;
        value = (struct span){text + at, end - at};
        for (size_t index = 0; index < count; index++) {
            if (!span_is(name, names[index]))
                continue;
            is_string[index] = text[at] == '"';
            values[index] =
                is_string[index] ? (struct span){value.text + 1, value.length - 2} : value;
        }
        at = skip_space(text, length, end);
        if (at < length && text[at] == ',') {
            at = skip_space(text, length, at + 1);
            continue;
        }
        if (at < length && text[at] == '}')
            return skip_space(text, length, at + 1) == length ? GIM_OK : GIM_ERR_INVALID;
        return GIM_ERR_INVALID;
    }
}

int loadgen_gusher_auth_answer(const uint8_t *data, size_t length, bool complete,
                               char token[LOADGEN_GUSHER_TOKEN_SIZE])
{
    static const char *const names[] = {"token"};
    const uint8_t *head_end = memmem(data, length, "\r\n\r\n", 4);
    size_t head_length, body_length;
    const char *content_length = NULL;
    struct span value;
    bool is_string = false;
    char head[2048];

    if (head_end == NULL)
        return complete || length > sizeof(head) ? GIM_ERR_INVALID : GIM_ERR_AGAIN;
    head_length = (size_t)(head_end - data) + 4;
    if (head_length >= sizeof(head))
        return GIM_ERR_INVALID;
    memcpy(head, data, head_length);
    head[head_length] = '\0';
    if (strncmp(head, "HTTP/1.1 200 ", 13) != 0 && strncmp(head, "HTTP/1.0 200 ", 13) != 0)
        return GIM_ERR_INVALID;
    body_length = length - head_length;
    for (char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n"))
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0)
            content_length = line + 17;
    if (content_length != NULL) {
        char *end;
        unsigned long expected = strtoul(content_length, &end, 10);
        if (end == content_length || expected > 65536)
            return GIM_ERR_INVALID;
        if (body_length < expected)
            return complete ? GIM_ERR_INVALID : GIM_ERR_AGAIN;
        body_length = expected;
    } else if (!complete) {
        return GIM_ERR_AGAIN;
    }
    if (read_members(data + head_length, body_length, names, &value, &is_string, 1) != GIM_OK ||
        value.text == NULL || !is_string || value.length == 0 ||
        value.length >= LOADGEN_GUSHER_TOKEN_SIZE)
        return GIM_ERR_INVALID;
    for (size_t index = 0; index < value.length; index++)
        if (!is_unreserved(value.text[index]))
            return GIM_ERR_INVALID;
    memcpy(token, value.text, value.length);
    token[value.length] = '\0';
    return GIM_OK;
}

size_t loadgen_gusher_ws_target(char *out, size_t capacity, const char *prefix, const char *app,
                                const char *token)
{
    int length = snprintf(out, capacity, "%sws/%s?token=%s", prefix, app, token);

    return length < 0 || (size_t)length >= capacity ? 0 : (size_t)length;
}

size_t loadgen_gusher_subscribe_command(char *out, size_t capacity, const char *channel)
{
    int length;

    for (const char *c = channel; *c != '\0'; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
            return 0;
    length = snprintf(out, capacity,
                      "{\"event\":\"gusher.subscribe\",\"data\":{\"channel\":\"%s\"}}", channel);
    return length < 0 || (size_t)length >= capacity ? 0 : (size_t)length;
}

int loadgen_gusher_read_message(const uint8_t *text, size_t length,
                                struct loadgen_gusher_message *message)
{
    static const char *const names[] = {"channel", "event", "data"};
    struct span values[3];
    bool is_string[3] = {false, false, false};

    if (read_members(text, length, names, values, is_string, 3) != GIM_OK)
        return GIM_ERR_INVALID;
    message->data = values[2].text;
    message->data_length = values[2].length;
    if (values[0].text != NULL && values[1].text != NULL && values[2].text != NULL)
        message->kind = LOADGEN_GUSHER_CHANNEL_PUSH;
    else if (is_string[1] && span_is(values[1], "gusher.subscribe_succeeded"))
        message->kind = LOADGEN_GUSHER_SUBSCRIBED;
    else if (is_string[1] && span_is(values[1], "gusher.subscribe_error"))
        message->kind = LOADGEN_GUSHER_SUBSCRIBE_ERROR;
    else
        message->kind = LOADGEN_GUSHER_OTHER;
    return GIM_OK;
}
