/*
 * test_comet_output.c: unit tests of a connection's output (comet/connection.c):
 * pushes queued on their connection and written by the loop's flush pass
 * (connection_set_flush_pending), the last push of an inbox batch written at
 * once (push_writes_now), protocol.writeDelay (a connection's push writes spaced by
 * it, held in the set's ring), replies behind pending and held pushes,
 * and the output bound at queue time.
 *
 * The loop is made by worker_create (its one listener binds an ephemeral port
 * on 127.0.0.1 and is never used); every client is one end of a socketpair
 * accepted by connection_accept on a goim route (TCP, or WebSocket as if
 * upgraded) and authenticated through connection_authenticate; the test reads
 * what a client would receive from the other end. Time is only the loop's
 * now_ms, set by the test: nothing sleeps and nothing reads the clock.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "comet/comet.h"
#include "comet/connection.h"
#include "comet/listener.h"
#include "comet/protocol_goim.h"
#include "comet/push_job.h"
#include "comet/websocket.h"
#include "comet/worker.h"
#include "common/frame.h"
#include "common/shared_buffer.h"
#include "common/status.h"

#define OPERATION   1000
#define PUSHES      5
#define PEER_BUFFER (256 * 1024)

struct harness {
    struct comet_config config;
    struct comet comet;
    struct comet_worker *worker;
    struct comet_connection *connection;
    int peer; /* the client's end of the socketpair */
    bool websocket;
    struct gim_shared_buffer
        *pushes[PUSHES]; /* push i's body is "push <i>", in the client's wire */
};

static struct gim_shared_buffer *encode_push(bool websocket, int operation, const char *body)
{
    uint8_t frame[GIM_FRAME_HEADER_SIZE + 64];
    size_t length;

    if (websocket)
        return goim_encode_frame(&framing_websocket, 1, operation, 0, (const uint8_t *)body,
                                 strlen(body));
    length = gim_frame_encode(frame, sizeof(frame), 1, operation, 0, (const uint8_t *)body,
                              strlen(body));
    return length == 0 ? NULL : gim_shared_buffer_copy(frame, length);
}

/* Accepts and authenticates one more client with key on the harness's loop and wire; its end
 * of the socketpair goes to *peer. Returns the connection (owned by the loop's set). */
static struct comet_connection *harness_accept(struct harness *harness, const char *key, int *peer)
{
    struct sockaddr_un peer_address = {.sun_family = AF_UNIX};
    struct connection_identity identity = {0};
    struct connection_set *set = &harness->worker->connections;
    int32_t operation = OPERATION;
    int pair[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), 0);
    assert_int_equal(
        connection_accept(set, pair[0], (struct sockaddr *)&peer_address,
                          harness->websocket ? &comet_route_goim_websocket : &comet_route_goim_tcp,
                          harness->websocket ? COMET_TRANSPORT_WEBSOCKET : COMET_TRANSPORT_TCP,
                          false),
        GIM_OK);
    *peer = pair[1];
    identity.mid = 7;
    identity.key = key;
    identity.accepts = &operation;
    identity.accept_count = 1;
    assert_int_equal(connection_authenticate(set->live, &identity), GIM_OK);
    return set->live;
}

/* A loop with one authenticated client on the given wire; write_delay_ms as protocol.writeDelay. */
static struct harness *harness_new(bool websocket, int64_t write_delay_ms, int64_t max_output)
{
    struct harness *harness = calloc(1, sizeof(*harness));
    int index;

