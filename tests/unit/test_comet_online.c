/* test_comet_online.c: unit tests of comet's comet-wide room counts (comet/online.c) and of
 * the room index telling them (comet/room.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "comet/online.h"
#include "comet/room.h"
#include "common/status.h"

static void test_joins_and_leaves_count_locally(void **state)
{
    struct comet_online online;

    (void)state;
    comet_online_init(&online);
    assert_int_equal(comet_online_room_count(&online, "live://1000"), 0);
    comet_online_add(&online, "live://1000", +1);
    comet_online_add(&online, "live://1000", +1);
    comet_online_add(&online, "chat://7", +1);
    assert_int_equal(comet_online_room_count(&online, "live://1000"), 2);
    assert_int_equal(comet_online_room_count(&online, "chat://7"), 1);
    comet_online_add(&online, "live://1000", -1);
    assert_int_equal(comet_online_room_count(&online, "live://1000"), 1);
    comet_online_add(&online, "nowhere", -1); /* a leave of an unknown room is ignored */
    assert_int_equal(comet_online_room_count(&online, NULL), 0);
    comet_online_destroy(&online);
}

static void test_cluster_count_wins_when_known(void **state)
{
    struct comet_online online;
    struct comet_online_count all[2] = {{"live://1000", 42}, {"elsewhere://1", 9}};

    (void)state;
    comet_online_init(&online);
    comet_online_add(&online, "live://1000", +1);
    comet_online_add(&online, "chat://7", +1);
    comet_online_set_all(&online, all, 2);
    assert_int_equal(comet_online_room_count(&online, "live://1000"), 42);
    assert_int_equal(comet_online_room_count(&online, "chat://7"),
                     1); /* unknown cluster-wide: local */
    assert_int_equal(comet_online_room_count(&online, "elsewhere://1"),
                     0); /* no local members: not kept */
    comet_online_set_all(&online, NULL,
                         0); /* a new answer without the room makes it unknown again */
    assert_int_equal(comet_online_room_count(&online, "live://1000"), 1);
    comet_online_destroy(&online);
}

static void test_snapshot_lists_rooms_with_members(void **state)
{
    struct comet_online online;
    struct comet_online_count *counts;
    size_t count, index;
    int live = -1, game = -1;

    (void)state;
    comet_online_init(&online);
    assert_int_equal(comet_online_snapshot(&online, &counts, &count), GIM_OK);
    assert_int_equal(count, 0);
    comet_online_snapshot_free(counts, count);
    comet_online_add(&online, "live://1000", +1);
    comet_online_add(&online, "live://1000", +1);
    comet_online_add(&online, "chat://7", +1);
    comet_online_add(&online, "chat://7", -1); /* emptied: gone */
    comet_online_add(&online, "game://3", +1);
    assert_int_equal(comet_online_snapshot(&online, &counts, &count), GIM_OK);
    assert_int_equal(count, 2);
    for (index = 0; index < count; index++) {
        if (strcmp(counts[index].room, "live://1000") == 0)
            live = counts[index].count;
        else if (strcmp(counts[index].room, "game://3") == 0)
            game = counts[index].count;
    }
    assert_int_equal(live, 2);
    assert_int_equal(game, 1);
    comet_online_snapshot_free(counts, count);
    comet_online_destroy(&online);
}

/* The test's connections: only their addresses matter to the room index. */
static char goim_connection, gusher_connection;

static bool counts_goim_only(const struct comet_connection *connection)
{
    return connection == (const struct comet_connection *)&goim_connection;
}

/* A room index with a filter tells online of the counted connections' memberships only, on
 * join and on leave; a room both kinds share counts its counted members. */
static void test_room_index_tells_only_counted_memberships(void **state)
{
    struct comet_connection *goim = (struct comet_connection *)&goim_connection;
    struct comet_connection *gusher = (struct comet_connection *)&gusher_connection;
    struct room_member *goim_rooms = NULL, *gusher_rooms = NULL;
    struct comet_online online;
    struct room_index index;

    (void)state;
    comet_online_init(&online);
    room_index_init(&index);
    index.online = &online;
    index.counted = counts_goim_only;
    assert_int_equal(room_join(&index, goim, &goim_rooms, "live://1000"), GIM_OK);
    assert_int_equal(room_join(&index, gusher, &gusher_rooms, "gusher/app/news"), GIM_OK);
    assert_int_equal(room_join(&index, gusher, &gusher_rooms, "live://1000"), GIM_OK);
    assert_non_null(room_find(&index, "gusher/app/news")); /* pushes still find the channel */
    assert_int_equal(room_find(&index, "live://1000")->online, 2);
    assert_int_equal(comet_online_room_total(&online), 1);
    assert_int_equal(comet_online_room_count(&online, "live://1000"), 1);
    assert_int_equal(comet_online_room_count(&online, "gusher/app/news"), 0);
    assert_true(room_leave(&index, &gusher_rooms, "live://1000"));
    assert_int_equal(comet_online_room_count(&online, "live://1000"), 1);
    room_leave_all(&index, &gusher_rooms);
    room_leave_all(&index, &goim_rooms);
    assert_int_equal(comet_online_room_total(&online), 0);
    assert_null(room_find(&index, "live://1000"));
    room_index_destroy(&index);
    comet_online_destroy(&online);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_joins_and_leaves_count_locally),
        cmocka_unit_test(test_cluster_count_wins_when_known),
        cmocka_unit_test(test_snapshot_lists_rooms_with_members),
        cmocka_unit_test(test_room_index_tells_only_counted_memberships),
    };
    return cmocka_run_group_tests_name("comet_online", tests, NULL, NULL);
}
