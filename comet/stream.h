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
 * WSS may serve several certificates (struct tls_certificates): the one a
 * session presents is picked by the client's SNI name during the handshake.
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
 * The WSS certificates: one TLS server context per certificate/key pair, the
 * first pair's being the default. A connection starts on the default context;
 * during the handshake OpenSSL's servername callback switches it to the pair
 * whose certificate names the client's SNI server name (goim's
 * BuildNameToCertificate). Read-only after tls_certificates_load, so every
 * loop thread may use it at once.
 */
struct tls_certificates;

/*
 * Loads every pair of the two comma-separated lists of PEM files
 * (websocket.certFile: certificate chains, websocket.privateFile: private
 * keys), paired by position; spaces around an entry are ignored. Each key must
 * match its certificate. A certificate is chosen for the client's SNI name by
 * its subjectAltName DNS names and subject CNs, compared case-insensitively:
 * an exact name of any pair first, then a "*.rest" name that stands for
 * exactly one leftmost label ("*.example.com" serves "a.example.com", not
 * "example.com" nor "a.b.example.com"); the first pair in list order wins a
 * tie. No SNI, or a name no certificate carries, gets the first pair.
 * On GIM_OK *certificates is the caller's (tls_certificates_free). Returns
 * GIM_ERR_INVALID when the lists differ in length, have an empty entry, or a
 * file is unreadable, not PEM, or a key does not match its certificate (the
 * reason, naming the files, is logged at error level), GIM_ERR_NO_MEMORY.
 */
int tls_certificates_load(struct tls_certificates **certificates, const char *certificate_files,
                          const char *private_key_files);

/*
 * The default context (the first pair's), to give to tls_stream_attach.
 * Owned by certificates: valid until tls_certificates_free.
 */
struct ssl_ctx_st *tls_certificates_default_context(const struct tls_certificates *certificates);

/*
 * Frees every pair's context and the name tables. Call it after the last TLS
 * connection is released (sessions keep their own references to the contexts,
 * but the SNI callback reads the name tables). NULL is ignored.
 */
void tls_certificates_free(struct tls_certificates *certificates);

/*
 * Gives the connection a server-side TLS session over its socket (handshake
 * pending) and sets connection->stream to tls_stream. The session is freed
 * by tls_stream.release. Returns GIM_OK or GIM_ERR_NO_MEMORY.
 */
int tls_stream_attach(struct comet_connection *connection, struct ssl_ctx_st *context);

#endif
