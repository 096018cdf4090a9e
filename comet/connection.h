/*
 * connection.h: client connections and one loop's set of them (layer 2 of comet).
 *
 * A connection is bytes on a stream (stream.h: plain socket or TLS), its
 * lifetime and references, its bounded output queue, and the session fields
 * every client protocol shares once authenticated (key, user id, watched
 * operations, rooms). What the bytes mean is not known here: the route chosen
 * by the listener at accept (struct connection_route) names the framing
 * (layer 3, comet/framing.h) whose hooks the connection calls up through, and
 * the client protocol (layer 4, comet/protocol.h) that the framing calls.
 *
 * One loop's connections form a struct connection_set: its live list, the
 * key -> connection index, the room index (room.h; a connection may be in
 * several rooms), and the loop's connection counters.
 *
 * Input: the framing reads into the loop's scratch buffer; only an unfinished
 * message is kept, in a heap buffer sized to it (connection_keep_input) and
 * freed as soon as it is consumed, so an idle connection holds no input memory.
 * Output: a queue of references to shared immutable buffers written with
 * writev. A server push is queued and its connection marked pending (once, in
 * the set's pending list); the loop's flush pass (connection_set_flush_pending,
 * before the loop sleeps) writes each pending connection's whole queue with one
 * writev, so the pushes that reach a connection in one loop iteration share one
 * write. The last push of an inbox batch (nothing could share its write) is
 * written at once instead, without a queue node or a second pass
 * (push_writes_now). protocol.writeDelay > 0 spaces a connection's push writes:
 * a push that finds the connection's queue empty less than writeDelay after the
 * connection's previous push went out is held (the set's held ring) until
 * writeDelay after that write, and the pushes that reach it meanwhile share the
 * write; a push to a connection that had none for writeDelay goes out at once,
 * so the delay costs nothing at rest and at most writeDelay under load. Queue nodes
 * are reused from a bounded per-set list. A reply is written at once, behind any
 * pending pushes of its connection (no queue node is allocated if the socket
 * takes everything); EPOLLOUT is armed only while a write would block.
 * protocol.maxOutputBytes bounds the bytes queued, pending ones included:
 *   - a server push that does not fit is dropped and counted (the client
 *     is slow; the connection stays up and later pushes may fit again);
 *   - a reply to the client's own message that does not fit closes the
 *     connection (the client sends but does not read, goim's "ring full").
 * Lifetime: the set's live list holds one reference, an auth in flight
 * another; connection_close makes it inert at once and the memory is freed
 * when the last reference is dropped, at the loop's safe point.
 */
#ifndef COMET_CONNECTION_H
#define COMET_CONNECTION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "comet/event_loop.h"
#include "comet/metrics.h"
#include "comet/room.h"
#include "comet/string_map.h"
#include "comet/timer_wheel.h"
#include "common/shared_buffer.h"

struct comet;
struct comet_connection;
struct stream_ops;
struct ssl_st;

enum connection_state {
    CONNECTION_HANDSHAKE,      /* waiting for the client's auth */
    CONNECTION_AUTHENTICATING, /* the protocol's auth in flight; reading paused */
    CONNECTION_ACTIVE,         /* authenticated (connection_authenticate) */
    CONNECTION_CLOSED          /* inert, waiting for its last reference */
};

/* Why a connection closed; each has one metrics class (connection_close_class). */
enum connection_close_reason {
    CONNECTION_CLOSE_PEER,              /* the client closed the stream */
    CONNECTION_CLOSE_HANG_UP,           /* socket error or hang-up */
    CONNECTION_CLOSE_WEBSOCKET_CLOSED,  /* the client's WebSocket close handshake ended */
    CONNECTION_CLOSE_READ_FAILED,       /* a read failed */
    CONNECTION_CLOSE_WRITE_FAILED,      /* a write failed */
    CONNECTION_CLOSE_HANDSHAKE_TIMEOUT, /* no auth within protocol.handshakeTimeout */
    CONNECTION_CLOSE_HEARTBEAT_TIMEOUT, /* no heartbeat within the heartbeat interval */
    CONNECTION_CLOSE_AUTH_FAILED,       /* the protocol's auth was refused or failed */
    CONNECTION_CLOSE_REPLACED,          /* a newer connection with the same key */
    CONNECTION_CLOSE_OUTPUT_FULL,       /* a reply did not fit protocol.maxOutputBytes */
    CONNECTION_CLOSE_SHUTDOWN,          /* the comet is stopping */
    CONNECTION_CLOSE_DRAINING,          /* the comet is draining (drain.period) */
    CONNECTION_CLOSE_OUT_OF_MEMORY,
    CONNECTION_CLOSE_BAD_MESSAGE, /* a malformed or oversized client message */
    CONNECTION_CLOSE_BAD_UPGRADE, /* a refused HTTP upgrade request */
    CONNECTION_CLOSE_ANSWERED,    /* a plain HTTP request was answered (Connection: close) */
};
#define CONNECTION_CLOSE_REASONS 16

