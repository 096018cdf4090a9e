/* connection.c: socket I/O, bounded output queue and lifetime of a client connection
 * (see connection.h). */
#include "comet/connection.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "comet/comet.h"
#include "comet/logic_calls.h"
#include "comet/protocol.h"
#include "comet/stream.h"
#include "comet/websocket.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/status.h"

#define CLIENT_FRAME_MAX (GIM_FRAME_HEADER_SIZE + GIM_FRAME_MAX_CLIENT_BODY)
#define WRITEV_BATCH     64

static void connection_update_events(struct comet_connection *connection)
{
    struct epoll_event event = {0};

    event.events = (connection->reading ? EPOLLIN : 0) | (connection->write_armed ? EPOLLOUT : 0);
    event.data.ptr = &connection->handle;
    if (epoll_ctl(connection->loop->epoll_fd, EPOLL_CTL_MOD, connection->handle.fd, &event) != 0)
        gim_log_warn("epoll_ctl MOD fd %d: %s", connection->handle.fd, strerror(errno));
}

static void address_from_sockaddr(uint8_t out[16], const struct sockaddr *peer)
{
    memset(out, 0, 16);
    if (peer->sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &((const struct sockaddr_in *)(const void *)peer)->sin_addr, 4);
    } else if (peer->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr, 16);
    }
}

/* The transport label of a connection's metrics (comet/metrics.h). */
static enum comet_transport_class
connection_transport_class(const struct comet_connection *connection)
{
    if (connection->transport == CONNECTION_TCP)
        return COMET_TRANSPORT_TCP;
    return connection->tls != NULL ? COMET_TRANSPORT_WSS : COMET_TRANSPORT_WEBSOCKET;
}

int connection_accept(struct event_loop *loop, int fd, const struct sockaddr *peer,
                      enum listener_kind kind)
{
    struct comet_connection *connection = calloc(1, sizeof(*connection));
    struct epoll_event event = {0};

    if (connection == NULL) {
        close(fd);
        return GIM_ERR_NO_MEMORY;
    }
    connection->handle.type = HANDLE_CONNECTION;
    connection->handle.fd = fd;
    connection->loop = loop;
    connection->references = 1; /* the live list's */
    connection->state = CONNECTION_HANDSHAKE;
    connection->reading = true;
    connection->transport = kind == LISTENER_TCP ? CONNECTION_TCP : CONNECTION_WEBSOCKET;
    connection->stream = &plain_stream;
    if (kind == LISTENER_WEBSOCKET_TLS &&
        tls_stream_attach(connection, loop->comet->tls_context) != GIM_OK) {
        close(fd);
        free(connection);
        return GIM_ERR_NO_MEMORY;
    }
    address_from_sockaddr(connection->address, peer);
    timer_entry_init(&connection->deadline);
    event.events = EPOLLIN;
    event.data.ptr = &connection->handle;
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
        close(fd);
        connection->stream->release(connection);
        free(connection);
        return GIM_ERR_IO;
    }
    timer_wheel_arm(&loop->wheel, &connection->deadline,
                    loop->now_ms + loop->comet->config->handshake_timeout_ms);
    connection->next = loop->live;
    if (loop->live != NULL)
        loop->live->prev = connection;
    loop->live = connection;
    gim_counter_increment(&loop->counters.accepted[connection_transport_class(connection)]);
    return GIM_OK;
}

void connection_ref(struct comet_connection *connection)
{
    connection->references++;
}

void connection_unref(struct comet_connection *connection)
{
    if (--connection->references > 0)
        return;
    connection->stream->release(connection);
    websocket_release(connection);
    free(connection->key);
    free(connection->accepts);
    free(connection);
}

bool connection_watches(const struct comet_connection *connection, int32_t operation)
{
    uint16_t index;

    for (index = 0; index < connection->accept_count; index++) {
        if (connection->accepts[index] == operation)
            return true;
    }
    return false;
}

void connection_set_reading(struct comet_connection *connection, bool reading)
{
    if (connection->state == CONNECTION_CLOSED || connection->reading == reading)
        return;
    connection->reading = reading;
    connection_update_events(connection);
}

