/*
 * test_logic_online.c: the ol_<server> shard documents (logic/online_store.c):
 * encoding rooms into goim's 64 CityHash shards and merging servers' shards
 * into cluster-wide counts, with stale servers left out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/status.h"
#include "logic/cityhash.h"
#include "logic/online_store.h"

#define NOW 1763900000

static void test_shard_is_cityhash32_mod_64(void **state)
{
    (void)state;
    /* CityHash32("live://1000") = 1126145323 (test_logic_cityhash.c) */
    assert_int_equal(online_store_shard("live://1000", 11), 1126145323u % 64);
    assert_int_equal(online_store_shard("live://1000", 11), 43);
}

static void test_encode_places_rooms_in_their_shards(void **state)
{
    static const struct online_room_count rooms[] = {
        {"live://1000", 2}, {"live://1001", 5}, {"chat://7", 3}, {"live://empty", 0}};
    char *values[ONLINE_STORE_SHARDS];
    size_t index, used = 0;
    int shard;

    (void)state;
    assert_int_equal(online_store_encode("comet-1", rooms, 4, NOW, values), GIM_OK);
    for (shard = 0; shard < ONLINE_STORE_SHARDS; shard++) {
        json_t *document, *room_count;
        if (values[shard] == NULL)
            continue;
        used++;
        document = json_loads(values[shard], 0, NULL);
        assert_non_null(document);
        assert_string_equal(json_string_value(json_object_get(document, "server")), "comet-1");
        assert_int_equal(json_integer_value(json_object_get(document, "updated")), NOW);
        room_count = json_object_get(document, "room_count");
        for (index = 0; index < 4; index++) {
            json_t *count = json_object_get(room_count, rooms[index].room);
            unsigned home = online_store_shard(rooms[index].room, strlen(rooms[index].room));
            if (count != NULL) {
                assert_int_equal(home, (unsigned)shard);
                assert_int_equal(json_integer_value(count), rooms[index].count);
            }
        }
        json_decref(document);
        free(values[shard]);
    }
    /* three non-empty rooms (the zero count is left out), in at most three shards */
    assert_true(used >= 1 && used <= 3);

    assert_int_equal(online_store_encode("comet-1", rooms, 0, NOW, values), GIM_OK);
    for (shard = 0; shard < ONLINE_STORE_SHARDS; shard++)
        assert_null(values[shard]);
}

static void test_merge_sums_servers_and_skips_stale_ones(void **state)
{
    const char *first[] = {
        "{\"server\":\"a\",\"room_count\":{\"live://1\":2,\"live://2\":1},\"updated\":1763900000}",
        "not json", "{\"server\":\"a\",\"room_count\":{\"chat://9\":4},\"updated\":1763899990}"};
    const char *second[] = {
        "{\"server\":\"b\",\"room_count\":{\"live://1\":3},\"updated\":1763899950}"};
    const char *stale[] = {
        "{\"server\":\"c\",\"room_count\":{\"live://1\":100},\"updated\":1763899000}"};
    size_t first_lengths[3], second_length = strlen(second[0]), stale_length = strlen(stale[0]);
    json_t *totals = json_object();
    size_t index;

    (void)state;
    for (index = 0; index < 3; index++)
        first_lengths[index] = strlen(first[index]);
    assert_int_equal(online_store_merge(first, first_lengths, 3, NOW, totals), GIM_OK);
    assert_int_equal(online_store_merge(second, &second_length, 1, NOW, totals), GIM_OK);
    assert_int_equal(online_store_merge(stale, &stale_length, 1, NOW, totals), GIM_ERR_NOT_FOUND);
    assert_int_equal(online_store_merge(NULL, NULL, 0, NOW, totals), GIM_ERR_NOT_FOUND);
    assert_int_equal(json_object_size(totals), 3);
    assert_int_equal(json_integer_value(json_object_get(totals, "live://1")), 5);
    assert_int_equal(json_integer_value(json_object_get(totals, "live://2")), 1);
    assert_int_equal(json_integer_value(json_object_get(totals, "chat://9")), 4);
    json_decref(totals);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_is_cityhash32_mod_64),
        cmocka_unit_test(test_encode_places_rooms_in_their_shards),
        cmocka_unit_test(test_merge_sums_servers_and_skips_stale_ones),
    };
    return cmocka_run_group_tests_name("logic_online", tests, NULL, NULL);
}
