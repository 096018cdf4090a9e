/* http_answer.c: goim's JSON envelope, in Go's bytes through common/go_json (see
 * http_answer.h). */
#include "logic/http_answer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/go_json.h"
#include "common/text.h"

void http_answer_init(struct http_answer *answer)
{
    answer->http_status = 200;
    answer->code = HTTP_CODE_OK;
    answer->message[0] = '\0';
    answer->data = NULL;
    answer->data_flags = 0;
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

char *http_answer_render(struct http_answer *answer, size_t *length)
{
    struct gim_text text = {0};

    /* goim's struct {Code int `json:"code"`; Message string; Data interface{} omitempty} */
    gim_text_append_cstring(&text, "{\"code\":");
    gim_text_append_integer(&text, answer->code);
    gim_text_append_cstring(&text, ",\"message\":");
    gim_go_json_append_string(&text, answer->message, strlen(answer->message));
    if (answer->data != NULL) {
        gim_text_append_cstring(&text, ",\"data\":");
        gim_go_json_append_value(&text, answer->data, answer->data_flags);
    }
    gim_text_append(&text, "}", 1);
    json_decref(answer->data);
    answer->data = NULL;
    return gim_text_take(&text, length);
}
