/* test_bench_loadgen_websocket.c: unit tests of the load generator's WebSocket client codec
 * (tests/bench/loadgen_websocket.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/status.h"
#include "tests/bench/loadgen_websocket.h"

/* RFC 6455 section 1.3: the nonce "the sample nonce" and the accept value it must produce. */
#define SAMPLE_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define SAMPLE_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};

static int check(const char *response, size_t *head_length)
{
    return loadgen_websocket_check_response((const uint8_t *)response, strlen(response),
                                            SAMPLE_ACCEPT, head_length);
}

static void test_key_and_accept_follow_rfc_example(void **state)
{
    char key[LOADGEN_WEBSOCKET_KEY_SIZE], accept[LOADGEN_WEBSOCKET_ACCEPT_SIZE];

    (void)state;
    loadgen_websocket_make_key((const uint8_t *)"the sample nonce", key, accept);
    assert_string_equal(key, SAMPLE_KEY);
    assert_string_equal(accept, SAMPLE_ACCEPT);
}

static void test_upgrade_request_names_sub_and_key(void **state)
{
    static const char expected[] = "GET /sub HTTP/1.1\r\nHost: 127.0.0.1:3102\r\n"
                                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: " SAMPLE_KEY "\r\n"
                                   "Sec-WebSocket-Version: 13\r\n\r\n";
    char out[256];
    size_t length;

    (void)state;
    length =
        loadgen_websocket_upgrade_request(out, sizeof(out), "127.0.0.1:3102", "/sub", SAMPLE_KEY);
    assert_int_equal(length, sizeof(expected) - 1);
    assert_memory_equal(out, expected, length);
    assert_int_equal(
        loadgen_websocket_upgrade_request(out, length, "127.0.0.1:3102", "/sub", SAMPLE_KEY), 0);
}

static void test_good_answer_is_accepted_with_frames_behind_it(void **state)
{
    static const char head[] = "HTTP/1.1 101 Switching Protocols\r\nupgrade:  WebSocket \r\n"
                               "Connection: keep-alive, Upgrade\r\n"
                               "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n";
    char response[sizeof(head) + 2];
    size_t head_length = 0;

    (void)state;
    memcpy(response, head, sizeof(head) - 1);
    memcpy(response + sizeof(head) - 1, "\x82", 2); /* a frame's first byte, then NUL */
    assert_int_equal(check(response, &head_length), GIM_OK);
    assert_int_equal(head_length, sizeof(head) - 1);
    assert_int_equal(check("HTTP/1.1 101\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                           "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n",
                           &head_length),
                     GIM_OK);
}

static void test_incomplete_answer_asks_for_more(void **state)
{
    size_t head_length = 0;

    (void)state;
    assert_int_equal(
        check("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", &head_length),
        GIM_ERR_AGAIN);
    assert_int_equal(check("", &head_length), GIM_ERR_AGAIN);
}

static void test_head_without_end_within_bound_is_too_large(void **state)
{
    uint8_t response[LOADGEN_WEBSOCKET_MAX_RESPONSE_HEAD + 8];
    size_t head_length = 0;

    (void)state;
    memset(response, 'a', sizeof(response));
    assert_int_equal(loadgen_websocket_check_response(response, LOADGEN_WEBSOCKET_MAX_RESPONSE_HEAD,
                                                      SAMPLE_ACCEPT, &head_length),
                     GIM_ERR_TOO_LARGE);
    /* a blank line past the bound does not count */
    memcpy(response + LOADGEN_WEBSOCKET_MAX_RESPONSE_HEAD - 2, "\r\n\r\n", 4);
    assert_int_equal(
        loadgen_websocket_check_response(response, sizeof(response), SAMPLE_ACCEPT, &head_length),
        GIM_ERR_TOO_LARGE);
}

