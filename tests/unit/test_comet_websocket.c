/* test_comet_websocket.c: unit tests of comet's WebSocket upgrade check and output framing
 * (comet/websocket.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "comet/protocol_goim.h"
#include "comet/websocket.h"
#include "common/frame.h"
#include "common/status.h"

#define GOOD_HEAD                                                                                  \
    "GET /sub HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"    \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

/* A route an upgrade may take (its framing and protocol do not matter to the checks). */
static const struct connection_route upgraded = {NULL, NULL, 7, false};

/* Test routes: goim's exact /sub, prefixes with and without upgrades and request handlers. */
static int answer_nothing(struct comet_connection *connection,
                          const struct websocket_request *request)
{
    (void)connection;
    (void)request;
    return GIM_OK;
}

static const struct websocket_route routes[] = {
    {"/sub", false, false, &upgraded, NULL},
    {"/gusher/ws/", true, true, &upgraded, NULL},
    {"/gusher/auth", false, true, NULL, answer_nothing},
    {"/ws/", true, true, &upgraded, answer_nothing},
};
#define ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Parses then checks head as an upgrade: GIM_OK or GIM_ERR_INVALID. */
static int check(const char *head)
{
    char accept[WEBSOCKET_ACCEPT_SIZE];
    struct websocket_request request;

    if (websocket_parse_request(head, strlen(head), routes, ROUTES, &request) != 0)
        return GIM_ERR_INVALID;
    return websocket_check_upgrade(&request, accept);
}

static void test_rfc6455_sample_key_gives_sample_accept(void **state)
{
    char accept[WEBSOCKET_ACCEPT_SIZE];

    struct websocket_request request;

    (void)state;
    assert_int_equal(
        websocket_parse_request(GOOD_HEAD, strlen(GOOD_HEAD), routes, ROUTES, &request), 0);
    assert_ptr_equal(request.route, &routes[0]);
    assert_true(request.upgrade);
    assert_int_equal(websocket_check_upgrade(&request, accept), GIM_OK);
    assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); /* RFC 6455 section 1.3 */
}

