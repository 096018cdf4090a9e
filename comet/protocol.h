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
 *     on framing (once per push and wire, shared by every such connection).
 * Authentication ends in connection_authenticate (connection.h).
 */
#ifndef COMET_PROTOCOL_H
#define COMET_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comet/framing.h"
#include "common/shared_buffer.h"

/* A server push as comet receives it (goim's Proto: the one push format of every dialect). */
struct comet_push {
    int32_t version;
    int32_t operation;
    int32_t sequence;
    const uint8_t *body;
    size_t body_length;
};

struct client_protocol {
    struct framing_receiver receiver; /* first: a route's protocol points here */
    const char *name;
    /* push as bytes for this protocol on framing; the caller's reference, or NULL (no memory,
     * or too large). */
    struct gim_shared_buffer *(*encode_push)(const struct comet_push *push,
                                             const struct framing *framing);
};

/* The protocol of a connection's route, or NULL before one is chosen. */
static inline const struct client_protocol *protocol_of(const struct comet_connection *connection)
{
    return (const struct client_protocol *)connection->route->protocol;
}

#endif
