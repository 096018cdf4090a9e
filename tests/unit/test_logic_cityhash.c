/*
 * test_logic_cityhash.c: CityHash32 (logic/cityhash.c) against known values.
 *
 * The expected values were computed with Google's C++ CityHash v1.1 through
 * the PyPI package cityhash 0.4.10 (cityhash.CityHash32); they cover every
 * length branch (0-4, 5-12, 13-24, > 24 with one and several 20-byte rounds)
 * and bytes >= 0x80.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "logic/cityhash.h"

struct cityhash_vector {
    const char *text;
    size_t length;
    uint32_t expected;
};

static void test_known_vectors(void **state)
{
    static const struct cityhash_vector vectors[] = {
        {"", 0, 3696677242u},
        {"a", 1, 1016544589u},
        {"abcd", 4, 2562006677u},
        {"abcde", 5, 2750637740u},
        {"live://1000", 11, 1126145323u},
        {"hello, world!!!x", 16, 931832399u},
        {"0123456789abcdefghij0123456789abcdefghijXYZ", 43, 2104793915u},
        {"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz", 72,
         2209026937u},
        {"\xff", 1, 495582926u},
        {"\x80\x81\x82", 3, 2115384988u},
    };
    size_t index;

    (void)state;
    for (index = 0; index < sizeof(vectors) / sizeof(vectors[0]); index++)
        assert_int_equal(cityhash32(vectors[index].text, vectors[index].length),
                         vectors[index].expected);
}

static void test_all_byte_values(void **state)
{
    uint8_t bytes[256];
    size_t index;

    (void)state;
    for (index = 0; index < sizeof(bytes); index++)
        bytes[index] = (uint8_t)index;
    assert_int_equal(cityhash32(bytes, sizeof(bytes)), 2824210825u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_all_byte_values),
    };
    return cmocka_run_group_tests_name("logic_cityhash", tests, NULL, NULL);
}
