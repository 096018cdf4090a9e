/* test_logic_balancer.c: goim's weighted node choice (logic/balancer.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/status.h"
#include "logic/balancer.h"

static void test_current_weight_formula(void **state)
{
    (void)state;
    /* no connections anywhere: every node weighs 0 */
    assert_int_equal(balancer_current_weight(10, 0, 30, 0, 1.0), 0);
    /* weight share 1/3, connection share 1/2: correction -1/6 rounds to 0 */
    assert_int_equal(balancer_current_weight(10, 1, 30, 1, 1.0), 10);
    /* weight share 2/3, no connections: +0.67 rounds to +1 */
    assert_int_equal(balancer_current_weight(20, 0, 30, 1, 1.0), 21);
    /* halves round down: +0.5 -> +0, +1.5 -> +1 */
    assert_int_equal(balancer_current_weight(10, 0, 20, 1, 1.0), 10);
    assert_int_equal(balancer_current_weight(10, 0, 20, 3, 1.0), 11);
    /* a negative correction never goes below 1 */
    assert_int_equal(balancer_current_weight(1, 100, 101, 100, 1.0), BALANCER_MIN_WEIGHT);
    /* a positive one never above 2^20 */
    assert_int_equal(
        balancer_current_weight(BALANCER_MAX_WEIGHT, 0, BALANCER_MAX_WEIGHT, 1000, 1.0),
        BALANCER_MAX_WEIGHT);
    /* region gain 1.6: weight 16 of 36, +4.44 rounds to +4 */
    assert_int_equal(balancer_current_weight(10, 0, 30, 10, 1.6), 20);
}

static struct gim_instance instance(const char *hostname, const char *addrs, int64_t weight,
                                    int64_t conns, int64_t stamp, int offline)
{
    struct gim_instance made;

    memset(&made, 0, sizeof(made));
    made.region = "";
    made.hostname = (char *)hostname;
    made.public_addrs = (char *)addrs;
    made.weight = weight;
    made.conn_count = conns;
    made.latest_timestamp = stamp;
    made.offline = offline != 0;
    return made;
}

static void test_choice_follows_weights_and_load(void **state)
{
    struct balancer *balancer;
    struct balancer_pick pick;
    struct gim_instance comets[3];

    (void)state;
    assert_int_equal(balancer_create(&balancer), GIM_OK);
    comets[0] = instance("light", "1.1.1.1", 20, 50, 1, 0);
    comets[1] = instance("heavy", "2.2.2.2,2.2.2.3", 30, 50, 1, 0);
    comets[2] = instance("gone", "3.3.3.3", 1000, 0, 1, 1); /* offline: never offered */
    assert_int_equal(balancer_update(balancer, comets, 3), GIM_OK);

    assert_int_equal(balancer_choose(balancer, "", 1.6, &pick), GIM_OK);
    assert_int_equal(pick.count, 2);
    assert_string_equal(pick.choices[0].hostname, "heavy");
    assert_string_equal(pick.choices[0].public_addrs, "2.2.2.2,2.2.2.3");
    assert_string_equal(pick.choices[1].hostname, "light");
    balancer_pick_free(&pick);

    /* same timestamps: the locally counted placements survive an update */
    assert_int_equal(balancer_update(balancer, comets, 3), GIM_OK);
    /* "heavy" (30 of 50 weight) wins while it holds less than 70 % of the connections */
    assert_int_equal(balancer_choose(balancer, "", 1.6, &pick), GIM_OK);
    assert_string_equal(pick.choices[0].hostname, "heavy");
    balancer_pick_free(&pick);

    /* 1000 of 1050 connections on the heavy comet: the light one comes first */
    comets[1] = instance("heavy", "2.2.2.2", 30, 1000, 2, 0);
    assert_int_equal(balancer_update(balancer, comets, 3), GIM_OK);
    assert_int_equal(balancer_choose(balancer, "", 1.6, &pick), GIM_OK);
    assert_string_equal(pick.choices[0].hostname, "light");
    balancer_pick_free(&pick);

    /* an empty registry offers nothing */
    assert_int_equal(balancer_update(balancer, NULL, 0), GIM_OK);
    assert_int_equal(balancer_choose(balancer, "", 1.6, &pick), GIM_OK);
    assert_int_equal(pick.count, 0);
    balancer_destroy(balancer);
}

static void test_at_most_five_nodes(void **state)
{
    static const char *names[] = {"c1", "c2", "c3", "c4", "c5", "c6", "c7"};
    struct gim_instance comets[7];
    struct balancer *balancer;
    struct balancer_pick pick;
    size_t index;

    (void)state;
    for (index = 0; index < 7; index++)
        comets[index] = instance(names[index], "", (int64_t)index + 1, 1, 1, 0);
    assert_int_equal(balancer_create(&balancer), GIM_OK);
    assert_int_equal(balancer_update(balancer, comets, 7), GIM_OK);
    assert_int_equal(balancer_choose(balancer, "", 1.0, &pick), GIM_OK);
    assert_int_equal(pick.count, BALANCER_MAX_NODES);
    assert_string_equal(pick.choices[0].hostname, "c7");
    balancer_pick_free(&pick);
    balancer_destroy(balancer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_current_weight_formula),
        cmocka_unit_test(test_choice_follows_weights_and_load),
        cmocka_unit_test(test_at_most_five_nodes),
    };
    return cmocka_run_group_tests_name("logic_balancer", tests, NULL, NULL);
}
