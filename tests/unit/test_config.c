/* test_config.c: unit tests of the table-driven configuration (common/config.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/config.h"
#include "common/status.h"

struct sample_config {
    char *host;
    char *bind;
    int64_t weight;
    bool offline;
    int64_t handshake_ms;
    double factor;
};

static const struct gim_config_option sample_table[] = {
    {"host", GIM_CONFIG_STRING, offsetof(struct sample_config, host), "localhost", 0, -1, "host",
     "SAMPLE_HOST", "server id"},
    {"tcp.bind", GIM_CONFIG_STRING, offsetof(struct sample_config, bind), ":3101", 0, -1, NULL,
     NULL, "listen addresses"},
    {"weight", GIM_CONFIG_INT, offsetof(struct sample_config, weight), "10", 0, 1000, "weight",
     "SAMPLE_WEIGHT", "weight"},
    {"offline", GIM_CONFIG_BOOL, offsetof(struct sample_config, offline), "false", 0, -1, "offline",
     NULL, "offline"},
    {"protocol.handshakeTimeout", GIM_CONFIG_DURATION, offsetof(struct sample_config, handshake_ms),
     "5s", 1, 3600000, NULL, NULL, "handshake"},
    {"backoff.factor", GIM_CONFIG_DOUBLE, offsetof(struct sample_config, factor), "1.8", 0, -1,
     NULL, NULL, "factor"},
};
#define ROWS (sizeof(sample_table) / sizeof(sample_table[0]))

static int load(struct sample_config *config, int argc, char **argv, char *error, size_t size)
{
    struct gim_config_command command;
    memset(config, 0, sizeof(*config));
    return gim_config_load(sample_table, ROWS, config, argc, argv, &command, error, size);
}

static char *write_temp(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof(path), "/tmp/goim-config-test-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_defaults_need_no_file(void **state)
{
    struct sample_config config;
    char error[256];
    char *argv[] = {"prog"};

    (void)state;
    unsetenv("SAMPLE_HOST");
    unsetenv("SAMPLE_WEIGHT");
    assert_int_equal(load(&config, 1, argv, error, sizeof(error)), GIM_OK);
    assert_string_equal(config.host, "localhost");
    assert_string_equal(config.bind, ":3101");
    assert_int_equal(config.weight, 10);
    assert_false(config.offline);
    assert_int_equal(config.handshake_ms, 5000);
    assert_true(config.factor > 1.79 && config.factor < 1.81);
    gim_config_free(sample_table, ROWS, &config);
}

static void test_file_then_env_then_flag(void **state)
{
    struct sample_config config;
    char error[256];
    char *path = write_temp("{\"host\":\"from-file\",\"weight\":20,\"tcp\":{\"bind\":[\":1\","
                            "\":2\"]},\"protocol\":{\"handshakeTimeout\":\"8s\"}}");
    char *argv[] = {"prog", "-conf", path, "-offline", "-host=from-flag"};

    (void)state;
    setenv("SAMPLE_WEIGHT", "30", 1);
    assert_int_equal(load(&config, 5, argv, error, sizeof(error)), GIM_OK);
    assert_string_equal(config.host, "from-flag");
    assert_int_equal(config.weight, 30);
    assert_string_equal(config.bind, ":1,:2");
    assert_true(config.offline);
    assert_int_equal(config.handshake_ms, 8000);
    gim_config_free(sample_table, ROWS, &config);
    unsetenv("SAMPLE_WEIGHT");
    unlink(path);
}

static void test_flat_keys_as_printed_by_check(void **state)
{
    struct sample_config config;
    char error[256];
    char *path = write_temp("{\"tcp.bind\": \":9\", \"protocol.handshakeTimeout\": \"700ms\"}");
    char *argv[] = {"prog", "-conf", path};

    (void)state;
    assert_int_equal(load(&config, 3, argv, error, sizeof(error)), GIM_OK);
    assert_string_equal(config.bind, ":9");
    assert_int_equal(config.handshake_ms, 700);
    gim_config_free(sample_table, ROWS, &config);
    unlink(path);
}

static void test_dotted_name_is_a_flag(void **state)
{
    struct sample_config config;
    char error[256];
    char *argv[] = {"prog", "-tcp.bind", "127.0.0.1:4101", "--protocol.handshakeTimeout", "250ms"};

    (void)state;
    assert_int_equal(load(&config, 5, argv, error, sizeof(error)), GIM_OK);
    assert_string_equal(config.bind, "127.0.0.1:4101");
    assert_int_equal(config.handshake_ms, 250);
    gim_config_free(sample_table, ROWS, &config);
}

static void test_errors_name_the_setting(void **state)
{
    struct sample_config config;
    char error[256];
    char *out_of_range[] = {"prog", "-weight", "5000"};
    char *not_a_number[] = {"prog", "-weight", "ten"};
    char *unknown[] = {"prog", "-nope", "1"};
    char *bad_duration[] = {"prog", "-protocol.handshakeTimeout", "5 parsecs"};
    char *path = write_temp("{\"tcp\":{\"bnid\":\":1\"}}");
    char *unknown_key[] = {"prog", "-conf", path};

    (void)state;
    assert_int_equal(load(&config, 3, out_of_range, error, sizeof(error)), GIM_ERR_INVALID);
    assert_non_null(strstr(error, "weight"));
    gim_config_free(sample_table, ROWS, &config);
    assert_int_equal(load(&config, 3, not_a_number, error, sizeof(error)), GIM_ERR_INVALID);
    assert_non_null(strstr(error, "weight"));
    gim_config_free(sample_table, ROWS, &config);
    assert_int_equal(load(&config, 3, unknown, error, sizeof(error)), GIM_ERR_INVALID);
    gim_config_free(sample_table, ROWS, &config);
    assert_int_equal(load(&config, 3, bad_duration, error, sizeof(error)), GIM_ERR_INVALID);
    assert_non_null(strstr(error, "handshakeTimeout"));
    gim_config_free(sample_table, ROWS, &config);
    assert_int_equal(load(&config, 3, unknown_key, error, sizeof(error)), GIM_ERR_INVALID);
    assert_non_null(strstr(error, "tcp.bnid"));
    gim_config_free(sample_table, ROWS, &config);
    unlink(path);
}

static void test_broken_json_reports_the_line(void **state)
{
    struct sample_config config;
    char error[256];
    char *path = write_temp("{\n\"host\": \"x\",\n oops\n}");
    char *argv[] = {"prog", "-conf", path};

    (void)state;
    assert_int_equal(load(&config, 3, argv, error, sizeof(error)), GIM_ERR_INVALID);
    assert_non_null(strstr(error, ":3:"));
    gim_config_free(sample_table, ROWS, &config);
    unlink(path);
}

static void test_durations(void **state)
{
    int64_t ms;

    (void)state;
    assert_int_equal(gim_config_parse_duration("4m", &ms), GIM_OK);
    assert_int_equal(ms, 240000);
    assert_int_equal(gim_config_parse_duration("1h30m", &ms), GIM_OK);
    assert_int_equal(ms, 5400000);
    assert_int_equal(gim_config_parse_duration("1500", &ms), GIM_OK);
    assert_int_equal(ms, 1500);
    assert_int_equal(gim_config_parse_duration("0.5s", &ms), GIM_OK);
    assert_int_equal(ms, 500);
    assert_int_equal(gim_config_parse_duration("", &ms), GIM_ERR_INVALID);
    assert_int_equal(gim_config_parse_duration("-1s", &ms), GIM_ERR_INVALID);
    assert_int_equal(gim_config_parse_duration("3d", &ms), GIM_ERR_INVALID);
}

static void test_check_flag_and_dump(void **state)
{
    struct sample_config config;
    struct gim_config_command command;
    char error[256];
    char *argv[] = {"prog", "-t"};
    char *dump = NULL;
    size_t dump_size = 0;
    FILE *out;

    (void)state;
    memset(&config, 0, sizeof(config));
    assert_int_equal(
        gim_config_load(sample_table, ROWS, &config, 2, argv, &command, error, sizeof(error)),
        GIM_OK);
    assert_true(command.check_only);
    out = open_memstream(&dump, &dump_size);
    gim_config_dump(sample_table, ROWS, &config, out);
    fclose(out);
    assert_non_null(strstr(dump, "\"tcp.bind\": \":3101\""));
    assert_non_null(strstr(dump, "\"protocol.handshakeTimeout\": \"5000ms\""));
    free(dump);
    gim_config_free(sample_table, ROWS, &config);
}

static void test_default_host_is_the_machine_name(void **state)
{
    char machine[256] = "";
    const char *expected;
    char *host = NULL;
    char *given = strdup("given-host");
    char *kept = given;
    char error[256] = "";

    (void)state;
    if (gethostname(machine, sizeof(machine) - 1) != 0 || machine[0] == '\0')
        snprintf(machine, sizeof(machine), "the-fallback");
    expected = machine;

    /* unset: the machine's name (or the fallback where it has none) */
    assert_int_equal(gim_config_default_host(&host, "the-fallback", error, sizeof(error)), GIM_OK);
    assert_string_equal(host, expected);
    free(host);

    /* empty: replaced, the empty string freed */
    host = strdup("");
    assert_int_equal(gim_config_default_host(&host, "the-fallback", error, sizeof(error)), GIM_OK);
    assert_string_equal(host, expected);
    free(host);

    /* set: left alone, the same string */
    assert_int_equal(gim_config_default_host(&given, NULL, error, sizeof(error)), GIM_OK);
    assert_ptr_equal(given, kept);
    assert_string_equal(given, "given-host");
    assert_string_equal(error, "");
    free(given);
}

