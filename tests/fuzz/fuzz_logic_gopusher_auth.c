/*
 * fuzz_logic_gopusher_auth.c: libFuzzer target for the Authorization header of gopusher's API
 * (logic/gopusher_auth.c), read from every caller before anything else. Checks that a parse
 * fails with Go's message or yields a user without ':' and a password, and that the base64
 * decoder stays within its output bound and names an offset inside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "logic/gopusher_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gopusher_credentials credentials;
    char *header = malloc(size + 1), error[128] = "";
    unsigned char *decoded = malloc(size / 4 * 3 + 3);
    size_t decoded_length = 0, bad = 0;
    int status;

    if (header == NULL || decoded == NULL) {
        free(header);
        free(decoded);
        return 0;
    }
    memcpy(header, data, size);
    header[size] = '\0';
    status = gopusher_credentials_parse(header, &credentials, error, sizeof(error));
    if (status == GIM_OK) {
        if (credentials.user == NULL || credentials.password == NULL ||
            strchr(credentials.user, ':') != NULL)
            abort();
        gopusher_credentials_clear(&credentials);
    } else if (status == GIM_ERR_INVALID) {
        if (strncmp(error, "illegal base64 data at input byte ", 34) != 0)
            abort();
    } else if (status != GIM_ERR_NOT_FOUND && status != GIM_ERR_NO_MEMORY) {
        abort();
    }
    status = gopusher_base64_decode((const char *)data, size, decoded, &decoded_length, &bad);
    if (status == GIM_OK && decoded_length > size / 4 * 3)
        abort();
    if (status != GIM_OK && (status != GIM_ERR_INVALID || bad > size))
        abort();
    free(header);
    free(decoded);
    return 0;
}
