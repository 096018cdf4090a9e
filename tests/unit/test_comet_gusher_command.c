/* test_comet_gusher_command.c: gusher's commands, permission rules and reply bytes
 * (comet/gusher_command.c; Go's JSON itself: tests/unit/test_go_json.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "comet/gusher_command.h"
#include "common/status.h"

static int parse(const char *text, struct gusher_command *command)
{
    return gusher_command_parse(text, strlen(text), command);
}

static void assert_fatal(const char *text)
{
    struct gusher_command command;
    int status = parse(text, &command);
    if (status != GIM_ERR_INVALID)
        fail_msg("expected a fatal command: %s", text);
}

static void test_fatal_commands_close(void **state)
{
    (void)state;
    assert_fatal("");
    assert_fatal("not json");
    assert_fatal("[1,2]");
    assert_fatal("\"gusher.ping\"");
    assert_fatal("{\"data\":{}}");                                    /* no event */
    assert_fatal("{\"event\":1,\"data\":{}}");                        /* event not a string */
    assert_fatal("{\"event\":\"gusher.login\",\"data\":{}}");         /* unknown event */
    assert_fatal("{\"event\":\"gusher.subscribe\"}");                 /* no data */
    assert_fatal("{\"event\":\"gusher.ping\"}");                      /* no data */
    assert_fatal("{\"event\":\"gusher.subscribe\",\"data\":{}}");     /* no channel */
    assert_fatal("{\"event\":\"gusher.subscribe\",\"data\":\"AA\"}"); /* data not an object */
    assert_fatal("{\"event\":\"gusher.unsubscribe\",\"data\":{\"channel\":5}}");
    assert_fatal("{\"event\":\"gusher.remote\",\"data\":{\"remote\":\"chat\",\"uid\":\"1\"}}");
    assert_fatal("{\"event\":\"gusher.remote\",\"data\":{\"uid\":\"1\",\"payload\":1}}");
    assert_fatal("{\"event\":\"gusher.remote\",\"data\":{\"remote\":\"c\",\"payload\":1}}");
    assert_fatal("{\"event\":\"gusher.subscribe\",\"data\":{\"channel\":\"A\"}"); /* cut */
    assert_fatal("{\"event\":\"gusher.subscribe\",\"data\":{\"channel\":\"\\u0000\"}}");
}

static void test_commands_are_read(void **state)
{
    struct gusher_command command;

    (void)state;
    assert_int_equal(
        parse("{\"event\":\"gusher.subscribe\",\"data\":{\"channel\":\"AA\"}}", &command), GIM_OK);
    assert_int_equal(command.kind, GUSHER_COMMAND_SUBSCRIBE);
    assert_string_equal(command.channel, "AA");
    assert_false(command.debug);
    gusher_command_clear(&command);

    assert_int_equal(
        parse(" {\"data\":{\"channel\":\"\\u00e9\"},\"event\":\"gusher.unsubscribe\"}", &command),
        GIM_OK);
    assert_int_equal(command.kind, GUSHER_COMMAND_UNSUBSCRIBE);
    assert_string_equal(command.channel, "\xc3\xa9");
    gusher_command_clear(&command);

    assert_int_equal(
        parse(
            "{\"event\":\"gusher.multi_subscribe\",\"data\":{\"multi_channel\":[\"AA\",1,\"BB\"]}}",
            &command),
        GIM_OK);
    assert_int_equal(command.kind, GUSHER_COMMAND_MULTI_SUBSCRIBE);
    assert_int_equal(command.channel_count, 3);
    assert_string_equal(command.channels[0], "AA");
    assert_string_equal(command.channels[1], "1"); /* gusher takes the element's bytes */
    assert_string_equal(command.channels[2], "BB");
    gusher_command_clear(&command);

    /* no multi_channel, or not an array: an empty request (answered with the error reply) */
    assert_int_equal(parse("{\"event\":\"gusher.multi_subscribe\",\"data\":{}}", &command), GIM_OK);
    assert_int_equal(command.channel_count, 0);
    gusher_command_clear(&command);
    assert_int_equal(parse("{\"event\":\"gusher.multi_subscribe\",\"data\":\"x\"}", &command),
                     GIM_OK);
    assert_int_equal(command.channel_count, 0);
    gusher_command_clear(&command);

    assert_int_equal(parse("{\"event\":\"gusher.querychannel\",\"data\":null}", &command), GIM_OK);
    assert_int_equal(command.kind, GUSHER_COMMAND_QUERYCHANNEL);
    gusher_command_clear(&command);

    assert_int_equal(parse("{\"event\":\"gusher.remote\",\"debug\":true,\"data\":{\"remote\":"
                           "\"chat\",\"uid\":\"u1\",\"payload\":{\"b\":1,\"a\":\"x\"}}}",
                           &command),
                     GIM_OK);
    assert_int_equal(command.kind, GUSHER_COMMAND_REMOTE);
    assert_true(command.debug);
    assert_string_equal(command.remote, "chat");
    assert_string_equal(command.uid, "u1");
    assert_string_equal(command.payload, "{\"a\":\"x\",\"b\":1}"); /* a Go map: sorted */
    assert_int_equal(command.payload_length, strlen(command.payload));
    gusher_command_clear(&command);

    /* "debug" counts only as the boolean true */
    assert_int_equal(
        parse("{\"event\":\"gusher.querychannel\",\"debug\":\"true\",\"data\":{}}", &command),
        GIM_OK);
    assert_false(command.debug);
    gusher_command_clear(&command);
}

