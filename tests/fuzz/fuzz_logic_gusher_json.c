/*
 * fuzz_logic_gusher_json.c: libFuzzer target for what gusher's master API does with caller
 * bytes before anything is sent (common/go_json.c's coercion, logic/gusher_jwt.c's claim parser):
 * the data coercion must give valid UTF-8 JSON that coerces to itself from its second pass on
 * (Go's bytes are canonical; the first pass may write an invalid byte of plain text as the
 * escape \ufffd, which the next pass reads as U+FFFD and writes as itself), and a claim set that
 * parses must survive the token store's round trip unchanged.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/go_json.h"
#include "common/status.h"
#include "common/utf8.h"
#include "logic/gusher_jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_coercion(const char *input, size_t size)
{
    struct gim_text first = {0}, second = {0}, third = {0};
    json_error_t error;
    json_t *parsed;

    if (!gim_go_json_append_coerced(&first, input, size))
        return; /* out of memory */
    if (!gim_utf8_valid(first.data, first.length))
        abort();
    parsed = json_loadb(first.data, first.length,
                        JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &error);
    if (parsed == NULL)
        abort();
    json_decref(parsed);
    if (gim_go_json_append_coerced(&second, first.data, first.length) &&
        gim_go_json_append_coerced(&third, second.data, second.length) &&
        (third.length != second.length || memcmp(third.data, second.data, second.length) != 0))
        abort();
    gim_text_clear(&first);
    gim_text_clear(&second);
    gim_text_clear(&third);
}

static void check_claims(const char *input, size_t size)
{
    struct gusher_claims claims, back;
    struct gim_text text = {0}, again = {0};
    char error[256];

    if (gusher_claims_parse(input, size, 0, &claims, error, sizeof(error)) == GIM_OK &&
        gusher_claims_append_auth(&text, &claims)) {
        if (gusher_claims_parse_auth(text.data, text.length, &back) != GIM_OK)
            abort();
        if (gusher_claims_append_auth(&again, &back) &&
            (again.length != text.length || memcmp(again.data, text.data, text.length) != 0))
            abort();
        gusher_claims_clear(&back);
    }
    gusher_claims_clear(&claims);
    gim_text_clear(&text);
    gim_text_clear(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_coercion((const char *)data, size);
    check_claims((const char *)data, size);
    return 0;
}
