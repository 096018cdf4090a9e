/* test_tag_pattern.c: gopusher's user_tag regex (common/tag_pattern.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/status.h"
#include "common/tag_pattern.h"

static bool matches(const char *pattern, const char *subject)
{
    struct gim_tag_pattern *compiled;
    char error[128];
    bool result;

    assert_int_equal(
        gim_tag_pattern_compile(&compiled, pattern, strlen(pattern), error, sizeof(error)), GIM_OK);
    result = gim_tag_pattern_matches(compiled, subject, strlen(subject));
    gim_tag_pattern_free(compiled);
    return result;
}

static void test_unanchored_as_go_regexp(void **state)
{
    (void)state;
    assert_true(matches("A:1", "A:1"));
    assert_true(matches("A:1", "A:10"));
    assert_true(matches("A:1", "BA:1x"));
    assert_false(matches("A:1", "A:2"));
    assert_true(matches("^A:1$", "A:1"));
    assert_false(matches("^A:1$", "A:10"));
    assert_true(matches("", "anything"));
    assert_true(matches("é", "café"));      /* UTF-8 */
    assert_true(matches("^caf.$", "café")); /* '.' is one character, not one byte */
    assert_false(matches("x", "\xff\xfe")); /* invalid UTF-8 subject: searched, no error */
    assert_true(matches("a", "\xff"
                             "a"));
}

static void test_invalid_and_long_patterns_are_refused(void **state)
{
    struct gim_tag_pattern *compiled = (struct gim_tag_pattern *)1;
    char error[128], long_pattern[TAG_PATTERN_MAX_LENGTH + 2];

    (void)state;
    assert_int_equal(gim_tag_pattern_compile(&compiled, "A(:1", 4, error, sizeof(error)),
                     GIM_ERR_INVALID);
    assert_null(compiled);
    assert_string_equal(error, "offset 4: missing closing parenthesis");
    memset(long_pattern, 'a', sizeof(long_pattern) - 1);
    long_pattern[sizeof(long_pattern) - 1] = '\0';
    assert_int_equal(gim_tag_pattern_compile(&compiled, long_pattern, strlen(long_pattern), error,
                                             sizeof(error)),
                     GIM_ERR_TOO_LARGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unanchored_as_go_regexp),
        cmocka_unit_test(test_invalid_and_long_patterns_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