static void test_ping_data_is_the_raw_bytes(void **state)
{
    struct gusher_command command;

    (void)state;
    assert_int_equal(parse("{\"event\":\"gusher.ping\",\"data\":{\"hello\": \"world\"}}", &command),
                     GIM_OK);
    assert_int_equal(command.kind, GUSHER_COMMAND_PING);
    assert_int_equal(command.ping_data_length, strlen("{\"hello\": \"world\"}"));
    assert_memory_equal(command.ping_data, "{\"hello\": \"world\"}", command.ping_data_length);
    gusher_command_clear(&command);

    /* a string: between its quotes, escapes as written */
    assert_int_equal(parse("{\"event\":\"gusher.ping\", \"data\" : \"a\\\"b\" }", &command),
                     GIM_OK);
    assert_int_equal(command.ping_data_length, 4);
    assert_memory_equal(command.ping_data, "a\\\"b", 4);
    gusher_command_clear(&command);

    /* the last of two "data" members, as jansson reads; a key written with an escape counts */
    assert_int_equal(
        parse("{\"data\":[1],\"event\":\"gusher.ping\",\"d\\u0061ta\":[2, 3]}", &command), GIM_OK);
    assert_int_equal(command.ping_data_length, 6);
    assert_memory_equal(command.ping_data, "[2, 3]", 6);
    gusher_command_clear(&command);

    assert_int_equal(parse("{\"event\":\"gusher.ping\",\"data\":12.5}", &command), GIM_OK);
    assert_memory_equal(command.ping_data, "12.5", 4);
    assert_int_equal(command.ping_data_length, 4);
    gusher_command_clear(&command);
}

/* The remote command with data.payload written as payload (JSON text), and the job gusher
 * RPUSHes for it, whose "data" must be expected (gusher's bytes). */
static void expect_remote_body(const char *payload, const char *expected)
{
    static const char head[] = "{\"event\":\"gusher.remote\",\"data\":{\"remote\":\"chat\","
                               "\"uid\":\"u1\",\"payload\":";
    static const char job_head[] = "{\"user_id\":\"Test_User\",\"socket_id\":"
                                   "\"0123456789abcdef0123456789abcdef\",\"uid\":\"u1\","
                                   "\"app_key\":\"TEST\",\"data\":";
    char message[512], want[512];
    struct gusher_command command;
    size_t length;
    char *job;

    snprintf(message, sizeof(message), "%s%s}}", head, payload);
    snprintf(want, sizeof(want), "%s%s}", job_head, expected);
    if (parse(message, &command) != GIM_OK)
        fail_msg("not parsed: %s", message);
    assert_int_equal(command.kind, GUSHER_COMMAND_REMOTE);
    assert_string_equal(command.payload, expected);
    assert_int_equal(command.payload_length, strlen(expected));
    job = gusher_remote_job("Test_User", "0123456789abcdef0123456789abcdef", command.uid, "TEST",
                            command.payload, command.payload_length, &length);
    assert_non_null(job);
    assert_string_equal(job, want);
    assert_int_equal(length, strlen(want));
    free(job);
    gusher_command_clear(&command);
}

