/* test_logic_push_group.c: unit tests of logic's grouping of a PUSH by comet server
 * (logic/push_group.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/status.h"
#include "logic.pb-c.h"
#include "logic/push_group.h"

/* routes[index] = {keys[index], servers[index]}; the strings stay the test's. */
static void routes_of(struct session_routes *routes, struct session_route *items,
                      const char *const *keys, const char *const *servers, size_t count)
{
    for (size_t index = 0; index < count; index++) {
        items[index].key = (char *)keys[index];
        items[index].server = (char *)servers[index];
    }
    routes->items = items;
    routes->count = count;
    routes->capacity = count;
}

/* Checks that record is a PUSH of "hi" with op 1000 to server with keys[0..count), keyed by
 * keys[0]. */
static void assert_push_record(const struct producer_record *record, const char *server,
                               const char *const *keys, size_t count)
{
    Goim__Logic__PushMsg *push =
        goim__logic__push_msg__unpack(NULL, record->value_length, record->value);

    assert_non_null(push);
    assert_int_equal(push->type, GOIM__LOGIC__PUSH_MSG__TYPE__PUSH);
    assert_int_equal(push->operation, 1000);
    assert_string_equal(push->server, server);
    assert_int_equal(push->n_keys, count);
    for (size_t index = 0; index < count; index++)
        assert_string_equal(push->keys[index], keys[index]);
    assert_int_equal(push->msg.len, 2);
    assert_memory_equal(push->msg.data, "hi", 2);
    assert_int_equal(record->key_length, strlen(keys[0]));
    assert_memory_equal(record->key, keys[0], record->key_length);
    goim__logic__push_msg__free_unpacked(push, NULL);
}

static void test_one_record_per_server_with_its_keys_in_lookup_order(void **state)
{
    static const char *const keys[] = {"k1", "k2", "k3", "k4", "k5"};
    static const char *const servers[] = {"comet-b", "comet-a", "comet-b", "comet-a", "comet-c"};
    static const char *const on_a[] = {"k2", "k4"}, *const on_b[] = {"k1", "k3"},
                             *const on_c[] = {"k5"};
    struct session_route items[5];
    struct session_routes routes;
    struct producer_record *records;
    size_t count;

    (void)state;
    routes_of(&routes, items, keys, servers, 5);
    assert_int_equal(
        push_group_by_server(&routes, 1000, (const uint8_t *)"hi", 2, &records, &count), GIM_OK);
    assert_int_equal(count, 3);
    assert_push_record(&records[0], "comet-a", on_a, 2);
    assert_push_record(&records[1], "comet-b", on_b, 2);
    assert_push_record(&records[2], "comet-c", on_c, 1);
    push_group_free(records, count);
}

static void test_one_server_gives_one_record_in_order(void **state)
{
    static const char *const keys[] = {"z", "a", "m", "b"};
    static const char *const servers[] = {"comet-a", "comet-a", "comet-a", "comet-a"};
    struct session_route items[4];
    struct session_routes routes;
    struct producer_record *records;
    size_t count;

    (void)state;
    routes_of(&routes, items, keys, servers, 4);
    assert_int_equal(
        push_group_by_server(&routes, 1000, (const uint8_t *)"hi", 2, &records, &count), GIM_OK);
    assert_int_equal(count, 1);
    assert_push_record(&records[0], "comet-a", keys, 4); /* not sorted by key */
    push_group_free(records, count);
}

static void test_no_routes_gives_no_record(void **state)
{
    struct session_routes routes = {0};
    struct producer_record *records = (struct producer_record *)&routes;
    size_t count = 7;

    (void)state;
    assert_int_equal(
        push_group_by_server(&routes, 1000, (const uint8_t *)"hi", 2, &records, &count), GIM_OK);
    assert_null(records);
    assert_int_equal(count, 0);
    push_group_free(records, count);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_record_per_server_with_its_keys_in_lookup_order),
        cmocka_unit_test(test_one_server_gives_one_record_in_order),
        cmocka_unit_test(test_no_routes_gives_no_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
