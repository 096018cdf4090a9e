/* test_frame.c: unit tests of the goim frame header codec (common/frame.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/frame.h"
#include "common/status.h"

static void test_encode_then_decode_round_trips(void **state)
{
    uint8_t buffer[64];
    struct gim_frame_header header;
    size_t size;

    (void)state;
    size = gim_frame_encode(buffer, sizeof(buffer), 1, GIM_OP_AUTH, 7, (const uint8_t *)"abc", 3);
    assert_int_equal(size, 19);
    assert_int_equal(gim_frame_decode_header(buffer, size, GIM_FRAME_MAX_CLIENT_BODY, &header),
                     GIM_OK);
    assert_int_equal(header.packet_length, 19);
    assert_int_equal(header.header_length, 16);
    assert_int_equal(header.version, 1);
    assert_int_equal(header.operation, GIM_OP_AUTH);
    assert_int_equal(header.sequence, 7);
    assert_memory_equal(buffer + 16, "abc", 3);
}

static void test_header_bytes_are_big_endian(void **state)
{
    static const uint8_t expected[16] = {0, 0, 0, 20, 0, 16, 0, 1, 0, 0, 0, 3, 0, 0, 1, 2};
    uint8_t header[16];

    (void)state;
    gim_frame_encode_header(header, 4, 1, GIM_OP_HEARTBEAT_REPLY, 258);
    assert_memory_equal(header, expected, 16);
}

static void test_short_input_asks_for_more(void **state)
{
    uint8_t buffer[16] = {0};
    struct gim_frame_header header;

    (void)state;
    assert_int_equal(gim_frame_decode_header(buffer, 15, 4096, &header), GIM_ERR_AGAIN);
    assert_int_equal(gim_frame_decode_header(buffer, 0, 4096, &header), GIM_ERR_AGAIN);
}

static void test_bad_header_length_is_invalid(void **state)
{
    uint8_t buffer[16];
    struct gim_frame_header header;

    (void)state;
    gim_frame_encode_header(buffer, 0, 1, 2, 0);
    gim_write_u16(buffer + 4, 17);
    assert_int_equal(gim_frame_decode_header(buffer, 16, 4096, &header), GIM_ERR_INVALID);
    gim_write_u16(buffer + 4, 0);
    assert_int_equal(gim_frame_decode_header(buffer, 16, 4096, &header), GIM_ERR_INVALID);
}

static void test_packet_length_bounds(void **state)
{
    uint8_t buffer[16];
    struct gim_frame_header header;

    (void)state;
    gim_frame_encode_header(buffer, 0, 1, 2, 0);
    gim_write_u32(buffer, 15); /* shorter than its own header */
    assert_int_equal(gim_frame_decode_header(buffer, 16, 4096, &header), GIM_ERR_INVALID);
    gim_write_u32(buffer, 0x80000010u); /* negative for goim's int32 */
    assert_int_equal(gim_frame_decode_header(buffer, 16, 4096, &header), GIM_ERR_INVALID);
    gim_write_u32(buffer, 16 + 4096); /* exactly the client limit */
    assert_int_equal(gim_frame_decode_header(buffer, 16, 4096, &header), GIM_OK);
    gim_write_u32(buffer, 16 + 4097); /* one byte over */
    assert_int_equal(gim_frame_decode_header(buffer, 16, 4096, &header), GIM_ERR_TOO_LARGE);
    gim_write_u32(buffer, 0xFFFFFFFFu);
    assert_int_equal(gim_frame_decode_header(buffer, 16, 4096, &header), GIM_ERR_INVALID);
}

static void test_encode_refuses_small_buffer(void **state)
{
    uint8_t buffer[18] = {0};

    (void)state;
    assert_int_equal(gim_frame_encode(buffer, sizeof(buffer), 1, 9, 0, (const uint8_t *)"abc", 3),
                     0);
    assert_int_equal(buffer[0], 0);
    assert_int_equal(gim_frame_encode(buffer, 16, 1, 2, 0, NULL, 0), 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_then_decode_round_trips),
        cmocka_unit_test(test_header_bytes_are_big_endian),
        cmocka_unit_test(test_short_input_asks_for_more),
        cmocka_unit_test(test_bad_header_length_is_invalid),
        cmocka_unit_test(test_packet_length_bounds),
        cmocka_unit_test(test_encode_refuses_small_buffer),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
