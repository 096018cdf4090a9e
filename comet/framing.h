/*
 * framing.h: how client messages are cut out of a connection's bytes (layer 3 of comet).
 *
 * One table per framing: goim frames back to back on a byte stream
 * (framing_goim_stream, below) and one message per WebSocket message
 * (framing_websocket, comet/websocket.h). A framing's table starts with the
 * connection's hooks (comet/connection.h), so a route's framing points at it.
 * It reads through the connection, hands each complete client message to the
 * connection's protocol through the protocol's receiver (the first member of
 * every struct client_protocol, set in the route), and wraps the protocol's
 * output in its own messages (message_new). It hands messages only while the
 * connection is in CONNECTION_HANDSHAKE or CONNECTION_ACTIVE: a protocol that
 * starts an asynchronous auth sets CONNECTION_AUTHENTICATING and what follows
 * waits, kept in the connection's input, until connection_resume_reading.
 */
#ifndef COMET_FRAMING_H
#define COMET_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comet/connection.h"
#include "common/shared_buffer.h"

struct websocket_request;

/* What a framing calls up: the first member of a protocol's table. */
struct framing_receiver {
    /*
     * The WebSocket framing routed an upgrade here (request: its head, path, query; valid
     * only during the call), before answering it. Returns GIM_OK (answered 101 at once),
     * GIM_ERR_AGAIN (admission decided later: the protocol holds a reference to the
     * connection and calls websocket_admit or websocket_answer from the loop's thread), or
     * another error (answered 400, unless the protocol answered with websocket_answer). May
     * be NULL (admitted at once).
     */
    int (*open)(struct comet_connection *connection, const struct websocket_request *request);
    /*
     * One complete client message (text: a WebSocket text message). Returns
     * GIM_OK, GIM_ERR_CLOSED if the connection closed or is closing, or
     * another negative status: the framing then closes the connection with
     * connection_close_reason_of(status).
     */
    int (*message)(struct comet_connection *connection, const uint8_t *data, size_t length,
                   bool text);
    /* The connection closed (connection_hooks.closed, passed on). */
    void (*closed)(struct comet_connection *connection, enum connection_close_reason reason,
                   bool was_active);
    /* Its deadline fell due; NULL: closed with a handshake or heartbeat timeout. */
    void (*deadline)(struct comet_connection *connection);
    /* A WebSocket pong arrived (the answer to websocket_ping); may be NULL. */
    void (*pong)(struct comet_connection *connection);
};

struct framing {
    struct connection_hooks hooks; /* first: a route's framing points here */
    const char *name;
    /*
     * A new buffer for one server message of payload_length bytes (text or
     * binary where the framing tells them apart), with *payload pointing at
     * where the payload goes (the caller fills exactly payload_length bytes).
     * Returns the caller's reference, or NULL (no memory, or over
     * GIM_SHARED_BUFFER_MAX).
     */
    struct gim_shared_buffer *(*message_new)(size_t payload_length, bool text, uint8_t **payload);
    /* true: each message_new is one message the client sees whole (WebSocket) */
    bool message_based;
};

/* The framing of a connection's route. */
static inline const struct framing *framing_of(const struct comet_connection *connection)
{
    return (const struct framing *)(const void *)connection->route->framing;
}

/* The receiver (protocol) of a connection's route, or NULL before one is chosen. */
static inline const struct framing_receiver *
framing_receiver_of(const struct comet_connection *connection)
{
    return (const struct framing_receiver *)connection->route->protocol;
}

/*
 * goim frames back to back (TCP): each complete goim frame (16-byte header
 * and body, body at most 4096 bytes) is one message; a bad header or a body
 * over the limit closes the connection.
 */
extern const struct framing framing_goim_stream;

/* The closed hook shared by framings: passes the close on to the receiver, if any. */
void framing_pass_closed(struct comet_connection *connection, enum connection_close_reason reason,
                         bool was_active);

/* The deadline hook shared by framings: the receiver's, else a timeout close. */
void framing_pass_deadline(struct comet_connection *connection);

#endif
