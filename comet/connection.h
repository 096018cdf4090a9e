/*
 * connection.h: one client connection (TCP, WebSocket or WebSocket over TLS)
 * owned by one event loop.
 *
 * Socket I/O and buffers only; what the frames mean is protocol.h. Bytes go
 * through connection->stream (stream.h: plain socket or TLS); a WebSocket
 * connection's framing is websocket.h, which hands protocol.h the same goim
 * frames a TCP connection carries.
 * Input: bytes are read into the loop's scratch buffer and handed to the
 * protocol; only an unfinished frame is kept, in a heap buffer sized to it
 * (never more than 16 + 4096 bytes) and freed as soon as it is consumed, so
 * an idle connection holds no input memory.
 * Output: a queue of references to shared immutable buffers written with
 * writev. A write is tried at once when the queue is empty (no queue node is
 * allocated if the socket takes everything); EPOLLOUT is armed only while a
 * write would block. protocol.maxOutputBytes bounds the bytes queued:
 *   - a server push that does not fit is dropped and counted (the client
 *     is slow; the connection stays up and later pushes may fit again);
 *   - a reply to the client's own frame that does not fit closes the
 *     connection (the client sends but does not read, goim's "ring full").
 * Lifetime: the loop's live list holds one reference, an auth in flight
 * another; connection_close makes it inert at once and the memory is freed
 * when the last reference is dropped, at a safe point of the loop.
 */
#ifndef COMET_CONNECTION_H
#define COMET_CONNECTION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "comet/event_loop.h"
#include "comet/room.h"
#include "comet/timer_wheel.h"
#include "common/shared_buffer.h"

enum connection_state {
    CONNECTION_HANDSHAKE,      /* waiting for op 7 */
    CONNECTION_AUTHENTICATING, /* logic Connect in flight; reading paused */
    CONNECTION_ACTIVE,         /* authenticated */
    CONNECTION_CLOSED          /* inert, waiting for its last reference */
};

/* How a connection frames goim frames on its stream. */
enum connection_transport {
    CONNECTION_TCP,      /* goim frames back to back */
    CONNECTION_WEBSOCKET /* HTTP upgrade, then one goim frame per WebSocket message */
};

/* What a listener accepts (event_loop.c): the transport and whether TLS runs under it. */
enum listener_kind { LISTENER_TCP, LISTENER_WEBSOCKET, LISTENER_WEBSOCKET_TLS };

struct stream_ops;
struct ssl_st;
struct websocket_session;

struct output_item {
    struct output_item *next;
    struct gim_shared_buffer *buffer;
};

/* Largest set of watched operations per connection; more are ignored. */
#define CONNECTION_MAX_ACCEPTS 256

struct comet_connection {
    struct loop_handle handle; /* first: epoll data points here */
    struct event_loop *loop;
    struct comet_connection *prev, *next; /* loop's live list, then its reap list */
    struct timer_entry deadline;          /* handshake, then heartbeat */
    uint32_t references;                  /* loop thread only */
    uint8_t state;
    bool write_armed;        /* EPOLLOUT registered */
    bool reading;            /* EPOLLIN registered */
    bool replaced;           /* closed for a newer connection with its key: no Disconnect */
    bool stream_wants_write; /* TLS: a read needs the socket writable (keep EPOLLOUT) */
    bool close_after_flush;  /* close once the queued output is written */
    uint8_t transport;       /* enum connection_transport */
    const struct stream_ops *stream;
    struct ssl_st *tls;                  /* TLS session (WSS), else NULL */
    struct websocket_session *websocket; /* after a WebSocket upgrade, else NULL */
    uint16_t input_length;
    uint8_t *input; /* unfinished frame, or NULL */
    struct output_item *output_head, *output_tail;
    uint32_t output_offset; /* bytes of output_head already written */
    uint32_t output_bytes;  /* bytes queued, not yet written */
    uint8_t address[16];    /* peer, IPv4 mapped into IPv6 */
    uint16_t auth_version;  /* ver/seq of the op-7 frame, echoed in op 8 */
    int32_t auth_seq;
    int64_t heartbeat_ms;
    int64_t renewed_ms;     /* loop clock of the last logic Heartbeat (or of the auth) */
    uint64_t auth_sequence; /* comet-wide order of authentication */
    int64_t mid;
    char *key;
    int32_t *accepts;
    uint16_t accept_count;
    struct room_member *rooms;
    uint32_t dropped_pushes;
    const char *close_reason; /* static text, for close_after_flush */
};

