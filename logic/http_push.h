/*
 * http_push.h: the /goim/push/... handlers of logic's HTTP API (goim v2).
 *
 * Parameters from the URL query only (http_params.h), the payload is the raw
 * request body. Answers: {"code":0,"message":""} once Kafka has
 * acknowledged; HTTP 400 + code -400 on a parameter error; HTTP 200 + code
 * -500 on a Redis/Kafka failure, except push/keys, which answers -400 for
 * every failure as goim does (with a message, where goim sends none).
 */
#ifndef LOGIC_HTTP_PUSH_H
#define LOGIC_HTTP_PUSH_H

#include "logic/http.h"

/* POST /goim/push/keys?operation=<int32>&keys=<key>[&keys=...] */
void http_push_keys(const struct http_request *request, struct http_answer *answer);

/* POST /goim/push/mids?operation=<int32>&mids=<int64>[&mids=...] */
void http_push_mids(const struct http_request *request, struct http_answer *answer);

/* POST /goim/push/room?operation=<int32, required>&type=<required>&room=<required> */
void http_push_room(const struct http_request *request, struct http_answer *answer);

/* POST /goim/push/all?operation=<int32, required>[&speed=<int32>] */
void http_push_all(const struct http_request *request, struct http_answer *answer);

#endif
