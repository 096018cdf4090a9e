/*
 * protocol_gopusher.h: gopusher's clients (syhlion/gopusher v2) on comet's WebSocket listener.
 *
 * A client upgrades on GET /ws/{app_key}/{user_tag}[?token=] (route /ws/, comet/listener.c).
 * Admission goes through logic (GopusherConnect, RPC 110, asynchronous): the app must exist
 * (else 404 `app_key does not exist`), and an app with a connect hook must answer the token
 * with the user_tag (logic calls it, 5 s); a refusal is logic's HTTP status and text, answered
 * instead of 101. An admitted connection joins room `gopusher/<app_key>`, keeps its user_tag
 * and counts in the app's presence (comet/gopusher_presence.h). Pushes: a room push with text
 * sends each inner frame's body of its OpRaw body verbatim as one text message, only to the
 * connections whose user_tag the push's pattern matches (all without one); a close_room push
 * closes each connection (close frame 1000, then the socket); other pushes are not for these
 * clients. Client messages are read and discarded; one over gopusher.maxMessageBytes (512)
 * closes. A WebSocket ping goes out every gopusher.pingInterval (54 s); a client whose last
 * pong is older than gopusher.pongTimeout (60 s) is closed.
 */
#ifndef COMET_PROTOCOL_GOPUSHER_H
#define COMET_PROTOCOL_GOPUSHER_H

#include "comet/protocol.h"

extern const struct client_protocol protocol_gopusher;

/* The room of app_key's clients, "gopusher/<app_key>", into out[0..size). Returns GIM_OK or
 * GIM_ERR_TOO_LARGE. */
int gopusher_room_name(const char *app_key, char *out, size_t size);

#endif
