/* test_logic_gusher_jwt.c: gusher's JWTs and claims (logic/gusher_jwt.c) and Go's JSON bytes
 * (Go's float64 bytes and the data coercion: tests/unit/test_go_json.c). The RSA key pair is made
 * at test time with OpenSSL; tokens are signed with libjwt's encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/status.h"
#include "common/go_json.h"
#include "logic/gusher_jwt.h"

/* The reference's jwt.example payload (gusher v1, 2016-10-07 onwards). */
#define JWT_EXAMPLE                                                                                \
    "{\"gusher\":{\"app_key\":\"TEST\",\"channels\":[\"AA\",\"BB\"],\"user_id\":\"Test_User\"}}"

struct keys {
    char private_pem[8192];
    char public_pem[4096];
    char public_path[64];
    struct gusher_jwt *jwt;
};

/* A PEM of key (private or public) into out. */
static void pem_of(EVP_PKEY *key, int private_part, char *out, size_t size)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long length;

    assert_non_null(bio);
    assert_int_equal(private_part ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                                  : PEM_write_bio_PUBKEY(bio, key),
                     1);
    length = BIO_get_mem_data(bio, &data);
    assert_true(length > 0 && (size_t)length < size);
    memcpy(out, data, (size_t)length);
    out[length] = '\0';
    BIO_free(bio);
}

static int keys_setup(void **state)
{
    struct keys *keys = calloc(1, sizeof(*keys));
    EVP_PKEY *key = EVP_RSA_gen(2048);
    char error[256];
    FILE *file;
    int fd;

    assert_non_null(keys);
    assert_non_null(key);
    pem_of(key, 1, keys->private_pem, sizeof(keys->private_pem));
    pem_of(key, 0, keys->public_pem, sizeof(keys->public_pem));
    EVP_PKEY_free(key);
    snprintf(keys->public_path, sizeof(keys->public_path), "/tmp/gusher-jwt-XXXXXX");
    fd = mkstemp(keys->public_path);
    assert_true(fd >= 0);
    file = fdopen(fd, "w");
    fputs(keys->public_pem, file);
    fclose(file);
    assert_int_equal(
        gusher_jwt_create(&keys->jwt, "gusher.publicKey", keys->public_path, error, sizeof(error)),
        GIM_OK);
    *state = keys;
    return 0;
}

static int keys_teardown(void **state)
{
    struct keys *keys = *state;

    gusher_jwt_destroy(keys->jwt);
    unlink(keys->public_path);
    free(keys);
    return 0;
}

