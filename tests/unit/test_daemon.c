/* test_daemon.c: unit tests of the daemons' shared start-up (common/daemon.c): -h, -t, a bad
 * configuration and a good one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/config.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/status.h"

struct sample_config {
    char *name;
    int64_t weight;
    bool debug;
};

static const struct gim_config_option sample_table[] = {
    {"name", GIM_CONFIG_STRING, offsetof(struct sample_config, name), "sample", 0, -1, "name", NULL,
     "a name"},
    {"weight", GIM_CONFIG_INT, offsetof(struct sample_config, weight), "10", 0, 100, "weight", NULL,
     "a weight"},
    {"debug", GIM_CONFIG_BOOL, offsetof(struct sample_config, debug), "false", 0, -1, "debug", NULL,
     "log at debug level"},
};
#define ROWS (sizeof(sample_table) / sizeof(sample_table[0]))

static int usage_calls, dump_calls, free_calls;

static int sample_load(void *config, int argc, char **argv, struct gim_config_command *command,
                       char *error, size_t error_size)
{
    return gim_config_load(sample_table, ROWS, config, argc, argv, command, error, error_size);
}

static void sample_usage(const char *program, FILE *out)
{
    (void)program;
    (void)out;
    usage_calls++;
}

static void sample_dump(const void *config, FILE *out)
{
    (void)config;
    (void)out;
    dump_calls++;
}

static void sample_free(void *config)
{
    gim_config_free(sample_table, ROWS, config);
    free_calls++;
}

static const struct gim_daemon sample_daemon = {
    .role = "sample",
    .load = sample_load,
    .usage = sample_usage,
    .dump = sample_dump,
    .free = sample_free,
    .debug_offset = offsetof(struct sample_config, debug),
};

/* Runs the start-up on argv (NULL-terminated); returns whether the daemon would run. */
static bool start(char **argv, struct sample_config *config, int *exit_code)
{
    int argc = 0;

    while (argv[argc] != NULL)
        argc++;
    usage_calls = dump_calls = free_calls = 0;
    memset(config, 0, sizeof(*config));
    *exit_code = -1;
    return gim_daemon_start(&sample_daemon, config, argc, argv, exit_code);
}

static void test_help_prints_usage_and_exits_0(void **state)
{
    char *argv[] = {"sample", "-h", NULL};
    struct sample_config config;
    int exit_code;

    (void)state;
    assert_false(start(argv, &config, &exit_code));
    assert_int_equal(exit_code, 0);
    assert_int_equal(usage_calls, 1);
    assert_int_equal(dump_calls, 0);
    assert_int_equal(free_calls, 1);
}

static void test_check_dumps_and_exits_0(void **state)
{
    char *argv[] = {"sample", "-t", "-weight", "20", NULL};
    struct sample_config config;
    int exit_code;

    (void)state;
    assert_false(start(argv, &config, &exit_code));
    assert_int_equal(exit_code, 0);
    assert_int_equal(dump_calls, 1);
    assert_int_equal(free_calls, 1);
}

static void test_bad_setting_exits_2_even_with_check(void **state)
{
    char *argv[] = {"sample", "-t", "-weight", "101", NULL};
    struct sample_config config;
    int exit_code;

    (void)state;
    assert_false(start(argv, &config, &exit_code));
    assert_int_equal(exit_code, 2);
    assert_int_equal(dump_calls, 0);
    assert_int_equal(free_calls, 1);
}

static void test_good_configuration_runs_with_the_log_started(void **state)
{
    char *argv[] = {"sample", "-debug", "-name", "n1", NULL};
    char *quiet[] = {"sample", NULL};
    struct sample_config config;
    int exit_code;

    (void)state;
    assert_true(start(argv, &config, &exit_code));
    assert_int_equal(free_calls, 0); /* config stays loaded for the daemon */
    assert_string_equal(config.name, "n1");
    assert_int_equal(gim_log_threshold, GIM_LOG_DEBUG);
    sample_free(&config);
    assert_true(start(quiet, &config, &exit_code));
    assert_int_equal(gim_log_threshold, GIM_LOG_INFO);
    sample_free(&config);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_prints_usage_and_exits_0),
        cmocka_unit_test(test_check_dumps_and_exits_0),
        cmocka_unit_test(test_bad_setting_exits_2_even_with_check),
        cmocka_unit_test(test_good_configuration_runs_with_the_log_started),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
