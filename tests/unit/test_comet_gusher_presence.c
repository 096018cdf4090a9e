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

/* Decodes one RESP command at *at into line; hash fields (after HSET key) sorted by pair. */
static void decode_command(const char **at, char *line, size_t size)
{
    char *arguments[64], *pairs[32];
    int argc = (int)strtol(*at + 1, NULL, 10), index;
    size_t used = 0;

    assert_true(**at == '*' && argc > 0 && argc <= 64);
    *at = strstr(*at, "\r\n") + 2;
    for (index = 0; index < argc; index++) {
        size_t length = (size_t)strtol(*at + 1, NULL, 10);
        assert_true(**at == '$');
        *at = strstr(*at, "\r\n") + 2;
        arguments[index] = strndup(*at, length);
        *at += length + 2;
    }
    line[0] = '\0';
    if (strcmp(arguments[0], "HSET") == 0) {
        int pair_count = (argc - 2) / 2;
        for (index = 0; index < pair_count; index++) {
            pairs[index] = malloc(256);
            snprintf(pairs[index], 256, "%s=%s", arguments[2 + 2 * index],
                     arguments[3 + 2 * index]);
        }
        qsort(pairs, (size_t)pair_count, sizeof(char *), compare_pairs);
        used += (size_t)snprintf(line, size, "HSET %s", arguments[1]);
        for (index = 0; index < pair_count; index++) {
            used += (size_t)snprintf(line + used, size - used, " %s", pairs[index]);
            free(pairs[index]);
        }
    } else {
        for (index = 0; index < argc; index++)
            used += (size_t)snprintf(line + used, size - used, "%s%s", index ? " " : "",
                                     arguments[index]);
    }
    for (index = 0; index < argc; index++)
        free(arguments[index]);
}

static int record(void *context, const char *commands, size_t length, int count)
{
    struct recorded *recorded = context;
    const char *at = commands;
    int index;

    if (recorded->refuse)
        return GIM_ERR_AGAIN;
    recorded->transactions++;
    for (index = 0; index < count; index++) {
        assert_true(recorded->count < MAX_LINES);
        decode_command(&at, recorded->lines[recorded->count++], 512);
    }
    assert_ptr_equal(at, commands + length);
    return GIM_OK;
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

static void test_a_round_writes_the_changed_apps(void **state)
{
    struct gusher_presence presence;
    struct recorded recorded = {0};

    (void)state;
    gusher_presence_init(&presence);
    assert_false(gusher_presence_dirty(&presence));
    gusher_presence_socket(&presence, "TEST", "Test_User", 1);
    gusher_presence_socket(&presence, "TEST", "Test_User", 1);
    gusher_presence_socket(&presence, "TEST", "", 1);
    gusher_presence_channel(&presence, "TEST", "Test_User", "AA", 1);
    gusher_presence_channel(&presence, "TEST", "", "AA", 1);
    gusher_presence_channel(&presence, "TEST", "Test_User", "BB", 1);
    assert_true(gusher_presence_dirty(&presence));

    assert_int_equal(
        gusher_presence_round(&presence, "comet-1", 5000, false, false, record, &recorded), GIM_OK);
    assert_false(gusher_presence_dirty(&presence));
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

    /* nothing changed: nothing written, unless the round is full */
    recorded.count = recorded.transactions = 0;
    assert_int_equal(
        gusher_presence_round(&presence, "comet-1", 6000, false, false, record, &recorded), GIM_OK);
    assert_int_equal(recorded.transactions, 0);
    assert_int_equal(
        gusher_presence_round(&presence, "comet-1", 6000, true, false, record, &recorded), GIM_OK);
    assert_int_equal(recorded.transactions, 1);
    ASSERT_HAS(&recorded, "ZADD gusher/presence/TEST 6000 comet-1");

    /* leaving BB: its hash goes, the channels hash no longer names it */
    recorded.count = recorded.transactions = 0;
    gusher_presence_channel(&presence, "TEST", "Test_User", "BB", -1);
    assert_int_equal(
        gusher_presence_round(&presence, "comet-1", 7000, false, false, record, &recorded), GIM_OK);
    ASSERT_HAS(&recorded, "DEL gusher/presence/TEST/comet-1/channel/BB");
    assert_false(has(&recorded, "HSET gusher/presence/TEST/comet-1/channel/BB Test_User=1"));
    ASSERT_HAS(&recorded, "HSET gusher/presence/TEST/comet-1/channels AA=2");
    /* ... and once written away it is forgotten */
    recorded.count = recorded.transactions = 0;
    assert_int_equal(
        gusher_presence_round(&presence, "comet-1", 8000, true, false, record, &recorded), GIM_OK);
    assert_false(has(&recorded, "DEL gusher/presence/TEST/comet-1/channel/BB"));
    gusher_presence_destroy(&presence);
}

static void test_the_last_socket_withdraws_the_app(void **state)
{
    struct gusher_presence presence;
    struct recorded recorded = {0};

    (void)state;
    gusher_presence_init(&presence);
    gusher_presence_socket(&presence, "A", "u", 1);
    gusher_presence_channel(&presence, "A", "u", "c", 1);
    gusher_presence_socket(&presence, "B", "v", 1);
    assert_int_equal(gusher_presence_round(&presence, "s", 1, false, false, record, &recorded),
                     GIM_OK);
    assert_int_equal(recorded.transactions, 2);

    recorded.count = recorded.transactions = 0;
    gusher_presence_channel(&presence, "A", "u", "c", -1);
    gusher_presence_socket(&presence, "A", "u", -1);
    recorded.refuse = 1; /* the writer is full: the change waits */
    assert_int_equal(gusher_presence_round(&presence, "s", 2, false, false, record, &recorded),
                     GIM_OK);
    assert_true(gusher_presence_dirty(&presence));
    recorded.refuse = 0;
    assert_int_equal(gusher_presence_round(&presence, "s", 3, false, false, record, &recorded),
                     GIM_OK);
    assert_int_equal(recorded.transactions, 1);
    ASSERT_HAS(&recorded, "DEL gusher/presence/A/s/users");
    ASSERT_HAS(&recorded, "DEL gusher/presence/A/s/channels");
    ASSERT_HAS(&recorded, "DEL gusher/presence/A/s/channel/c");
    ASSERT_HAS(&recorded, "ZREM gusher/presence/A s");
    assert_false(has(&recorded, "ZADD gusher/presence/A 3 s"));

    /* stop: every app written away */
    recorded.count = recorded.transactions = 0;
    assert_int_equal(gusher_presence_round(&presence, "s", 4, false, true, record, &recorded),
                     GIM_OK);
    assert_int_equal(recorded.transactions, 1);
    ASSERT_HAS(&recorded, "DEL gusher/presence/B/s/users");
    ASSERT_HAS(&recorded, "ZREM gusher/presence/B s");
    gusher_presence_destroy(&presence);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_round_writes_the_changed_apps),
        cmocka_unit_test(test_the_last_socket_withdraws_the_app),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
