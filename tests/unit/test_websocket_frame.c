/* test_websocket_frame.c: unit tests of the RFC 6455 frame header codec (common/websocket_frame.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/status.h"
#include "common/websocket_frame.h"

static void test_encode_uses_shortest_length_forms(void **state)
{
    uint8_t header[GIM_WEBSOCKET_MAX_HEADER];
    const uint8_t mask[4] = {1, 2, 3, 4};

    (void)state;
    assert_int_equal(gim_websocket_encode_header(header, true, GIM_WEBSOCKET_BINARY, 125, NULL), 2);
    assert_int_equal(header[0], 0x82);
    assert_int_equal(header[1], 125);
    assert_int_equal(gim_websocket_encode_header(header, true, GIM_WEBSOCKET_BINARY, 126, NULL), 4);
    assert_int_equal(header[1], 126);
    assert_int_equal(header[2], 0);
    assert_int_equal(header[3], 126);
    assert_int_equal(gim_websocket_encode_header(header, true, GIM_WEBSOCKET_BINARY, 70000, NULL),
                     10);
    assert_int_equal(header[1], 127);
    assert_int_equal(header[7], 0x01);
    assert_int_equal(header[8], 0x11);
    assert_int_equal(header[9], 0x70);
    assert_int_equal(gim_websocket_encode_header(header, false, GIM_WEBSOCKET_TEXT, 5, mask), 6);
    assert_int_equal(header[0], 0x01);
    assert_int_equal(header[1], 0x85);
    assert_memory_equal(header + 2, mask, 4);
}

static void test_decode_reads_what_encode_wrote(void **state)
{
    static const uint64_t lengths[] = {0, 1, 125, 126, 65535, 65536, 1u << 30};
    const uint8_t mask[4] = {9, 8, 7, 6};
    uint8_t header[GIM_WEBSOCKET_MAX_HEADER];
    struct gim_websocket_frame frame;

    (void)state;
    for (size_t index = 0; index < sizeof(lengths) / sizeof(lengths[0]); index++) {
        for (int masked = 0; masked < 2; masked++) {
            size_t size = gim_websocket_encode_header(header, masked, GIM_WEBSOCKET_BINARY,
                                                      lengths[index], masked ? mask : NULL);
            /* every proper prefix of a header is incomplete */
            for (size_t cut = 0; cut < size; cut++)
                assert_int_equal(gim_websocket_decode_header(header, cut, &frame), GIM_ERR_AGAIN);
            assert_int_equal(gim_websocket_decode_header(header, size, &frame), GIM_OK);
            assert_int_equal(frame.header_length, size);
            assert_true(frame.payload_length == lengths[index]);
            assert_int_equal(frame.final, masked);
            assert_int_equal(frame.masked, masked);
            assert_true(frame.shortest_length);
            assert_int_equal(frame.opcode, GIM_WEBSOCKET_BINARY);
            if (masked)
                assert_memory_equal(frame.mask, mask, 4);
        }
    }
}

static void test_decode_refuses_bad_headers(void **state)
{
    const uint8_t reserved_bit[] = {0xc2, 0x00};
    const uint8_t reserved_opcode[] = {0x83, 0x00};
    const uint8_t fragmented_ping[] = {0x09, 0x00};
    const uint8_t long_close[] = {0x88, 126, 0, 126};
    const uint8_t top_bit[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0};
    const uint8_t long_form_for_short[] = {0x82, 126, 0, 5};
    struct gim_websocket_frame frame;

    (void)state;
    assert_int_equal(gim_websocket_decode_header(reserved_bit, 2, &frame), GIM_ERR_INVALID);
    assert_int_equal(gim_websocket_decode_header(reserved_opcode, 2, &frame), GIM_ERR_INVALID);
    assert_int_equal(gim_websocket_decode_header(fragmented_ping, 2, &frame), GIM_ERR_INVALID);
    assert_int_equal(gim_websocket_decode_header(long_close, 4, &frame), GIM_ERR_INVALID);
    assert_int_equal(gim_websocket_decode_header(top_bit, 10, &frame), GIM_ERR_INVALID);
    assert_int_equal(gim_websocket_decode_header(long_form_for_short, 4, &frame), GIM_OK);
    assert_false(frame.shortest_length); /* accepted; callers that care refuse it */
    assert_true(frame.payload_length == 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_uses_shortest_length_forms),
        cmocka_unit_test(test_decode_reads_what_encode_wrote),
        cmocka_unit_test(test_decode_refuses_bad_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
