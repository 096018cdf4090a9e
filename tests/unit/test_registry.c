/* test_registry.c: unit tests of the comet registry's JSON document (common/registry.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/registry.h"
#include "common/status.h"

static void test_instance_round_trips(void **state)
{
    struct gim_instance instance = {0}, decoded;
    char *json;

    (void)state;
    instance.region = "sh";
    instance.zone = "sh001";
    instance.env = "dev";
    instance.hostname = "comet-1";
    instance.rpc_address = "tcp://10.0.0.5:3109";
    instance.version = "0.1.0";
    instance.latest_timestamp = 1763892000123456789LL;
    instance.public_addrs = "1.2.3.4,5.6.7.8";
    instance.weight = 10;
    instance.offline = true;
    instance.conn_count = 15000;
    instance.ip_count = 12;
    json = gim_instance_to_json(&instance);
    assert_non_null(json);
    /* goim's discovery shape: metadata values are strings. */
    assert_non_null(strstr(json, "\"appid\":\"goim.comet\""));
    assert_non_null(strstr(json, "\"conn_count\":\"15000\""));
    assert_non_null(strstr(json, "\"offline\":\"true\""));
    assert_non_null(strstr(json, "\"addrs\":[\"tcp://10.0.0.5:3109\"]"));
    assert_int_equal(gim_instance_from_json(json, strlen(json), &decoded), GIM_OK);
    assert_string_equal(decoded.hostname, "comet-1");
    assert_string_equal(decoded.rpc_address, "tcp://10.0.0.5:3109");
    assert_string_equal(decoded.public_addrs, "1.2.3.4,5.6.7.8");
    assert_string_equal(decoded.zone, "sh001");
    assert_true(decoded.latest_timestamp == 1763892000123456789LL);
    assert_int_equal(decoded.weight, 10);
    assert_true(decoded.offline);
    assert_int_equal(decoded.conn_count, 15000);
    assert_int_equal(decoded.ip_count, 12);
    gim_instance_clear(&decoded);
    free(json);
}

static void test_malformed_documents_are_rejected(void **state)
{
    static const char *bad[] = {
        "",
        "[]",
        "{\"hostname\":\"a\"}",
        "{\"hostname\":\"a\",\"addrs\":[],\"metadata\":{}}",
        "{\"hostname\":\"a\",\"addrs\":[\"tcp://x:1\"],\"metadata\":{\"weight\":\"ten\","
        "\"conn_count\":\"0\",\"ip_count\":\"0\"}}",
        "{\"hostname\":\"\",\"addrs\":[\"tcp://x:1\"],\"metadata\":{\"weight\":\"1\","
        "\"conn_count\":\"0\",\"ip_count\":\"0\"}}",
    };
    struct gim_instance decoded;
    size_t index;

    (void)state;
    for (index = 0; index < sizeof(bad) / sizeof(bad[0]); index++)
        assert_int_equal(gim_instance_from_json(bad[index], strlen(bad[index]), &decoded),
                         GIM_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instance_round_trips),
        cmocka_unit_test(test_malformed_documents_are_rejected),
    };
    return cmocka_run_group_tests_name("registry", tests, NULL, NULL);
}
