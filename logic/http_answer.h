/*
 * http_answer.h: the answer of one HTTP API call and goim's JSON envelope.
 *
 *   {"code":<int>,"message":"<text>"[,"data":<json>]}
 *
 * field order code, message, data; "data" left out when there is none, so a
 * push success is exactly {"code":0,"message":""}. Codes are goim's (0,
 * -400, -500) plus -404 / -405 for unknown paths and wrong methods. The bytes
 * are Go's encoding/json (gin's c.JSON), written by common/go_json.h: `<>&`
 * U+2028 U+2029 escaped, an invalid UTF-8 byte of the message as \ufffd, a
 * real as Go's float64 (2.0 is 2).
 */
#ifndef LOGIC_HTTP_ANSWER_H
#define LOGIC_HTTP_ANSWER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* goim's envelope codes. */
#define HTTP_CODE_OK           0
#define HTTP_CODE_REQUEST_ERR  (-400)
#define HTTP_CODE_UNAUTHORIZED (-401) /* httpServer.pushTokens set, no or a wrong token */
#define HTTP_CODE_NOT_FOUND    (-404)
#define HTTP_CODE_NOT_ALLOWED  (-405)
#define HTTP_CODE_SERVER_ERR   (-500)

/* What a handler fills in; http_answer_init gives HTTP 200, code 0, no message, no data. */
struct http_answer {
    unsigned int http_status;
    int code;
    char message[512];
    json_t *data; /* optional; owned by the answer (http_answer_render releases it) */
    /* how data is written (common/go_json.h): 0, its objects are Go structs (members in
     * insertion order); GIM_GO_JSON_SORT_KEYS, they are Go maps (keys sorted) */
    unsigned data_flags;
    /*
     * A raw answer instead of the envelope (gusher's API, http_answer_raw):
     * raw_body (malloc'd, owned by the answer; freed once sent) with
     * Content-Type raw_content_type (static; NULL: none).
     */
    bool raw;
    char *raw_body;
    size_t raw_length;
    const char *raw_content_type;
};

/*
 * Makes answer a raw one: HTTP status, body[0..length) (malloc'd, taken
 * over; NULL with length 0 for none) and content_type (static, or NULL for
 * no Content-Type header). A previous raw body is freed. code becomes
 * -status for an error status (-400, -404 ...), else 0 (logic_http_requests_total).
 */
void http_answer_raw(struct http_answer *answer, unsigned int http_status, const char *content_type,
                     char *body, size_t length);

/* Frees what answer owns (data, raw body); the answer is empty afterwards. */
void http_answer_release(struct http_answer *answer);

/* Resets answer to HTTP 200, code 0, empty message, no data (data_flags 0). */
void http_answer_init(struct http_answer *answer);

/* Sets answer to an error: HTTP status, envelope code and a formatted message. */
void http_answer_error(struct http_answer *answer, unsigned int http_status, int code,
                       const char *format, ...) __attribute__((format(printf, 4, 5)));

/*
 * Renders the envelope as Go's compact JSON and releases answer->data.
 * Returns a malloc'd NUL-terminated text (holding no other NUL: Go escapes
 * it) the caller frees, its length in *length; NULL when out of memory.
 */
char *http_answer_render(struct http_answer *answer, size_t *length);

#endif
