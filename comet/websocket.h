/*
 * websocket.h: the WebSocket framing (RFC 6455; layer 3 of comet, framing.h).
 *
 * Sits between a connection's byte stream (stream.h: plain or TLS) and the
 * client protocol of the path the upgrade asked for. Two phases:
 *   1. Request: the HTTP request head is collected in connection->input
 *      (at most WEBSOCKET_MAX_REQUEST_HEAD bytes) and routed by its path
 *      (websocket_set_routes: exact paths such as goim's /sub, prefixes such
 *      as /ws/ with the rest of the path and the query string left to the
 *      route). An upgrade (GET, Upgrade: websocket, Connection containing
 *      "upgrade", Sec-WebSocket-Version: 13, non-empty Sec-WebSocket-Key) on
 *      a route that takes upgrades goes to its protocol's receiver.open,
 *      which admits it at once (101 with Sec-WebSocket-Accept), refuses it
 *      (400, or its own answer through websocket_answer), or answers later
 *      (GIM_ERR_AGAIN: the connection waits, not reading, under the handshake
 *      deadline, until websocket_admit or websocket_answer). A plain GET or
 *      POST on a route with a request handler is read whole (a body of at
 *      most WEBSOCKET_MAX_REQUEST_BODY bytes by Content-Length: 413 past it,
 *      411 for chunked) and answered by the handler, now or later, then the
 *      connection closes. Anything else is answered "400 Bad Request" and
 *      the connection closes once that is written.
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

/* Largest body of a plain HTTP request on a WebSocket listener (Content-Length; over it: 413). */
#define WEBSOCKET_MAX_REQUEST_BODY 8192

struct websocket_request;

/*
 * One route of a WebSocket listener: an HTTP path, matched exactly or as a prefix, the route an
 * upgrade on it takes (its protocol's receiver.open sees the request) and, optionally, a
 * handler for plain HTTP requests (GET or POST that is not an upgrade). Tables are static.
 */
struct websocket_route {
    const char *path; /* exactly (e.g. "/sub"), or with prefix the start (e.g. "/ws/") */
    bool prefix;      /* the path only starts with path; the rest is request->rest */
    bool query;       /* a query string is allowed (false: "/sub?x" is not this route, as goim) */
    const struct connection_route *upgrade; /* what an upgrade takes; NULL: no upgrades here */
    /*
     * A plain HTTP request on this route (NULL: answered 400 as an upgrade gone wrong). It
     * answers with websocket_answer now and returns GIM_OK, or takes a reference to the
     * connection (connection_ref), returns GIM_ERR_AGAIN and answers later from its loop's
     * thread (connection->state is then CONNECTION_AUTHENTICATING, reading paused, under the
     * handshake deadline; websocket_answer does nothing on a connection closed meanwhile),
     * then drops its reference. Another error is answered 500. request is valid only during
     * the call.
     */
    int (*request)(struct comet_connection *connection, const struct websocket_request *request);
};

/* An HTTP request on a WebSocket listener, as its route sees it (pointers into the head). */
struct websocket_request {
    const struct websocket_route *route;
    const char *head; /* the whole head, request line to blank line */
    size_t head_length;
    bool post;    /* POST, else GET */
    bool upgrade; /* it carries an Upgrade header (checked further by websocket_check_upgrade) */
    const char *path; /* raw (not decoded), without the query string */
    size_t path_length;
    const char *rest; /* path after the route's path ("" for an exact route) */
    size_t rest_length;
    const char *query; /* raw, after '?' ("" without one) */
    size_t query_length;
    size_t content_length; /* of the body (0 without Content-Length) */
    const uint8_t *body;   /* plain requests: the body (content_length bytes), else NULL */
    bool form_body;        /* Content-Type application/x-www-form-urlencoded */
};

/* The WebSocket framing: connections of a WebSocket listener start with a route naming it and
 * no protocol; the upgrade's path sets their route. */
extern const struct framing framing_websocket;

/*
 * Sets the routes served by every WebSocket listener (routes[0..count), static, read-only
 * afterwards; the first that matches a path wins). Call before the loops run.
 */
