/*
 * test_comet_broadcast_pacer.c: unit tests of speed-limited broadcast delivery
 * (comet/broadcast_pacer.c) on a real event loop.
 *
 * The loop is made by worker_create (its one listener binds an ephemeral
 * port on 127.0.0.1 and is never used); every client is one end of a
 * socketpair accepted by connection_accept on a goim route (TCP, or WebSocket
 * as if upgraded), and the test reads what a client would receive from the
 * other end. There is no logic daemon: a connection is authenticated through
 * connection_authenticate, the seam goim's auth ends in, and the test closes
 * connections as "replaced", the one kind of close that does not call logic
 * Disconnect. Time is only the now_ms
 * values handed to pacer_start and pacer_run: nothing sleeps and nothing reads
 * the clock.
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

#include "comet/broadcast_pacer.h"
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

#define WATCHED_OPERATION 1000
#define OTHER_OPERATION   1001
#define MAX_CLIENTS       16
#define PUSH_BODY         "paced hello"

struct client {
    struct comet_connection *connection; /* NULL once the test closed it */
    int peer;                            /* the client's end of the socketpair */
    bool websocket;
    int frames;       /* pushes read from peer so far */
    bool peer_at_eof; /* peer read end of stream */
};

struct harness {
    struct comet_config config;
    struct comet comet;
    struct comet_worker *worker;
    struct gim_shared_buffer *tcp_push;       /* what a TCP client reads for one push */
    struct gim_shared_buffer *websocket_push; /* the same push as one WebSocket message */
    struct client clients[MAX_CLIENTS];
    int client_count;
};

static int harness_setup(void **state)
{
    struct harness *harness = calloc(1, sizeof(*harness));
    uint8_t frame[GIM_FRAME_HEADER_SIZE + sizeof(PUSH_BODY)];
    size_t frame_length;

    if (harness == NULL)
        return -1;
    harness->config.host = "pacer-test";
    harness->config.tcp_bind = "127.0.0.1:0";
    harness->config.websocket_bind = "";
    harness->config.handshake_timeout_ms = 60000;
    harness->config.max_output_bytes = 1 << 20;
    harness->comet.config = &harness->config;
    harness->comet.worker_count = 1;
    ip_counter_init(&harness->comet.client_addresses);
    comet_online_init(&harness->comet.online);
    if (worker_create(&harness->worker, &harness->comet, 0) != GIM_OK)
        return -1;
    harness->comet.workers = &harness->worker;
    frame_length = gim_frame_encode(frame, sizeof(frame), 1, WATCHED_OPERATION, 0,
                                    (const uint8_t *)PUSH_BODY, strlen(PUSH_BODY));
    harness->tcp_push = gim_shared_buffer_copy(frame, frame_length);
    harness->websocket_push = goim_encode_frame(&framing_websocket, 1, WATCHED_OPERATION, 0,
                                                (const uint8_t *)PUSH_BODY, strlen(PUSH_BODY));
    if (frame_length == 0 || harness->tcp_push == NULL || harness->websocket_push == NULL)
        return -1;
    *state = harness;
    return 0;
}

/* Closes as replaced by a newer connection with its key: no logic Disconnect is sent. */
static void close_client(struct client *client)
{
    connection_close(client->connection, CONNECTION_CLOSE_REPLACED);
    client->connection = NULL;
}

static int harness_teardown(void **state)
{
    struct harness *harness = *state;
    int index;

    for (index = 0; index < harness->client_count; index++) {
        if (harness->clients[index].connection != NULL)
            close_client(&harness->clients[index]);
        close(harness->clients[index].peer);
    }
    worker_destroy(harness->worker); /* releases the closed connections */
    ip_counter_destroy(&harness->comet.client_addresses);
    comet_online_destroy(&harness->comet.online);
    gim_shared_buffer_unref(harness->tcp_push);
    gim_shared_buffer_unref(harness->websocket_push);
    free(harness);
    return 0;
}

/* Accepts one end of a new socketpair on the loop (in its handshake). Returns the client's index.
 */
