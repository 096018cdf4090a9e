/*
 * metrics.h: what comet counts, and its Prometheus metrics (common/metrics.h).
 *
 * Counting stays off the hot path's locks: each event loop owns a struct
 * comet_loop_counters (in struct event_loop) that only its thread updates,
 * one relaxed atomic add per event, and the comet-wide RPC counters live in
 * struct comet. Nothing is summed while counting: comet_metrics_register
 * registers callbacks that add the loops' counters up when /metrics is
 * scraped. Every label set is one of the fixed enums below.
 *
 * Metrics (all prefixed comet_):
 *   connections{transport}            gauge    open client connections (tcp, websocket, wss)
 *   connections_accepted_total{transport} counter
 *   authenticated_connections         gauge    connections past auth
 *   protocol_connections{protocol}    gauge    connections past auth by protocol (goim, gusher)
 *   auth_total{result}                counter  ok, failed (refused, unreachable or no memory)
 *   timeouts_total{kind}              counter  handshake (no auth in time), heartbeat
 *   frames_received_total{kind}       counter  auth, heartbeat, change_room, sub, unsub, other
 *   pushes_delivered_total            counter  pushes queued to a connection
 *   pushes_dropped_total              counter  pushes dropped at protocol.maxOutputBytes
 *   rooms                             gauge    rooms with members on this comet
 *   rpc_calls_total{method}           counter  push_msg, broadcast, broadcast_room, rooms, unknown
 *   closes_total{reason}              counter  see enum comet_close_class
 */
#ifndef COMET_METRICS_H
#define COMET_METRICS_H

#include <stdalign.h>

#include "common/metrics.h"

struct comet;

/* How a client is connected (the transport label). */
enum comet_transport_class { COMET_TRANSPORT_TCP, COMET_TRANSPORT_WEBSOCKET, COMET_TRANSPORT_WSS };
#define COMET_TRANSPORT_CLASSES 3

/* Client frames by what they ask (the kind label of frames_received_total). */
enum comet_frame_class {
    COMET_FRAME_AUTH,
    COMET_FRAME_HEARTBEAT,
    COMET_FRAME_CHANGE_ROOM,
    COMET_FRAME_SUB,
    COMET_FRAME_UNSUB,
    COMET_FRAME_OTHER /* any other op after auth (answered, forwarded to logic Receive) */
};
#define COMET_FRAME_CLASSES 6

/* Deadlines that close a connection (the kind label of timeouts_total). */
enum comet_timeout_class { COMET_TIMEOUT_HANDSHAKE, COMET_TIMEOUT_HEARTBEAT };
#define COMET_TIMEOUT_CLASSES 2

/* Why a connection closed (the reason label of closes_total): the class of an
 * enum connection_close_reason (connection_close_class, comet/connection.h). */
enum comet_close_class {
    COMET_CLOSE_PEER,              /* the client closed, hung up or sent a WebSocket close */
    COMET_CLOSE_IO_ERROR,          /* a read or write failed */
    COMET_CLOSE_HANDSHAKE_TIMEOUT, /* no auth within protocol.handshakeTimeout */
    COMET_CLOSE_HEARTBEAT_TIMEOUT, /* no heartbeat within the heartbeat interval */
    COMET_CLOSE_AUTH_FAILED,       /* logic refused the auth, or could not be reached */
    COMET_CLOSE_REPLACED,          /* a newer connection with the same key */
    COMET_CLOSE_SLOW_READER,       /* a reply did not fit protocol.maxOutputBytes */
    COMET_CLOSE_SHUTDOWN,          /* the comet is stopping */
    COMET_CLOSE_OUT_OF_MEMORY,
    COMET_CLOSE_PROTOCOL /* anything else: a malformed frame or upgrade, a size over a limit */
};
#define COMET_CLOSE_CLASSES 10

/* comet's RPC methods (the method label of rpc_calls_total). */
enum comet_rpc_class {
    COMET_RPC_PUSH_MSG,
    COMET_RPC_BROADCAST,
    COMET_RPC_BROADCAST_ROOM,
    COMET_RPC_ROOMS,
    COMET_RPC_UNKNOWN
};
#define COMET_RPC_CLASSES 5

/* Client protocols (the protocol label of protocol_connections). */
enum comet_protocol_class { COMET_PROTOCOL_GOIM, COMET_PROTOCOL_GUSHER, COMET_PROTOCOL_GOPUSHER };
#define COMET_PROTOCOL_CLASSES 3

/* One loop's counters: written by its thread only, read by the scraper. */
struct comet_loop_counters {
    struct gim_counter accepted[COMET_TRANSPORT_CLASSES];
    struct gim_counter closed[COMET_TRANSPORT_CLASSES];
    struct gim_counter auth_ok;
    struct gim_counter auth_failed;
    struct gim_counter timeouts[COMET_TIMEOUT_CLASSES];
    struct gim_counter frames[COMET_FRAME_CLASSES];
    struct gim_counter pushes_delivered;
    struct gim_counter closes[COMET_CLOSE_CLASSES];
    /* connections a protocol admitted, and those of them closed since */
    struct gim_counter protocol_admitted[COMET_PROTOCOL_CLASSES];
    struct gim_counter protocol_closed[COMET_PROTOCOL_CLASSES];
};

/* Comet-wide counters (RPC worker threads). */
struct comet_counters {
    /* own cache lines: RPC workers write these while loops read the online table beside them */
    alignas(64) struct gim_counter rpc_calls[COMET_RPC_CLASSES];
};

/*
 * Registers comet's metrics in registry: callbacks that sum comet->loops'
 * counters, read comet->counters, the authenticated connections and the
 * online table's rooms. comet (its loops array and loop_count fixed) and
 * registry stay the caller's; the registry must not be rendered after the
 * loops are destroyed. Returns GIM_OK, GIM_ERR_INVALID or GIM_ERR_NO_MEMORY.
 */
int comet_metrics_register(struct gim_metrics *registry, struct comet *comet);

#endif