static void test_remote_payload_json_check(void **state)
{
    (void)state;
    /* gusher's JsonCheck: a string that parses as JSON becomes that value, re-serialised as Go
     * writes an interface{} (the bytes of logic's master API, common/go_json.h) */
    expect_remote_body("\"123\"", "123");
    expect_remote_body("{\"z\":1,\"a\":[true,null],\"m\":\"<&>\"}",
                       "{\"a\":[true,null],\"m\":\"\\u003c\\u0026\\u003e\",\"z\":1}");
    expect_remote_body("\"{\\\"b\\\":2,\\\"a\\\":1}\"", "{\"a\":1,\"b\":2}");
    /* numbers are float64, written as Go writes them */
    expect_remote_body("0.1", "0.1");
    expect_remote_body("\"0.1\"", "0.1");
    expect_remote_body("1e21", "1e+21");
    expect_remote_body("\"1e21\"", "1e+21");
    expect_remote_body("1.50", "1.5");
    expect_remote_body("0.0000001", "1e-07");
    expect_remote_body("12345678901234567890", "12345678901234567000");
    expect_remote_body("\"12345678901234567890\"", "12345678901234567000");
    expect_remote_body("{\"n\":[0.1,1e21,-0,12345678901234567890]}",
                       "{\"n\":[0.1,1e+21,-0,12345678901234567000]}");
    /* text that is not JSON is embedded as a string */
    expect_remote_body("\"hello\"", "\"hello\"");
    expect_remote_body("\"01\"", "\"01\"");
    expect_remote_body("\"1e400\"", "\"1e400\"");
    expect_remote_body("\"{\\\"k\\\":1} x\"", "\"{\\\"k\\\":1} x\"");
    expect_remote_body("\"a<b\\u2028\"", "\"a\\u003cb\\u2028\"");
    /* invalid UTF-8 is read as U+FFFD, in a string payload or inside a value */
    expect_remote_body("\"a\xffz\"", "\"a\xef\xbf\xbdz\"");
    expect_remote_body("{\"k\":\"\xff\"}", "{\"k\":\"\xef\xbf\xbd\"}");
    expect_remote_body("\"\\u0000\"", "\"\\u0000\"");
}

static void test_wildcards(void **state)
{
    char *star[] = {"*"};
    char *listed[] = {"AA", "t*st", "app*", "@^WTF*", "a*b*c"};

    (void)state;
    assert_true(gusher_pattern_matches("t*st", "test"));
    assert_true(gusher_pattern_matches("t*st", "toast"));
    assert_false(gusher_pattern_matches("t*st", "tst"));
    assert_true(gusher_pattern_matches("app*", "apple"));
    assert_false(gusher_pattern_matches("app*", "app"));
    assert_false(gusher_pattern_matches("app*", "xapple"));
    assert_true(gusher_pattern_matches("@^WTF*", "@^WTFDD")); /* regex characters are literal */
    assert_false(gusher_pattern_matches("a.c", "abc"));
    assert_true(gusher_pattern_matches("a.c", "a.c"));
    assert_false(gusher_pattern_matches("AA", "AAA")); /* anchored */
    assert_false(gusher_pattern_matches("AA", "xAA"));
    assert_true(gusher_pattern_matches("*", "x"));
    assert_false(gusher_pattern_matches("*", ""));
    assert_false(gusher_pattern_matches("a*", "a\n")); /* '.' is not a newline */
    assert_true(gusher_pattern_matches("a**", "abc")); /* two stars: two or more */
    assert_false(gusher_pattern_matches("a**", "ab"));
    assert_true(gusher_pattern_matches("*\xc3\xa9", "caf\xc3\xa9"));
    assert_true(gusher_pattern_matches("", ""));
    assert_false(gusher_pattern_matches("", "a"));

    assert_true(gusher_channel_allowed(star, 1, ""));
    assert_true(gusher_channel_allowed(star, 1, "anything"));
    assert_true(gusher_channel_allowed(listed, 5, "AA"));
    assert_true(gusher_channel_allowed(listed, 5, "toast"));
    assert_true(gusher_channel_allowed(listed, 5, "aXbYc"));
    assert_false(gusher_channel_allowed(listed, 5, "abc"));
    assert_false(gusher_channel_allowed(listed, 5, "BB"));
    assert_false(gusher_channel_allowed(NULL, 0, "AA"));
}

static void test_multi_subscribe_is_exact_and_all_or_nothing(void **state)
{
    char *allowed[] = {"AA", "BB", "t*st"};
    char *star[] = {"CC", "*"};
    char *both[] = {"AA", "BB"}, *one_more[] = {"AA", "CC"}, *glob[] = {"test"};

    (void)state;
    assert_true(gusher_channels_all_allowed(allowed, 3, both, 2));
    assert_false(gusher_channels_all_allowed(allowed, 3, one_more, 2));
    assert_false(gusher_channels_all_allowed(allowed, 3, glob, 1)); /* no patterns here */
    assert_true(gusher_channels_all_allowed(star, 2, one_more, 2));
    assert_false(gusher_channels_all_allowed(star, 2, NULL, 0)); /* empty: the error reply */
    assert_false(gusher_channels_all_allowed(allowed, 3, NULL, 0));
}

