/* test_grow.c: unit tests of growing an array by doubling (common/grow.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "common/grow.h"
#include "common/status.h"

struct pair {
    int key;
    double value;
};

static void test_doubles_from_the_first_capacity(void **state)
{
    struct pair *pairs = NULL, *before;
    size_t capacity = 0, index;

    (void)state;
    assert_int_equal(gim_grow(&pairs, &capacity, 1, sizeof(*pairs), 8, SIZE_MAX), GIM_OK);
    assert_non_null(pairs);
    assert_int_equal(capacity, 8);
    for (index = 0; index < 8; index++)
        pairs[index].key = (int)index;
    before = pairs;
    assert_int_equal(gim_grow(&pairs, &capacity, 8, sizeof(*pairs), 8, SIZE_MAX), GIM_OK);
    assert_ptr_equal(pairs, before); /* enough already: nothing changes */
    assert_int_equal(capacity, 8);
    assert_int_equal(gim_grow(&pairs, &capacity, 9, sizeof(*pairs), 8, SIZE_MAX), GIM_OK);
    assert_int_equal(capacity, 16);
    assert_int_equal(gim_grow(&pairs, &capacity, 100, sizeof(*pairs), 8, SIZE_MAX), GIM_OK);
    assert_int_equal(capacity, 128); /* doubled until it holds needed */
    for (index = 0; index < 8; index++)
        assert_int_equal(pairs[index].key, (int)index); /* kept */
    pairs[127].key = 127;                               /* and all of it usable (ASan) */
    free(pairs);
}

static void test_bounds_and_overflow(void **state)
{
    char *bytes = NULL;
    struct pair *pairs = NULL;
    size_t capacity = 0;

    (void)state;
    /* doubling past max_items stops at max_items */
    assert_int_equal(gim_grow(&bytes, &capacity, 5, 1, 4, 10), GIM_OK);
    assert_int_equal(capacity, 8);
    assert_int_equal(gim_grow(&bytes, &capacity, 9, 1, 4, 10), GIM_OK);
    assert_int_equal(capacity, 10);
    bytes[9] = 'x';
    /* more than max_items: refused, nothing changed */
    assert_int_equal(gim_grow(&bytes, &capacity, 11, 1, 4, 10), GIM_ERR_TOO_LARGE);
    assert_int_equal(capacity, 10);
    assert_int_equal(bytes[9], 'x');
    free(bytes);

    /* a size that does not fit in size_t: no memory, nothing changed */
    capacity = 0;
    assert_int_equal(gim_grow(&pairs, &capacity, SIZE_MAX / 2, sizeof(*pairs), 16, SIZE_MAX),
                     GIM_ERR_NO_MEMORY);
    assert_null(pairs);
    assert_int_equal(capacity, 0);
    /* doubling that would overflow goes straight to needed */
    capacity = SIZE_MAX / 2 + 2;
    assert_int_equal(gim_grow(&pairs, &capacity, SIZE_MAX, 2, 1, SIZE_MAX), GIM_ERR_NO_MEMORY);
    assert_int_equal(capacity, SIZE_MAX / 2 + 2);
    assert_null(pairs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_from_the_first_capacity),
        cmocka_unit_test(test_bounds_and_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
