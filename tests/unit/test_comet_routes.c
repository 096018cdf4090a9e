/*
 * test_comet_routes.c: unit tests of the routes of comet's WebSocket listener on a real loop
 * (comet/websocket.c): an upgrade admitted later (websocket_admit) or refused later with an
 * HTTP answer (websocket_answer), a plain HTTP request answered now or later with its body and
 * form fields, a connection closed while its answer is due (the late answer does nothing), a
 * body past the bound, and goim's /sub left as before.
 *
 * The loop is made by worker_create (its one listener binds an ephemeral port on 127.0.0.1 and
 * is never used); every client is one end of a socketpair accepted by connection_accept on the
 * WebSocket listener's route; the test writes the request to the other end, calls the
 * framing's readable hook as the loop would, and reads what a client would receive.
 */
#include <errno.h>
#include <signal.h>
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
#include "comet/protocol.h"
#include "comet/websocket.h"
#include "comet/worker.h"
#include "common/status.h"

#define UPGRADE_HEAD(path)                                                                         \
    "GET " path " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"            \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

/* What the test protocol saw: the connection it holds a reference to, and the request. */
static struct comet_connection *waiting;
static char seen_rest[64], seen_token[64], seen_field[64];
static int messages_seen, closes_seen;
static bool answer_at_once;

static int test_open(struct comet_connection *connection, const struct websocket_request *request)
{
    snprintf(seen_rest, sizeof(seen_rest), "%.*s", (int)request->rest_length, request->rest);
    if (websocket_form_value(request, "token", seen_token, sizeof(seen_token)) != GIM_OK)
        seen_token[0] = '\0';
    if (answer_at_once) {
        websocket_answer(connection, 404, "text/plain; charset=utf-8", NULL, "no\n", 3);
        return GIM_ERR_NOT_FOUND;
    }
    connection_ref(connection);
    waiting = connection;
    return GIM_ERR_AGAIN;
}

static int test_message(struct comet_connection *connection, const uint8_t *data, size_t length,
                        bool text)
{
    (void)connection;
    (void)data;
    (void)length;
    (void)text;
    messages_seen++;
    return GIM_OK;
}

static void test_closed(struct comet_connection *connection, enum connection_close_reason reason,
                        bool was_active)
{
    (void)connection;
    (void)reason;
    (void)was_active;
    closes_seen++;
}

static const struct client_protocol test_protocol = {
    .receiver = {.open = test_open, .message = test_message, .closed = test_closed},
    .name = "test",
    .encode_push = NULL,
};
static const struct connection_route test_route = {&framing_websocket.hooks, &test_protocol, 7,
                                                   false};

static int test_request(struct comet_connection *connection,
                        const struct websocket_request *request)
{
    if (websocket_form_value(request, "field", seen_field, sizeof(seen_field)) != GIM_OK)
        seen_field[0] = '\0';
    if (answer_at_once) {
        static const char body[] = "{\"ok\":true}";
        return websocket_answer(connection, 200, "application/json",
                                "Access-Control-Allow-Origin: *\r\n", body, sizeof(body) - 1);
    }
    connection_ref(connection);
    waiting = connection;
    return GIM_ERR_AGAIN;
}

static const struct websocket_route test_routes[] = {
    {"/sub", false, false, &comet_route_goim_websocket, NULL},
    {"/test/ws/", true, true, &test_route, NULL},
    {"/test/form", false, true, NULL, test_request},
};

struct harness {
    struct comet_config config;
    struct comet comet;
    struct comet_worker *worker;
    struct comet_connection *connection;
    int peer;
};

static struct harness *harness_new(void)
{
    struct harness *harness = calloc(1, sizeof(*harness));
    struct sockaddr_un peer_address = {.sun_family = AF_UNIX};
    int pair[2];

    assert_non_null(harness);
    harness->config.host = "routes-test";
    harness->config.tcp_bind = "127.0.0.1:0";
    harness->config.websocket_bind = "";
    harness->config.handshake_timeout_ms = 60000;
    harness->config.max_output_bytes = 1 << 20;
    harness->comet.config = &harness->config;
    harness->comet.worker_count = 1;
    ip_counter_init(&harness->comet.client_addresses);
    comet_online_init(&harness->comet.online);
    assert_int_equal(worker_create(&harness->worker, &harness->comet, 0), GIM_OK);
    harness->comet.workers = &harness->worker;
    websocket_set_routes(test_routes, sizeof(test_routes) / sizeof(test_routes[0]));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair), 0);
    assert_int_equal(
        connection_accept(&harness->worker->connections, pair[0], (struct sockaddr *)&peer_address,
                          &comet_route_websocket_upgrade, COMET_TRANSPORT_WEBSOCKET, false),
        GIM_OK);
    harness->connection = harness->worker->connections.live;
    harness->peer = pair[1];
    waiting = NULL;
    messages_seen = closes_seen = 0;
    answer_at_once = false;
    seen_rest[0] = seen_token[0] = seen_field[0] = '\0';
    return harness;
}