static void output_release_all(struct comet_connection *connection)
{
    struct output_item *item = connection->output_head, *next;

    for (; item != NULL; item = next) {
        next = item->next;
        gim_shared_buffer_unref(item->buffer);
        free(item);
    }
    connection->output_head = connection->output_tail = NULL;
    connection->output_bytes = 0;
    connection->output_offset = 0;
}

/* Writes as much queued output as the stream takes. Returns GIM_OK, GIM_ERR_IO, or
 * GIM_ERR_CLOSED when the output is drained and the connection is to close after it. */
static int connection_flush(struct comet_connection *connection)
{
    while (connection->output_head != NULL) {
        struct iovec vector[WRITEV_BATCH];
        struct output_item *item = connection->output_head;
        int count = 0;
        ssize_t written;
        size_t left;

        for (; item != NULL && count < WRITEV_BATCH; item = item->next, count++) {
            size_t skip = count == 0 ? connection->output_offset : 0;
            vector[count].iov_base = item->buffer->data + skip;
            vector[count].iov_len = item->buffer->length - skip;
        }
        written = connection->stream->writev(connection, vector, count);
        if (written == GIM_ERR_AGAIN)
            break;
        if (written < 0)
            return GIM_ERR_IO;
        left = (size_t)written;
        connection->output_bytes -= (uint32_t)written;
        while (left > 0) {
            item = connection->output_head;
            size_t remaining = item->buffer->length - connection->output_offset;
            if (left < remaining) {
                connection->output_offset += (uint32_t)left;
                break;
            }
            left -= remaining;
            connection->output_offset = 0;
            connection->output_head = item->next;
            gim_shared_buffer_unref(item->buffer);
            free(item);
        }
        if (connection->output_head == NULL)
            connection->output_tail = NULL;
        else if (connection->output_offset > 0)
            break; /* partial write: the socket is full */
    }
    if (connection->output_head == NULL && connection->close_after_flush)
        return GIM_ERR_CLOSED;
    if ((connection->output_head != NULL || connection->stream_wants_write) !=
        connection->write_armed) {
        connection->write_armed = connection->output_head != NULL || connection->stream_wants_write;
        connection_update_events(connection);
    }
    return GIM_OK;
}

/* Queues buffer after the output already waiting, writing at once when nothing waits. */
static int connection_enqueue(struct comet_connection *connection, struct gim_shared_buffer *buffer)
{
    struct output_item *item;
    size_t offset = 0;

    if (connection->output_head == NULL) {
        struct iovec whole = {buffer->data, buffer->length};
        ssize_t written = connection->stream->writev(connection, &whole, 1);
        if (written < 0 && written != GIM_ERR_AGAIN) {
            connection_close(connection, "write failed");
            return GIM_ERR_CLOSED;
        }
        if (written == (ssize_t)buffer->length)
            return GIM_OK;
        offset = written > 0 ? (size_t)written : 0;
    }
    item = malloc(sizeof(*item));
    if (item == NULL) {
        connection_close(connection, "out of memory for output");
        return GIM_ERR_CLOSED;
    }
    item->next = NULL;
    item->buffer = gim_shared_buffer_ref(buffer);
    if (connection->output_tail != NULL)
        connection->output_tail->next = item;
    else
        connection->output_head = item;
    connection->output_tail = item;
    if (connection->output_head == item)
        connection->output_offset = (uint32_t)offset;
    connection->output_bytes += (uint32_t)(buffer->length - offset);
    if (!connection->write_armed) {
        connection->write_armed = true;
        connection_update_events(connection);
    }
    return GIM_OK;
}

static bool output_fits(const struct comet_connection *connection, size_t length)
{
    return (uint64_t)connection->output_bytes + length <=
           (uint64_t)connection->loop->comet->config->max_output_bytes;
}

int connection_push(struct comet_connection *connection, struct gim_shared_buffer *tcp_bytes,
                    struct gim_shared_buffer *websocket_bytes)
{
    struct gim_shared_buffer *buffer =
        connection->transport == CONNECTION_WEBSOCKET ? websocket_bytes : tcp_bytes;

