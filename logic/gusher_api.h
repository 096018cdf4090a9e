/*
 * gusher_api.h: gusher.cluster v1.13.8's master API on logic's API listener
 * (httpServer.addr), under gusher.apiPrefix (default /api/; empty: off).
 *
 *   POST {p}push/socket/{app_key}/{socket_id}      data       -> PUSH op 2000
 *   POST {p}push/user/{app_key}/{user_id}          data       -> PUSH op 2000
 *   POST {p}push/{app_key}/{channel}/{event}       data       -> ROOM op 2000, text
 *   POST {p}push_batch/{app_key}                   batch_data -> a ROOM per item
 *   POST {p}push/{app_key}                         channel_pattern, event, data
 *                                                             -> a ROOM per live channel matched
 *   POST {p}reload/channel/user/{app_key}/{user_id} data (JSON array) -> PUSH op 2001
 *   POST {p}add/channel/user/{app_key}/{user_id}    data (a channel)  -> PUSH op 2002
 *   GET  {p}{app_key}/channels[/count]
 *   GET  {p}{app_key}/online[/count]
 *   GET  {p}{app_key}/online/bychannel/{channel}[/count]
 *   POST {p}decode                                  data (a JWT)
 *   GET  {p}ping
 *
 * Routes are matched in that order (gorilla/mux's: push/user/... and
 * push/socket/... shadow a channel push of app "user" or "socket"), path
 * variables are one or more bytes without '/', percent-decoded. Parameters
 * are read as Go's FormValue (logic/http_form.h). Answers are gusher's
 * bytes (common/go_json.h): JSON with "application/json;charset=UTF-8",
 * errors 400 with their text and no newline ("text/plain; charset=utf-8",
 * what Go sniffs), decode's JSON with json.Encoder's newline (text/plain),
 * 404 "404 page not found\n", 405 with no body. A push is answered once
 * Kafka acknowledged its records; the connection waits suspended, holding
 * no thread (http_request_defer). A Kafka or session-lookup failure is 400
 * "data error" (gusher's answer when its publish fails). The PushMsg
 * records, the presence keys and the deliberate differences from gusher
 * are in docs/internals.md ("gusher").
 */
#ifndef LOGIC_GUSHER_API_H
#define LOGIC_GUSHER_API_H

#include <stdbool.h>

#include "logic/http.h"

struct logic_config;

/* True when path is under config's gusher.apiPrefix (never when the prefix is empty). */
bool gusher_api_owns(const struct logic_config *config, const char *path);

/*
 * The http_handler_fn of every path gusher_api_owns: routes request (its
 * method and path) and fills answer with a raw answer, or defers it.
 */
void gusher_api_handle(const struct http_request *request, struct http_answer *answer);

#endif
