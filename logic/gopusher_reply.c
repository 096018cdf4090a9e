/* gopusher_reply.c: Go's answer bytes for gopusher's API (see gopusher_reply.h). */
#include "logic/gopusher_reply.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/go_json.h"
#include "common/status.h"
#include "common/utf8.h"

/* http.Error: the text and a newline. */
void gopusher_reply_text(struct gopusher_reply *reply, unsigned int status, const char *format, ...)
{
    char text[1024];
    va_list arguments;
    int length;

    va_start(arguments, format);
    length = vsnprintf(text, sizeof(text) - 1, format, arguments);
    va_end(arguments);
    if (length < 0)
        length = 0;
    if ((size_t)length > sizeof(text) - 2)
        length = (int)sizeof(text) - 2;
    text[length++] = '\n';
    free(reply->body);
    reply->status = status;
    reply->error = true;
    reply->body = malloc((size_t)length);
    reply->length = reply->body ? (size_t)length : 0;
    if (reply->body != NULL)
        memcpy(reply->body, text, (size_t)length);
}

/* A JSON string of text[0..length); invalid UTF-8 bytes become U+FFFD, as Go's encoder does. */
json_t *gopusher_json_string(const char *text, size_t length)
{
    char *clean;
    size_t at = 0, written = 0;
    json_t *string;

    if (gim_utf8_valid(text, length))
        return json_stringn(text, length);
    clean = malloc(length * 3 + 1);
    if (clean == NULL)
        return NULL;
    while (at < length) {
        size_t step = gim_utf8_sequence((const unsigned char *)text + at, length - at);
        if (step == 0) {
            memcpy(clean + written, "\xef\xbf\xbd", 3);
            written += 3;
            at++;
        } else {
            memcpy(clean + written, text + at, step);
            written += step;
            at += step;
        }
    }
    string = json_stringn(clean, written);
    free(clean);
    return string;
}

/* Sets a member to a new value, taking the reference (a NULL value marks the object failed). */
bool gopusher_json_set(json_t *object, const char *key, json_t *value)
{
    return value != NULL && json_object_set_new(object, key, value) == 0;
}

/* json.Encoder's bytes (common/go_json.h) and a trailing newline. Takes value. Out of memory:
 * a 500. */
void gopusher_reply_json(struct gopusher_reply *reply, json_t *value)
{
    size_t length;
    char *text = gim_go_json_dumps(value, 0, &length), *body;

    json_decref(value);
    body = text ? realloc(text, length + 1) : NULL;
    if (body == NULL) {
        free(text);
        gopusher_reply_text(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return;
    }
    body[length] = '\n';
    free(reply->body);
    reply->status = MHD_HTTP_OK;
    reply->error = false;
    reply->body = body;
    reply->length = length + 1;
}

void gopusher_reply_redis_failed(struct gopusher_reply *reply, int status)
{
    gopusher_reply_text(reply, MHD_HTTP_INTERNAL_SERVER_ERROR, "redis: %s", gim_strerror(status));
}