    if (connection->state == CONNECTION_CLOSED)
        return GIM_ERR_CLOSED;
    if (buffer == NULL)
        return GIM_ERR_INVALID;
    /* Policy at the bound: a push that does not fit is dropped and counted;
     * the connection stays, later pushes are delivered once it drains. */
    if (!output_fits(connection, buffer->length)) {
        connection->dropped_pushes++;
        atomic_fetch_add_explicit(&connection->loop->dropped_pushes, 1, memory_order_relaxed);
        gim_log_debug("push dropped for key %s: %u bytes already queued",
                      connection->key ? connection->key : "", connection->output_bytes);
        return GIM_ERR_TOO_LARGE;
    }
    if (connection_enqueue(connection, buffer) != GIM_OK)
        return GIM_ERR_CLOSED;
    gim_counter_increment(&connection->loop->counters.pushes_delivered);
    return GIM_OK;
}

int connection_reply(struct comet_connection *connection, struct gim_shared_buffer *buffer)
{
    if (connection->state == CONNECTION_CLOSED)
        return GIM_ERR_CLOSED;
    /* Policy at the bound: the client keeps sending but does not read its
     * replies; goim closes such a connection ("ring buffer full"), so do we. */
    if (!output_fits(connection, buffer->length)) {
        connection_close(connection, "output full on reply");
        return GIM_ERR_CLOSED;
    }
    return connection_enqueue(connection, buffer);
}

int connection_reply_frame(struct comet_connection *connection, uint16_t version, int32_t operation,
                           int32_t sequence, const uint8_t *body, size_t body_length)
{
    struct gim_shared_buffer *buffer;
    int status;

    if (connection->transport == CONNECTION_WEBSOCKET) {
        buffer = websocket_encode_frame(version, operation, sequence, body, body_length);
    } else {
        buffer = gim_shared_buffer_new(GIM_FRAME_HEADER_SIZE + body_length);
        if (buffer != NULL)
            gim_frame_encode(buffer->data, buffer->length, version, operation, sequence, body,
                             body_length);
    }
    if (buffer == NULL) {
        connection_close(connection, "out of memory for reply");
        return GIM_ERR_CLOSED;
    }
    status = connection_reply(connection, buffer);
    gim_shared_buffer_unref(buffer);
    return status;
}

int connection_keep_input(struct comet_connection *connection, const uint8_t *data, size_t length,
                          size_t max_length)
{
    uint8_t *kept;

    if (length == 0) {
        free(connection->input);
        connection->input = NULL;
        connection->input_length = 0;
        return GIM_OK;
    }
    if (length > max_length || length > UINT16_MAX)
        return GIM_ERR_TOO_LARGE;
    kept = malloc(length);
    if (kept == NULL)
        return GIM_ERR_NO_MEMORY;
    memmove(kept, data, length);
    free(connection->input);
    connection->input = kept;
    connection->input_length = (uint16_t)length;
    return GIM_OK;
}

static void connection_read(struct comet_connection *connection)
{
    struct event_loop *loop = connection->loop;
    size_t held = connection->input_length, limit;
    ssize_t received;
    long consumed;

    /* Before auth a client has no business sending more than one frame
     * ahead, so a read never leaves more than one client frame unconsumed
     * (the auth frame pauses reading until logic answers). */
    limit = connection->state == CONNECTION_ACTIVE ? LOOP_SCRATCH_SIZE : CLIENT_FRAME_MAX;
    if (connection->transport == CONNECTION_WEBSOCKET) {
        websocket_read(connection);
        return;
    }
    if (held >= limit)
        return;
    if (held > 0)
        memcpy(loop->scratch, connection->input, held);
    received = connection->stream->read(connection, loop->scratch + held, limit - held);
    if (received == 0) {
        connection_close(connection, "closed by peer");
        return;
    }
    if (received < 0) {
        if (received != GIM_ERR_AGAIN)
            connection_close(connection, "read failed");
        return;
    }
    consumed = protocol_consume(connection, loop->scratch, held + (size_t)received);
    if (consumed < 0) {
        connection_close(connection, gim_strerror((int)consumed));
        return;
    }
    if (connection->state == CONNECTION_CLOSED)
        return;
    if (connection_keep_input(connection, loop->scratch + consumed,
                              held + (size_t)received - (size_t)consumed,
                              CLIENT_FRAME_MAX) != GIM_OK)
        connection_close(connection, "input over the frame limit");
}