static void test_list_length_counts_comma_entries(void **state)
{
    (void)state;
    assert_int_equal(gim_config_list_length(NULL), 0);
    assert_int_equal(gim_config_list_length(""), 0);
    assert_int_equal(gim_config_list_length(":3101"), 1);
    assert_int_equal(gim_config_list_length("a.pem,b.pem"), 2);
    assert_int_equal(gim_config_list_length("a.pem,,b.pem"), 3); /* an empty entry counts */
}

/* -h shows each INT and DURATION row's range, durations in their largest whole unit. */
static void test_usage_shows_defaults_and_ranges(void **state)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    (void)state;

    assert_non_null(out);
    gim_config_usage(sample_table, ROWS, "sample", out);
    fclose(out);
    assert_non_null(strstr(text, "-host "));
    assert_non_null(strstr(text, "server id (default \"localhost\", env SAMPLE_HOST)\n"));
    assert_non_null(strstr(text, "weight (default \"10\", 0..1000, env SAMPLE_WEIGHT)\n"));
    assert_non_null(strstr(text, "handshake (default \"5s\", 1ms..1h)\n"));
    assert_non_null(strstr(text, "listen addresses (default \":3101\")\n"));
    assert_non_null(strstr(text, "factor (default \"1.8\")\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_length_counts_comma_entries),
        cmocka_unit_test(test_defaults_need_no_file),
        cmocka_unit_test(test_file_then_env_then_flag),
        cmocka_unit_test(test_flat_keys_as_printed_by_check),
        cmocka_unit_test(test_dotted_name_is_a_flag),
        cmocka_unit_test(test_errors_name_the_setting),
        cmocka_unit_test(test_broken_json_reports_the_line),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_check_flag_and_dump),
        cmocka_unit_test(test_default_host_is_the_machine_name),
        cmocka_unit_test(test_usage_shows_defaults_and_ranges),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
