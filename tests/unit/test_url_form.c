/* test_url_form.c: unit tests of percent-decoding, form fields and path segments
 * (common/url_form.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/status.h"
#include "common/url_form.h"

static int decode(const char *text, bool plus, char *out, size_t size)
{
    return gim_url_decode(text, strlen(text), plus, out, size);
}

static void test_decode(void **state)
{
    char out[16];

    (void)state;
    assert_int_equal(decode("a%20b+c%2b%C3%A9", true, out, sizeof(out)), 8);
    assert_string_equal(out, "a b c+\xc3\xa9");
    assert_int_equal(decode("a+b", false, out, sizeof(out)), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(decode("", true, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(decode("%", true, out, sizeof(out)), GIM_ERR_INVALID);
    assert_int_equal(decode("%4", true, out, sizeof(out)), GIM_ERR_INVALID);
    assert_int_equal(decode("%4g", true, out, sizeof(out)), GIM_ERR_INVALID);
    assert_int_equal(decode("%00", true, out, sizeof(out)), GIM_ERR_INVALID);
    assert_int_equal(decode("abcd", true, out, 4), GIM_ERR_TOO_LARGE);
    assert_int_equal(decode("abc", true, out, 4), 3);
    assert_int_equal(decode("", true, out, 0), GIM_ERR_TOO_LARGE);
}

static void test_form_value(void **state)
{
    static const char form[] = "a=1&b=x+y%21&&c&%62ad=%&token=t%3Dk&a=2";
    char out[16];

    (void)state;
    assert_int_equal(gim_url_form_value(form, strlen(form), "a", out, sizeof(out)), GIM_OK);
    assert_string_equal(out, "1"); /* the first of two */
    assert_int_equal(gim_url_form_value(form, strlen(form), "b", out, sizeof(out)), GIM_OK);
    assert_string_equal(out, "x y!");
    assert_int_equal(gim_url_form_value(form, strlen(form), "c", out, sizeof(out)), GIM_OK);
    assert_string_equal(out, "");
    assert_int_equal(gim_url_form_value(form, strlen(form), "bad", out, sizeof(out)),
                     GIM_ERR_INVALID); /* its key decodes to "bad", its value does not */
    assert_int_equal(gim_url_form_value(form, strlen(form), "token", out, sizeof(out)), GIM_OK);
    assert_string_equal(out, "t=k");
    assert_int_equal(gim_url_form_value(form, strlen(form), "d", out, sizeof(out)),
                     GIM_ERR_NOT_FOUND);
    assert_int_equal(gim_url_form_value(form, strlen(form), "b", out, 3), GIM_ERR_TOO_LARGE);
    assert_int_equal(gim_url_form_value("", 0, "a", out, sizeof(out)), GIM_ERR_NOT_FOUND);
    /* the length bounds the form: "a=1" past it is not seen */
    assert_int_equal(gim_url_form_value("x=1&a=1", 3, "a", out, sizeof(out)), GIM_ERR_NOT_FOUND);
}

static void test_path_segments(void **state)
{
    static const char path[] = "/app%2Dkey/A%3A1/";
    char out[16];

    (void)state;
    assert_int_equal(gim_url_path_segment_count(path, strlen(path)), 3);
    assert_int_equal(gim_url_path_segment_count("", 0), 0);
    assert_int_equal(gim_url_path_segment_count("/", 1), 0);
    assert_int_equal(gim_url_path_segment_count("a", 1), 1);
    assert_int_equal(gim_url_path_segment_count("a/b", 3), 2);
    assert_int_equal(gim_url_path_segment(path, strlen(path), 0, out, sizeof(out)), GIM_OK);
    assert_string_equal(out, "app-key");
    assert_int_equal(gim_url_path_segment(path, strlen(path), 1, out, sizeof(out)), GIM_OK);
    assert_string_equal(out, "A:1");
    assert_int_equal(gim_url_path_segment(path, strlen(path), 2, out, sizeof(out)), GIM_OK);
    assert_string_equal(out, "");
    assert_int_equal(gim_url_path_segment(path, strlen(path), 3, out, sizeof(out)),
                     GIM_ERR_NOT_FOUND);
    assert_int_equal(gim_url_path_segment("a+b/c", 5, 0, out, sizeof(out)), GIM_OK);
    assert_string_equal(out, "a+b");
    assert_int_equal(gim_url_path_segment("a%2Fb", 5, 0, out, sizeof(out)), GIM_ERR_INVALID);
    assert_int_equal(gim_url_path_segment("a%zz", 4, 0, out, sizeof(out)), GIM_ERR_INVALID);
    assert_int_equal(gim_url_path_segment("abcdef", 6, 0, out, 4), GIM_ERR_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_form_value),
        cmocka_unit_test(test_path_segments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