    assert_non_null(harness);
    harness->config.host = "output-test";
    harness->config.tcp_bind = "127.0.0.1:0";
    harness->config.websocket_bind = "";
    harness->config.handshake_timeout_ms = 60000;
    harness->config.max_output_bytes = max_output;
    harness->config.write_delay_ms = write_delay_ms;
    harness->comet.config = &harness->config;
    harness->comet.worker_count = 1;
    ip_counter_init(&harness->comet.client_addresses);
    comet_online_init(&harness->comet.online);
    assert_int_equal(worker_create(&harness->worker, &harness->comet, 0), GIM_OK);
    harness->comet.workers = &harness->worker;
    harness->websocket = websocket;
    for (index = 0; index < PUSHES; index++) {
        char body[32];
        snprintf(body, sizeof(body), "push %d", index);
        harness->pushes[index] = encode_push(websocket, OPERATION, body);
        assert_non_null(harness->pushes[index]);
    }
    harness->connection = harness_accept(harness, "output-key", &harness->peer);
    return harness;
}

static void harness_free(struct harness *harness)
{
    int index;

    if (harness->connection != NULL) /* "replaced": the one close that does not call logic */
        connection_close(harness->connection, CONNECTION_CLOSE_REPLACED);
    close(harness->peer);
    worker_destroy(harness->worker); /* releases the closed connections */
    ip_counter_destroy(&harness->comet.client_addresses);
    comet_online_destroy(&harness->comet.online);
    for (index = 0; index < PUSHES; index++)
        gim_shared_buffer_unref(harness->pushes[index]);
    free(harness);
}

/* Reads everything the client has received so far into buffer; returns its length. */
static size_t peer_read_all(struct harness *harness, uint8_t *buffer, size_t size)
{
    size_t length = 0;

    for (;;) {
        ssize_t got = read(harness->peer, buffer + length, size - length);
        if (got > 0) {
            length += (size_t)got;
            assert_true(length < size);
            continue;
        }
        assert_true(got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        return length;
    }
}

/* Asserts that buffer[0..length) is exactly pushes[first..first+count) back to back. */
static void assert_pushes(const struct harness *harness, const uint8_t *buffer, size_t length,
                          int first, int count)
{
    size_t offset = 0;
    int index;

    for (index = first; index < first + count; index++) {
        const struct gim_shared_buffer *push = harness->pushes[index];
        assert_true(offset + push->length <= length);
        assert_memory_equal(buffer + offset, push->data, push->length);
        offset += push->length;
    }
    assert_int_equal(offset, length);
}

static void pushes_queued_before_a_flush_arrive_in_order(bool websocket)
{
    struct harness *harness = harness_new(websocket, 0, 1 << 20);
    struct connection_set *set = &harness->worker->connections;
    static uint8_t buffer[PEER_BUFFER];
    int index;

    for (index = 0; index < PUSHES; index++)
        assert_int_equal(connection_push(harness->connection, harness->pushes[index]), GIM_OK);
    /* queued, not written: the connection is pending once, holding one reference */
    assert_int_equal(set->pending_count, 1);
    assert_int_equal(harness->connection->output_waits, OUTPUT_PENDING);
    assert_int_equal(harness->connection->references, 2);
    assert_int_equal(peer_read_all(harness, buffer, sizeof(buffer)), 0);

    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_int_equal(set->pending_count, 0);
    assert_int_equal(harness->connection->output_waits, 0);
    assert_int_equal(harness->connection->references, 1);
    assert_null(harness->connection->output_head);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 0, PUSHES);

    /* the next iteration's push is pending again, and written by the next pass */
    assert_int_equal(connection_push(harness->connection, harness->pushes[0]), GIM_OK);
    assert_int_equal(set->pending_count, 1);
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 0, 1);
    harness_free(harness);
}

static void test_tcp_pushes_queued_before_a_flush_arrive_in_order(void **state)
{
    (void)state;
    pushes_queued_before_a_flush_arrive_in_order(false);
}

static void test_websocket_pushes_queued_before_a_flush_arrive_in_order(void **state)
{
    (void)state;
    pushes_queued_before_a_flush_arrive_in_order(true);
}

