/* test_logic_http_answer.c: goim's envelope to the byte, as Go's encoding/json writes goim's
 * struct {code, message, data omitempty} (logic/http_answer.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/go_json.h"
#include "logic/http_answer.h"

/* Renders answer (data taken) and compares the bytes with expected. */
static void expect_rendered(struct http_answer *answer, const char *expected)
{
    size_t length;
    char *text = http_answer_render(answer, &length);

    assert_non_null(text);
    assert_int_equal(length, strlen(expected));
    assert_memory_equal(text, expected, length);
    assert_null(answer->data);
    free(text);
}

static void test_success_without_data(void **state)
{
    struct http_answer answer;

    (void)state;
    http_answer_init(&answer);
    expect_rendered(&answer, "{\"code\":0,\"message\":\"\"}");
}

static void test_errors_and_message_escapes(void **state)
{
    struct http_answer answer;

    (void)state;
    http_answer_init(&answer);
    http_answer_error(&answer, 400, HTTP_CODE_REQUEST_ERR, "rooms: required");
    expect_rendered(&answer, "{\"code\":-400,\"message\":\"rooms: required\"}");
    assert_int_equal(answer.http_status, 400);

    /* Go escapes <>& U+2028 U+2029 and control characters; / stays */
    http_answer_error(&answer, 200, HTTP_CODE_SERVER_ERR, "a<b>&c \"q\" \\ /\n\r\t\x01\x1f %s",
                      "\xe2\x80\xa8\xe2\x80\xa9 \xc3\xa9");
    expect_rendered(&answer, "{\"code\":-500,\"message\":\"a\\u003cb\\u003e\\u0026c \\\"q\\\" "
                             "\\\\ /\\n\\r\\t\\u0001\\u001f \\u2028\\u2029 \xc3\xa9\"}");

    /* a message quoting bytes that are not UTF-8: each such byte is \ufffd, as Go writes it */
    http_answer_error(&answer, 400, HTTP_CODE_REQUEST_ERR, "mids: not an int64: \"%s\"",
                      "1\xff\xc3");
    expect_rendered(&answer,
                    "{\"code\":-400,\"message\":\"mids: not an int64: \\\"1\\ufffd\\ufffd\\\"\"}");
}

static void test_data_null_list_and_struct(void **state)
{
    struct http_answer answer;
    json_t *list;

    (void)state;
    http_answer_init(&answer);
    answer.data = json_null(); /* goim: a nil slice */
    expect_rendered(&answer, "{\"code\":0,\"message\":\"\",\"data\":null}");

    answer.data = json_array(); /* online/top with no room */
    expect_rendered(&answer, "{\"code\":0,\"message\":\"\",\"data\":[]}");

    list = json_array();
    json_array_append_new(
        list, json_pack("{s:s, s:I}", "room_id", "<1000>", "count", (json_int_t)9007199254740993));
    json_array_append_new(list, json_pack("{s:s, s:I}", "room_id", "7", "count", (json_int_t)-1));
    answer.data = list; /* structs: members in their declared (insertion) order */
    expect_rendered(&answer, "{\"code\":0,\"message\":\"\",\"data\":["
                             "{\"room_id\":\"\\u003c1000\\u003e\",\"count\":9007199254740993},"
                             "{\"room_id\":\"7\",\"count\":-1}]}");

    /* nodes/weighted's shape: reals as Go's shortest float (2.0 is 2), booleans, strings */
    answer.data = json_pack("{s:s, s:i, s:[s, s], s:{s:f, s:f, s:f}, s:b}", "domain",
                            "conn.goim.io", "tcp_port", 3101, "nodes", "a:1", "b:2", "backoff",
                            "factor", 1.6, "jitter", 0.3, "whole", 2.0, "offline", 0);
    expect_rendered(&answer, "{\"code\":0,\"message\":\"\",\"data\":{\"domain\":\"conn.goim.io\","
                             "\"tcp_port\":3101,\"nodes\":[\"a:1\",\"b:2\"],\"backoff\":{"
                             "\"factor\":1.6,\"jitter\":0.3,\"whole\":2},\"offline\":false}}");
}

static void test_data_as_a_go_map_has_sorted_keys(void **state)
{
    struct http_answer answer;

    (void)state;
    http_answer_init(&answer);
    /* online/room: map[string]int32, in the order the rooms were asked for */
    answer.data = json_pack("{s:i, s:i, s:i}", "b", 2, "a&", 0, "B", 1);
    answer.data_flags = GIM_GO_JSON_SORT_KEYS;
    expect_rendered(&answer, "{\"code\":0,\"message\":\"\",\"data\":"
                             "{\"B\":1,\"a\\u0026\":0,\"b\":2}}");
}

static void test_release_drops_data(void **state)
{
    struct http_answer answer;

    (void)state;
    http_answer_init(&answer);
    answer.data = json_pack("{s:i}", "n", 1);
    http_answer_release(&answer);
    assert_null(answer.data);
    expect_rendered(&answer, "{\"code\":0,\"message\":\"\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_without_data),
        cmocka_unit_test(test_errors_and_message_escapes),
        cmocka_unit_test(test_data_null_list_and_struct),
        cmocka_unit_test(test_data_as_a_go_map_has_sorted_keys),
        cmocka_unit_test(test_release_drops_data),
    };
    return cmocka_run_group_tests_name("logic_http_answer", tests, NULL, NULL);
}
