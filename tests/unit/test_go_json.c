/* test_go_json.c: Go's JSON bytes, gusher's data coercion (common/go_json.c), the growing
 * text they are written to (common/text.c) and Go's UTF-8 rules (common/utf8.c). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/go_json.h"
#include "common/text.h"
#include "common/utf8.h"

static void expect_text(struct gim_text *text, const char *expected)
{
    assert_false(text->failed);
    assert_non_null(text->data);
    assert_string_equal(text->data, expected);
    assert_int_equal(text->length, strlen(expected));
    gim_text_clear(text);
}

static void expect_double(double value, const char *expected)
{
    char out[40];

    assert_int_equal(gim_go_json_format_double(value, out, sizeof(out)), strlen(expected));
    assert_string_equal(out, expected);
}

static void test_go_float64(void **state)
{
    (void)state;
    expect_double(0, "0");
    expect_double(-0.0, "-0");
    expect_double(1, "1");
    expect_double(1.5, "1.5");
    expect_double(-2.25, "-2.25");
    expect_double(100, "100");
    expect_double(0.1, "0.1");
    expect_double(1e20, "100000000000000000000");
    expect_double(1e21, "1e+21");
    expect_double(123456789e15, "1.23456789e+23");
    expect_double(0.000001, "0.000001");
    expect_double(0.0000001, "1e-07");
    expect_double(1.5e-300, "1.5e-300");
    expect_double(12345678901234567890.0, "12345678901234567000");
    expect_double(9007199254740993.0, "9007199254740992");
    expect_double(0.1 + 0.2, "0.30000000000000004");
    expect_double(1.7976931348623157e308, "1.7976931348623157e+308");
    expect_double(5e-324, "5e-324");
}

static void expect_coerced(const char *data, const char *expected)
{
    struct gim_text text = {0};

    assert_true(gim_go_json_append_coerced(&text, data, strlen(data)));
    expect_text(&text, expected);
}

static void test_json_check_coercion(void **state)
{
    (void)state;
    expect_coerced("hello", "\"hello\"");
    expect_coerced("", "\"\"");
    expect_coerced("123", "123");
    expect_coerced(" 1.0 ", "1");
    expect_coerced("\"str\"", "\"str\"");
    expect_coerced("true", "true");
    expect_coerced("null", "null");
    expect_coerced("{\"b\":1,\"a\":{\"d\":[],\"c\":{}}}", "{\"a\":{\"c\":{},\"d\":[]},\"b\":1}");
    expect_coerced("{\"a\":1,\"a\":2}", "{\"a\":2}");
    expect_coerced("[1e400]", "\"[1e400]\"");
    expect_coerced("01", "\"01\"");
    expect_coerced("{\"k\":1} x", "\"{\\\"k\\\":1} x\"");
    expect_coerced("\"<a&b>\\u2028\"", "\"\\u003ca\\u0026b\\u003e\\u2028\"");
    expect_coerced("\"\\u0000\\u001f\\t\"", "\"\\u0000\\u001f\\t\"");
    expect_coerced("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    /* invalid UTF-8: inside a JSON string it is read as U+FFFD (Go's Unmarshal), which is
     * written as itself; plain text is a Go string whose invalid byte Go's encoder writes as
     * the escape \ufffd */
    expect_coerced("\"a\xff\"", "\"a\xef\xbf\xbd\"");
    expect_coerced("a\xffz", "\"a\\ufffdz\"");
    expect_coerced("line\nbreak", "\"line\\nbreak\"");
}

static void test_go_escapes(void **state)
{
    json_t *value = json_string("<a>&\xe2\x80\xa8\xe2\x80\xa9\x01\b\f\n\r\t/\"\\");
    size_t length;
    char *text = gim_go_json_dumps(value, 0, &length);
    struct gim_text bytes = {0};

    (void)state;
    assert_string_equal(
        text, "\"\\u003ca\\u003e\\u0026\\u2028\\u2029\\u0001\\u0008\\u000c\\n\\r\\t/\\\"\\\\\"");
    assert_int_equal(length, strlen(text));
    free(text);
    json_decref(value);
    assert_null(gim_go_json_dumps(NULL, 0, &length));

    /* any bytes: an invalid byte is \ufffd (as Go's encoder writes it), a NUL \u0000 */
    assert_true(gim_go_json_append_string(&bytes, "a\xff\xc3\0b", 5));
    expect_text(&bytes, "\"a\\ufffd\\ufffd\\u0000b\"");
}