static void harness_free(struct harness *harness)
{
    close(harness->peer);
    worker_destroy(harness->worker); /* closes and releases what is left */
    ip_counter_destroy(&harness->comet.client_addresses);
    comet_online_destroy(&harness->comet.online);
    free(harness);
}

/* The client sends text; the loop would now call the connection's readable hook. */
static void client_sends(struct harness *harness, const void *data, size_t length)
{
    assert_int_equal(write(harness->peer, data, length), (ssize_t)length);
    if (harness->connection->state != CONNECTION_CLOSED)
        harness->connection->route->framing->readable(harness->connection);
}

/* What the client received so far, as a string. */
static const char *client_receives(struct harness *harness)
{
    static char buffer[16384];
    size_t length = 0;

    for (;;) {
        ssize_t got = read(harness->peer, buffer + length, sizeof(buffer) - 1 - length);
        if (got <= 0)
            break;
        length += (size_t)got;
    }
    buffer[length] = '\0';
    return buffer;
}

/* True once the comet end is closed (the client reads end of stream). */
static bool client_sees_close(struct harness *harness)
{
    char byte;
    return read(harness->peer, &byte, 1) == 0;
}

static void test_upgrade_admitted_later(void **state)
{
    struct harness *harness = harness_new();
    static const char head[] = UPGRADE_HEAD("/test/ws/app/A%3A1?token=t%2Bk");
    static const uint8_t early_frame[] = {0x81, 0x80, 1, 2, 3, 4}; /* empty masked text */

    (void)state;
    client_sends(harness, head, sizeof(head) - 1);
    assert_ptr_equal(waiting, harness->connection);
    assert_string_equal(seen_rest, "app/A%3A1");
    assert_string_equal(seen_token, "t+k");
    assert_int_equal(harness->connection->state, CONNECTION_AUTHENTICATING);
    assert_string_equal(client_receives(harness), ""); /* nothing until admitted */
    /* a frame sent meanwhile waits unread */
    client_sends(harness, early_frame, sizeof(early_frame));
    assert_int_equal(messages_seen, 0);
    struct connection_identity identity = {.room = "test-room", .heartbeat_ms = 60000};
    assert_int_equal(websocket_admit(waiting, &identity), GIM_OK);
    assert_non_null(strstr(client_receives(harness), "HTTP/1.1 101 Switching Protocols\r\n"));
    assert_int_equal(harness->connection->state, CONNECTION_ACTIVE);
    assert_non_null(harness->connection->rooms);
    assert_int_equal(messages_seen, 1); /* the early frame, read once admitted */
    assert_int_equal(websocket_admit(waiting, NULL), GIM_ERR_INVALID); /* not twice */
    connection_unref(waiting);
    harness_free(harness);
}

static void test_upgrade_refused_later_with_an_answer(void **state)
{
    struct harness *harness = harness_new();
    static const char head[] = UPGRADE_HEAD("/test/ws/none/tag");
    const char *answer;

    (void)state;
    client_sends(harness, head, sizeof(head) - 1);
    assert_non_null(waiting);
    assert_int_equal(websocket_answer(waiting, 404, "text/plain; charset=utf-8", NULL,
                                      "app_key does not exist\n", 23),
                     GIM_OK);
    answer = client_receives(harness);
    assert_string_equal(answer, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; "
                                "charset=utf-8\r\nContent-Length: 23\r\nConnection: close\r\n\r\n"
                                "app_key does not exist\n");
    assert_true(client_sees_close(harness));
    assert_int_equal(harness->connection->state, CONNECTION_CLOSED);
    assert_int_equal(websocket_admit(waiting, NULL), GIM_ERR_CLOSED);
    connection_unref(waiting);
    harness_free(harness);
}

static void test_upgrade_refused_at_once(void **state)
{
    struct harness *harness = harness_new();
    static const char head[] = UPGRADE_HEAD("/test/ws/none/tag");

    (void)state;
    answer_at_once = true;
    client_sends(harness, head, sizeof(head) - 1);
    assert_non_null(strstr(client_receives(harness), "HTTP/1.1 404 Not Found\r\n"));
    assert_true(client_sees_close(harness));
    harness_free(harness);
}