void connection_process_held_input(struct comet_connection *connection)
{
    size_t held = connection->input_length;
    long consumed;

    /* a WebSocket connection's input is raw frames: websocket_read takes it on resume */
    if (held == 0 || connection->state == CONNECTION_CLOSED ||
        connection->transport == CONNECTION_WEBSOCKET)
        return;
    memcpy(connection->loop->scratch, connection->input, held);
    consumed = protocol_consume(connection, connection->loop->scratch, held);
    if (consumed < 0) {
        connection_close(connection, gim_strerror((int)consumed));
        return;
    }
    if (connection->state != CONNECTION_CLOSED &&
        connection_keep_input(connection, connection->loop->scratch + consumed,
                              held - (size_t)consumed, CLIENT_FRAME_MAX) != GIM_OK)
        connection_close(connection, "input over the frame limit");
}

void connection_handle_events(struct comet_connection *connection, uint32_t events)
{
    if (connection->state == CONNECTION_CLOSED)
        return;
    if (events & (EPOLLERR | EPOLLHUP)) {
        connection_close(connection, "socket error or hang-up");
        return;
    }
    /* TLS: output may wait for input (WANT_READ), so EPOLLIN retries it too */
    if ((events & EPOLLOUT) || (connection->tls != NULL && connection->output_head != NULL)) {
        int status = connection_flush(connection);
        if (status != GIM_OK) {
            connection_close(connection,
                             status == GIM_ERR_CLOSED ? connection->close_reason : "write failed");
            return;
        }
    }
    if (((events & EPOLLIN) && connection->reading) ||
        ((events & EPOLLOUT) && connection->stream_wants_write && connection->reading))
        connection_read(connection);
}

void connection_resume_reading(struct comet_connection *connection)
{
    connection_set_reading(connection, true);
    if (connection->state != CONNECTION_CLOSED &&
        (connection->transport == CONNECTION_WEBSOCKET ||
         connection->stream->has_buffered_input(connection)))
        connection_read(connection);
}

void connection_close_after_flush(struct comet_connection *connection, const char *reason)
{
    if (connection->state == CONNECTION_CLOSED)
        return;
    connection->close_reason = reason;
    connection->close_after_flush = true;
    connection_set_reading(connection, false);
    if (connection->output_head == NULL)
        connection_close(connection, reason);
}

void connection_close(struct comet_connection *connection, const char *reason)
{
    struct event_loop *loop = connection->loop;
    bool was_active = connection->state == CONNECTION_ACTIVE;

    if (connection->state == CONNECTION_CLOSED)
        return;
    gim_log_debug("close fd %d key %s: %s", connection->handle.fd,
                  connection->key ? connection->key : "-", reason);
    gim_counter_increment(&loop->counters.closed[connection_transport_class(connection)]);
    gim_counter_increment(&loop->counters.closes[comet_close_class_of(reason)]);
    connection->state = CONNECTION_CLOSED;
    timer_entry_cancel(&connection->deadline);
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, connection->handle.fd, NULL);
    close(connection->handle.fd);
    connection->handle.fd = -1;
    output_release_all(connection);
    free(connection->input);
    connection->input = NULL;
    connection->input_length = 0;
    room_leave_all(&loop->rooms, &connection->rooms);
    if (was_active) {
        string_map_remove_if(&loop->keys, connection->key, connection);
        atomic_fetch_sub_explicit(&loop->authenticated, 1, memory_order_relaxed);
        ip_counter_remove(&loop->comet->client_addresses, connection->address);
        if (!connection->replaced)
            logic_disconnect(loop->comet, connection->mid, connection->key);
    }
    /* Unlink from the live list; the reap list takes over its reference. */
    if (connection->prev != NULL)
        connection->prev->next = connection->next;
    else
        loop->live = connection->next;
    if (connection->next != NULL)
        connection->next->prev = connection->prev;
    connection->prev = connection->next = NULL;
    event_loop_defer_release(loop, connection);
}