static void test_write_delay_spaces_a_connections_push_writes(void **state)
{
    struct harness *harness = harness_new(false, 200, 1 << 20);
    struct connection_set *set = &harness->worker->connections;
    struct event_loop *loop = harness->worker->loop;
    static uint8_t buffer[PEER_BUFFER];
    int64_t start = loop->now_ms;

    (void)state;
    assert_int_equal(connection_set_flush_pending(set), -1); /* nothing waits: no wish */
    /* the first push is not held: written by the pass */
    assert_int_equal(connection_push(harness->connection, harness->pushes[0]), GIM_OK);
    assert_int_equal(harness->connection->output_waits, OUTPUT_PENDING);
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 0, 1);
    /* 50 ms later: held until 200 ms after that write, even as the last of its batch */
    loop->now_ms = start + 50;
    set->push_writes_now = true;
    assert_int_equal(connection_push(harness->connection, harness->pushes[1]), GIM_OK);
    set->push_writes_now = false;
    assert_int_equal(harness->connection->output_waits, OUTPUT_HELD);
    assert_int_equal(set->pending_count, 0);
    assert_int_equal(harness->connection->references, 2); /* the live list's and the ring's */
    assert_int_equal(connection_set_flush_pending(set), 150);
    loop->now_ms = start + 120;
    assert_int_equal(connection_push(harness->connection, harness->pushes[2]), GIM_OK);
    assert_int_equal(connection_set_flush_pending(set), 80);
    assert_int_equal(peer_read_all(harness, buffer, sizeof(buffer)), 0);
    /* due: both in one write */
    loop->now_ms = start + 200;
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 1, 2);
    assert_int_equal(harness->connection->output_waits, 0);
    assert_int_equal(harness->connection->references, 1);
    /* a push a whole delay after the last write goes out at once */
    loop->now_ms = start + 400;
    set->push_writes_now = true;
    assert_int_equal(connection_push(harness->connection, harness->pushes[3]), GIM_OK);
    set->push_writes_now = false;
    assert_int_equal(harness->connection->output_waits, 0);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 3, 1);

    /* the loop's wait is bounded by the pass's wish (worker's before-wait hook) */
    loop->now_ms = start + 450;
    assert_int_equal(connection_push(harness->connection, harness->pushes[4]), GIM_OK);
    assert_int_equal(event_loop_run_once(loop, 0), GIM_OK);
    assert_int_equal(set->held_count, 1);
    loop->now_ms = start + 600;
    assert_int_equal(event_loop_run_once(loop, 0), GIM_OK);
    assert_int_equal(set->held_count, 0);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 4, 1);
    harness_free(harness);
}

/* Reads what one client end has received and asserts it is exactly push index. */
static void assert_peer_got(struct harness *harness, int peer, int index)
{
    static uint8_t buffer[PEER_BUFFER];
    int saved = harness->peer;

    harness->peer = peer;
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), index, 1);
    harness->peer = saved;
}

/* More held connections than the ring's first capacity, one closed while held, and a stop with
 * connections still held (ASan checks that the ring's references are dropped). */