/*
 * Takes ownership of an accepted non-blocking socket fd: registers it with
 * the loop, arms the handshake deadline (it covers the WebSocket upgrade and
 * the TLS handshake too), links it into the live list. kind says what the
 * listener serves. Returns GIM_OK, or an error after closing fd.
 */
int connection_accept(struct event_loop *loop, int fd, const struct sockaddr *peer,
                      enum listener_kind kind);

/* Handles epoll events for the connection (loop thread). */
void connection_handle_events(struct comet_connection *connection, uint32_t events);

/*
 * Queues a server push: tcp_bytes on a TCP connection, websocket_bytes (the
 * same push framed as one WebSocket message; may be NULL when no WebSocket
 * listener exists) on a WebSocket one. Takes its own reference to the buffer
 * it queues; the caller keeps its references. Returns GIM_OK,
 * GIM_ERR_TOO_LARGE when dropped at the output bound, GIM_ERR_CLOSED if the
 * connection is closed, GIM_ERR_INVALID if the needed encoding is missing.
 */
int connection_push(struct comet_connection *connection, struct gim_shared_buffer *tcp_bytes,
                    struct gim_shared_buffer *websocket_bytes);

/*
 * Queues bytes already framed for this connection's transport (a reply, a
 * handshake answer, a WebSocket control frame; same sharing rule). Over the
 * output bound the connection is closed. Returns GIM_OK or GIM_ERR_CLOSED.
 */
int connection_reply(struct comet_connection *connection, struct gim_shared_buffer *buffer);

/* Builds a frame (header + body; as one binary message on WebSocket) into a new shared
 * buffer and replies with it. Returns GIM_OK or GIM_ERR_CLOSED. */
int connection_reply_frame(struct comet_connection *connection, uint16_t version, int32_t operation,
                           int32_t sequence, const uint8_t *body, size_t body_length);

/* Enables or disables reading (EPOLLIN) for the connection. */
void connection_set_reading(struct comet_connection *connection, bool reading);

/*
 * Turns reading back on after an auth and, on a WebSocket connection, hands
 * over at once what its stream or wslay already holds (epoll would not
 * report it). May close the connection.
 */
void connection_resume_reading(struct comet_connection *connection);

/*
 * Stops reading and closes the connection as soon as its queued output is
 * written (at once if nothing is queued). Used after a final answer such as
 * an HTTP 400 or a WebSocket close frame.
 */
void connection_close_after_flush(struct comet_connection *connection, const char *reason);

/*
 * Replaces connection->input with a copy of data[0..length) (data may point
 * into the old input or the loop's scratch); length 0 frees it. Returns
 * GIM_OK, GIM_ERR_TOO_LARGE over max_length (nothing changed), or
 * GIM_ERR_NO_MEMORY.
 */
int connection_keep_input(struct comet_connection *connection, const uint8_t *data, size_t length,
                          size_t max_length);

/*
 * Hands the goim frames held in connection->input to the protocol (after an
 * auth completes; a WebSocket connection's held input is raw frames, taken by
 * websocket_read when reading resumes). Closes the connection on a protocol
 * error.
 */
void connection_process_held_input(struct comet_connection *connection);

/*
 * Closes the connection now: deregisters and closes the socket, leaves the
 * key index and rooms, releases buffers, tells logic (Disconnect) if it was
 * authenticated and not replaced by a newer connection with its key (whose
 * Redis mapping a Disconnect would delete), and defers freeing. reason is logged at debug.
 * Idempotent.
 */
void connection_close(struct comet_connection *connection, const char *reason);

/* Takes a reference (loop thread). */
void connection_ref(struct comet_connection *connection);

/* Drops a reference; the last frees the connection (loop thread, at a safe point). */
void connection_unref(struct comet_connection *connection);

/* True if the connection watches operation (its accepts set). */
bool connection_watches(const struct comet_connection *connection, int32_t operation);

#endif
