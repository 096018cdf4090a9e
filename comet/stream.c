/* stream.c: plain and TLS byte streams for client connections (see stream.h). */
#include "comet/stream.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include "comet/connection.h"
#include "common/log.h"
#include "common/status.h"

static ssize_t plain_read(struct comet_connection *connection, uint8_t *buffer, size_t length)
{
    ssize_t received;

    do {
        received = read(connection->handle.fd, buffer, length);
    } while (received < 0 && errno == EINTR);
    if (received >= 0)
        return received;
    return errno == EAGAIN || errno == EWOULDBLOCK ? GIM_ERR_AGAIN : GIM_ERR_IO;
}

static ssize_t plain_writev(struct comet_connection *connection, const struct iovec *vector,
                            int count)
{
    ssize_t written;

    do {
        written = writev(connection->handle.fd, vector, count);
    } while (written < 0 && errno == EINTR);
    if (written > 0)
        return written;
    if (written == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
        return GIM_ERR_AGAIN;
    return GIM_ERR_IO;
}

static bool plain_has_buffered_input(const struct comet_connection *connection)
{
    (void)connection;
    return false;
}

static void plain_release(struct comet_connection *connection)
{
    (void)connection;
}

const struct stream_ops plain_stream = {"tcp", plain_read, plain_writev, plain_has_buffered_input,
                                        plain_release};

/* Maps an SSL_read/SSL_write result that is not a success to a GIM status. */
static ssize_t tls_failure(struct comet_connection *connection, int result, bool reading)
{
    int error = SSL_get_error(connection->tls, result);

    switch (error) {
    case SSL_ERROR_WANT_READ:
        /* a write waiting for input (renegotiation / key update): EPOLLIN is
         * armed while reading, and every EPOLLIN retries pending output */
        return GIM_ERR_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        if (reading)
            connection->stream_wants_write = true;
        return GIM_ERR_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0; /* close_notify */
    default:
        gim_log_debug("tls fd %d: %s error %d", connection->handle.fd, reading ? "read" : "write",
                      error);
        ERR_clear_error();
        return GIM_ERR_IO;
    }
}

static ssize_t tls_read(struct comet_connection *connection, uint8_t *buffer, size_t length)
{
    int result, request = length > INT32_MAX ? INT32_MAX : (int)length;

    connection->stream_wants_write = false;
    ERR_clear_error();
    result = SSL_read(connection->tls, buffer, request);
    if (result > 0)
        return result;
    return tls_failure(connection, result, true);
}

static ssize_t tls_writev(struct comet_connection *connection, const struct iovec *vector,
                          int count)
{
    ssize_t total = 0;
    int index;

    /* SSL_write takes one buffer: write them in order, stop at the first short write. */
    for (index = 0; index < count; index++) {
        int request = vector[index].iov_len > INT32_MAX ? INT32_MAX : (int)vector[index].iov_len;
        int result;

        if (request == 0)
            continue;
        ERR_clear_error();
        result = SSL_write(connection->tls, vector[index].iov_base, request);
        if (result <= 0) {
            ssize_t status = tls_failure(connection, result, false);
            if (total > 0 && status == GIM_ERR_AGAIN)
                return total;
            return status == 0 ? GIM_ERR_IO : status;
        }
        total += result;
        if (result < request)
            break;
    }
    return total > 0 ? total : GIM_ERR_AGAIN;
}

static bool tls_has_buffered_input(const struct comet_connection *connection)
{
    return connection->tls != NULL && SSL_pending(connection->tls) > 0;
}

static void tls_release(struct comet_connection *connection)
{
    SSL_free(connection->tls);
    connection->tls = NULL;
}

const struct stream_ops tls_stream = {"tls", tls_read, tls_writev, tls_has_buffered_input,
                                      tls_release};

int tls_server_context_new(SSL_CTX **out, const char *certificate_file,
                           const char *private_key_file)
{
    SSL_CTX *context = SSL_CTX_new(TLS_server_method());

    *out = NULL;
    if (context == NULL)
        return GIM_ERR_NO_MEMORY;
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                  SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(context, certificate_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(context, private_key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(context) != 1) {
        char reason[256];
        ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
        gim_log_error("websocket TLS: cannot use certificate %s / key %s: %s", certificate_file,
                      private_key_file, reason);
        ERR_clear_error();
        SSL_CTX_free(context);
        return GIM_ERR_INVALID;
    }
    *out = context;
    return GIM_OK;
}

int tls_stream_attach(struct comet_connection *connection, SSL_CTX *context)
{
    SSL *session = SSL_new(context);

    if (session == NULL || SSL_set_fd(session, connection->handle.fd) != 1) {
        SSL_free(session);
        return GIM_ERR_NO_MEMORY;
    }
    SSL_set_accept_state(session);
    connection->tls = session;
    connection->stream = &tls_stream;
    return GIM_OK;
}