void websocket_set_routes(const struct websocket_route *routes, size_t count);

/*
 * Parses one complete HTTP request head (head[0..length), ending with the blank line) against
 * routes[0..count): request line "GET|POST <target> HTTP/1.1", the route of its path, the
 * query string, Upgrade, Content-Length (one; a second is refused), Transfer-Encoding and
 * Content-Type. Fills *request (body NULL). Returns 0, or the HTTP status to answer: 400
 * (malformed, another method, no route, Transfer-Encoding with Content-Length), 411
 * (Transfer-Encoding without Content-Length: no chunked bodies), 413 (a body over
 * WEBSOCKET_MAX_REQUEST_BODY).
 */
int websocket_parse_request(const char *head, size_t length, const struct websocket_route *routes,
                            size_t count, struct websocket_request *request);

/*
 * Checks a parsed request as a WebSocket upgrade: GET, Upgrade: websocket, Connection
 * containing "upgrade", Sec-WebSocket-Version: 13, a non-empty Sec-WebSocket-Key, a route that
 * takes upgrades; writes the Sec-WebSocket-Accept value for its key into accept. Returns GIM_OK
 * or GIM_ERR_INVALID.
 */
int websocket_check_upgrade(const struct websocket_request *request,
                            char accept[WEBSOCKET_ACCEPT_SIZE]);

/*
 * The trimmed value of header name (case-insensitive; the first one) of request's head, into
 * out[0..size). Returns GIM_OK, GIM_ERR_NOT_FOUND or GIM_ERR_TOO_LARGE.
 */
int websocket_request_header(const struct websocket_request *request, const char *name, char *out,
                             size_t size);

/*
 * A form field as Go's FormValue reads it: the urlencoded body first (form_body), then the
 * query string; decoded into out[0..size). Returns as gim_url_form_value (common/url_form.h).
 */
int websocket_form_value(const struct websocket_request *request, const char *name, char *out,
                         size_t size);

/*
 * Answers an HTTP request (a plain request, or an upgrade a protocol refuses) with status,
 * Content-Type content_type (NULL: none), extra header lines (NULL, or each "Name: value\r\n"),
 * body[0..length), Content-Length and Connection: close, then closes the connection once that
 * is written; whatever else the client sent is discarded. Loop thread. Returns GIM_OK, or
 * GIM_ERR_CLOSED when the connection is already closed or answered (nothing is written).
 */
int websocket_answer(struct comet_connection *connection, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t length);

/*
 * Admits an upgrade whose protocol's receiver.open returned GIM_ERR_AGAIN (asynchronous
 * admission): answers 101, then, when identity is not NULL, authenticates the connection with
 * it (connection_authenticate: rooms, key, heartbeat deadline; after the 101, so no push can
 * overtake it), then reads the client's messages (those that came early first). Loop thread.
 * Returns GIM_OK, GIM_ERR_CLOSED (the connection closed meanwhile, or closed now for want of
 * memory), or GIM_ERR_INVALID (it is not waiting for admission).
 */
int websocket_admit(struct comet_connection *connection,
                    const struct connection_identity *identity);

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
 * Sends a WebSocket ping (empty payload) on an upgraded connection; its pong reaches the
 * protocol's receiver.pong. Returns GIM_OK or GIM_ERR_CLOSED.
 */
int websocket_ping(struct comet_connection *connection);

/*
 * Closes an upgraded connection the WebSocket way: a close frame with status_code (e.g. 1000),
 * then the socket once that is written (reason counted); a connection not upgraded yet closes
 * at once. Nothing more is read. Loop thread.
 */
void websocket_close(struct comet_connection *connection, uint16_t status_code,
                     enum connection_close_reason reason);

/*
 * The Cookie header of the connection's upgrade request ("" when there was
 * none, after websocket_forget_cookie, or on another framing). Owned by the
 * connection; valid until the next websocket_forget_cookie or its release.
 */
const char *websocket_cookie(const struct comet_connection *connection);

/* Frees the kept Cookie header once used (idle connections keep nothing). */
void websocket_forget_cookie(struct comet_connection *connection);

#endif