static int accept_client(struct harness *harness, bool websocket)
{
    struct client *client = &harness->clients[harness->client_count];
    struct connection_set *set = &harness->worker->connections;
    struct sockaddr_un peer_address = {.sun_family = AF_UNIX};
    int pair[2];

    assert_true(harness->client_count < MAX_CLIENTS);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), 0);
    assert_int_equal(
        connection_accept(set, pair[0], (struct sockaddr *)&peer_address,
                          websocket ? &comet_route_goim_websocket : &comet_route_goim_tcp,
                          websocket ? COMET_TRANSPORT_WEBSOCKET : COMET_TRANSPORT_TCP, false),
        GIM_OK);
    client->connection = set->live; /* connection_accept links the new connection first */
    assert_non_null(client->connection);
    assert_int_equal(client->connection->handle.fd, pair[0]);
    assert_int_equal(client->connection->state, CONNECTION_HANDSHAKE);
    client->peer = pair[1];
    client->websocket = websocket;
    return harness->client_count++;
}

/* Accepts a client and authenticates it (connection_authenticate), watching operation.
 * Returns the client's index. */
static int add_client(struct harness *harness, bool websocket, int32_t operation)
{
    int index = accept_client(harness, websocket);
    struct comet_connection *connection = harness->clients[index].connection;
    struct connection_identity identity = {0};
    char key[32];

    snprintf(key, sizeof(key), "key-%d", index);
    identity.mid = 100 + index;
    identity.key = key;
    identity.accepts = &operation;
    identity.accept_count = 1;
    assert_int_equal(connection_authenticate(connection, &identity), GIM_OK);
    assert_int_equal(connection->state, CONNECTION_ACTIVE);
    assert_ptr_equal(string_map_get(&harness->worker->connections.keys, key), connection);
    return index;
}

/* A broadcast of the harness's push (whose operation is WATCHED_OPERATION) to the watchers of
 * operation, as rpc_service.c builds it (one loop). */
static struct push_job *broadcast_job(struct harness *harness, int32_t operation)
{
    struct comet_push push = {.version = 1,
                              .operation = WATCHED_OPERATION,
                              .body = (const uint8_t *)PUSH_BODY,
                              .body_length = strlen(PUSH_BODY)};
    struct push_job *job = push_job_new(1, PUSH_BROADCAST, &push, NULL);

    (void)harness;
    assert_non_null(job);
    job->operation = operation;
    return job;
}

/*
 * Runs the loop's flush pass (as before it sleeps), then reads what every client's peer has
 * received since the last call, checks that it is whole copies of the push in the client's
 * encoding, and returns how many pushes arrived.
 */
