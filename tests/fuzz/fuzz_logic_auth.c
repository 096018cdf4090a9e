/*
 * fuzz_logic_auth.c: libFuzzer target for logic's auth body parser (logic/auth.c), which reads
 * the untrusted op-7 body every client sends. Checks that a parse either fails with a reason or
 * yields a token whose strings exist and whose accepts count matches its array.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "logic/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct auth_token token;
    char error[256] = "";
    int status = auth_token_parse(data, size, &token, error, sizeof(error));

    if (status == GIM_OK) {
        if (token.key == NULL || token.room_id == NULL || token.platform == NULL)
            abort();
        if (token.accept_count > 0 && token.accepts == NULL)
            abort();
        (void)strlen(token.key);
    } else if (status == GIM_ERR_INVALID) {
        if (error[0] == '\0')
            abort();
    } else if (status != GIM_ERR_NO_MEMORY) {
        abort();
    }
    auth_token_free(&token);
    return 0;
}