/*
 * The calls a connection makes upwards, to its framing (the first member of
 * a struct framing, comet/framing.h). Set through the route at accept.
 */
struct connection_hooks {
    /* input may be waiting (EPOLLIN, or reading resumed): read and handle it */
    void (*readable)(struct comet_connection *connection);
    /* the connection is now inert (socket closed, indexes left); was_active: it had
     * authenticated. The layers above forget it (e.g. tell logic). */
    void (*closed)(struct comet_connection *connection, enum connection_close_reason reason,
                   bool was_active);
    /* a deadline fell due (handshake, heartbeat); NULL: the connection closes with a timeout */
    void (*deadline)(struct comet_connection *connection);
    /* the server closes it (stopping, draining): a last word on the wire first; may be NULL */
    void (*going_away)(struct comet_connection *connection);
    /* frees the per-connection state of the layers above (connection freed); may be NULL */
    void (*release)(struct comet_connection *connection);
};

/*
 * What a listener, or an HTTP path of one, chose for its connections: a
 * framing (layer 3) and a client protocol (layer 4, opaque here). The pair's
 * wire number indexes a push's encodings (one per wire, comet/push_job.h).
 * Routes are static tables (comet/listener.c).
 */
struct connection_route {
    const struct connection_hooks *framing;
    const void *protocol; /* a struct client_protocol, or NULL before an upgrade picked one */
    uint8_t wire;         /* < CONNECTION_WIRES */
    /* its connections' rooms are goim's rooms: counted in goim's online view (comet/online.h:
     * heartbeat replies, RenewOnline, Rooms, comet_rooms); gusher's channels and gopusher's
     * apps are not */
    bool goim_online;
};
#define CONNECTION_WIRES 8

/* Bits of comet_connection.output_waits. */
#define OUTPUT_PENDING 1 /* in the set's pending list: written by the next flush pass */
#define OUTPUT_HELD    2 /* in the set's held ring: written writeDelay after its last push */

struct output_item {
    struct output_item *next;
    struct gim_shared_buffer *buffer;
};

/* Largest set of watched operations per connection; more are ignored. */
#define CONNECTION_MAX_ACCEPTS 256

struct connection_set;

struct comet_connection {
    struct loop_handle handle; /* epoll data points here */
    struct connection_set *set;
    const struct connection_route *route;
    struct comet_connection *prev, *next; /* set's live list, then its reap list */
    struct timer_entry deadline;          /* handshake, then heartbeat */
    uint32_t references;                  /* loop thread only */
    uint8_t state;
    uint8_t transport;       /* enum comet_transport_class (metrics label) */
    uint8_t close_reason;    /* enum connection_close_reason, for close_after_flush */
    bool write_armed;        /* EPOLLOUT registered */
    bool reading;            /* EPOLLIN registered */
    bool stream_wants_write; /* TLS: a read needs the socket writable (keep EPOLLOUT) */
    bool close_after_flush;  /* close once the queued output is written */
    uint8_t output_waits; /* OUTPUT_PENDING, OUTPUT_HELD: in the set's lists (a reference each) */
    uint32_t push_written_ms; /* low 32 bits of the loop clock when a push last went out (the
                               * write delay's reference; at accept: long enough ago) */
    const struct stream_ops *stream;
    struct ssl_st *tls;   /* TLS session (WSS), else NULL */
    void *framing_state;  /* the framing's own per-connection state, or NULL */
    void *protocol_state; /* the protocol's own (gopusher's tag...), freed by its closed hook */
    uint16_t input_length;
    uint16_t accept_count; /* (packed here with the two beside it: no padding) */
    uint32_t dropped_pushes;
    uint8_t *input; /* unfinished input, or NULL */
    struct output_item *output_head, *output_tail;
    uint32_t output_offset; /* bytes of output_head already written */
    uint32_t output_bytes;  /* bytes queued, not yet written */
    uint8_t address[16];    /* peer, IPv4 mapped into IPv6 */
    uint16_t auth_version;  /* goim: ver/seq of the auth frame, echoed in its reply */
    int32_t auth_seq;
    int64_t heartbeat_ms;
    int64_t renewed_ms;     /* loop clock of the last logic Heartbeat (or of the auth) */
    uint64_t auth_sequence; /* comet-wide order of authentication */
    int64_t mid;
    char *key;
    int32_t *accepts;
    struct room_member *rooms;
};