static int collect(struct harness *harness)
{
    int index, arrived = 0;

    connection_set_flush_pending(&harness->worker->connections);

    for (index = 0; index < harness->client_count; index++) {
        struct client *client = &harness->clients[index];
        const struct gim_shared_buffer *expected =
            client->websocket ? harness->websocket_push : harness->tcp_push;
        uint8_t buffer[4096];
        size_t length = 0, offset;

        for (;;) {
            ssize_t got = read(client->peer, buffer + length, sizeof(buffer) - length);
            if (got > 0) {
                length += (size_t)got;
                assert_true(length < sizeof(buffer));
                continue;
            }
            if (got == 0)
                client->peer_at_eof = true;
            else
                assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
        assert_int_equal(length % expected->length, 0);
        for (offset = 0; offset < length; offset += expected->length) {
            assert_memory_equal(buffer + offset, expected->data, expected->length);
            client->frames++;
            arrived++;
        }
    }
    return arrived;
}

static void test_paced_broadcast_reaches_watchers_at_its_speed(void **state)
{
    struct harness *harness = *state;
    struct comet_worker *worker = harness->worker;
    struct push_job *job = broadcast_job(harness, WATCHED_OPERATION);
    int index, other, handshaking, late;

    for (index = 0; index < 4; index++)
        add_client(harness, false, WATCHED_OPERATION);
    add_client(harness, true, WATCHED_OPERATION);
    other = add_client(harness, false, OTHER_OPERATION);
    handshaking = accept_client(harness, false); /* not authenticated: no target */

    /* 100 connections per second: one every 10 ms, the first at once. */
    assert_int_equal(pacer_start(worker, job, 100.0, 5000), GIM_OK);
    assert_int_equal(worker->paced_count, 1);
    assert_int_equal(atomic_load(&job->references), 2);   /* the test's and the pacer's */
    late = add_client(harness, false, WATCHED_OPERATION); /* after the snapshot */
    assert_int_equal(collect(harness), 0);                /* starting delivers nothing */

    assert_int_equal(pacer_run(worker, 5000), 10);
    assert_int_equal(collect(harness), 1);
    assert_int_equal(pacer_run(worker, 5009), PACER_SLICE_MS); /* 1 ms left: woken a slice later */
    assert_int_equal(collect(harness), 0);
    assert_int_equal(pacer_run(worker, 5010), 10);
    assert_int_equal(collect(harness), 1);
    assert_int_equal(pacer_run(worker, 5035), PACER_SLICE_MS); /* 3rd and 4th were due */
    assert_int_equal(collect(harness), 2);
    assert_int_equal(pacer_run(worker, 5040), -1); /* the 5th: finished and freed */
    assert_int_equal(collect(harness), 1);
    assert_null(worker->paced);
    assert_int_equal(worker->paced_count, 0);
    assert_int_equal(atomic_load(&job->references), 1);

    for (index = 0; index < harness->client_count; index++) {
        int expected = index == other || index == handshaking || index == late ? 0 : 1;
        assert_int_equal(harness->clients[index].frames, expected);
        assert_int_equal(harness->clients[index].connection->references, 1); /* live list only */
    }
    assert_int_equal(pacer_run(worker, 6000), -1);
    assert_int_equal(collect(harness), 0);
    push_job_unref(job);
}

static void test_wake_is_the_nearest_due_time_of_all_broadcasts(void **state)
{
    struct harness *harness = *state;
    struct comet_worker *worker = harness->worker;
    struct push_job *four_per_second = broadcast_job(harness, WATCHED_OPERATION);
    struct push_job *three_per_second = broadcast_job(harness, WATCHED_OPERATION);
    int index;

    for (index = 0; index < 3; index++)
        add_client(harness, false, WATCHED_OPERATION);

    /* 4 per second: one every 250 ms. */
    assert_int_equal(pacer_start(worker, four_per_second, 4.0, 1000), GIM_OK);
    assert_int_equal(pacer_run(worker, 1000), 250);
    assert_int_equal(collect(harness), 1);
    assert_int_equal(pacer_run(worker, 1100), 150);
    assert_int_equal(collect(harness), 0);

    /* 3 per second alongside: its second is due at 1100 + ceil(333.3) = 1434, after the
     * other's second at 1250. */
    assert_int_equal(pacer_start(worker, three_per_second, 3.0, 1100), GIM_OK);
    assert_int_equal(pacer_run(worker, 1100), 150);
    assert_int_equal(collect(harness), 1);
    assert_int_equal(pacer_run(worker, 1250), 184); /* 4/s: next at 1500; 3/s: at 1434 */
    assert_int_equal(collect(harness), 1);
    assert_int_equal(pacer_run(worker, 1434), 66); /* 4/s: its last at 1500 */
    assert_int_equal(collect(harness), 1);
    assert_int_equal(pacer_run(worker, 1500), 267); /* 3/s: its last at 1100 + ceil(666.7) */
    assert_int_equal(collect(harness), 1);
    assert_int_equal(worker->paced_count, 1);
    assert_int_equal(pacer_run(worker, 1767), -1);
    assert_int_equal(collect(harness), 1);

    for (index = 0; index < harness->client_count; index++)
        assert_int_equal(harness->clients[index].frames, 2); /* once from each broadcast */
    push_job_unref(four_per_second);
    push_job_unref(three_per_second);
}

static void test_closed_connection_in_snapshot_is_skipped(void **state)
{
    struct harness *harness = *state;
    struct comet_worker *worker = harness->worker;
    struct push_job *job = broadcast_job(harness, WATCHED_OPERATION);
    int index, closed_index;

    add_client(harness, false, WATCHED_OPERATION);
    closed_index = add_client(harness, true, WATCHED_OPERATION);
    add_client(harness, false, WATCHED_OPERATION);

    assert_int_equal(pacer_start(worker, job, 1.0, 0), GIM_OK);
    close_client(&harness->clients[closed_index]); /* the snapshot keeps it referenced */
    assert_int_equal(pacer_run(worker, 0), 1000);
    assert_int_equal(pacer_run(worker, 1000), 1000);
    assert_int_equal(pacer_run(worker, 2000), -1);
    assert_int_equal(collect(harness), 2);
    for (index = 0; index < harness->client_count; index++) {
        struct client *client = &harness->clients[index];
        assert_int_equal(client->frames, index == closed_index ? 0 : 1);
        assert_int_equal(client->peer_at_eof, index == closed_index);
    }
    push_job_unref(job);
}

static void test_pacer_refuses_past_max_active(void **state)
{
    struct harness *harness = *state;
    struct comet_worker *worker = harness->worker;
    struct push_job *jobs[PACER_MAX_ACTIVE + 1];
    int index;

    add_client(harness, false, WATCHED_OPERATION);
    add_client(harness, false, WATCHED_OPERATION);
    for (index = 0; index <= PACER_MAX_ACTIVE; index++)
        jobs[index] = broadcast_job(harness, WATCHED_OPERATION);

    for (index = 0; index < PACER_MAX_ACTIVE; index++)
        assert_int_equal(pacer_start(worker, jobs[index], 1.0, 0), GIM_OK);
    assert_int_equal(worker->paced_count, PACER_MAX_ACTIVE);
    assert_int_equal(pacer_start(worker, jobs[PACER_MAX_ACTIVE], 1.0, 0), GIM_ERR_AGAIN);
    assert_int_equal(atomic_load(&jobs[PACER_MAX_ACTIVE]->references), 1); /* nothing kept */
    assert_int_equal(worker->paced_count, PACER_MAX_ACTIVE);
    assert_int_equal(harness->clients[0].connection->references, 1 + PACER_MAX_ACTIVE);

    /* Each delivers its first connection now and its second a second later. */
    assert_int_equal(pacer_run(worker, 0), 1000);
    assert_int_equal(collect(harness), PACER_MAX_ACTIVE);
    assert_int_equal(pacer_start(worker, jobs[PACER_MAX_ACTIVE], 1.0, 0), GIM_ERR_AGAIN);
    assert_int_equal(pacer_run(worker, 1000), -1);
    assert_int_equal(collect(harness), PACER_MAX_ACTIVE);
    assert_int_equal(worker->paced_count, 0);

    /* Finished broadcasts free their slots. */
    assert_int_equal(pacer_start(worker, jobs[PACER_MAX_ACTIVE], 1.0, 2000), GIM_OK);
    assert_int_equal(pacer_run(worker, 3000), -1);
    assert_int_equal(collect(harness), 2);
    for (index = 0; index < harness->client_count; index++)
        assert_int_equal(harness->clients[index].frames, PACER_MAX_ACTIVE + 1);
    for (index = 0; index <= PACER_MAX_ACTIVE; index++) {
        assert_int_equal(atomic_load(&jobs[index]->references), 1);
        push_job_unref(jobs[index]);
    }
}

static void test_clear_releases_connections_and_jobs(void **state)
{
    struct harness *harness = *state;
    struct comet_worker *worker = harness->worker;
    struct push_job *first = broadcast_job(harness, WATCHED_OPERATION);
    struct push_job *second = broadcast_job(harness, WATCHED_OPERATION);
    int index;

    for (index = 0; index < 3; index++)
        add_client(harness, false, WATCHED_OPERATION);
    assert_int_equal(pacer_start(worker, first, 1.0, 0), GIM_OK);
    assert_int_equal(pacer_start(worker, second, 2.0, 0), GIM_OK);
    assert_int_equal(pacer_run(worker, 0), 500);
    assert_int_equal(collect(harness), 2);
    close_client(&harness->clients[1]); /* a closed one, still held by the snapshots */

    pacer_clear(worker);
    assert_null(worker->paced);
    assert_int_equal(worker->paced_count, 0);
    assert_int_equal(atomic_load(&first->references), 1);
    assert_int_equal(atomic_load(&second->references), 1);
    assert_int_equal(harness->clients[0].connection->references, 1);
    assert_int_equal(harness->clients[2].connection->references, 1);

    /* Nothing is delivered afterwards; the loop can pace again. */
    assert_int_equal(pacer_run(worker, 10000), -1);
    assert_int_equal(collect(harness), 0);
    assert_int_equal(pacer_start(worker, first, 1.0, 10000), GIM_OK);
    pacer_clear(worker);
    push_job_unref(first);
    push_job_unref(second);
}

static void test_push_is_encoded_once_per_wire_present(void **state)
{
    struct harness *harness = *state;
    struct comet_worker *worker = harness->worker;
    struct push_job *tcp_only = broadcast_job(harness, WATCHED_OPERATION);
    struct push_job *mixed = broadcast_job(harness, WATCHED_OPERATION);
    uint8_t tcp_wire = comet_route_goim_tcp.wire, websocket_wire = comet_route_goim_websocket.wire;
    struct gim_shared_buffer *encoded;
    int index;

    assert_int_not_equal(tcp_wire, websocket_wire);
    for (index = 0; index < 3; index++)
        add_client(harness, false, WATCHED_OPERATION);

    /* only TCP targets: only the TCP wire is encoded, and every target shares it */
    assert_int_equal(pacer_start(worker, tcp_only, 1.0, 0), GIM_OK);
    assert_null(atomic_load(&tcp_only->encoded[tcp_wire])); /* nothing before a delivery */
    assert_int_equal(pacer_run(worker, 0), 1000);
    assert_int_equal(collect(harness), 1);
    encoded = atomic_load(&tcp_only->encoded[tcp_wire]);
    assert_non_null(encoded);
    assert_int_equal(pacer_run(worker, 1000), 1000);
    assert_int_equal(pacer_run(worker, 2000), -1);
    assert_int_equal(collect(harness), 2);
    assert_ptr_equal(atomic_load(&tcp_only->encoded[tcp_wire]), encoded); /* not encoded again */
    assert_null(atomic_load(&tcp_only->encoded[websocket_wire]));
    assert_int_equal(atomic_load(&tcp_only->encoded[tcp_wire])->references, 1); /* the job's */

    /* WebSocket targets too: one more encoding, for their wire */
    add_client(harness, true, WATCHED_OPERATION);
    add_client(harness, true, WATCHED_OPERATION);
    assert_int_equal(pacer_start(worker, mixed, 1000.0, 3000), GIM_OK);
    assert_int_equal(pacer_run(worker, 4000), -1);
    assert_int_equal(collect(harness), 5);
    assert_non_null(atomic_load(&mixed->encoded[tcp_wire]));
    assert_non_null(atomic_load(&mixed->encoded[websocket_wire]));
    for (index = 0; index < CONNECTION_WIRES; index++) {
        if (index != tcp_wire && index != websocket_wire)
            assert_null(atomic_load(&mixed->encoded[index]));
    }
    push_job_unref(tcp_only);
    push_job_unref(mixed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paced_broadcast_reaches_watchers_at_its_speed,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_wake_is_the_nearest_due_time_of_all_broadcasts,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_closed_connection_in_snapshot_is_skipped,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_pacer_refuses_past_max_active, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_clear_releases_connections_and_jobs, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_push_is_encoded_once_per_wire_present, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests_name("comet_broadcast_pacer", tests, NULL, NULL);
}
