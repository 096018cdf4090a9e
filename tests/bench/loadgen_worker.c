/* loadgen_worker.c: one load-generator process's epoll loop (see loadgen_worker.h). */
#include "tests/bench/loadgen_worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/frame.h"
#include "common/status.h"
#include "tests/bench/loadgen_gusher.h"
#include "tests/bench/loadgen_websocket.h"
#include "tests/bench/proc_stats.h"

#define SERVER_FRAME_MAX_BODY (128 * 1024)
/* A server WebSocket message holds one goim frame. */
#define WEBSOCKET_MAX_PAYLOAD (GIM_FRAME_HEADER_SIZE + SERVER_FRAME_MAX_BODY)
/* Holds the unfinished rest of one frame (at most 10 + WEBSOCKET_MAX_PAYLOAD - 1 bytes, or a
 * response head under LOADGEN_WEBSOCKET_MAX_RESPONSE_HEAD) plus as much again from the socket. */
#define READ_BUFFER_SIZE (2 * (SERVER_FRAME_MAX_BODY + GIM_FRAME_HEADER_SIZE))
#define CLIENT_FRAME_MAX (GIM_FRAME_HEADER_SIZE + 512)
/* Room for the ws target: prefix, "ws/", app, "?token=", token. */
#define UPGRADE_TARGET_MAX (64 + 3 + 128 + 7 + LOADGEN_GUSHER_TOKEN_SIZE)
#define TICK_MS            100
#define EVENT_BATCH        1024

enum connection_state {
    STATE_IDLE,
    STATE_CONNECTING,
    STATE_UPGRADING,      /* WebSocket: request sent, waiting for the 101 */
    STATE_AUTHENTICATING, /* goim: op 7 sent; gusher: subscribe sent */
    STATE_READY,
    STATE_DONE
};

struct client_connection {
    int fd;
    uint8_t state;
    int32_t heartbeat_sequence;
    int64_t index;             /* global connection index: mid = mid_base + index */
    int64_t next_heartbeat_ms; /* CLOCK_MONOTONIC */
    uint8_t *pending;          /* bytes of an incomplete frame or response head, or NULL */
    uint32_t pending_length;
    char expected_accept[LOADGEN_WEBSOCKET_ACCEPT_SIZE]; /* WebSocket, while upgrading */
};

struct worker {
    const struct loadgen_options *options;
    struct loadgen_control *control;
    struct loadgen_worker_stats stats;
    struct loadgen_worker_stats *slot;
    struct client_connection *connections;
    long connection_count;
    long next_to_open;
    long in_flight;
    int epoll_fd;
    uint8_t *read_buffer;
};

static int64_t realtime_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void close_connection(struct worker *worker, struct client_connection *connection,
                             int failed_before_auth)
{
    if (connection->fd >= 0) {
        close(connection->fd);
        connection->fd = -1;
    }
    if (connection->state == STATE_CONNECTING || connection->state == STATE_UPGRADING ||
        connection->state == STATE_AUTHENTICATING)
        worker->in_flight--;
    if (failed_before_auth)
        worker->stats.connect_failed++;
    else
        worker->stats.closed++;
    connection->state = STATE_DONE;
    free(connection->pending);
    connection->pending = NULL;
    connection->pending_length = 0;
}