static void test_held_ring_grows_and_releases_each_connection(void **state)
{
    enum { CLIENTS = 100 };
    struct harness *harness = harness_new(false, 100, 1 << 20);
    struct connection_set *set = &harness->worker->connections;
    struct event_loop *loop = harness->worker->loop;
    struct comet_connection *clients[CLIENTS];
    int peers[CLIENTS], index;
    int64_t start = loop->now_ms;

    (void)state;
    for (index = 0; index < CLIENTS; index++) {
        char key[32];
        snprintf(key, sizeof(key), "held-%d", index);
        clients[index] = harness_accept(harness, key, &peers[index]);
        assert_int_equal(connection_push(clients[index], harness->pushes[0]), GIM_OK);
    }
    assert_int_equal(connection_set_flush_pending(set), -1);
    for (index = 0; index < CLIENTS; index++)
        assert_peer_got(harness, peers[index], 0);
    /* 10 ms later every one of them is held, in one ring */
    loop->now_ms = start + 10;
    for (index = 0; index < CLIENTS; index++)
        assert_int_equal(connection_push(clients[index], harness->pushes[1]), GIM_OK);
    assert_int_equal(set->held_count, CLIENTS);
    assert_true(set->held_capacity >= CLIENTS);
    connection_close(clients[CLIENTS / 2], CONNECTION_CLOSE_REPLACED);
    assert_int_equal(connection_set_flush_pending(set), 90);
    loop->now_ms = start + 100;
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_int_equal(set->held_count, 0);
    for (index = 0; index < CLIENTS; index++) {
        if (index != CLIENTS / 2)
            assert_peer_got(harness, peers[index], 1);
    }
    /* held again, then the set stops with them held */
    loop->now_ms = start + 150;
    for (index = 0; index < CLIENTS; index++) {
        if (index != CLIENTS / 2)
            assert_int_equal(connection_push(clients[index], harness->pushes[2]), GIM_OK);
    }
    assert_int_equal(set->held_count, CLIENTS - 1);
    for (index = 0; index < CLIENTS; index++) {
        if (index != CLIENTS / 2)
            connection_close(clients[index], CONNECTION_CLOSE_REPLACED);
        close(peers[index]);
    }
    harness_free(harness);
}

/* The ring grows while it is full and wrapped round its end: each held connection stays in it
 * once, and each is written when due. */
static void test_held_ring_grows_while_wrapped(void **state)
{
    enum { CLIENTS = 100, FIRST = 40 };
    struct harness *harness = harness_new(false, 100, 1 << 20);
    struct connection_set *set = &harness->worker->connections;
    struct event_loop *loop = harness->worker->loop;
    struct comet_connection *clients[CLIENTS];
    int peers[CLIENTS], index;
    int64_t start = loop->now_ms;

    (void)state;
    for (index = 0; index < CLIENTS; index++) {
        char key[32];
        snprintf(key, sizeof(key), "wrapped-%d", index);
        clients[index] = harness_accept(harness, key, &peers[index]);
    }
    /* the first FIRST are held once and released: the ring's start moves to FIRST */
    for (index = 0; index < FIRST; index++)
        assert_int_equal(connection_push(clients[index], harness->pushes[0]), GIM_OK);
    assert_int_equal(connection_set_flush_pending(set), -1);
    for (index = 0; index < FIRST; index++)
        assert_peer_got(harness, peers[index], 0);
    loop->now_ms = start + 10;
    for (index = 0; index < FIRST; index++)
        assert_int_equal(connection_push(clients[index], harness->pushes[1]), GIM_OK);
    assert_int_equal(set->held_count, FIRST);
    assert_true(set->held_capacity < CLIENTS);
    loop->now_ms = start + 100;
    for (index = FIRST; index < CLIENTS; index++) /* their first push: written, not held */
        assert_int_equal(connection_push(clients[index], harness->pushes[0]), GIM_OK);
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_int_equal(set->held_first, FIRST);
    for (index = 0; index < CLIENTS; index++)
        assert_peer_got(harness, peers[index], index < FIRST ? 1 : 0);
    /* every one held: the ring fills round its end and grows */
    loop->now_ms = start + 110;
    for (index = 0; index < CLIENTS; index++)
        assert_int_equal(connection_push(clients[index], harness->pushes[2]), GIM_OK);
    assert_int_equal(set->held_count, CLIENTS);
    assert_true(set->held_capacity >= CLIENTS);
    assert_int_equal(connection_set_flush_pending(set), 90);
    loop->now_ms = start + 200;
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_int_equal(set->held_count, 0);
    for (index = 0; index < CLIENTS; index++) {
        assert_peer_got(harness, peers[index], 2);
        assert_int_equal(clients[index]->references, 1);
        assert_int_equal(clients[index]->output_waits, 0);
        connection_close(clients[index], CONNECTION_CLOSE_REPLACED);
        close(peers[index]);
    }
    harness_free(harness);
}