/* One loop's connections (owned by its worker, used on the loop thread only unless said). */
struct connection_set {
    struct event_loop *loop;
    struct comet *comet;           /* config, TLS context, client address counter, auth order */
    struct comet_connection *live; /* every open connection (doubly linked) */
    struct comet_connection *reap; /* closed, waiting to be released */
    struct string_map keys;        /* connection key -> authenticated connection */
    struct room_index rooms;
    /* called when a connection authenticates with a key, so that other loops close an
     * older connection with it (connection_set_apply_claim); NULL with one loop */
    void (*key_claimed)(void *context, const char *key, uint64_t sequence);
    void *key_claimed_context;
    /* connections with pushes queued for the next flush pass, each once and referenced; at
     * most one entry per connection of the loop, so bounded by them (the array keeps its
     * largest size) */
    struct comet_connection **pending;
    uint32_t pending_count;
    size_t pending_capacity;
    /* connections whose pushes wait for protocol.writeDelay, in the order they began to wait,
     * each once and referenced: a ring (held_first, held_count) bounded like the pending list
     * by the loop's connections */
    struct comet_connection **held;
    uint32_t held_first, held_count;
    size_t held_capacity;
    /* set by the loop's owner while it delivers a push that no other push of the same inbox
     * batch follows: connection_push writes at once (see there) */
    bool push_writes_now;
    /* released output queue nodes kept for reuse (at most SPARE_OUTPUT_ITEMS, connection.c) */
    struct output_item *spare_items;
    uint32_t spare_count;
    atomic_long authenticated;           /* read by other threads */
    atomic_ullong dropped_pushes;        /* pushes refused by a full connection output */
    struct comet_loop_counters counters; /* this thread's events, summed at scrape time */
};

/* Initialises an empty set for loop (rooms counted into comet->online). */
void connection_set_init(struct connection_set *set, struct event_loop *loop, struct comet *comet);

/* Frees the indexes; every connection must be closed and released already. */
void connection_set_destroy(struct connection_set *set);

/* Closes every connection of the set (going_away first), e.g. the loop stops. */
void connection_set_close_all(struct connection_set *set, enum connection_close_reason reason);

/*
 * The flush pass, called before the loop waits: writes the queued output of
 * every pending connection, each with one writev (the rest waits for EPOLLOUT
 * when the socket is full; a failed write closes the connection), and drops
 * the pending list's references; then the held connections whose write delay
 * is over (protocol.writeDelay after their previous push write). Returns the
 * ms until the pass wants to run again (the first held connection's), or -1
 * when nothing waits.
 */
int connection_set_flush_pending(struct connection_set *set);

/* Safe point of the loop: releases the connections closed meanwhile. */
void connection_set_reap(struct connection_set *set);

/* A deadline of the loop's wheel fell due: the timer hook of the loop (its entry is a
 * connection's deadline). */
void connection_deadline_expired(struct timer_entry *entry);

/* Another loop authenticated key with sequence: closes an older connection with it here. */
void connection_set_apply_claim(struct connection_set *set, const char *key, uint64_t sequence);

/*
 * Takes ownership of an accepted non-blocking socket fd: registers it with
 * the loop, arms the handshake deadline (it covers a WebSocket upgrade and a
 * TLS handshake too), links it into the live list. route (static) is the
 * listener's choice; transport its metrics label; tls: run TLS under it
 * (comet->tls_context). Returns GIM_OK, or an error after closing fd.
 */
int connection_accept(struct connection_set *set, int fd, const struct sockaddr *peer,
                      const struct connection_route *route, enum comet_transport_class transport,
                      bool tls);

/* Sets the route (an upgrade picked the protocol; route static). */
void connection_set_route(struct comet_connection *connection,
                          const struct connection_route *route);

/* Who is authenticated (connection_authenticate copies what it keeps). */
struct connection_identity {
    int64_t mid;
    const char *key; /* NULL: "" and not indexed (no push by key, never replaced) */
    const int32_t *accepts;
    size_t accept_count;  /* over CONNECTION_MAX_ACCEPTS: the rest are ignored */
    const char *room;     /* room to join, or NULL / "" for none */
    int64_t heartbeat_ms; /* deadline between heartbeats; below TIMER_WHEEL_TICK_MS: 10 min */
};