/* A token of payload (JSON) signed with algorithm and key (NULL for none). */
static char *sign(jwt_alg_t algorithm, const char *key, const char *payload)
{
    jwt_t *jwt = NULL;
    char *token;

    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, payload), 0);
    assert_int_equal(
        jwt_set_alg(jwt, algorithm, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
    token = jwt_encode_str(jwt);
    assert_non_null(token);
    jwt_free(jwt);
    return token;
}

static int verify(const struct keys *keys, const char *token, struct gusher_claims *claims,
                  char *error, size_t error_size)
{
    return gusher_jwt_verify(keys->jwt, token, strlen(token), (int64_t)time(NULL), claims, error,
                             error_size);
}

static void expect_text(struct gim_text *text, const char *expected)
{
    assert_false(text->failed);
    assert_non_null(text->data);
    assert_string_equal(text->data, expected);
    gim_text_clear(text);
}

static void test_jwt_example_rs256(void **state)
{
    struct keys *keys = *state;
    struct gusher_claims claims;
    struct gim_text text = {0};
    char error[256], *token = sign(JWT_ALG_RS256, keys->private_pem, JWT_EXAMPLE);

    assert_int_equal(verify(keys, token, &claims, error, sizeof(error)), GIM_OK);
    assert_string_equal(claims.app_key, "TEST");
    assert_string_equal(claims.user_id, "Test_User");
    assert_int_equal(claims.channel_count, 2);
    assert_string_equal(claims.channels[0], "AA");
    assert_string_equal(claims.channels[1], "BB");
    assert_true(claims.remotes_null);
    assert_true(gusher_claims_append_auth(&text, &claims));
    expect_text(&text, "{\"channels\":[\"AA\",\"BB\"],\"user_id\":\"Test_User\",\"app_key\":"
                       "\"TEST\",\"remotes\":null}");
    assert_true(gusher_claims_append_decoded(&text, &claims));
    expect_text(&text, "{\"gusher\":{\"channels\":[\"AA\",\"BB\"],\"user_id\":\"Test_User\","
                       "\"app_key\":\"TEST\",\"remotes\":null}}\n");
    gusher_claims_clear(&claims);
    free(token);
}

static void test_rs384_rs512_and_standard_claims(void **state)
{
    struct keys *keys = *state;
    struct gusher_claims claims;
    struct gim_text text = {0};
    char error[256], payload[512], expected[512], *token;
    long long now = (long long)time(NULL);

    snprintf(payload, sizeof(payload),
             "{\"gusher\":{\"app_key\":\"A\",\"channels\":[\"x*\",null],\"remotes\":"
             "{\"zz\":true,\"aa\":false,\"mm\":null}},\"exp\":%lld,\"iat\":%lld,\"sub\":\"s\","
             "\"aud\":\"au\",\"jti\":\"j\",\"nbf\":%lld,\"iss\":\"i\"}",
             now + 60, now - 1, now - 2);
    token = sign(JWT_ALG_RS384, keys->private_pem, payload);
    assert_int_equal(verify(keys, token, &claims, error, sizeof(error)), GIM_OK);
    free(token);
    assert_int_equal(claims.remote_count, 3);
    assert_string_equal(claims.remote_names[0], "aa");
    assert_false(claims.remote_allowed[0]);
    assert_string_equal(claims.remote_names[2], "zz");
    assert_true(claims.remote_allowed[2]);
    assert_true(gusher_claims_append_decoded(&text, &claims));
    snprintf(expected, sizeof(expected),
             "{\"gusher\":{\"channels\":[\"x*\",\"\"],\"user_id\":\"\",\"app_key\":\"A\","
             "\"remotes\":{\"aa\":false,\"mm\":false,\"zz\":true}},\"aud\":\"au\",\"exp\":%lld,"
             "\"jti\":\"j\",\"iat\":%lld,\"iss\":\"i\",\"nbf\":%lld,\"sub\":\"s\"}\n",
             now + 60, now - 1, now - 2);
    expect_text(&text, expected);
    gusher_claims_clear(&claims);

    token = sign(JWT_ALG_RS512, keys->private_pem, "{\"gusher\":null}");
    assert_int_equal(verify(keys, token, &claims, error, sizeof(error)), GIM_OK);
    assert_true(claims.channels_null);
    assert_string_equal(claims.app_key, "");
    gusher_claims_clear(&claims);
    free(token);
}

static void test_hmac_none_and_other_keys_refused(void **state)
{
    struct keys *keys = *state;
    struct gusher_claims claims;
    char error[256], *token;
    EVP_PKEY *other = EVP_RSA_gen(2048);
    char other_pem[8192];

    /* an HMAC token "signed" with the public key's text verifies in libjwt: refused by alg */
    token = sign(JWT_ALG_HS256, keys->public_pem, JWT_EXAMPLE);
    assert_int_equal(verify(keys, token, &claims, error, sizeof(error)), GIM_ERR_INVALID);
    gusher_claims_clear(&claims);
    free(token);
    token = sign(JWT_ALG_NONE, NULL, JWT_EXAMPLE);
    assert_int_equal(verify(keys, token, &claims, error, sizeof(error)), GIM_ERR_INVALID);
    gusher_claims_clear(&claims);
    free(token);
    pem_of(other, 1, other_pem, sizeof(other_pem));
    EVP_PKEY_free(other);
    token = sign(JWT_ALG_RS256, other_pem, JWT_EXAMPLE);
    assert_int_equal(verify(keys, token, &claims, error, sizeof(error)), GIM_ERR_INVALID);
    assert_non_null(strstr(error, "bad signature"));
    gusher_claims_clear(&claims);
    free(token);
    assert_int_equal(verify(keys, "a.b.c", &claims, error, sizeof(error)), GIM_ERR_INVALID);
    gusher_claims_clear(&claims);
    assert_int_equal(verify(keys, "", &claims, error, sizeof(error)), GIM_ERR_INVALID);
    gusher_claims_clear(&claims);
}

static void expect_claims(const char *body, int64_t now, int status, const char *error_part)
{
    struct gusher_claims claims;
    char error[256] = "";

    assert_int_equal(gusher_claims_parse(body, strlen(body), now, &claims, error, sizeof(error)),
                     status);
    if (error_part != NULL)
        assert_non_null(strstr(error, error_part));
    gusher_claims_clear(&claims);
}

static void test_claim_times_and_types(void **state)
{
    (void)state;
    /* exp, nbf, iat checked only when present and non-zero, as golang-jwt v3 */
    expect_claims("{\"exp\":100}", 100, GIM_OK, NULL);
    expect_claims("{\"exp\":100}", 101, GIM_ERR_INVALID, "expired");
    expect_claims("{\"exp\":0,\"nbf\":0,\"iat\":0}", 5, GIM_OK, NULL);
    expect_claims("{\"nbf\":100}", 99, GIM_ERR_INVALID, "not valid yet");
    expect_claims("{\"nbf\":100}", 100, GIM_OK, NULL);
    expect_claims("{\"iat\":100}", 99, GIM_ERR_INVALID, "before issued");
    /* Go's decoder refuses a member of another type */
    expect_claims("{\"exp\":1.5}", 0, GIM_ERR_INVALID, "exp");
    expect_claims("{\"exp\":\"1\"}", 0, GIM_ERR_INVALID, "exp");
    expect_claims("{\"gusher\":[]}", 0, GIM_ERR_INVALID, "gusher");
    expect_claims("{\"gusher\":{\"channels\":\"AA\"}}", 0, GIM_ERR_INVALID, "channels");
    expect_claims("{\"gusher\":{\"channels\":[1]}}", 0, GIM_ERR_INVALID, "channels");
    expect_claims("{\"gusher\":{\"user_id\":1}}", 0, GIM_ERR_INVALID, "user_id");
    expect_claims("{\"gusher\":{\"remotes\":{\"a\":1}}}", 0, GIM_ERR_INVALID, "remotes");
    expect_claims("{\"aud\":[\"x\"]}", 0, GIM_ERR_INVALID, "aud");
    expect_claims("[]", 0, GIM_ERR_INVALID, NULL);
    /* unknown members are ignored */
    expect_claims("{\"other\":[1,2],\"gusher\":{\"extra\":true}}", 0, GIM_OK, NULL);
}

static void test_token_store_value_round_trip(void **state)
{
    struct gusher_claims claims, back;
    struct gim_text text = {0};
    const char *body = "{\"gusher\":{\"app_key\":\"A\\u0000B\",\"user_id\":\"u\\\"1\","
                       "\"channels\":[],\"remotes\":{\"r\":true}}}";
    char error[128];

    (void)state;
    assert_int_equal(gusher_claims_parse(body, strlen(body), 0, &claims, error, sizeof(error)),
                     GIM_OK);
    assert_int_equal(claims.app_key_length, 3);
    assert_true(gusher_claims_append_auth(&text, &claims));
    assert_int_equal(gusher_claims_parse_auth(text.data, text.length, &back), GIM_OK);
    assert_int_equal(back.app_key_length, 3);
    assert_memory_equal(back.app_key, "A\0B", 3);
    assert_string_equal(back.user_id, "u\"1");
    assert_false(back.channels_null);
    assert_int_equal(back.channel_count, 0);
    assert_int_equal(back.remote_count, 1);
    assert_true(back.remote_allowed[0]);
    expect_text(&text, "{\"channels\":[],\"user_id\":\"u\\\"1\",\"app_key\":\"A\\u0000B\","
                       "\"remotes\":{\"r\":true}}");
    gusher_claims_clear(&claims);
    gusher_claims_clear(&back);
    assert_int_equal(gusher_claims_parse_auth("nope", 4, &back), GIM_ERR_INVALID);
    gusher_claims_clear(&back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_example_rs256),
        cmocka_unit_test(test_rs384_rs512_and_standard_claims),
        cmocka_unit_test(test_hmac_none_and_other_keys_refused),
        cmocka_unit_test(test_claim_times_and_types),
        cmocka_unit_test(test_token_store_value_round_trip),
    };
    return cmocka_run_group_tests(tests, keys_setup, keys_teardown);
}