static void test_reply_takes_pending_pushes_with_it(void **state)
{
    struct harness *harness = harness_new(false, 200, 1 << 20);
    struct connection_set *set = &harness->worker->connections;
    struct gim_shared_buffer *reply = encode_push(false, 3, "reply");
    static uint8_t buffer[PEER_BUFFER];
    size_t length;

    (void)state;
    assert_int_equal(connection_push(harness->connection, harness->pushes[0]), GIM_OK);
    assert_int_equal(connection_push(harness->connection, harness->pushes[1]), GIM_OK);
    assert_int_equal(connection_reply(harness->connection, reply), GIM_OK);
    /* written at once, the pushes first, without waiting for the write delay */
    length = peer_read_all(harness, buffer, sizeof(buffer));
    assert_int_equal(length,
                     harness->pushes[0]->length + harness->pushes[1]->length + reply->length);
    assert_pushes(harness, buffer, length - reply->length, 0, 2);
    assert_memory_equal(buffer + length - reply->length, reply->data, reply->length);
    /* the pass finds nothing left to write and drops its reference */
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_int_equal(harness->connection->references, 1);
    assert_int_equal(peer_read_all(harness, buffer, sizeof(buffer)), 0);
    /* a held push goes out with a reply too; the ring then only drops its reference, and a
     * push meanwhile waits with it until the connection's delay is over */
    harness->worker->loop->now_ms += 10;
    assert_int_equal(connection_push(harness->connection, harness->pushes[2]), GIM_OK);
    assert_int_equal(harness->connection->output_waits, OUTPUT_HELD);
    assert_int_equal(connection_reply(harness->connection, reply), GIM_OK);
    length = peer_read_all(harness, buffer, sizeof(buffer));
    assert_int_equal(length, harness->pushes[2]->length + reply->length);
    assert_pushes(harness, buffer, length - reply->length, 2, 1);
    assert_int_equal(connection_push(harness->connection, harness->pushes[3]), GIM_OK);
    assert_int_equal(connection_set_flush_pending(set), 190);
    assert_int_equal(peer_read_all(harness, buffer, sizeof(buffer)), 0);
    harness->worker->loop->now_ms += 190;
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 3, 1);
    assert_int_equal(harness->connection->references, 1);
    gim_shared_buffer_unref(reply);
    harness_free(harness);
}

static void test_output_bound_applies_at_queue_time(void **state)
{
    struct gim_shared_buffer *probe = encode_push(false, OPERATION, "push 0");
    /* room for exactly two pushes */
    struct harness *harness = harness_new(false, 0, (int64_t)probe->length * 2);
    struct connection_set *set = &harness->worker->connections;
    static uint8_t buffer[PEER_BUFFER];

    (void)state;
    assert_int_equal(connection_push(harness->connection, harness->pushes[0]), GIM_OK);
    assert_int_equal(connection_push(harness->connection, harness->pushes[1]), GIM_OK);
    assert_int_equal(connection_push(harness->connection, harness->pushes[2]), GIM_ERR_TOO_LARGE);
    assert_int_equal(harness->connection->dropped_pushes, 1);
    assert_int_equal(atomic_load(&set->dropped_pushes), 1);
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 0, 2);
    /* written: the bound has room again, the connection stays */
    assert_int_equal(connection_push(harness->connection, harness->pushes[3]), GIM_OK);
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 3, 1);
    assert_int_equal(harness->connection->state, CONNECTION_ACTIVE);
    gim_shared_buffer_unref(probe);
    harness_free(harness);
}

