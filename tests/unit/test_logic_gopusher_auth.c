/* test_logic_gopusher_auth.c: gopusher's Basic credentials, base64 and bcrypt
 * (logic/gopusher_auth.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/status.h"
#include "logic/gopusher_auth.h"

static void expect_decoded(const char *text, const char *expected)
{
    unsigned char out[64];
    size_t length = 0, bad = 0;

    assert_int_equal(gopusher_base64_decode(text, strlen(text), out, &length, &bad), GIM_OK);
    assert_int_equal(length, strlen(expected));
    assert_memory_equal(out, expected, length);
}

/* bad is the offset Go's encoding/base64 (StdEncoding) names. */
static void expect_bad(const char *text, size_t bad_offset)
{
    unsigned char out[64];
    size_t length = 0, bad = 99;

    assert_int_equal(gopusher_base64_decode(text, strlen(text), out, &length, &bad),
                     GIM_ERR_INVALID);
    assert_int_equal(bad, bad_offset);
}

static void test_base64_as_go_std_encoding(void **state)
{
    (void)state;
    expect_decoded("", "");
    expect_decoded("cm9vdDpwdw==", "root:pw");
    expect_decoded("cm9vdDpwdzE=", "root:pw1");
    expect_decoded("cm9vdDpwdzEy", "root:pw12");
    expect_decoded("cm9v\r\ndDpwdzEy", "root:pw12"); /* CR/LF skipped */
    expect_bad("***", 0);
    expect_bad("cm9vdDpwdw", 8);        /* padding required: the quantum's start */
    expect_bad("cm9vdDpwdw=", 11);      /* "==" expected, the input ends */
    expect_bad("cm9vdDpwdw=x", 10);     /* "==" expected, something else follows */
    expect_bad("cm9vdDpwdzE=AAAA", 12); /* data after the padding */
    expect_bad("c===", 1);              /* padding too early */
    expect_bad("cm9v!A==", 4);
}

static void test_credentials_split_at_the_first_colon(void **state)
{
    struct gopusher_credentials credentials;
    char error[64];

    (void)state;
    assert_int_equal(
        gopusher_credentials_parse("Basic cm9vdDpwdzphOmI=", &credentials, error, sizeof(error)),
        GIM_OK);
    assert_string_equal(credentials.user, "root");
    assert_string_equal(credentials.password, "pw:a:b");
    gopusher_credentials_clear(&credentials);
    assert_int_equal(gopusher_credentials_parse(NULL, &credentials, error, sizeof(error)),
                     GIM_ERR_NOT_FOUND);
    assert_int_equal(gopusher_credentials_parse("Basic", &credentials, error, sizeof(error)),
                     GIM_ERR_NOT_FOUND);
    assert_int_equal(
        gopusher_credentials_parse("Basic cm9vdA==", &credentials, error, sizeof(error)),
        GIM_ERR_NOT_FOUND); /* "root": no colon */
    assert_int_equal(gopusher_credentials_parse("Basic %%%", &credentials, error, sizeof(error)),
                     GIM_ERR_INVALID);
    assert_string_equal(error, "illegal base64 data at input byte 0");
}

static void test_bcrypt_of_account_and_password(void **state)
{
    /* bcrypt("alicepa55"), cost 5, "$2a$" as Go's golang.org/x/crypto/bcrypt writes it
     * (made with Python's bcrypt package). */
    static const char go_hash[] = "$2a$05$/NjqnkOSK/vU2csPRKhdF.GXfQBSRJDpQVJ1CK/Sn0IOT88hsvCZ2";
    char hash[GOPUSHER_HASH_SIZE];

    (void)state;
    assert_true(gopusher_password_verify("alice", "pa55", go_hash));
    assert_false(gopusher_password_verify("alice", "pa56", go_hash));
    /* The phrase is the concatenation, as gopusher's; the caller compares the account too. */
    assert_true(gopusher_password_verify("alic", "epa55", go_hash));
    assert_false(gopusher_password_verify("alice", "pa55", ""));
    assert_false(gopusher_password_verify("alice", "pa55", NULL));
    assert_false(gopusher_password_verify("alice", "pa55", "pa55"));
    assert_int_equal(gopusher_password_hash("bob", "secret", hash, sizeof(hash)), GIM_OK);
    assert_true(strncmp(hash, "$2b$05$", 7) == 0);
    assert_true(gopusher_password_verify("bob", "secret", hash));
    assert_false(gopusher_password_verify("bob", "secreT", hash));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64_as_go_std_encoding),
        cmocka_unit_test(test_credentials_split_at_the_first_colon),
        cmocka_unit_test(test_bcrypt_of_account_and_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
