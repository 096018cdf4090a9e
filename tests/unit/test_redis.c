/* test_redis.c: unit tests of common/redis.c that need no Redis server: failed commands are
 * counted (gim_redis_count_errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/metrics.h"
#include "common/redis.h"
#include "common/status.h"

static void test_commands_that_cannot_reach_redis_are_counted(void **state)
{
    struct gim_metrics *metrics;
    struct gim_counter *errors;
    struct gim_redis *redis;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_counter(metrics, "redis_errors_total", "Errors.", NULL, &errors),
                     GIM_OK);
    /* port 1 on the loopback: nothing listens there, the connect is refused at once */
    assert_int_equal(gim_redis_open(&redis, "127.0.0.1:1", NULL, 1000), GIM_OK);
    assert_null(gim_redis_command(redis, "PING")); /* not counted yet */
    assert_int_equal(gim_counter_value(errors), 0);
    gim_redis_count_errors(redis, errors);
    assert_null(gim_redis_command(redis, "PING"));
    assert_int_equal(gim_counter_value(errors), 1);
    assert_int_equal(gim_redis_append(redis, "PING"), GIM_ERR_UNAVAILABLE);
    assert_int_equal(gim_counter_value(errors), 2);
    gim_redis_count_errors(redis, NULL);
    assert_null(gim_redis_command(redis, "PING"));
    assert_int_equal(gim_counter_value(errors), 2);
    gim_redis_close(redis);
    gim_metrics_destroy(metrics);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_that_cannot_reach_redis_are_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