static void test_bad_requests_are_invalid(void **state)
{
    (void)state;
    assert_int_equal(check("POST /sub HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                           "Sec-WebSocket-Key: a\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                     GIM_ERR_INVALID);
    assert_int_equal(check("GET /sub?x HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                           "Sec-WebSocket-Key: a\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                     GIM_ERR_INVALID);
    assert_int_equal(check("GET /sub HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrades\r\n"
                           "Sec-WebSocket-Key: a\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                     GIM_ERR_INVALID);
    assert_int_equal(check("GET /sub HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                           "Sec-WebSocket-Key: \r\nSec-WebSocket-Version: 13\r\n\r\n"),
                     GIM_ERR_INVALID);
    assert_int_equal(check("GET /sub HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                           "Sec-WebSocket-Key: a\r\nSec-WebSocket-Version: 12\r\n\r\n"),
                     GIM_ERR_INVALID);
    assert_int_equal(check("GET /sub HTTP/1.1\r\nConnection: upgrade\r\n"
                           "Sec-WebSocket-Key: a\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                     GIM_ERR_INVALID);
    assert_int_equal(check("GET /sub HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                           "Sec-WebSocket-Key: a\r\nSec-WebSocket-Version: 13\r\n\r\n"),
                     GIM_OK);
}

static void test_raw_push_is_wrapped_in_op9(void **state)
{
    uint8_t inner[20];
    struct gim_shared_buffer *buffer;
    struct gim_frame_header header;

    (void)state;
    gim_frame_encode(inner, sizeof(inner), 1, 1000, 0, (const uint8_t *)"body", 4);
    struct comet_push push = {
        .version = 1, .operation = GIM_OP_RAW, .body = inner, .body_length = sizeof(inner)};

    buffer = protocol_goim.encode_push(&push, &framing_websocket);
    assert_non_null(buffer);
    assert_int_equal(buffer->length, 2 + 16 + 20);
    assert_int_equal(buffer->data[1], 36);
    assert_int_equal(gim_frame_decode_header(buffer->data + 2, 36, 4096, &header), GIM_OK);
    assert_int_equal(header.packet_length, 36);
    assert_int_equal(header.operation, GIM_OP_RAW);
    assert_int_equal(header.version, 1);
    assert_int_equal(header.sequence, 0);
    assert_memory_equal(buffer->data + 18, inner, sizeof(inner));
    gim_shared_buffer_unref(buffer);
    /* on a stream (TCP) the inner frames go as they are */
    buffer = protocol_goim.encode_push(&push, &framing_goim_stream);
    assert_non_null(buffer);
    assert_int_equal(buffer->length, sizeof(inner));
    assert_memory_equal(buffer->data, inner, sizeof(inner));
    gim_shared_buffer_unref(buffer);
}

static void test_client_frame_length_finds_boundaries(void **state)
{
    uint8_t frame[16 + 14] = {0x82, 0x80 | 4, 1, 2, 3, 4, 'a', 'b', 'c', 'd'};
    uint8_t medium[4 + 4 + 200] = {0x02, 0x80 | 126, 0, 200};
    uint8_t large[10 + 4] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0x10, 0x18};
    size_t length = 0;

    (void)state;
    assert_int_equal(websocket_client_frame_length(frame, 10, &length), GIM_OK);
    assert_int_equal(length, 10);
    /* every shorter prefix is incomplete, never mistaken for a frame */
    for (size_t cut = 0; cut < 10; cut++)
        assert_int_equal(websocket_client_frame_length(frame, cut, &length), GIM_ERR_AGAIN);
    assert_int_equal(websocket_client_frame_length(frame, sizeof(frame), &length), GIM_OK);
    assert_int_equal(length, 10); /* what follows is the next frame's */
    assert_int_equal(websocket_client_frame_length(medium, sizeof(medium), &length), GIM_OK);
    assert_int_equal(length, sizeof(medium));
    assert_int_equal(websocket_client_frame_length(medium, sizeof(medium) - 1, &length),
                     GIM_ERR_AGAIN);
    /* 127-form length 4120 = 16 + 4096 + 8: over one goim client frame */
    assert_int_equal(websocket_client_frame_length(large, sizeof(large), &length),
                     GIM_ERR_TOO_LARGE);
    large[9] = 0x10; /* 4112 = 16 + 4096: the largest accepted, still to arrive */
    assert_int_equal(websocket_client_frame_length(large, sizeof(large), &length), GIM_ERR_AGAIN);
}

static void test_client_frame_length_refuses_bad_headers(void **state)
{
    uint8_t reserved_bit[] = {0xc2, 0x80, 1, 2, 3, 4};
    uint8_t reserved_opcode[] = {0x83, 0x80, 1, 2, 3, 4};
    uint8_t long_ping[] = {0x89, 0x80 | 126, 0, 126};
    uint8_t short_ping[] = {0x89, 0x80 | 1, 1, 2, 3, 4, 'x'};
    uint8_t unmasked[] = {0x82, 2, 'h', 'i'};
    size_t length = 0;

    (void)state;
    assert_int_equal(websocket_client_frame_length(reserved_bit, sizeof(reserved_bit), &length),
                     GIM_ERR_INVALID);
    assert_int_equal(
        websocket_client_frame_length(reserved_opcode, sizeof(reserved_opcode), &length),
        GIM_ERR_INVALID);
    assert_int_equal(websocket_client_frame_length(long_ping, sizeof(long_ping), &length),
                     GIM_ERR_INVALID);
    assert_int_equal(websocket_client_frame_length(short_ping, sizeof(short_ping), &length),
                     GIM_OK);
    assert_int_equal(length, sizeof(short_ping));
    /* an unmasked frame is measured too; wslay refuses it (1002) */
    assert_int_equal(websocket_client_frame_length(unmasked, sizeof(unmasked), &length), GIM_OK);
    assert_int_equal(length, 4);
}

static int parse(const char *head, struct websocket_request *request)
{
    return websocket_parse_request(head, strlen(head), routes, ROUTES, request);
}

static void test_routes_match_exactly_or_by_prefix(void **state)
{
    struct websocket_request request;

    (void)state;
    /* exact: /sub, not /sub/ nor /subx nor with a query string (as goim) */
    assert_int_equal(parse("GET /sub HTTP/1.1\r\n\r\n", &request), 0);
    assert_ptr_equal(request.route, &routes[0]);
    assert_int_equal(request.rest_length, 0);
    assert_int_equal(parse("GET /sub/ HTTP/1.1\r\n\r\n", &request), 400);
    assert_int_equal(parse("GET /subx HTTP/1.1\r\n\r\n", &request), 400);
    assert_int_equal(parse("GET /sub?x=1 HTTP/1.1\r\n\r\n", &request), 400);
    /* prefixes: the rest and the query string for the protocol */
    assert_int_equal(parse("GET /ws/app/A%3A1?token=t%20k HTTP/1.1\r\n\r\n", &request), 0);
    assert_ptr_equal(request.route, &routes[3]);
    assert_int_equal(request.rest_length, strlen("app/A%3A1"));
    assert_memory_equal(request.rest, "app/A%3A1", request.rest_length);
    assert_int_equal(request.path_length, strlen("/ws/app/A%3A1"));
    assert_int_equal(request.query_length, strlen("token=t%20k"));
    assert_memory_equal(request.query, "token=t%20k", request.query_length);
    assert_false(request.post);
    assert_false(request.upgrade);
    assert_int_equal(
        parse("GET /gusher/ws/app?token=1 HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &request), 0);
    assert_ptr_equal(request.route, &routes[1]);
    assert_true(request.upgrade);
    assert_int_equal(parse("GET /gusher/ HTTP/1.1\r\n\r\n", &request), 400);
    assert_int_equal(parse("GET /ws HTTP/1.1\r\n\r\n", &request), 400);
    /* the request line itself */
    assert_int_equal(parse("PUT /ws/a HTTP/1.1\r\n\r\n", &request), 400);
    assert_int_equal(parse("GET ws/a HTTP/1.1\r\n\r\n", &request), 400);
    assert_int_equal(parse("GET /ws/a HTTP/1.0\r\n\r\n", &request), 400);
    assert_int_equal(parse("GET /ws/a\tb HTTP/1.1\r\n\r\n", &request), 400);
    assert_int_equal(parse("GET  /ws/a HTTP/1.1\r\n\r\n", &request), 400);
}

static void test_bodies_are_framed_by_one_content_length(void **state)
{
    struct websocket_request request;

    (void)state;
    assert_int_equal(parse("POST /gusher/auth HTTP/1.1\r\nContent-Length: 12\r\nContent-Type: "
                           "application/x-www-form-urlencoded; charset=utf-8\r\n\r\n",
                           &request),
                     0);
    assert_true(request.post);
    assert_true(request.form_body);
    assert_int_equal(request.content_length, 12);
    assert_int_equal(parse("POST /gusher/auth HTTP/1.1\r\nContent-Length: 8192\r\n\r\n", &request),
                     0);
    assert_false(request.form_body);
    assert_int_equal(parse("POST /gusher/auth HTTP/1.1\r\nContent-Length: 8193\r\n\r\n", &request),
                     413);
    assert_int_equal(
        parse("POST /gusher/auth HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
              &request),
        413);
    assert_int_equal(
        parse("POST /gusher/auth HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &request), 411);
    assert_int_equal(parse("POST /gusher/auth HTTP/1.1\r\nContent-Length: 3\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n",
                           &request),
                     400);
    assert_int_equal(parse("POST /gusher/auth HTTP/1.1\r\nContent-Length: 3\r\n"
                           "Content-Length: 3\r\n\r\n",
                           &request),
                     400);
    assert_int_equal(parse("POST /gusher/auth HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &request),
                     400);
    assert_int_equal(parse("POST /gusher/auth HTTP/1.1\r\nContent-Length: 3x\r\n\r\n", &request),
                     400);
    assert_int_equal(parse("POST /gusher/auth HTTP/1.1\r\nContent-Length: \r\n\r\n", &request),
                     400);
}

static void test_form_values_come_from_the_body_then_the_query(void **state)
{
    static const char head[] = "POST /gusher/auth?jwt=query&only=q%2Bq HTTP/1.1\r\nContent-Type: "
                               "application/x-www-form-urlencoded\r\nContent-Length: 19\r\n\r\n";
    struct websocket_request request;
    char value[32];

    (void)state;
    assert_int_equal(parse(head, &request), 0);
    request.body = (const uint8_t *)"jwt=a+b%21&bad=%zz";
    request.content_length = strlen((const char *)request.body);
    assert_int_equal(websocket_form_value(&request, "jwt", value, sizeof(value)), GIM_OK);
    assert_string_equal(value, "a b!");
    assert_int_equal(websocket_form_value(&request, "only", value, sizeof(value)), GIM_OK);
    assert_string_equal(value, "q+q");
    assert_int_equal(websocket_form_value(&request, "bad", value, sizeof(value)), GIM_ERR_INVALID);
    assert_int_equal(websocket_form_value(&request, "none", value, sizeof(value)),
                     GIM_ERR_NOT_FOUND);
    request.form_body = false; /* another Content-Type: only the query string counts */
    assert_int_equal(websocket_form_value(&request, "jwt", value, sizeof(value)), GIM_OK);
    assert_string_equal(value, "query");
    assert_int_equal(websocket_request_header(&request, "content-length", value, sizeof(value)),
                     GIM_OK);
    assert_string_equal(value, "19");
    assert_int_equal(websocket_request_header(&request, "Origin", value, sizeof(value)),
                     GIM_ERR_NOT_FOUND);
}

static void test_upgrades_need_a_route_that_takes_them(void **state)
{
    (void)state;
    assert_int_equal(check("GET /ws/app/tag?token=x HTTP/1.1\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: a\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"),
                     GIM_OK);
    assert_int_equal(check("GET /gusher/auth HTTP/1.1\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: a\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n"),
                     GIM_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6455_sample_key_gives_sample_accept),
        cmocka_unit_test(test_bad_requests_are_invalid),
        cmocka_unit_test(test_routes_match_exactly_or_by_prefix),
        cmocka_unit_test(test_bodies_are_framed_by_one_content_length),
        cmocka_unit_test(test_form_values_come_from_the_body_then_the_query),
        cmocka_unit_test(test_upgrades_need_a_route_that_takes_them),
        cmocka_unit_test(test_raw_push_is_wrapped_in_op9),
        cmocka_unit_test(test_client_frame_length_finds_boundaries),
        cmocka_unit_test(test_client_frame_length_refuses_bad_headers),
    };
    return cmocka_run_group_tests_name("comet websocket", tests, NULL, NULL);
}
