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

/* The one path comet serves (the route does not matter to the check). */
static const struct websocket_path sub_path[] = {{"/sub", NULL}};

static int check(const char *head)
{
    char accept[WEBSOCKET_ACCEPT_SIZE];
    return websocket_check_upgrade(head, strlen(head), sub_path, 1, NULL, accept);
}

static void test_rfc6455_sample_key_gives_sample_accept(void **state)
{
    char accept[WEBSOCKET_ACCEPT_SIZE];

    (void)state;
    const struct websocket_path *matched = NULL;

    assert_int_equal(
        websocket_check_upgrade(GOOD_HEAD, strlen(GOOD_HEAD), sub_path, 1, &matched, accept),
        GIM_OK);
    assert_ptr_equal(matched, &sub_path[0]);
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
    struct comet_push push = {1, GIM_OP_RAW, 0, inner, sizeof(inner)};

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6455_sample_key_gives_sample_accept),
        cmocka_unit_test(test_bad_requests_are_invalid),
        cmocka_unit_test(test_raw_push_is_wrapped_in_op9),
        cmocka_unit_test(test_client_frame_length_finds_boundaries),
        cmocka_unit_test(test_client_frame_length_refuses_bad_headers),
    };
    return cmocka_run_group_tests_name("comet websocket", tests, NULL, NULL);
}