static void test_slow_client_queue_waits_for_epollout_within_the_bound(void **state)
{
    struct harness *harness = harness_new(false, 0, 1 << 16);
    struct connection_set *set = &harness->worker->connections;
    static uint8_t buffer[PEER_BUFFER];
    int sent = 0, dropped = 0, index;
    size_t received = 0, offset;
    int sndbuf = 4096;

    (void)state;
    /* a small socket buffer that the client does not read: the pass leaves the rest queued */
    assert_int_equal(
        setsockopt(harness->connection->handle.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)),
        0);
    for (index = 0; index < 20000 && dropped == 0; index++) {
        int status = connection_push(harness->connection, harness->pushes[index % PUSHES]);
        if (status == GIM_ERR_TOO_LARGE) {
            dropped++;
        } else {
            assert_int_equal(status, GIM_OK);
            sent++;
        }
        if (index % 64 == 63)
            connection_set_flush_pending(set);
    }
    assert_int_equal(dropped, 1); /* the bound held with the socket full */
    assert_true(harness->connection->write_armed);
    assert_true(harness->connection->output_bytes <= harness->config.max_output_bytes);
    connection_set_flush_pending(set);
    /* the client reads; EPOLLOUT writes the rest, every accepted push in order */
    for (;;) {
        received += peer_read_all(harness, buffer + received, sizeof(buffer) - received);
        if (harness->connection->output_head == NULL)
            break;
        assert_int_equal(event_loop_run_once(harness->worker->loop, 1000), GIM_OK);
    }
    received += peer_read_all(harness, buffer + received, sizeof(buffer) - received);
    assert_null(harness->connection->output_head);
    for (offset = 0, index = 0; offset < received; index++) {
        const struct gim_shared_buffer *push = harness->pushes[index % PUSHES];
        assert_memory_equal(buffer + offset, push->data, push->length);
        offset += push->length;
    }
    assert_int_equal(offset, received);
    assert_int_equal(index, sent);
    harness_free(harness);
}

static void test_closed_pending_connection_is_released_by_the_pass(void **state)
{
    struct harness *harness = harness_new(true, 0, 1 << 20);
    struct connection_set *set = &harness->worker->connections;

    (void)state;
    assert_int_equal(connection_push(harness->connection, harness->pushes[0]), GIM_OK);
    connection_close(harness->connection, CONNECTION_CLOSE_REPLACED);
    assert_int_equal(connection_push(harness->connection, harness->pushes[1]), GIM_ERR_CLOSED);
    connection_set_reap(set); /* the pending list's reference keeps it */
    assert_int_equal(harness->connection->references, 1);
    harness->connection = NULL;
    assert_int_equal(connection_set_flush_pending(set), -1); /* frees it (ASan checks) */
    assert_int_equal(set->pending_count, 0);
    harness_free(harness);
}

static void test_push_writes_now_takes_pending_pushes_along(void **state)
{
    struct harness *harness = harness_new(false, 0, 1 << 20);
    struct connection_set *set = &harness->worker->connections;
    static uint8_t buffer[PEER_BUFFER];

    (void)state;
    /* nothing pending: written at once, no queue node, not pending */
    set->push_writes_now = true;
    assert_int_equal(connection_push(harness->connection, harness->pushes[0]), GIM_OK);
    assert_null(harness->connection->output_head);
    assert_int_equal(harness->connection->output_waits, 0);
    assert_int_equal(set->pending_count, 0);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 0, 1);
    /* earlier pushes of the batch pending: the last one writes them all, in order */
    set->push_writes_now = false;
    assert_int_equal(connection_push(harness->connection, harness->pushes[1]), GIM_OK);
    assert_int_equal(connection_push(harness->connection, harness->pushes[2]), GIM_OK);
    assert_int_equal(peer_read_all(harness, buffer, sizeof(buffer)), 0);
    set->push_writes_now = true;
    assert_int_equal(connection_push(harness->connection, harness->pushes[3]), GIM_OK);
    set->push_writes_now = false;
    assert_null(harness->connection->output_head);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 1, 3);
    /* the pass only drops the pending list's reference */
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_int_equal(harness->connection->references, 1);
    assert_int_equal(peer_read_all(harness, buffer, sizeof(buffer)), 0);
    harness_free(harness);
}

