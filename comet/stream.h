/*
 * stream.h: the byte stream under a client connection, as a small ops table.
 *
 * A connection reads and writes through connection->stream: plain_stream
 * (the socket itself) or tls_stream (OpenSSL over the socket, for WSS).
 * The framing above it (goim frames on TCP, or the WebSocket upgrade plus
 * wslay, websocket.h) does not know which one it talks to. Everything is
 * non-blocking: a call that would block returns GIM_ERR_AGAIN and the loop
 * retries on the next epoll event. For TLS the handshake runs inside the
 * first reads and writes (SSL_accept state); when OpenSSL needs the socket
 * writable to make progress on a read, connection->stream_wants_write is
 * set and the connection keeps EPOLLOUT armed until the next read attempt.
 */
#ifndef COMET_STREAM_H
#define COMET_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct comet_connection;
struct ssl_ctx_st;

struct stream_ops {
    const char *name;
    /*
     * Reads up to length bytes into buffer. Returns the count (> 0), 0 when
     * the peer closed the stream, GIM_ERR_AGAIN when nothing is available
     * yet, GIM_ERR_IO on a failure (the caller closes the connection).
     */
    ssize_t (*read)(struct comet_connection *connection, uint8_t *buffer, size_t length);
    /*
     * Writes from vector[0..count) in order. Returns the bytes written (> 0,
     * maybe fewer than offered), GIM_ERR_AGAIN when the socket takes nothing
     * now, GIM_ERR_IO on a failure.
     */
    ssize_t (*writev)(struct comet_connection *connection, const struct iovec *vector, int count);
    /* True if input is buffered inside the stream where epoll cannot see it. */
    bool (*has_buffered_input)(const struct comet_connection *connection);
    /* Releases the stream's per-connection state (not the socket). Safe to call twice. */
    void (*release)(struct comet_connection *connection);
};

/* The socket as is (read/writev). No per-connection state. */
extern const struct stream_ops plain_stream;

/* OpenSSL over the socket; connection->tls must have been set by tls_stream_attach. */
extern const struct stream_ops tls_stream;

/*
 * Creates a TLS server context from a PEM certificate chain and private key
 * file. On GIM_OK *context is the caller's (SSL_CTX_free). Returns
 * GIM_ERR_INVALID (files unreadable or not matching; the reason is logged).
 */
int tls_server_context_new(struct ssl_ctx_st **context, const char *certificate_file,
                           const char *private_key_file);

/*
 * Gives the connection a server-side TLS session over its socket (handshake
 * pending) and sets connection->stream to tls_stream. The session is freed
 * by tls_stream.release. Returns GIM_OK or GIM_ERR_NO_MEMORY.
 */
int tls_stream_attach(struct comet_connection *connection, struct ssl_ctx_st *context);

#endif