static void test_close_while_waiting_makes_the_late_answer_harmless(void **state)
{
    struct harness *harness = harness_new();
    static const char head[] = UPGRADE_HEAD("/test/ws/app/tag");

    (void)state;
    client_sends(harness, head, sizeof(head) - 1);
    assert_non_null(waiting);
    /* the handshake deadline (or the peer) closes it before the protocol answers */
    connection_close(waiting, CONNECTION_CLOSE_HANDSHAKE_TIMEOUT);
    connection_set_reap(&harness->worker->connections); /* the protocol's reference keeps it */
    assert_int_equal(closes_seen, 1);
    assert_int_equal(websocket_admit(waiting, NULL), GIM_ERR_CLOSED);
    assert_int_equal(websocket_answer(waiting, 401, NULL, NULL, "x", 1), GIM_ERR_CLOSED);
    connection_unref(waiting); /* the last reference: freed here, not inside a callback */
    assert_true(client_sees_close(harness));
    harness_free(harness);
}

static void test_plain_request_answered_later_with_form_body(void **state)
{
    struct harness *harness = harness_new();
    static const char request[] = "POST /test/form?field=query HTTP/1.1\r\nContent-Type: "
                                  "application/x-www-form-urlencoded\r\nContent-Length: 13\r\n\r\n"
                                  "field=b%20ody";
    const char *answer;

    (void)state;
    /* the head, then the body in two pieces: nothing is answered before the body is whole */
    client_sends(harness, request, sizeof(request) - 1 - 8);
    assert_null(waiting);
    client_sends(harness, request + sizeof(request) - 1 - 8, 8);
    assert_non_null(waiting);
    assert_string_equal(seen_field, "b ody");
    assert_int_equal(websocket_answer(waiting, 401, "text/plain; charset=utf-8",
                                      "Access-Control-Allow-Origin: *\r\n", "token error\n", 12),
                     GIM_OK);
    answer = client_receives(harness);
    assert_string_equal(answer, "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain; "
                                "charset=utf-8\r\nContent-Length: 12\r\nAccess-Control-Allow-"
                                "Origin: *\r\nConnection: close\r\n\r\ntoken error\n");
    assert_true(client_sees_close(harness));
    assert_int_equal(websocket_answer(waiting, 200, NULL, NULL, NULL, 0), GIM_ERR_CLOSED);
    connection_unref(waiting);
    harness_free(harness);
}

static void test_plain_request_answered_at_once(void **state)
{
    struct harness *harness = harness_new();
    static const char request[] = "GET /test/form?field=q%21 HTTP/1.1\r\nHost: x\r\n\r\n";

    (void)state;
    answer_at_once = true;
    client_sends(harness, request, sizeof(request) - 1);
    assert_string_equal(seen_field, "q!");
    assert_string_equal(client_receives(harness),
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                        "11\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n\r\n"
                        "{\"ok\":true}");
    assert_true(client_sees_close(harness));
    harness_free(harness);
}

static void test_refusals(void **state)
{
    static const char *const requests[] = {
        "POST /test/form HTTP/1.1\r\nContent-Length: 8193\r\n\r\n",
        "POST /test/form HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /elsewhere HTTP/1.1\r\n\r\n",
        "GET /sub HTTP/1.1\r\n\r\n",          /* goim's route: upgrades only */
        "POST /test/ws/a/b HTTP/1.1\r\n\r\n", /* an upgrade route without a handler */
        UPGRADE_HEAD("/test/form"),           /* a handler route without upgrades */
    };
    static const char *const statuses[] = {"413 Payload Too Large", "411 Length Required",
                                           "400 Bad Request",       "400 Bad Request",
                                           "400 Bad Request",       "400 Bad Request"};
    size_t index;

    (void)state;
    for (index = 0; index < sizeof(requests) / sizeof(requests[0]); index++) {
        struct harness *harness = harness_new();
        char expected[64];
        client_sends(harness, requests[index], strlen(requests[index]));
        snprintf(expected, sizeof(expected), "HTTP/1.1 %s\r\n", statuses[index]);
        assert_non_null(strstr(client_receives(harness), expected));
        assert_true(client_sees_close(harness));
        assert_null(waiting);
        harness_free(harness);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upgrade_admitted_later),
        cmocka_unit_test(test_upgrade_refused_later_with_an_answer),
        cmocka_unit_test(test_upgrade_refused_at_once),
        cmocka_unit_test(test_close_while_waiting_makes_the_late_answer_harmless),
        cmocka_unit_test(test_plain_request_answered_later_with_form_body),
        cmocka_unit_test(test_plain_request_answered_at_once),
        cmocka_unit_test(test_refusals),
    };
    signal(SIGPIPE,
           SIG_IGN); /* as comet's main: a write to a closed peer is an error, not a kill */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
