/*
 * websocket.h: the WebSocket framing (RFC 6455; layer 3 of comet, framing.h).
 *
 * Sits between a connection's byte stream (stream.h: plain or TLS) and the
 * client protocol of the path the upgrade asked for. Two phases:
 *   1. Upgrade: the HTTP request head is collected in connection->input
 *      (at most WEBSOCKET_MAX_REQUEST_HEAD bytes) and checked: GET, a path
 *      served exactly (websocket_set_paths: each path names the route, i.e.
 *      the protocol, its connections take; today /sub, goim), Upgrade:
 *      websocket, Connection containing "upgrade",
 *      Sec-WebSocket-Version: 13, non-empty Sec-WebSocket-Key. Anything else
 *      is answered "400 Bad Request" and the connection closes once that is
 *      written; a good request is answered 101 with Sec-WebSocket-Accept.
 *   2. Messages: comet finds frame boundaries itself and hands wslay whole
 *      frames, one at a time; wslay parses, unmasks and reassembles them,
 *      answers ping with pong and runs the close handshake. Its event context
 *      (about 9 KB: two 4 KB buffers) exists only while a frame is parsed, a
 *      fragmented message is half received or a close is under way, so an
 *      idle WebSocket connection holds no wslay memory; an unfinished frame
 *      waits in connection->input. Messages are bounded at one client goim
 *      frame (16 + 4096 bytes; over it: close 1009, by comet as soon as a
 *      frame header announces more, by wslay for a fragmented message); a
 *      header with reserved bits or opcode, or a control frame over 125
 *      bytes, is closed with 1002 as soon as it arrives. Each text or
 *      binary message goes to the route's protocol whole
 *      (framing_receiver.message; goim's closes a message that is not exactly
 *      one goim frame); messages behind an auth wait unread until the
 *      protocol resumes reading.
 * The request's Cookie header is kept until the protocol has used it (websocket_cookie; goim
 * passes it to logic Connect, as goim does). Output does not go through wslay's queue: replies
 * and pushes are encoded once, already framed as one unmasked message (framing.message_new), and
 * go through the connection's shared output queue; wslay's own control frames (pong, close) are
 * copied into that same queue by its send callback.
 */
#ifndef COMET_WEBSOCKET_H
#define COMET_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comet/framing.h"
#include "common/shared_buffer.h"

/* Largest HTTP upgrade request head accepted (request line + headers + blank line). */
#define WEBSOCKET_MAX_REQUEST_HEAD 4096

/* Largest client WebSocket frame comet reads: 14 header bytes (length and mask) + one goim
 * client frame. Before auth at most this much input is read ahead. */
#define WEBSOCKET_CLIENT_FRAME_MAX (14 + 16 + 4096)

/* Length of a Sec-WebSocket-Accept value plus its NUL. */
#define WEBSOCKET_ACCEPT_SIZE 29

/* One HTTP path served on a WebSocket listener and the route its connections take. */
struct websocket_path {
    const char *path; /* exactly, e.g. "/sub" (no query string) */
    const struct connection_route *route;
};

/* The WebSocket framing: connections of a WebSocket listener start with a route naming it and
 * no protocol; the upgrade's path sets their route. */
extern const struct framing framing_websocket;

/*
 * Sets the paths served by every WebSocket listener (paths[0..count), static,
 * read-only afterwards). Call before the loops run.
 */
void websocket_set_paths(const struct websocket_path *paths, size_t count);

/*
 * Checks one complete HTTP request head (head[0..length), ending with the
 * blank line) as a WebSocket upgrade for one of paths[0..path_count), sets
 * *matched (if not NULL) to that entry and writes the Sec-WebSocket-Accept
 * value for its key into accept. Returns GIM_OK or GIM_ERR_INVALID.
 */
int websocket_check_upgrade(const char *head, size_t length, const struct websocket_path *paths,
                            size_t path_count, const struct websocket_path **matched,
                            char accept[WEBSOCKET_ACCEPT_SIZE]);

/*
 * Finds where the client frame at the start of data[0..length) ends (boundaries only; wslay
 * judges the rest: masking, UTF-8, control frame rules). Returns GIM_OK with *frame_length set,
 * GIM_ERR_AGAIN when the frame has not fully arrived, GIM_ERR_INVALID when its header is
 * refused by gim_websocket_decode_header, or GIM_ERR_TOO_LARGE when it announces more than one
 * goim client frame (16 + 4096 bytes) of payload (both known as soon as the header is in).
 */
int websocket_client_frame_length(const uint8_t *data, size_t length, size_t *frame_length);

/*
 * A new buffer holding one unmasked final server message (text or binary) of
 * payload_length bytes; *payload points where the payload goes. Returns the
 * caller's reference, or NULL if memory is short or it would be over
 * GIM_SHARED_BUFFER_MAX.
 */
struct gim_shared_buffer *websocket_message_new(size_t payload_length, bool text,
                                                uint8_t **payload);

/*
 * The Cookie header of the connection's upgrade request ("" when there was
 * none, after websocket_forget_cookie, or on another framing). Owned by the
 * connection; valid until the next websocket_forget_cookie or its release.
 */
const char *websocket_cookie(const struct comet_connection *connection);

/* Frees the kept Cookie header once used (idle connections keep nothing). */
void websocket_forget_cookie(struct comet_connection *connection);

#endif
