/*
 * protocol.h: client protocols (layer 4 of comet): one table per protocol.
 *
 * A protocol turns complete client messages (handed over by the connection's
 * framing, comet/framing.h) into actions (auth through logic, replies, room
 * changes, calls to logic) and encodes a server push for its own wire. goim's
 * is protocol_goim (comet/protocol_goim.h); another protocol is one more
 * table in one more file, named by a route (comet/listener.c) for a listener
 * or a WebSocket path. Its hooks:
 *   - receiver.open: a WebSocket upgrade routed the connection to it, with the
 *     request head (e.g. to read an app key or a token from the path); an
 *     error refuses the upgrade; may be NULL;
 *   - receiver.message: one client message (text or binary where the framing
 *     tells them apart); receiver.closed: the connection closed (forget it,
 *     tell logic); receiver.deadline: the handshake or heartbeat deadline fell
 *     due (NULL: close with a timeout; a protocol that pings its clients
 *     re-arms it instead);
 *   - encode_push: a server push as bytes for a connection of this protocol
 *     on framing (once per push and wire, shared by every such connection);
 *   - accept_push: per connection, whether a push is delivered, skipped or
 *     handled by the protocol itself (a filter such as gopusher's user_tag
 *     regex, a room close, a control push that changes the connection).
 * Authentication ends in connection_authenticate (connection.h).
 */
#ifndef COMET_PROTOCOL_H
#define COMET_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comet/framing.h"
#include "common/shared_buffer.h"

struct gim_tag_pattern;

/* A server push as comet receives it (goim's Proto: the one push format of every dialect). */
struct comet_push {
    int32_t version;
    int32_t operation;
    int32_t sequence;
    const uint8_t *body;
    size_t body_length;
    /* goim-c's room push fields (BroadcastRoomReq 3-5; false/NULL elsewhere): */
    bool text;       /* the frames' bodies are UTF-8 text for text-message protocols */
    bool close_room; /* close every connection of the room; nothing is delivered */
    struct gim_tag_pattern *user_tag_pattern; /* only connections whose tag matches; NULL: all */
};

/* What a push does to one connection (client_protocol.accept_push). */
enum protocol_push_action {
    PROTOCOL_PUSH_DELIVER, /* queue the push's encoding for this protocol */
    PROTOCOL_PUSH_SKIP,    /* not for this connection */
    PROTOCOL_PUSH_HANDLED  /* the protocol acted itself (closed it, changed its state, replied) */
};

struct client_protocol {
    struct framing_receiver receiver; /* first: a route's protocol points here */
    const char *name;
    /* push as bytes for this protocol on framing; the caller's reference, or NULL (no memory,
     * or too large). */
    struct gim_shared_buffer *(*encode_push)(const struct comet_push *push,
                                             const struct framing *framing);
    /*
     * Decides what push does to connection before it is encoded and queued (loop thread; it
     * may reply, change the connection's state or close it: a room walk survives that). NULL:
     * deliver every push that has neither text nor close_room (those are for the protocols
     * that ask for them, e.g. gopusher's text pushes and an app's unregister).
     */
    enum protocol_push_action (*accept_push)(struct comet_connection *connection,
                                             const struct comet_push *push);
};

/* The protocol of a connection's route, or NULL before one is chosen. */
static inline const struct client_protocol *protocol_of(const struct comet_connection *connection)
{
    return (const struct client_protocol *)connection->route->protocol;
}

#endif
