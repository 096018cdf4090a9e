/* test_rpc_auth.c: unit tests of RPC request signing and the replay window (common/rpc_auth.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/frame.h"
#include "common/rpc_auth.h"
#include "common/status.h"

#define SECRET  "unit-test-secret-0123456789"
#define PAYLOAD "payload"
#define LENGTH  (4 + GIM_RPC_AUTH_HEADER + sizeof(PAYLOAD) - 1 + GIM_RPC_AUTH_MAC)

static int setup(void **state)
{
    (void)state;
    return gim_rpc_auth_enable(SECRET, 30000) == GIM_OK ? 0 : -1;
}

static void sign(uint8_t *body)
{
    memset(body, 0, LENGTH);
    gim_write_u32(body, 105);
    memcpy(body + 4 + GIM_RPC_AUTH_HEADER, PAYLOAD, sizeof(PAYLOAD) - 1);
    gim_rpc_auth_sign(body, LENGTH);
}

static void test_a_signed_request_passes_once(void **state)
{
    uint8_t body[LENGTH];
    enum gim_rpc_refusal refusal;
    const uint8_t *payload;
    size_t payload_length;
    uint32_t method;
    uint64_t replayed = gim_rpc_auth_refused(GIM_RPC_REFUSED_REPLAYED);

    (void)state;
    sign(body);
    assert_int_equal(
        gim_rpc_auth_verify(body, LENGTH, &method, &payload, &payload_length, &refusal), GIM_OK);
    assert_int_equal(method, 105);
    assert_int_equal(payload_length, sizeof(PAYLOAD) - 1);
    assert_memory_equal(payload, PAYLOAD, payload_length);
    assert_int_equal(
        gim_rpc_auth_verify(body, LENGTH, &method, &payload, &payload_length, &refusal),
        GIM_ERR_INVALID);
    assert_int_equal(refusal, GIM_RPC_REFUSED_REPLAYED);
    assert_int_equal(gim_rpc_auth_refused(GIM_RPC_REFUSED_REPLAYED), replayed + 1);
}

static void test_out_of_order_counters_pass_within_the_window(void **state)
{
    uint8_t first[LENGTH], second[LENGTH];
    enum gim_rpc_refusal refusal;
    const uint8_t *payload;
    size_t payload_length;
    uint32_t method;

    (void)state;
    sign(first);
    sign(second);
    assert_int_equal(
        gim_rpc_auth_verify(second, LENGTH, &method, &payload, &payload_length, &refusal), GIM_OK);
    assert_int_equal(
        gim_rpc_auth_verify(first, LENGTH, &method, &payload, &payload_length, &refusal), GIM_OK);
}

static void test_altered_unsigned_and_short_requests_are_refused(void **state)
{
    uint8_t body[LENGTH];
    enum gim_rpc_refusal refusal;
    const uint8_t *payload;
    size_t payload_length;
    uint32_t method;

    (void)state;
    sign(body);
    body[4 + GIM_RPC_AUTH_HEADER] ^= 1;
    assert_int_equal(
        gim_rpc_auth_verify(body, LENGTH, &method, &payload, &payload_length, &refusal),
        GIM_ERR_INVALID);
    assert_int_equal(refusal, GIM_RPC_REFUSED_BAD_MAC);
    gim_write_u32(body, 105);
    assert_int_equal(
        gim_rpc_auth_verify(body, LENGTH, &method, &payload, &payload_length, &refusal),
        GIM_ERR_INVALID);
    assert_int_equal(refusal, GIM_RPC_REFUSED_UNSIGNED);
    gim_write_u32(body, 105 | GIM_RPC_AUTH_FLAG);
    assert_int_equal(gim_rpc_auth_verify(body, 40, &method, &payload, &payload_length, &refusal),
                     GIM_ERR_INVALID);
    assert_int_equal(refusal, GIM_RPC_REFUSED_UNSIGNED);
    assert_int_equal(gim_rpc_auth_verify(body, 3, &method, &payload, &payload_length, &refusal),
                     GIM_ERR_INVALID);
}

static void test_secret_length_is_checked(void **state)
{
    char error[128], long_secret[GIM_RPC_AUTH_SECRET_MAX + 2];

    (void)state;
    assert_int_equal(gim_rpc_auth_check("rpcAuth.secret", "", error, sizeof(error)), GIM_OK);
    assert_int_equal(gim_rpc_auth_check("rpcAuth.secret", NULL, error, sizeof(error)), GIM_OK);
    assert_int_equal(gim_rpc_auth_check("rpcAuth.secret", "short", error, sizeof(error)),
                     GIM_ERR_INVALID);
    assert_non_null(strstr(error, "rpcAuth.secret"));
    memset(long_secret, 'x', sizeof(long_secret) - 1);
    long_secret[sizeof(long_secret) - 1] = '\0';
    assert_int_equal(gim_rpc_auth_check("rpcAuth.secret", long_secret, error, sizeof(error)),
                     GIM_ERR_INVALID);
}

static void test_public_urls_are_told_from_local_ones(void **state)
{
    (void)state;
    assert_true(gim_rpc_url_is_public("tcp://0.0.0.0:3109"));
    assert_true(gim_rpc_url_is_public("tcp://:3109"));
    assert_true(gim_rpc_url_is_public("tcp://10.1.2.3:3109"));
    assert_true(gim_rpc_url_is_public("tcp://[::]:3109"));
    assert_true(gim_rpc_url_is_public("tcp://comet.example:3109"));
    assert_false(gim_rpc_url_is_public("tcp://127.0.0.1:3109"));
    assert_false(gim_rpc_url_is_public("tcp://127.5.6.7:3109"));
    assert_false(gim_rpc_url_is_public("tcp://localhost:3109"));
    assert_false(gim_rpc_url_is_public("tcp://[::1]:3109"));
    assert_false(gim_rpc_url_is_public("ipc:///tmp/x"));
    assert_false(gim_rpc_url_is_public("inproc://x"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_signed_request_passes_once),
        cmocka_unit_test(test_out_of_order_counters_pass_within_the_window),
        cmocka_unit_test(test_altered_unsigned_and_short_requests_are_refused),
        cmocka_unit_test(test_secret_length_is_checked),
        cmocka_unit_test(test_public_urls_are_told_from_local_ones),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