/* Posts a broadcast of "push <index>" (watched by the harness's client) to the harness's loop. */
static void post_push(struct harness *harness, int index)
{
    static const char *const bodies[PUSHES] = {"push 0", "push 1", "push 2", "push 3", "push 4"};
    struct comet_push push = {.version = 1, .operation = OPERATION, .sequence = 0};
    struct push_job *job;

    push.body = (const uint8_t *)bodies[index];
    push.body_length = strlen(bodies[index]);
    job = push_job_new(1, PUSH_BROADCAST, &push, NULL);
    assert_non_null(job);
    job->operation = OPERATION;
    assert_int_equal(worker_post_push_job(&harness->comet, job), GIM_OK);
    push_job_unref(job);
}

static void test_last_push_of_an_inbox_batch_is_written_at_once(void **state)
{
    struct harness *harness = harness_new(false, 0, 1 << 20);
    struct connection_set *set = &harness->worker->connections;
    static uint8_t buffer[PEER_BUFFER];

    (void)state;
    /* alone in its batch: written while it is delivered, nothing left for the pass */
    post_push(harness, 0);
    assert_int_equal(event_loop_run_once(harness->worker->loop, 1000), GIM_OK);
    assert_int_equal(set->pending_count, 0);
    assert_false(set->push_writes_now);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 0, 1);
    /* three in one batch: the first two are queued, the last writes all three together */
    post_push(harness, 1);
    post_push(harness, 2);
    post_push(harness, 3);
    assert_int_equal(event_loop_run_once(harness->worker->loop, 1000), GIM_OK);
    assert_int_equal(set->pending_count, 1); /* its entry is released by the next pass */
    assert_null(harness->connection->output_head);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 1, 3);
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_int_equal(harness->connection->references, 1);
    harness_free(harness);
}

static void test_with_a_write_delay_a_push_at_rest_is_written_at_once(void **state)
{
    struct harness *harness = harness_new(false, 200, 1 << 20);
    struct connection_set *set = &harness->worker->connections;
    static uint8_t buffer[PEER_BUFFER];

    (void)state;
    post_push(harness, 0);
    assert_int_equal(event_loop_run_once(harness->worker->loop, 1000), GIM_OK);
    assert_int_equal(set->pending_count, 0);
    assert_int_equal(set->held_count, 0);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 0, 1);
    /* the next one, within the delay, waits for it */
    post_push(harness, 1);
    assert_int_equal(event_loop_run_once(harness->worker->loop, 1000), GIM_OK);
    assert_int_equal(set->held_count, 1);
    assert_int_equal(peer_read_all(harness, buffer, sizeof(buffer)), 0);
    harness->worker->loop->now_ms += 200;
    assert_int_equal(connection_set_flush_pending(set), -1);
    assert_pushes(harness, buffer, peer_read_all(harness, buffer, sizeof(buffer)), 1, 1);
    harness_free(harness);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_pushes_queued_before_a_flush_arrive_in_order),
        cmocka_unit_test(test_websocket_pushes_queued_before_a_flush_arrive_in_order),
        cmocka_unit_test(test_write_delay_spaces_a_connections_push_writes),
        cmocka_unit_test(test_held_ring_grows_and_releases_each_connection),
        cmocka_unit_test(test_held_ring_grows_while_wrapped),
        cmocka_unit_test(test_reply_takes_pending_pushes_with_it),
        cmocka_unit_test(test_output_bound_applies_at_queue_time),
        cmocka_unit_test(test_slow_client_queue_waits_for_epollout_within_the_bound),
        cmocka_unit_test(test_closed_pending_connection_is_released_by_the_pass),
        cmocka_unit_test(test_push_writes_now_takes_pending_pushes_along),
        cmocka_unit_test(test_last_push_of_an_inbox_batch_is_written_at_once),
        cmocka_unit_test(test_with_a_write_delay_a_push_at_rest_is_written_at_once),
    };
    return cmocka_run_group_tests_name("comet_output", tests, NULL, NULL);
}
