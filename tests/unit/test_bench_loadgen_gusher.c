/* test_bench_loadgen_gusher.c: unit tests of the load generator's gusher client codec
 * (tests/bench/loadgen_gusher.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/status.h"
#include "tests/bench/loadgen_gusher.h"

static int read_text(const char *text, struct loadgen_gusher_message *message)
{
    return loadgen_gusher_read_message((const uint8_t *)text, strlen(text), message);
}

static int answer(const char *text, bool complete, char *token)
{
    return loadgen_gusher_auth_answer((const uint8_t *)text, strlen(text), complete, token);
}

static void test_channel_push_gives_its_data_string(void **state)
{
    struct loadgen_gusher_message message;
    static const char text[] =
        "{\"channel\":\"fanout\",\"event\":\"bench\",\"data\":\"1712345678901234 xxx\"}";

    (void)state;
    assert_int_equal(read_text(text, &message), GIM_OK);
    assert_int_equal(message.kind, LOADGEN_GUSHER_CHANNEL_PUSH);
    assert_int_equal(message.data_length, strlen("1712345678901234 xxx"));
    assert_memory_equal(message.data, "1712345678901234 xxx", message.data_length);
}

static void test_members_in_any_order_and_nested_values(void **state)
{
    struct loadgen_gusher_message message;
    /* a number as data, nested containers and strings holding brackets, quotes and escapes */
    static const char text[] =
        " { \"data\" : 1712345678901234 , \"x\":{\"a\":[1,{\"b\":\"}]\\\"\"}]},"
        "\"event\":\"e\\\"v\",\"channel\":\"c\"}\r\n";

    (void)state;
    assert_int_equal(read_text(text, &message), GIM_OK);
    assert_int_equal(message.kind, LOADGEN_GUSHER_CHANNEL_PUSH);
    assert_int_equal(message.data_length, 16);
    assert_memory_equal(message.data, "1712345678901234", 16);
}

static void test_subscribe_replies_are_told_apart(void **state)
{
    struct loadgen_gusher_message message;

    (void)state;
    assert_int_equal(read_text("{\"event\":\"gusher.subscribe_succeeded\",\"socket_id\":\"ab\","
                               "\"data\":{\"channel\":\"fanout\"}}",
                               &message),
                     GIM_OK);
    assert_int_equal(message.kind, LOADGEN_GUSHER_SUBSCRIBED);
    assert_int_equal(message.data_length, strlen("{\"channel\":\"fanout\"}"));
    assert_int_equal(read_text("{\"data\":{\"channel\":\"x\"},\"event\":\"gusher.subscribe_error\","
                               "\"socket_id\":\"ab\"}",
                               &message),
                     GIM_OK);
    assert_int_equal(message.kind, LOADGEN_GUSHER_SUBSCRIBE_ERROR);
    assert_int_equal(read_text("{\"event\":\"gusher.addchannel\",\"socket_id\":\"\","
                               "\"data\":{\"channel\":\"aa\"}}",
                               &message),
                     GIM_OK);
    assert_int_equal(message.kind, LOADGEN_GUSHER_OTHER);
    /* an event name that only starts like the reply's is another event */
    assert_int_equal(read_text("{\"event\":\"gusher.subscribe_succeeded2\",\"data\":1}", &message),
                     GIM_OK);
    assert_int_equal(message.kind, LOADGEN_GUSHER_OTHER);
    assert_int_equal(read_text("{}", &message), GIM_OK);
    assert_int_equal(message.kind, LOADGEN_GUSHER_OTHER);
    assert_null(message.data);
}

static void test_malformed_messages_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "[1]",
        "\"text\"",
        "{",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1",
        "{\"a\":1,}",
        "{\"a\":\"unterminated}",
        "{\"a\":{\"b\":1}",
        "{\"a\":1} x",
        "{a:1}",
        "{\"a\":1 \"b\":2}",
    };
    struct loadgen_gusher_message message;

    (void)state;
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++)
        assert_int_equal(read_text(bad[index], &message), GIM_ERR_INVALID);
}

