/* test_comet_gusher_presence.c: the gusher presence table and its Redis transactions
 * (comet/gusher_presence.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "comet/gusher_presence.h"
#include "common/status.h"

#define MAX_LINES 64

/* The commands of the rounds, one line each ("HSET k f 1"; a hash's fields sorted). */
struct recorded {
    char lines[MAX_LINES][512];
    int count;
    int transactions;
    int refuse; /* emit answers an error */
};

static int compare_pairs(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Records one command as a line; a hash's fields (after HSET key) sorted by pair. */
static int record(void *context, int argc, const char *const *argv)
{
    struct recorded *recorded = context;
    char *pairs[32], *line;
    int index, pair_count = (argc - 2) / 2;
    size_t used = 0, size = 512;

    if (recorded->refuse)
        return GIM_ERR_AGAIN;
    assert_true(recorded->count < MAX_LINES && argc <= 66);
    line = recorded->lines[recorded->count++];
    line[0] = '\0';
    if (strcmp(argv[0], "HSET") == 0) {
        for (index = 0; index < pair_count; index++) {
            pairs[index] = malloc(256);
            snprintf(pairs[index], 256, "%s=%s", argv[2 + 2 * index], argv[3 + 2 * index]);
        }
        qsort(pairs, (size_t)pair_count, sizeof(char *), compare_pairs);
        used += (size_t)snprintf(line, size, "HSET %s", argv[1]);
        for (index = 0; index < pair_count; index++) {
            used += (size_t)snprintf(line + used, size - used, " %s", pairs[index]);
            free(pairs[index]);
        }
    } else {
        for (index = 0; index < argc; index++)
            used +=
                (size_t)snprintf(line + used, size - used, "%s%s", index ? " " : "", argv[index]);
    }
    if (strcmp(argv[0], "MULTI") == 0)
        recorded->transactions++;
    return GIM_OK;
}

/* Builds app's transaction into recorded. */
static int build(struct gusher_presence *presence, const char *app, int64_t deadline, bool withdraw,
                 struct recorded *recorded)
{
    return gusher_presence_build(presence, app, "comet-1", deadline, withdraw, record, recorded);
}

static bool has(const struct recorded *recorded, const char *line)
{
    int index;

    for (index = 0; index < recorded->count; index++)
        if (strcmp(recorded->lines[index], line) == 0)
            return true;
    return false;
}

static void dump(const struct recorded *recorded)
{
    int index;
    for (index = 0; index < recorded->count; index++)
        print_message("  %s\n", recorded->lines[index]);
}

#define ASSERT_HAS(recorded, line)                                                                 \
    do {                                                                                           \
        if (!has(recorded, line)) {                                                                \
            dump(recorded);                                                                        \
            fail_msg("missing: %s", line);                                                         \
        }                                                                                          \
    } while (0)

static void test_an_app_is_written_whole(void **state)
{
    struct gusher_presence presence;
    struct recorded recorded = {0};

    (void)state;
    gusher_presence_init(&presence); /* no writer attached: changes mark nothing */
    gusher_presence_socket(&presence, "TEST", "Test_User", 1);
    gusher_presence_socket(&presence, "TEST", "Test_User", 1);
    gusher_presence_socket(&presence, "TEST", "", 1);
    gusher_presence_channel(&presence, "TEST", "Test_User", "AA", 1);
    gusher_presence_channel(&presence, "TEST", "", "AA", 1);
    gusher_presence_channel(&presence, "TEST", "Test_User", "BB", 1);

    assert_int_equal(build(&presence, "TEST", 5000, false, &recorded), GIM_OK);
    assert_int_equal(recorded.transactions, 1);
    assert_string_equal(recorded.lines[0], "MULTI");
    assert_string_equal(recorded.lines[recorded.count - 1], "EXEC");
    ASSERT_HAS(&recorded, "DEL gusher/presence/TEST/comet-1/users");
    ASSERT_HAS(&recorded, "HSET gusher/presence/TEST/comet-1/users Test_User=2"); /* "" out */
    ASSERT_HAS(&recorded, "PEXPIREAT gusher/presence/TEST/comet-1/users 5000");
    ASSERT_HAS(&recorded, "HSET gusher/presence/TEST/comet-1/channels AA=2 BB=1");
    ASSERT_HAS(&recorded, "HSET gusher/presence/TEST/comet-1/channel/AA =1 Test_User=1");
    ASSERT_HAS(&recorded, "HSET gusher/presence/TEST/comet-1/channel/BB Test_User=1");
    ASSERT_HAS(&recorded, "PEXPIREAT gusher/presence/TEST/comet-1/channel/BB 5000");
    ASSERT_HAS(&recorded, "ZADD gusher/presence/TEST 5000 comet-1");

    /* an app it does not know: nothing */
    recorded.count = recorded.transactions = 0;
    assert_int_equal(build(&presence, "OTHER", 5000, false, &recorded), GIM_OK);
    assert_int_equal(recorded.count, 0);

    /* leaving BB: its hash goes, the channels hash no longer names it */
    gusher_presence_channel(&presence, "TEST", "Test_User", "BB", -1);
    assert_int_equal(build(&presence, "TEST", 7000, false, &recorded), GIM_OK);
    ASSERT_HAS(&recorded, "DEL gusher/presence/TEST/comet-1/channel/BB");
    assert_false(has(&recorded, "HSET gusher/presence/TEST/comet-1/channel/BB Test_User=1"));
    ASSERT_HAS(&recorded, "HSET gusher/presence/TEST/comet-1/channels AA=2");
    /* ... and once written away it is forgotten */
    recorded.count = recorded.transactions = 0;
    assert_int_equal(build(&presence, "TEST", 8000, false, &recorded), GIM_OK);
    assert_false(has(&recorded, "DEL gusher/presence/TEST/comet-1/channel/BB"));
    ASSERT_HAS(&recorded, "ZADD gusher/presence/TEST 8000 comet-1");
    gusher_presence_destroy(&presence);
}

static void visit_app(const char *app, void *context)
{
    int *seen = context;
    (void)app;
    (*seen)++;
}

static void test_the_last_socket_withdraws_the_app(void **state)
{
    struct gusher_presence presence;
    struct recorded recorded = {0};
    int apps = 0;

    (void)state;
    gusher_presence_init(&presence);
    gusher_presence_socket(&presence, "A", "u", 1);
    gusher_presence_channel(&presence, "A", "u", "c", 1);
    gusher_presence_socket(&presence, "B", "v", 1);
    gusher_presence_each_app(&presence, visit_app, &apps);
    assert_int_equal(apps, 2);

    gusher_presence_channel(&presence, "A", "u", "c", -1);
    gusher_presence_socket(&presence, "A", "u", -1);
    recorded.refuse = 1; /* the write fails: the state stays for the next one */
    assert_int_equal(build(&presence, "A", 2, false, &recorded), GIM_ERR_AGAIN);
    recorded.refuse = 0;
    assert_int_equal(build(&presence, "A", 3, false, &recorded), GIM_OK);
    assert_int_equal(recorded.transactions, 1);
    ASSERT_HAS(&recorded, "DEL gusher/presence/A/comet-1/users");
    ASSERT_HAS(&recorded, "DEL gusher/presence/A/comet-1/channels");
    ASSERT_HAS(&recorded, "DEL gusher/presence/A/comet-1/channel/c");
    ASSERT_HAS(&recorded, "ZREM gusher/presence/A comet-1");
    assert_false(has(&recorded, "ZADD gusher/presence/A 3 comet-1"));
    apps = 0;
    gusher_presence_each_app(&presence, visit_app, &apps);
    assert_int_equal(apps, 1); /* A is forgotten */

    /* stop: written away though it still has a socket */
    recorded.count = recorded.transactions = 0;
    assert_int_equal(build(&presence, "B", 4, true, &recorded), GIM_OK);
    ASSERT_HAS(&recorded, "DEL gusher/presence/B/comet-1/users");
    ASSERT_HAS(&recorded, "ZREM gusher/presence/B comet-1");
    gusher_presence_destroy(&presence);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_app_is_written_whole),
        cmocka_unit_test(test_the_last_socket_withdraws_the_app),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
