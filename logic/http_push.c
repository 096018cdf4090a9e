/* http_push.c: the push endpoints, parameters to push.h calls (see http_push.h). */
#include "logic/http_push.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "logic/http_params.h"
#include "logic/push.h"

void http_push_keys(const struct http_request *request, struct http_answer *answer)
{
    struct http_values keys;
    int32_t operation;
    char error[256];
    int status;

    if (http_param_int32(request, "operation", 0, &operation, answer) != GIM_OK)
        return;
    if (http_param_values(request, "keys", &keys, answer) != GIM_OK)
        return;
    if (keys.count == 0) {
        /* goim: MGET with no key fails in Redis (-400); here it is a parameter error. */
        http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR,
                          "keys: no key given");
        return;
    }
    status = push_keys(request->logic, operation, keys.items, keys.count, request->body,
                       request->body_length, error, sizeof(error));
    http_values_free(&keys);
    if (status != GIM_OK)
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_REQUEST_ERR, "%s", error);
}

void http_push_mids(const struct http_request *request, struct http_answer *answer)
{
    int64_t *mids;
    size_t count;
    int32_t operation;
    char error[256];
    int status;

    if (http_param_int32(request, "operation", 0, &operation, answer) != GIM_OK)
        return;
    if (http_param_int64_list(request, "mids", &mids, &count, answer) != GIM_OK)
        return;
    status = push_mids(request->logic, operation, mids, count, request->body, request->body_length,
                       error, sizeof(error));
    free(mids);
    if (status != GIM_OK)
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "%s", error);
}

/* Longest "<type>://<room>" accepted; longer is a parameter error. */
#define HTTP_PUSH_MAX_ROOM_KEY 1024

void http_push_room(const struct http_request *request, struct http_answer *answer)
{
    const char *type, *room;
    char room_key[HTTP_PUSH_MAX_ROOM_KEY], error[256];
    int32_t operation;
    int length;

    if (http_param_required_int32(request, "operation", &operation, answer) != GIM_OK ||
        http_param_string(request, "type", true, &type, answer) != GIM_OK ||
        http_param_string(request, "room", true, &room, answer) != GIM_OK)
        return;
    length = snprintf(room_key, sizeof(room_key), "%s://%s", type, room);
    if (length < 0 || (size_t)length >= sizeof(room_key)) {
        http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR,
                          "room: type://room longer than %d bytes", HTTP_PUSH_MAX_ROOM_KEY - 1);
        return;
    }
    if (push_room(request->logic, operation, room_key, request->body, request->body_length, error,
                  sizeof(error)) != GIM_OK)
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "%s", error);
}

void http_push_all(const struct http_request *request, struct http_answer *answer)
{
    int32_t operation, speed;
    char error[256];

    if (http_param_required_int32(request, "operation", &operation, answer) != GIM_OK ||
        http_param_int32(request, "speed", 0, &speed, answer) != GIM_OK)
        return;
    if (push_all(request->logic, operation, speed, request->body, request->body_length, error,
                 sizeof(error)) != GIM_OK)
        http_answer_error(answer, MHD_HTTP_OK, HTTP_CODE_SERVER_ERR, "%s", error);
}