static void test_structs_maps_and_numbers(void **state)
{
    json_t *value =
        json_pack("{s:s,s:I,s:f,s:{s:i,s:i},s:[b,n]}", "z", "last", "big", (json_int_t)INT64_MAX,
                  "real", 0.1, "inner", "b", 2, "a", 1, "list", 1, "x");
    size_t length;
    char *text;

    (void)state;
    assert_non_null(value);
    /* a struct: members in insertion order; an int64 exact, a float64 shortest */
    text = gim_go_json_dumps(value, 0, &length);
    assert_string_equal(text, "{\"z\":\"last\",\"big\":9223372036854775807,\"real\":0.1,"
                              "\"inner\":{\"b\":2,\"a\":1},\"list\":[true,null]}");
    assert_int_equal(length, strlen(text));
    free(text);
    /* a map: keys sorted bytewise at every depth */
    text = gim_go_json_dumps(value, GIM_GO_JSON_SORT_KEYS, &length);
    assert_string_equal(text, "{\"big\":9223372036854775807,\"inner\":{\"a\":1,\"b\":2},"
                              "\"list\":[true,null],\"real\":0.1,\"z\":\"last\"}");
    free(text);
    json_decref(value);

    /* what gim_go_json_parse reads is a float64 */
    value = gim_go_json_parse(" 12345678901234567890 ", 22);
    assert_true(json_is_real(value));
    text = gim_go_json_dumps(value, 0, &length);
    assert_string_equal(text, "12345678901234567000");
    free(text);
    json_decref(value);
    assert_null(gim_go_json_parse("1e400", 5));
    assert_null(gim_go_json_parse("{", 1));
}

static void test_text(void **state)
{
    struct gim_text text = {0};
    size_t length = 99;
    char *taken;

    (void)state;
    taken = gim_text_take(&text, &length); /* empty: "" */
    assert_string_equal(taken, "");
    assert_int_equal(length, 0);
    free(taken);

    assert_true(gim_text_append_cstring(&text, "n="));
    assert_true(gim_text_append_integer(&text, INT64_MIN));
    assert_true(gim_text_append(&text, "\0x", 2));
    assert_int_equal(text.length, 24);
    taken = gim_text_take(&text, &length);
    assert_int_equal(length, 24);
    assert_memory_equal(taken, "n=-9223372036854775808\0x", 24);
    assert_null(text.data);
    free(taken);

    /* past GIM_TEXT_MAX the text fails, and stays failed */
    assert_false(gim_text_append(&text, "x", (size_t)GIM_TEXT_MAX + 1));
    assert_true(text.failed);
    assert_null(text.data);
    assert_false(gim_text_append(&text, "x", 1));
    assert_null(gim_text_take(&text, &length));
    assert_false(text.failed); /* take clears */
}

static void test_utf8(void **state)
{
    (void)state;
    assert_int_equal(gim_utf8_sequence((const unsigned char *)"a", 1), 1);
    assert_int_equal(gim_utf8_sequence((const unsigned char *)"\xc3\xa9", 2), 2);
    assert_int_equal(gim_utf8_sequence((const unsigned char *)"\xe2\x80\xa8", 3), 3);
    assert_int_equal(gim_utf8_sequence((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
    assert_int_equal(gim_utf8_sequence((const unsigned char *)"\xc0\xaf", 2), 0); /* overlong */
    assert_int_equal(gim_utf8_sequence((const unsigned char *)"\xed\xa0\x80", 3),
                     0); /* surrogate */
    assert_int_equal(gim_utf8_sequence((const unsigned char *)"\xf4\x90\x80\x80", 4), 0);
    assert_int_equal(gim_utf8_sequence((const unsigned char *)"\xe2\x80", 2), 0); /* cut */
    assert_true(gim_utf8_valid("caf\xc3\xa9", 5));
    assert_true(gim_utf8_valid("", 0));
    assert_false(gim_utf8_valid("caf\xc3", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go_float64), cmocka_unit_test(test_json_check_coercion),
        cmocka_unit_test(test_go_escapes), cmocka_unit_test(test_structs_maps_and_numbers),
        cmocka_unit_test(test_text),       cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