static void test_reply_bytes(void **state)
{
    const char *sid = "0123456789abcdef0123456789abcdef";
    char *two[] = {"AA", "B<B"};
    size_t length;
    char *text;

    (void)state;
    text = gusher_reply_channel(GUSHER_SUBSCRIBE_SUCCEEDED, sid, "AA", &length);
    assert_string_equal(text,
                        "{\"event\":\"gusher.subscribe_succeeded\",\"socket_id\":"
                        "\"0123456789abcdef0123456789abcdef\",\"data\":{\"channel\":\"AA\"}}");
    assert_int_equal(length, strlen(text));
    free(text);

    text = gusher_reply_channel(GUSHER_UNSUBSCRIBE_ERROR, "s", "a&b\b\f\\b", &length);
    assert_string_equal(text, "{\"event\":\"gusher.unsubscribe_error\",\"socket_id\":\"s\","
                              "\"data\":{\"channel\":\"a\\u0026b\\u0008\\u000c\\\\b\"}}");
    free(text);

    text = gusher_reply_channel(GUSHER_ADDCHANNEL, "", "aa", &length);
    assert_string_equal(
        text, "{\"event\":\"gusher.addchannel\",\"socket_id\":\"\",\"data\":{\"channel\":\"aa\"}}");
    free(text);

    text = gusher_reply_channel_list(GUSHER_MULTI_SUBSCRIBE_SUCCEEDED, "s", "channel", two, 2,
                                     &length);
    assert_string_equal(text, "{\"event\":\"gusher.multi_subscribe_succeeded\",\"socket_id\":\"s\","
                              "\"data\":{\"channel\":[\"AA\",\"B\\u003cB\"]}}");
    free(text);

    text =
        gusher_reply_channel_list(GUSHER_MULTI_SUBSCRIBE_ERROR, "s", "channel", NULL, 0, &length);
    assert_string_equal(text, "{\"event\":\"gusher.multi_subscribe_error\",\"socket_id\":\"s\","
                              "\"data\":{\"channel\":[]}}");
    free(text);

    text =
        gusher_reply_channel_list(GUSHER_QUERYCHANNEL_SUCCEEDED, "s", "channels", two, 1, &length);
    assert_string_equal(text, "{\"event\":\"gusher.querychannel_succeeded\",\"socket_id\":\"s\","
                              "\"data\":{\"channels\":[\"AA\"]}}");
    free(text);

    text = gusher_reply_channel_list(GUSHER_RELOADCHANNEL, "", "channels", two, 2, &length);
    assert_string_equal(text, "{\"event\":\"gusher.reloadchannel\",\"socket_id\":\"\","
                              "\"data\":{\"channels\":[\"AA\",\"B\\u003cB\"]}}");
    free(text);

    text = gusher_reply_pong("s", "{\"hello\": \"world\"}", 18, 1700000000, &length);
    assert_string_equal(text, "{\"event\":\"gusher.querychannel_succeeded\",\"socket_id\":\"s\","
                              "\"data\":\"eyJoZWxsbyI6ICJ3b3JsZCJ9\",\"time\":1700000000}");
    free(text);
    text = gusher_reply_pong("s", "str", 3, 5, &length);
    assert_string_equal(text, "{\"event\":\"gusher.querychannel_succeeded\",\"socket_id\":\"s\","
                              "\"data\":\"c3Ry\",\"time\":5}");
    free(text);
    text = gusher_reply_pong("s", "", 0, 5, &length);
    assert_string_equal(text, "{\"event\":\"gusher.querychannel_succeeded\",\"socket_id\":\"s\","
                              "\"data\":\"\",\"time\":5}");
    free(text);

    text = gusher_reply_remote(GUSHER_REMOTE_ERROR, "s", "chat", &length);
    assert_string_equal(text, "{\"event\":\"gusher.remote_error\",\"socket_id\":\"s\","
                              "\"data\":{\"remote\":\"chat\",\"msg\":null}}");
    free(text);
    text = gusher_reply_remote(GUSHER_REMOTE_SUCCEEDED, "s", "chat", &length);
    assert_string_equal(text, "{\"event\":\"gusher.remote_succeeded\",\"socket_id\":\"s\","
                              "\"data\":{\"remote\":\"chat\",\"msg\":null}}");
    free(text);

    text = gusher_reply_channel(GUSHER_SUBSCRIBE_ERROR, "s", "\xff", &length); /* not UTF-8 */
    assert_string_equal(text, "{\"event\":\"gusher.subscribe_error\",\"socket_id\":\"s\","
                              "\"data\":{\"channel\":\"\\ufffd\"}}");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fatal_commands_close),
        cmocka_unit_test(test_commands_are_read),
        cmocka_unit_test(test_ping_data_is_the_raw_bytes),
        cmocka_unit_test(test_remote_payload_json_check),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_multi_subscribe_is_exact_and_all_or_nothing),
        cmocka_unit_test(test_reply_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
