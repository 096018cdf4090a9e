/*
 * protocol_gusher.h: gusher.cluster's client protocol (reference A2-A4) on comet's WebSocket
 * listeners (layer 4).
 *
 * Routes under gusher.clientPrefix ({p}, default "/gusher/"), answered as gusher v1.13.8's
 * slave answers them (http.Error texts end with a newline):
 *   - POST {p}auth, form jwt: logic verifies it (GusherAuth, RPC 106, asynchronous) ->
 *     200 {"token":"..."} + newline (json.Encoder), else 401 "jwt decode fail"; both with
 *     Access-Control-Allow-Origin: *.
 *   - GET {p}ws/{app_key}?token=: an upgrade; 401 "app_key is nil" (either missing), then
 *     logic redeems the token (GusherConnect, RPC 107, asynchronous): 401 "token error"
 *     (unknown, expired, logic unreachable) or "appkey error" (another app's token), else 101.
 *     A GET without an upgrade there is 400 "Bad Request", as gorilla/websocket answers.
 *   - GET {p}ping: 200 "pong". Another method on a known path: 405; any other path: 404
 *     "404 page not found".
 * An admitted socket gets a socket_id (32 random hex digits), comet key gusher/<app>/<socket_id>
 * (so pushes to a socket and to a user's sockets are key pushes), operations 2000-2002, and its
 * allowed channels, user_id and remotes from logic. Commands (comet/gusher_command.h): a text
 * message over gusher.maxMessageBytes or a fatal command closes the socket; binary messages
 * are ignored. A subscribed channel is room gusher/<app>/<channel>; at most
 * GUSHER_MAX_SUBSCRIPTIONS per socket (past it: subscribe_error, the bound on what a "*" claim
 * can make a socket hold). Liveness: a WebSocket ping every gusher.pingInterval, no pong for
 * gusher.pongTimeout closes, and so does having no subscription at a ping
 * (gusher.mustSubscribe). GusherHeartbeat (109) at least every renewSeconds logic gave;
 * GusherDisconnect (108) when an admitted socket closes.
 * Pushes: operation 2000 is one text message of its body verbatim (an OpRaw push: one per
 * inner frame of operation 2000); 2001 (a JSON array) replaces the allowed channels, leaves
 * every subscription not literally in it and sends gusher.reloadchannel; 2002 (a channel)
 * adds an allowed channel and sends gusher.addchannel.
 */
#ifndef COMET_PROTOCOL_GUSHER_H
#define COMET_PROTOCOL_GUSHER_H

#include "comet/protocol.h"

struct websocket_request;

/* Largest number of channels one socket may subscribe at once. */
#define GUSHER_MAX_SUBSCRIPTIONS 1024

/* Operations of gusher pushes (docs/internals.md, "gusher"). */
#define GUSHER_OP_MESSAGE         2000
#define GUSHER_OP_RELOAD_CHANNELS 2001
#define GUSHER_OP_ADD_CHANNEL     2002

extern const struct client_protocol protocol_gusher;

/*
 * A plain HTTP request (not an upgrade) under gusher.clientPrefix (the route's handler, see
 * comet/websocket.h): auth, ping, or an error answer. Returns GIM_OK (answered) or
 * GIM_ERR_AGAIN (auth: answered when logic replies; holds a reference meanwhile).
 */
int gusher_http_request(struct comet_connection *connection,
                        const struct websocket_request *request);

#endif