static void test_wrong_answers_are_invalid(void **state)
{
    static const char *const answers[] = {
        "HTTP/1.1 400 Bad Request\r\n\r\n",
        "HTTP/1.1 1010 Odd\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n",
        "HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n",
        /* wrong accept */
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOp=\r\n\r\n",
        /* no accept, no Upgrade, no Connection token */
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgraded\r\n"
        "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n\r\n",
        /* an extension nobody asked for */
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\nSec-WebSocket-Extensions: deflate\r\n\r\n",
        /* a line that is not a header, a folded line */
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\nnonsense\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n more\r\n\r\n",
    };
    size_t head_length = 0;

    (void)state;
    for (size_t index = 0; index < sizeof(answers) / sizeof(answers[0]); index++) {
        if (check(answers[index], &head_length) != GIM_ERR_INVALID)
            fail_msg("answer %zu was not rejected", index);
    }
}

static void test_encode_masks_small_payload(void **state)
{
    uint8_t out[32];

    (void)state;
    /* RFC 6455 5.7: a masked "Hello" */
    assert_int_equal(loadgen_websocket_encode(out, sizeof(out), GIM_WEBSOCKET_TEXT,
                                              (const uint8_t *)"Hello", 5, mask),
                     11);
    assert_memory_equal(out, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", 11);
    assert_int_equal(loadgen_websocket_encode(out, sizeof(out), GIM_WEBSOCKET_PONG, NULL, 0, mask),
                     6);
    assert_memory_equal(out, "\x8a\x80\x37\xfa\x21\x3d", 6);
}

static void test_encode_uses_extended_lengths(void **state)
{
    static uint8_t payload[70000], out[70000 + 14];

    (void)state;
    memset(payload, 0x5a, sizeof(payload));
    assert_int_equal(
        loadgen_websocket_encode(out, sizeof(out), GIM_WEBSOCKET_BINARY, payload, 300, mask),
        4 + 4 + 300);
    assert_memory_equal(out, "\x82\xfe\x01\x2c", 4);
    assert_int_equal(out[8], 0x5a ^ 0x37);
    assert_int_equal(out[8 + 299], 0x5a ^ mask[299 % 4]);
    assert_int_equal(loadgen_websocket_encode(out, sizeof(out), GIM_WEBSOCKET_BINARY, payload,
                                              sizeof(payload), mask),
                     sizeof(out));
    assert_memory_equal(out, "\x82\xff\x00\x00\x00\x00\x00\x01\x11\x70", 10);
}

static void test_encode_refuses_what_does_not_fit(void **state)
{
    uint8_t payload[200] = {0}, out[256];

    (void)state;
    assert_int_equal(loadgen_websocket_encode(out, 10, GIM_WEBSOCKET_BINARY, payload, 5, mask), 0);
    assert_int_equal(loadgen_websocket_encode(out, 11, GIM_WEBSOCKET_BINARY, payload, 5, mask), 11);
    assert_int_equal(
        loadgen_websocket_encode(out, sizeof(out), GIM_WEBSOCKET_PING, payload, 126, mask), 0);
    assert_int_equal(loadgen_websocket_encode(out, sizeof(out), 3, payload, 1, mask), 0);
}

static void test_decode_reads_the_three_length_forms(void **state)
{
    static uint8_t frame[10 + 70000];
    struct loadgen_websocket_frame decoded;

    (void)state;
    memcpy(frame, "\x82\x03xyz", 5);
    assert_int_equal(loadgen_websocket_decode(frame, 5, 100, &decoded), GIM_OK);
    assert_int_equal(decoded.opcode, GIM_WEBSOCKET_BINARY);
    assert_true(decoded.final);
    assert_int_equal(decoded.header_length, 2);
    assert_int_equal(decoded.payload_length, 3);

    memcpy(frame, "\x02\x7e\x01\x00", 4); /* not final, 256 bytes */
    assert_int_equal(loadgen_websocket_decode(frame, 4 + 256, 1000, &decoded), GIM_OK);
    assert_false(decoded.final);
    assert_int_equal(decoded.header_length, 4);
    assert_int_equal(decoded.payload_length, 256);

    memcpy(frame, "\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10);
    assert_int_equal(loadgen_websocket_decode(frame, sizeof(frame), 70000, &decoded), GIM_OK);
    assert_int_equal(decoded.header_length, 10);
    assert_int_equal(decoded.payload_length, 70000);
}

static void test_decode_waits_for_the_whole_frame(void **state)
{
    static const uint8_t frame[] = "\x82\x7e\x01\x00";
    struct loadgen_websocket_frame decoded;

    (void)state;
    assert_int_equal(loadgen_websocket_decode(frame, 0, 1000, &decoded), GIM_ERR_AGAIN);
    assert_int_equal(loadgen_websocket_decode(frame, 1, 1000, &decoded), GIM_ERR_AGAIN);
    assert_int_equal(loadgen_websocket_decode(frame, 3, 1000, &decoded), GIM_ERR_AGAIN);
    assert_int_equal(loadgen_websocket_decode(frame, 4, 1000, &decoded), GIM_ERR_AGAIN);
    assert_int_equal(
        loadgen_websocket_decode((const uint8_t *)"\x82\x7f\0\0\0", 5, 1 << 20, &decoded),
        GIM_ERR_AGAIN);
}

static void test_decode_knows_too_large_from_the_header(void **state)
{
    struct loadgen_websocket_frame decoded;

    (void)state;
    assert_int_equal(
        loadgen_websocket_decode((const uint8_t *)"\x82\x7e\x01\x00", 4, 255, &decoded),
        GIM_ERR_TOO_LARGE);
    assert_int_equal(loadgen_websocket_decode((const uint8_t *)"\x82\x7f\0\0\0\0\0\x20\0\0", 10,
                                              1 << 20, &decoded),
                     GIM_ERR_TOO_LARGE);
}

static void test_decode_rejects_malformed_headers(void **state)
{
    static const char *const frames[] = {
        "\x82\x83\x01\x02\x03\x04xyz",  /* masked by the server */
        "\xc2\x01x",                    /* RSV1 */
        "\x83\x01x",                    /* opcode 3 */
        "\x8b\x00",                     /* opcode 11 */
        "\x09\x00",                     /* fragmented ping */
        "\x89\x7e\x00\x7e",             /* ping over 125 */
        "\x82\x7e\x00\x05xyzab",        /* 16-bit length under 126 */
        "\x82\x7f\0\0\0\0\0\0\x01\0",   /* 64-bit length under 65536 */
        "\x82\x7f\x80\0\0\0\0\0\0\x01", /* 64-bit length with the top bit */
    };
    static const size_t lengths[] = {9, 3, 3, 2, 2, 4, 9, 10, 10};
    struct loadgen_websocket_frame decoded;

    (void)state;
    for (size_t index = 0; index < sizeof(frames) / sizeof(frames[0]); index++) {
        if (loadgen_websocket_decode((const uint8_t *)frames[index], lengths[index], SIZE_MAX,
                                     &decoded) != GIM_ERR_INVALID)
            fail_msg("frame %zu was not rejected", index);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_and_accept_follow_rfc_example),
        cmocka_unit_test(test_upgrade_request_names_sub_and_key),
        cmocka_unit_test(test_good_answer_is_accepted_with_frames_behind_it),
        cmocka_unit_test(test_incomplete_answer_asks_for_more),
        cmocka_unit_test(test_head_without_end_within_bound_is_too_large),
        cmocka_unit_test(test_wrong_answers_are_invalid),
        cmocka_unit_test(test_encode_masks_small_payload),
        cmocka_unit_test(test_encode_uses_extended_lengths),
        cmocka_unit_test(test_encode_refuses_what_does_not_fit),
        cmocka_unit_test(test_decode_reads_the_three_length_forms),
        cmocka_unit_test(test_decode_waits_for_the_whole_frame),
        cmocka_unit_test(test_decode_knows_too_large_from_the_header),
        cmocka_unit_test(test_decode_rejects_malformed_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