static void test_subscribe_command_and_ws_target(void **state)
{
    static const char expected[] =
        "{\"event\":\"gusher.subscribe\",\"data\":{\"channel\":\"fan\"}}";
    char out[128];

    (void)state;
    assert_int_equal(loadgen_gusher_subscribe_command(out, sizeof(out), "fan"),
                     sizeof(expected) - 1);
    assert_memory_equal(out, expected, sizeof(expected) - 1);
    assert_int_equal(loadgen_gusher_subscribe_command(out, sizeof(expected) - 1, "fan"), 0);
    assert_int_equal(loadgen_gusher_subscribe_command(out, sizeof(out), "a\"b"), 0);
    assert_int_equal(loadgen_gusher_subscribe_command(out, sizeof(out), "a\\b"), 0);
    assert_int_equal(loadgen_gusher_ws_target(out, sizeof(out), "/gusher/", "bench", "0f"),
                     strlen("/gusher/ws/bench?token=0f"));
    assert_string_equal(out, "/gusher/ws/bench?token=0f");
    assert_int_equal(loadgen_gusher_ws_target(out, 10, "/gusher/", "bench", "0f"), 0);
}

static void test_auth_request_encodes_the_jwt(void **state)
{
    static const char expected[] = "POST /gusher/auth HTTP/1.1\r\nHost: 127.0.0.1:3102\r\n"
                                   "Content-Type: application/x-www-form-urlencoded\r\n"
                                   "Content-Length: 14\r\nConnection: close\r\n\r\n"
                                   "jwt=a.b_%2B%3D";
    char out[256];
    size_t length;

    (void)state;
    length = loadgen_gusher_auth_request(out, sizeof(out), "127.0.0.1:3102", "/gusher/", "a.b_+=");
    assert_int_equal(length, sizeof(expected) - 1);
    assert_memory_equal(out, expected, length);
    assert_int_equal(
        loadgen_gusher_auth_request(out, length - 1, "127.0.0.1:3102", "/gusher/", "a.b_+="), 0);
}

static void test_auth_answer_waits_for_the_whole_body(void **state)
{
    static const char whole[] = "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\n"
                                "content-length: 44\r\n\r\n"
                                "{\"token\":\"0123456789abcdef0123456789abcdef\"}";
    char token[LOADGEN_GUSHER_TOKEN_SIZE] = "";
    char partial[sizeof(whole)];

    (void)state;
    assert_int_equal(answer(whole, false, token), GIM_OK);
    assert_string_equal(token, "0123456789abcdef0123456789abcdef");
    for (size_t length = 0; length < sizeof(whole) - 1; length++) {
        memcpy(partial, whole, length);
        partial[length] = '\0';
        assert_int_equal(answer(partial, false, token), GIM_ERR_AGAIN);
        assert_int_equal(answer(partial, true, token), GIM_ERR_INVALID);
    }
    /* without a Content-Length, the close ends the body */
    assert_int_equal(answer("HTTP/1.1 200 OK\r\n\r\n{\"token\":\"t1\"}", false, token),
                     GIM_ERR_AGAIN);
    assert_int_equal(answer("HTTP/1.1 200 OK\r\n\r\n{\"token\":\"t1\"}", true, token), GIM_OK);
    assert_string_equal(token, "t1");
}

static void test_auth_answer_refusals(void **state)
{
    static const char *const bad[] = {
        "HTTP/1.1 401 Unauthorized\r\nContent-Length: 16\r\n\r\njwt decode fail\n",
        "HTTP/1.1 200 OK\r\n\r\n{\"token\":\"\"}",
        "HTTP/1.1 200 OK\r\n\r\n{\"token\":1}",
        "HTTP/1.1 200 OK\r\n\r\n{\"token\":\"a b\"}",
        "HTTP/1.1 200 OK\r\n\r\n{\"other\":\"t\"}",
        "HTTP/1.1 200 OK\r\n\r\n{\"token\":\"t\"",
        "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{\"token\":\"t\"}",
        "garbage\r\n\r\n",
    };
    char token[LOADGEN_GUSHER_TOKEN_SIZE];
    char long_token[400];

    (void)state;
    for (size_t index = 0; index < sizeof(bad) / sizeof(bad[0]); index++)
        assert_int_equal(answer(bad[index], true, token), GIM_ERR_INVALID);
    snprintf(long_token, sizeof(long_token), "HTTP/1.1 200 OK\r\n\r\n{\"token\":\"%0*d\"}",
             LOADGEN_GUSHER_TOKEN_SIZE, 0);
    assert_int_equal(answer(long_token, true, token), GIM_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_channel_push_gives_its_data_string),
        cmocka_unit_test(test_members_in_any_order_and_nested_values),
        cmocka_unit_test(test_subscribe_replies_are_told_apart),
        cmocka_unit_test(test_malformed_messages_are_refused),
        cmocka_unit_test(test_subscribe_command_and_ws_target),
        cmocka_unit_test(test_auth_request_encodes_the_jwt),
        cmocka_unit_test(test_auth_answer_waits_for_the_whole_body),
        cmocka_unit_test(test_auth_answer_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