/*
 * Makes a connection in CONNECTION_AUTHENTICATING (or HANDSHAKE) active with
 * identity: keeps key, mid and accepts, joins the room, indexes the key (an
 * older connection with it, here or on another loop, closes as replaced),
 * counts it and arms the heartbeat deadline. The seam every protocol's auth
 * ends in, and what tests call to authenticate a connection without logic.
 * Returns GIM_OK, GIM_ERR_NO_MEMORY (the connection is then closed), or
 * GIM_ERR_INVALID when it is closed or active already (nothing changes).
 */
int connection_authenticate(struct comet_connection *connection,
                            const struct connection_identity *identity);

/* Adds (subscribe) or removes operations from the watched set. */
void connection_update_accepts(struct comet_connection *connection, const int32_t *operations,
                               int count, bool subscribe);

/* True if the connection watches operation (its accepts set). */
bool connection_watches(const struct comet_connection *connection, int32_t operation);

/*
 * Queues a server push, already encoded for this connection's wire, for the
 * loop's next flush pass (connection_set_flush_pending). With the set's
 * push_writes_now (no later push of this batch could share the write) it is
 * written at once instead, together with what is pending on the connection;
 * a connection waiting for EPOLLOUT only queues it. With protocol.writeDelay,
 * a push less than writeDelay after the connection's previous push write, or
 * to a connection already held, is held (see the top of this file). Takes its own reference
 * to buffer when it queues it. Returns GIM_OK, GIM_ERR_TOO_LARGE when dropped
 * at the output bound, GIM_ERR_CLOSED if the connection is closed.
 */
int connection_push(struct comet_connection *connection, struct gim_shared_buffer *buffer);

/*
 * Writes bytes already framed for this connection (a reply, a handshake
 * answer, a control frame; same sharing rule) at once, together with the
 * pushes pending on it (they go first); what the socket does not take waits
 * for EPOLLOUT. Over the output bound the connection is closed. Returns
 * GIM_OK or GIM_ERR_CLOSED.
 */
int connection_reply(struct comet_connection *connection, struct gim_shared_buffer *buffer);

/*
 * Reads up to length bytes from the connection's stream into buffer. Returns
 * the count, or on end of stream or failure closes the connection and returns
 * GIM_ERR_CLOSED; GIM_ERR_AGAIN when nothing is there.
 */
ssize_t connection_read(struct comet_connection *connection, uint8_t *buffer, size_t length);

/* True if the stream holds input epoll cannot see (TLS). */
bool connection_has_buffered_input(const struct comet_connection *connection);

/* Enables or disables reading (EPOLLIN) for the connection. */
void connection_set_reading(struct comet_connection *connection, bool reading);

/* Turns reading back on (after an auth) and has the framing handle what is already held. May
 * close the connection. */
void connection_resume_reading(struct comet_connection *connection);

/*
 * Stops reading and closes the connection as soon as its queued output is
 * written (at once if nothing is queued). Used after a final answer such as
 * an HTTP 400 or a WebSocket close frame.
 */
void connection_close_after_flush(struct comet_connection *connection,
                                  enum connection_close_reason reason);

/*
 * Replaces connection->input with a copy of data[0..length) (data may point
 * into the old input or the loop's scratch); length 0 frees it. Returns
 * GIM_OK, GIM_ERR_TOO_LARGE over max_length (nothing changed), or
 * GIM_ERR_NO_MEMORY.
 */
int connection_keep_input(struct comet_connection *connection, const uint8_t *data, size_t length,
                          size_t max_length);

/*
 * Closes the connection now: deregisters and closes the socket, leaves the
 * key index and rooms, releases buffers, counts the close by reason's class,
 * then tells the framing (hooks.closed, which tells the protocol) and defers
 * freeing. Idempotent.
 */
void connection_close(struct comet_connection *connection, enum connection_close_reason reason);

/* Closes with a last word first (hooks.going_away: WebSocket 1001), as the server goes. */
void connection_close_going_away(struct comet_connection *connection,
                                 enum connection_close_reason reason);

/* The close reason for a failed status of a layer above (GIM_ERR_NO_MEMORY: out of memory,
 * GIM_ERR_IO: read failed, else a bad message). */
enum connection_close_reason connection_close_reason_of(int status);

/* The metrics class of a close reason. */
enum comet_close_class connection_close_class(enum connection_close_reason reason);

/* A short text for a close reason (logs). */
const char *connection_close_text(enum connection_close_reason reason);

/* Takes a reference (loop thread). */
void connection_ref(struct comet_connection *connection);

/* Drops a reference; the last frees the connection (loop thread, at a safe point). */
void connection_unref(struct comet_connection *connection);

#endif
