/* http_push.c: the push endpoints, parameters to push.h calls (see http_push.h). */
#include "logic/http_push.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "logic/http_params.h"
#include "logic/push.h"

/*
 * The end of a push whose answer was deferred: goim's envelope with code 0
 * on success, else HTTP 200 with the failure and the endpoint's code. user is
 * the http_deferred token.
 */
static void http_push_finish(void *user, int status, const char *error, int failure_code)
{
    struct http_answer answer;

    http_answer_init(&answer);
    if (status != GIM_OK)
        http_answer_error(&answer, MHD_HTTP_OK, failure_code, "%s", error);
    http_deferred_finish(user, &answer);
}

/* producer_done_fn for push/keys: goim answers its failures with -400. */
static void http_push_done_request_error(void *user, int status, const char *error)
{
    http_push_finish(user, status, error, HTTP_CODE_REQUEST_ERR);
}

/* producer_done_fn for push/mids, push/room and push/all: failures are -500. */
static void http_push_done_server_error(void *user, int status, const char *error)
{
    http_push_finish(user, status, error, HTTP_CODE_SERVER_ERR);
}

/* Defers the answer of request; on NULL (cannot defer) answer says why. */
static struct http_deferred *http_push_defer(const struct http_request *request,
                                             struct http_answer *answer)
{
    struct http_deferred *deferred = http_request_defer(request);

    if (deferred == NULL)
        http_answer_error(answer, MHD_HTTP_INTERNAL_SERVER_ERROR, HTTP_CODE_SERVER_ERR,
                          "push: the request cannot wait for Kafka");
    return deferred;
}

void http_push_keys(const struct http_request *request, struct http_answer *answer)
{
    struct http_deferred *deferred;
    struct http_values keys;
    int32_t operation;

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
    deferred = http_push_defer(request, answer);
    if (deferred != NULL)
        push_keys(request->logic, operation, keys.items, keys.count, request->body,
                  request->body_length, http_push_done_request_error, deferred);
    http_values_free(&keys);
}

void http_push_mids(const struct http_request *request, struct http_answer *answer)
{
    struct http_deferred *deferred;
    int64_t *mids;
    size_t count;
    int32_t operation;

    if (http_param_int32(request, "operation", 0, &operation, answer) != GIM_OK)
        return;
    if (http_param_int64_list(request, "mids", &mids, &count, answer) != GIM_OK)
        return;
    deferred = http_push_defer(request, answer);
    if (deferred != NULL)
        push_mids(request->logic, operation, mids, count, request->body, request->body_length,
                  http_push_done_server_error, deferred);
    free(mids);
}

/* Longest "<type>://<room>" accepted; longer is a parameter error. */
#define HTTP_PUSH_MAX_ROOM_KEY 1024

void http_push_room(const struct http_request *request, struct http_answer *answer)
{
    struct http_deferred *deferred;
    const char *type, *room;
    char room_key[HTTP_PUSH_MAX_ROOM_KEY];
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
    deferred = http_push_defer(request, answer);
    if (deferred != NULL)
        push_room(request->logic, operation, room_key, request->body, request->body_length,
                  http_push_done_server_error, deferred);
}

void http_push_all(const struct http_request *request, struct http_answer *answer)
{
    struct http_deferred *deferred;
    int32_t operation, speed;

    if (http_param_required_int32(request, "operation", &operation, answer) != GIM_OK ||
        http_param_int32(request, "speed", 0, &speed, answer) != GIM_OK)
        return;
    deferred = http_push_defer(request, answer);
    if (deferred != NULL)
        push_all(request->logic, operation, speed, request->body, request->body_length,
                 http_push_done_server_error, deferred);
}