/* Sends a few bytes at once; a short write counts as a failure (the socket buffer is empty). */
static int send_bytes(struct client_connection *connection, const void *data, size_t size)
{
    ssize_t written = send(connection->fd, data, size, MSG_NOSIGNAL);

    if (written < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return GIM_ERR_AGAIN;
    return written == (ssize_t)size ? GIM_OK : GIM_ERR_IO;
}

/* Fills out with random bytes from the kernel; GIM_ERR_IO if it cannot. */
static int random_bytes(uint8_t *out, size_t length)
{
    size_t filled = 0;

    while (filled < length) {
        ssize_t got = getrandom(out + filled, length - filled, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return GIM_ERR_IO;
        filled += (size_t)got;
    }
    return GIM_OK;
}

/* Sends one WebSocket frame (masked, as a client must) of opcode carrying payload. */
static int send_websocket_frame(struct client_connection *connection, uint8_t opcode,
                                const uint8_t *payload, size_t payload_length)
{
    uint8_t message[GIM_WEBSOCKET_MAX_HEADER + CLIENT_FRAME_MAX];
    uint8_t mask[4];
    size_t size;

    if (random_bytes(mask, sizeof(mask)) != GIM_OK)
        return GIM_ERR_IO;
    size =
        loadgen_websocket_encode(message, sizeof(message), opcode, payload, payload_length, mask);
    if (size == 0)
        return GIM_ERR_TOO_LARGE;
    return send_bytes(connection, message, size);
}

/* Sends one small goim frame: as is over TCP, as one binary message over WebSocket. */
static int send_frame(const struct worker *worker, struct client_connection *connection,
                      int32_t operation, int32_t sequence, const char *body, size_t body_length)
{
    uint8_t frame[CLIENT_FRAME_MAX];
    size_t size = gim_frame_encode(frame, sizeof(frame), 1, operation, sequence,
                                   (const uint8_t *)body, body_length);

    if (size == 0)
        return GIM_ERR_TOO_LARGE;
    if (worker->options->websocket)
        return send_websocket_frame(connection, GIM_WEBSOCKET_BINARY, frame, size);
    return send_bytes(connection, frame, size);
}

static int send_auth(const struct worker *worker, struct client_connection *connection)
{
    const struct loadgen_options *options = worker->options;
    char body[400];
    int length = snprintf(body, sizeof(body),
                          "{\"mid\":%lld,\"key\":\"\",\"room_id\":\"%s\",\"platform\":\"ios\","
                          "\"accepts\":[%s]}",
                          (long long)(options->mid_base + connection->index), options->room,
                          options->accepts);

    if (length < 0 || (size_t)length >= sizeof(body))
        return GIM_ERR_TOO_LARGE;
    return send_frame(worker, connection, GIM_OP_AUTH, 1, body, (size_t)length);
}

/* Copies the parent's current gusher token into token. */
static void current_gusher_token(const struct worker *worker, char token[LOADGEN_GUSHER_TOKEN_SIZE])
{
    unsigned generation = atomic_load(&worker->control->gusher_token_generation);

    memcpy(token, worker->control->gusher_tokens[generation % 2], LOADGEN_GUSHER_TOKEN_SIZE);
    token[LOADGEN_GUSHER_TOKEN_SIZE - 1] = '\0';
}

/* Sends gusher's subscribe command for the configured channel as one text message. */
static int send_subscribe(const struct worker *worker, struct client_connection *connection)
{
    char command[CLIENT_FRAME_MAX];
    size_t length =
        loadgen_gusher_subscribe_command(command, sizeof(command), worker->options->gusher_channel);

    if (length == 0)
        return GIM_ERR_TOO_LARGE;
    return send_websocket_frame(connection, GIM_WEBSOCKET_TEXT, (const uint8_t *)command, length);
}

/* Sends the upgrade request (goim: /sub; gusher: its ws path with the current token) with a fresh
 * random key; remembers the expected accept. */
static int send_upgrade(const struct worker *worker, struct client_connection *connection)
{
    const struct sockaddr_in *target =
        &worker->options->targets[connection->index % worker->options->target_count];
    uint8_t nonce[LOADGEN_WEBSOCKET_NONCE_SIZE];
    char key[LOADGEN_WEBSOCKET_KEY_SIZE], address[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN + 16];
    char request[512 + UPGRADE_TARGET_MAX], request_target[UPGRADE_TARGET_MAX] = "/sub";
    size_t length;

    if (worker->options->protocol == LOADGEN_PROTOCOL_GUSHER) {
        const struct loadgen_options *options = worker->options;
        char token[LOADGEN_GUSHER_TOKEN_SIZE];
        current_gusher_token(worker, token);
        if (loadgen_gusher_ws_target(request_target, sizeof(request_target), options->gusher_prefix,
                                     options->gusher_app, token) == 0)
            return GIM_ERR_TOO_LARGE;
    }
    if (random_bytes(nonce, sizeof(nonce)) != GIM_OK ||
        inet_ntop(AF_INET, &target->sin_addr, address, sizeof(address)) == NULL)
        return GIM_ERR_IO;
    snprintf(host, sizeof(host), "%s:%u", address, (unsigned)ntohs(target->sin_port));
    loadgen_websocket_make_key(nonce, key, connection->expected_accept);
    length = loadgen_websocket_upgrade_request(request, sizeof(request), host, request_target, key);
    if (length == 0)
        return GIM_ERR_TOO_LARGE;
    return send_bytes(connection, request, length);
}

static void open_connection(struct worker *worker, struct client_connection *connection)
{
    const struct loadgen_options *options = worker->options;
    const struct sockaddr_in *target = &options->targets[connection->index % options->target_count];
    struct epoll_event event;
    int fd, one = 1;

    if (worker->stats.first_connect_us == 0)
        worker->stats.first_connect_us = realtime_us();
    worker->stats.connect_started++;
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) {
        worker->stats.connect_failed++;
        connection->state = STATE_DONE;
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (options->source_addresses > 0) {
        struct sockaddr_in source = {.sin_family = AF_INET};
        uint32_t host_byte = 2 + (uint32_t)(connection->index % options->source_addresses);
        source.sin_addr.s_addr = htonl((127u << 24) | host_byte);
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (const struct sockaddr *)&source, sizeof(source)) != 0) {
            close(fd);
            worker->stats.connect_failed++;
            connection->state = STATE_DONE;
            return;
        }
    }
    if (connect(fd, (const struct sockaddr *)target, sizeof(*target)) != 0 &&
        errno != EINPROGRESS) {
        close(fd);
        worker->stats.connect_failed++;
        connection->state = STATE_DONE;
        return;
    }
    connection->fd = fd;
    connection->state = STATE_CONNECTING;
    worker->in_flight++;
    event.events = EPOLLIN | EPOLLOUT;
    event.data.ptr = connection;
    if (epoll_ctl(worker->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0)
        close_connection(worker, connection, 1);
}

static void on_connected(struct worker *worker, struct client_connection *connection)
{
    struct epoll_event event;
    int socket_error = 0;
    socklen_t length = sizeof(socket_error);

    if (getsockopt(connection->fd, SOL_SOCKET, SO_ERROR, &socket_error, &length) != 0 ||
        socket_error != 0) {
        close_connection(worker, connection, 1);
        return;
    }
    worker->stats.connected++;
    event.events = EPOLLIN;
    event.data.ptr = connection;
    if (epoll_ctl(worker->epoll_fd, EPOLL_CTL_MOD, connection->fd, &event) != 0) {
        close_connection(worker, connection, 1);
        return;
    }
    if (worker->options->websocket) {
        if (send_upgrade(worker, connection) != GIM_OK) {
            close_connection(worker, connection, 1);
            return;
        }
        connection->state = STATE_UPGRADING;
        return;
    }
    if (send_auth(worker, connection) != GIM_OK) {
        close_connection(worker, connection, 1);
        return;
    }
    connection->state = STATE_AUTHENTICATING;
}

/* Reads the leading decimal timestamp of a push body; returns 0 if it has none. */
static int64_t body_timestamp_us(const uint8_t *body, size_t length)
{
    int64_t value = 0;
    size_t digits = 0;

    while (digits < length && digits < 18 && body[digits] >= '0' && body[digits] <= '9') {
        value = value * 10 + (body[digits] - '0');
        digits++;
    }
    return digits > 0 ? value : 0;
}

/* A connection became ready (goim: authenticated; gusher: subscribed). */
static void mark_ready(struct worker *worker, struct client_connection *connection, int64_t now_us)
{
    connection->state = STATE_READY;
    worker->in_flight--;
    worker->stats.authed++;
    worker->stats.last_auth_us = now_us;
    /* first heartbeat one interval after auth: auths are spread in time already */
    connection->next_heartbeat_ms =
        monotonic_ms() + (int64_t)worker->options->heartbeat_seconds * 1000;
}

/* Counts one push of size bytes whose send time leads timed[0..timed_length). */
static void time_push(struct worker *worker, const uint8_t *timed, size_t timed_length, size_t size,
                      int64_t now_us)
{
    struct loadgen_worker_stats *stats = &worker->stats;
    int64_t sent_us = body_timestamp_us(timed, timed_length);

    stats->push_frames++;
    stats->push_bytes += size;
    if (sent_us == 0) {
        stats->untimed_pushes++;
        return;
    }
    latency_histogram_record(&stats->latency, now_us > sent_us ? (uint64_t)(now_us - sent_us) : 0);
}

static void count_push(struct worker *worker, int32_t operation, const uint8_t *body,
                       size_t body_length, int64_t now_us)
{
    if (operation >= 1000 && operation < 1000 + LOADGEN_PUSH_OPS)
        worker->stats.frames_by_push_op[operation - 1000]++;
    else
        worker->stats.other_push_frames++;
    time_push(worker, body, body_length, body_length, now_us);
}

/*
 * Handles the complete frames in data[0..length); returns how many bytes they took, or
 * GIM_ERR_INVALID / GIM_ERR_TOO_LARGE for a malformed stream. depth > 0 inside an OpRaw body.
 */
static long handle_frames(struct worker *worker, struct client_connection *connection,
                          const uint8_t *data, size_t length, int64_t now_us, int depth)
{
    size_t offset = 0;

    while (length - offset >= GIM_FRAME_HEADER_SIZE) {
        struct gim_frame_header header;
        const uint8_t *body;
        size_t body_length;
        int status =
            gim_frame_decode_header(data + offset, length - offset, SERVER_FRAME_MAX_BODY, &header);
        if (status != GIM_OK)
            return status;
        if (header.packet_length > length - offset) {
            if (depth > 0)
                return GIM_ERR_INVALID; /* an inner frame must fit its OpRaw body */
            break;
        }
        body = data + offset + GIM_FRAME_HEADER_SIZE;
        body_length = header.packet_length - GIM_FRAME_HEADER_SIZE;
        if (header.operation == GIM_OP_RAW && depth == 0) {
            long inner = handle_frames(worker, connection, body, body_length, now_us, 1);
            if (inner < 0)
                return inner;
        } else if (header.operation >= 0 && header.operation < LOADGEN_CONTROL_OPS) {
            worker->stats.frames_by_control_op[header.operation]++;
            if (header.operation == GIM_OP_AUTH_REPLY && connection->state == STATE_AUTHENTICATING)
                mark_ready(worker, connection, now_us);
        } else {
            count_push(worker, header.operation, body, body_length, now_us);
        }
        offset += header.packet_length;
    }
    if (depth > 0 && offset != length)
        return GIM_ERR_INVALID; /* an OpRaw body holds whole frames only */
    return (long)offset;
}

/* Handles one binary message: exactly one goim frame (an op-9 one is unwrapped). */
static int handle_websocket_message(struct worker *worker, struct client_connection *connection,
                                    const uint8_t *payload, size_t length, int64_t now_us)
{
    struct gim_frame_header header;
    int status = gim_frame_decode_header(payload, length, SERVER_FRAME_MAX_BODY, &header);

    if (status == GIM_ERR_AGAIN || (status == GIM_OK && header.packet_length != length))
        return GIM_ERR_INVALID; /* the message is not exactly one goim frame */
    if (status != GIM_OK)
        return status;
    return handle_frames(worker, connection, payload, length, now_us, 0) == (long)length
               ? GIM_OK
               : GIM_ERR_INVALID;
}

/*
 * Handles one gusher text message: the subscribe reply makes the connection ready (an error
 * reply is a protocol error), a channel envelope is a push timed by its data, anything else is
 * only counted.
 */
static int handle_gusher_message(struct worker *worker, struct client_connection *connection,
                                 const uint8_t *payload, size_t length, int64_t now_us)
{
    struct loadgen_gusher_message message;
    struct loadgen_worker_stats *stats = &worker->stats;

    stats->text_messages++;
    if (loadgen_gusher_read_message(payload, length, &message) != GIM_OK)
        return GIM_ERR_INVALID;
    switch (message.kind) {
    case LOADGEN_GUSHER_SUBSCRIBED:
        if (connection->state == STATE_AUTHENTICATING)
            mark_ready(worker, connection, now_us);
        return GIM_OK;
    case LOADGEN_GUSHER_SUBSCRIBE_ERROR:
        return GIM_ERR_INVALID;
    case LOADGEN_GUSHER_CHANNEL_PUSH:
        time_push(worker, message.data, message.data_length, length, now_us);
        return GIM_OK;
    case LOADGEN_GUSHER_OTHER:
        break;
    }
    return GIM_OK;
}

/* Answers the server's close frame (echoing its status code, if any); the caller then closes. */
static void answer_close(struct client_connection *connection, const uint8_t *payload,
                         size_t length)
{
    send_websocket_frame(connection, GIM_WEBSOCKET_CLOSE, payload, length >= 2 ? 2 : 0);
}

/*
 * Handles what arrived on a WebSocket connection, data[0..length): the 101 head while upgrading
 * (then sends the auth), then whole frames. Returns how many bytes were used, GIM_ERR_CLOSED
 * after answering the server's close, or another negative status for a malformed answer.
 */
static long handle_websocket_input(struct worker *worker, struct client_connection *connection,
                                   const uint8_t *data, size_t length, int64_t now_us)
{
    size_t offset = 0;

    if (connection->state == STATE_UPGRADING) {
        int status =
            loadgen_websocket_check_response(data, length, connection->expected_accept, &offset);
        if (status == GIM_ERR_AGAIN)
            return 0;
        if (status != GIM_OK)
            return status;
        worker->stats.upgraded++;
        connection->state = STATE_AUTHENTICATING;
        if ((worker->options->protocol == LOADGEN_PROTOCOL_GUSHER
                 ? send_subscribe(worker, connection)
                 : send_auth(worker, connection)) != GIM_OK)
            return GIM_ERR_IO;
    }
    while (offset < length) {
        struct loadgen_websocket_frame frame;
        const uint8_t *payload;
        int status =
            loadgen_websocket_decode(data + offset, length - offset, WEBSOCKET_MAX_PAYLOAD, &frame);

        if (status == GIM_ERR_AGAIN)
            break;
        if (status != GIM_OK)
            return status;
        payload = data + offset + frame.header_length;
        switch (frame.opcode) {
        case GIM_WEBSOCKET_BINARY:
            if (!frame.final || worker->options->protocol != LOADGEN_PROTOCOL_GOIM)
                return GIM_ERR_INVALID; /* fragmented (comet sends one frame per message), or
                                           binary to a gusher client */
            status =
                handle_websocket_message(worker, connection, payload, frame.payload_length, now_us);
            if (status != GIM_OK)
                return status;
            break;
        case GIM_WEBSOCKET_TEXT:
            if (!frame.final || worker->options->protocol != LOADGEN_PROTOCOL_GUSHER)
                return GIM_ERR_INVALID; /* fragmented, or text to a goim client */
            status =
                handle_gusher_message(worker, connection, payload, frame.payload_length, now_us);
            if (status != GIM_OK)
                return status;
            break;
        case GIM_WEBSOCKET_PING:
            /* a pong that cannot be written now is left out: the server's next ping asks again */
            send_websocket_frame(connection, GIM_WEBSOCKET_PONG, payload, frame.payload_length);
            break;
        case GIM_WEBSOCKET_PONG:
            break;
        case GIM_WEBSOCKET_CLOSE:
            answer_close(connection, payload, frame.payload_length);
            return GIM_ERR_CLOSED;
        default:
            return GIM_ERR_INVALID; /* continuation: comet sends none */
        }
        offset += frame.header_length + frame.payload_length;
    }
    return (long)offset;
}

/* Sends a close frame with status 1002 (protocol error) to an upgraded connection, best effort. */
static void close_for_protocol_error(const struct worker *worker,
                                     struct client_connection *connection)
{
    static const uint8_t protocol_error[2] = {0x03, 0xea}; /* 1002 */

    if (worker->options->websocket && connection->state != STATE_UPGRADING)
        send_websocket_frame(connection, GIM_WEBSOCKET_CLOSE, protocol_error,
                             sizeof(protocol_error));
}

static void on_readable(struct worker *worker, struct client_connection *connection)
{
    uint8_t *buffer = worker->read_buffer;

    for (;;) {
        size_t filled = connection->pending_length;
        ssize_t received;
        long consumed;

        if (filled > 0)
            memcpy(buffer, connection->pending, filled);
        received = recv(connection->fd, buffer + filled, READ_BUFFER_SIZE - filled, 0);
        if (received == 0) {
            close_connection(worker, connection, connection->state != STATE_READY);
            return;
        }
        if (received < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            close_connection(worker, connection, connection->state != STATE_READY);
            return;
        }
        filled += (size_t)received;
        worker->stats.reads++;
        if (worker->options->websocket)
            consumed = handle_websocket_input(worker, connection, buffer, filled, realtime_us());
        else
            consumed = handle_frames(worker, connection, buffer, filled, realtime_us(), 0);
        if (consumed == GIM_ERR_CLOSED) {
            close_connection(worker, connection, connection->state != STATE_READY);
            return;
        }
        if (consumed < 0) {
            worker->stats.protocol_errors++;
            close_for_protocol_error(worker, connection);
            close_connection(worker, connection, connection->state != STATE_READY);
            return;
        }
        connection->pending_length = (uint32_t)(filled - (size_t)consumed);
        if (connection->pending_length > 0) {
            uint8_t *pending = realloc(connection->pending, connection->pending_length);
            if (pending == NULL) {
                close_connection(worker, connection, 0);
                return;
            }
            memcpy(pending, buffer + consumed, connection->pending_length);
            connection->pending = pending;
        }
        if ((size_t)received < READ_BUFFER_SIZE - (filled - (size_t)received))
            return; /* the socket is drained */
    }
}

static void send_due_heartbeats(struct worker *worker, int64_t now_ms)
{
    if (worker->options->protocol == LOADGEN_PROTOCOL_GUSHER)
        return; /* gusher has no application heartbeat: the server pings */
    for (long index = 0; index < worker->connection_count; index++) {
        struct client_connection *connection = &worker->connections[index];
        if (connection->state != STATE_READY || connection->next_heartbeat_ms > now_ms)
            continue;
        connection->next_heartbeat_ms = now_ms + (int64_t)worker->options->heartbeat_seconds * 1000;
        if (send_frame(worker, connection, GIM_OP_HEARTBEAT, ++connection->heartbeat_sequence, NULL,
                       0) == GIM_OK)
            worker->stats.heartbeats_sent++;
    }
}

static void apply_reset(struct worker *worker, unsigned epoch)
{
    struct loadgen_worker_stats *stats = &worker->stats;

    memset(stats->frames_by_control_op, 0, sizeof(stats->frames_by_control_op));
    memset(stats->frames_by_push_op, 0, sizeof(stats->frames_by_push_op));
    stats->other_push_frames = stats->push_frames = stats->push_bytes = 0;
    stats->untimed_pushes = stats->text_messages = 0;
    stats->reads = 0;
    latency_histogram_reset(&stats->latency);
    stats->epoch_seen = epoch;
}

static void publish(struct worker *worker)
{
    worker->stats.cpu_seconds = proc_self_cpu_seconds();
    memcpy(worker->slot, &worker->stats, sizeof(worker->stats));
}

int loadgen_worker_run(const struct loadgen_options *options, int worker_index,
                       struct loadgen_control *control, struct loadgen_worker_stats *slot)
{
    struct worker worker = {.options = options, .control = control, .slot = slot};
    struct epoll_event events[EVENT_BATCH];
    long share = options->connections / options->processes;
    long first = share * worker_index;
    int64_t next_tick_ms = 0;

    if (worker_index == options->processes - 1)
        share = options->connections - first;
    worker.connection_count = share;
    worker.connections = calloc(share > 0 ? (size_t)share : 1, sizeof(*worker.connections));
    worker.read_buffer = malloc(READ_BUFFER_SIZE);
    worker.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (worker.connections == NULL || worker.read_buffer == NULL || worker.epoll_fd < 0) {
        free(worker.connections);
        free(worker.read_buffer);
        return worker.epoll_fd < 0 ? GIM_ERR_IO : GIM_ERR_NO_MEMORY;
    }
    for (long index = 0; index < share; index++) {
        worker.connections[index].fd = -1;
        worker.connections[index].index = first + index;
    }
    worker.stats.epoch_seen = atomic_load(&control->reset_epoch);

    while (!atomic_load(&control->stop)) {
        int64_t now_ms;
        int ready;

        while (worker.next_to_open < share && worker.in_flight < options->connect_concurrency)
            open_connection(&worker, &worker.connections[worker.next_to_open++]);
        ready = epoll_wait(worker.epoll_fd, events, EVENT_BATCH, TICK_MS / 2);
        for (int event_index = 0; event_index < ready; event_index++) {
            struct client_connection *connection = events[event_index].data.ptr;
            if (connection->state == STATE_DONE)
                continue;
            if (connection->state == STATE_CONNECTING) {
                on_connected(&worker, connection);
                continue;
            }
            if (events[event_index].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(&worker, connection);
        }
        now_ms = monotonic_ms();
        if (now_ms >= next_tick_ms) {
            unsigned epoch = atomic_load(&control->reset_epoch);
            next_tick_ms = now_ms + TICK_MS;
            send_due_heartbeats(&worker, now_ms);
            if (epoch != worker.stats.epoch_seen)
                apply_reset(&worker, epoch);
            publish(&worker);
        }
    }
    publish(&worker);
    for (long index = 0; index < share; index++) {
        if (worker.connections[index].fd >= 0)
            close(worker.connections[index].fd);
        free(worker.connections[index].pending);
    }
    free(worker.connections);
    free(worker.read_buffer);
    close(worker.epoll_fd);
    return GIM_OK;
}
