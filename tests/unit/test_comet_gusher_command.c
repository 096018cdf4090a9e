/* test_comet_gusher_command.c: gusher's commands, permission rules and reply bytes
 * (comet/gusher_command.c, common/go_json.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "comet/gusher_command.h"
#include "common/go_json.h"
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
    assert_true(json_is_object(command.payload));
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

static void test_remote_payload_json_check(void **state)
{
    struct gusher_command command;
    size_t length;
    char *job;

    (void)state;
    /* a string that parses as JSON becomes that value (gusher's JsonCheck) */
    assert_int_equal(parse("{\"event\":\"gusher.remote\",\"data\":{\"remote\":\"chat\",\"uid\":"
                           "\"u1\",\"payload\":\"123\"}}",
                           &command),
                     GIM_OK);
    assert_true(json_is_integer(command.payload));
    gusher_command_clear(&command);

    assert_int_equal(parse("{\"event\":\"gusher.remote\",\"data\":{\"remote\":\"chat\",\"uid\":"
                           "\"u1\",\"payload\":{\"z\":1,\"a\":[true,null],\"m\":\"<&>\"}}}",
                           &command),
                     GIM_OK);
    job = gusher_remote_job("Test_User", "0123456789abcdef0123456789abcdef", command.uid, "TEST",
                            command.payload, &length);
    assert_non_null(job);
    assert_string_equal(job, "{\"user_id\":\"Test_User\",\"socket_id\":"
                             "\"0123456789abcdef0123456789abcdef\",\"uid\":\"u1\",\"app_key\":"
                             "\"TEST\",\"data\":{\"a\":[true,null],\"m\":\"\\u003c\\u0026\\u003e\","
                             "\"z\":1}}");
    assert_int_equal(length, strlen(job));
    free(job);
    gusher_command_clear(&command);

    assert_int_equal(parse("{\"event\":\"gusher.remote\",\"data\":{\"remote\":\"chat\",\"uid\":"
                           "\"u1\",\"payload\":\"hello\"}}",
                           &command),
                     GIM_OK);
    job = gusher_remote_job("", "s", "u1", "TEST", command.payload, &length);
    assert_string_equal(
        job, "{\"user_id\":\"\",\"socket_id\":\"s\",\"uid\":\"u1\",\"app_key\":\"TEST\",\"data\":"
             "\"hello\"}");
    free(job);
    gusher_command_clear(&command);
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

    assert_null(gusher_reply_channel(GUSHER_SUBSCRIBE_ERROR, "s", "\xff", &length)); /* not UTF-8 */
}

static void test_go_escapes(void **state)
{
    json_t *value = json_string("<a>&\xe2\x80\xa8\xe2\x80\xa9\x01\n\t/\"");
    size_t length;
    char *text = gim_go_json_dumps(value, 0, &length);

    (void)state;
    assert_string_equal(text, "\"\\u003ca\\u003e\\u0026\\u2028\\u2029\\u0001\\n\\t/\\\"\"");
    assert_int_equal(length, strlen(text));
    free(text);
    json_decref(value);
    assert_null(gim_go_json_dumps(NULL, 0, &length));
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
        cmocka_unit_test(test_go_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
