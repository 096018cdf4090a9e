/* http_answer.c: goim's JSON envelope, built with jansson (see http_answer.h). */
#include "logic/http_answer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void http_answer_init(struct http_answer *answer)
{
    answer->http_status = 200;
    answer->code = HTTP_CODE_OK;
    answer->message[0] = '\0';
    answer->data = NULL;
    answer->raw = false;
    answer->raw_body = NULL;
    answer->raw_length = 0;
    answer->raw_content_type = NULL;
}

void http_answer_raw(struct http_answer *answer, unsigned int http_status, const char *content_type,
                     char *body, size_t length)
{
    free(answer->raw_body);
    answer->raw = true;
    answer->http_status = http_status;
    /* for the metrics: the envelope code of that status (a code without one counts as -500) */
    answer->code = http_status >= 400 ? -(int)http_status : HTTP_CODE_OK;
    answer->raw_body = body;
    answer->raw_length = body != NULL ? length : 0;
    answer->raw_content_type = content_type;
}

void http_answer_release(struct http_answer *answer)
{
    json_decref(answer->data);
    answer->data = NULL;
    free(answer->raw_body);
    answer->raw_body = NULL;
    answer->raw_length = 0;
}

void http_answer_error(struct http_answer *answer, unsigned int http_status, int code,
                       const char *format, ...)
{
    va_list arguments;

    answer->http_status = http_status;
    answer->code = code;
    va_start(arguments, format);
    vsnprintf(answer->message, sizeof(answer->message), format, arguments);
    va_end(arguments);
}

char *http_answer_render(struct http_answer *answer)
{
    json_t *envelope = json_object();
    json_t *message = json_string(answer->message);
    char *text = NULL;

    if (message == NULL) /* not UTF-8: messages quote user bytes, so this is a bug upstream */
        message = json_string("(message not UTF-8)");
    if (envelope != NULL && message != NULL &&
        json_object_set_new(envelope, "code", json_integer(answer->code)) == 0 &&
        json_object_set(envelope, "message", message) == 0 &&
        (answer->data == NULL || json_object_set(envelope, "data", answer->data) == 0))
        /* 15 significant digits: a configured real (backoff jitter 0.3) prints as written, as
           goim's shortest form does, not as 0.29999999999999999 (jansson's default is 17) */
        text = json_dumps(envelope, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(message);
    json_decref(envelope);
    json_decref(answer->data);
    answer->data = NULL;
    return text;
}
