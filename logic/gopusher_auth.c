/* gopusher_auth.c: bcrypt credentials and HTTP Basic parsing (see gopusher_auth.h). */
#include "logic/gopusher_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

/* account + password as one malloc'd string, or NULL. */
static char *gopusher_phrase(const char *account, const char *password)
{
    size_t account_length = strlen(account), password_length = strlen(password);
    char *phrase = malloc(account_length + password_length + 1);

    if (phrase == NULL)
        return NULL;
    memcpy(phrase, account, account_length);
    memcpy(phrase + account_length, password, password_length + 1);
    return phrase;
}

int gopusher_password_hash(const char *account, const char *password, char *hash, size_t hash_size)
{
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data *data;
    char *phrase, *result;
    int status = GIM_ERR_IO;

    /* NULL random bytes: libcrypt reads the OS's randomness itself. */
    if (crypt_gensalt_rn("$2b$", GOPUSHER_BCRYPT_COST, NULL, 0, setting, sizeof(setting)) == NULL)
        return GIM_ERR_IO;
    data = calloc(1, sizeof(*data)); /* about 32 KB: not on a pool thread's stack */
    phrase = gopusher_phrase(account, password);
    if (data == NULL || phrase == NULL) {
        free(data);
        free(phrase);
        return GIM_ERR_NO_MEMORY;
    }
    result = crypt_r(phrase, setting, data);
    if (result != NULL && result[0] != '*' && strlen(result) < hash_size) {
        memcpy(hash, result, strlen(result) + 1);
        status = GIM_OK;
    }
    explicit_bzero(phrase, strlen(phrase));
    free(phrase);
    free(data);
    return status;
}

bool gopusher_password_verify(const char *account, const char *password, const char *hash)
{
    struct crypt_data *data;
    char *phrase, *result;
    bool verified = false;
    size_t hash_length;

    if (hash == NULL || strncmp(hash, "$2", 2) != 0)
        return false;
    hash_length = strlen(hash);
    data = calloc(1, sizeof(*data));
    phrase = gopusher_phrase(account, password);
    if (data != NULL && phrase != NULL) {
        result = crypt_r(phrase, hash, data);
        verified = result != NULL && result[0] != '*' && strlen(result) == hash_length &&
                   CRYPTO_memcmp(result, hash, hash_length) == 0;
    }
    if (phrase != NULL) {
        explicit_bzero(phrase, strlen(phrase));
        free(phrase);
    }
    free(data);
    return verified;
}

/* The 6-bit value of a standard base64 character, or -1. */
static int gopusher_base64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static bool gopusher_is_newline(char c)
{
    return c == '\r' || c == '\n';
}

/*
 * One quantum of Go's decoder (encoding/base64 decodeQuantum, padding
 * required). Reads from *at; writes up to 3 bytes at out. Returns the bytes
 * written, 0 at a clean end, or -1 with *bad_offset set.
 */
static int gopusher_base64_quantum(const char *text, size_t length, size_t *at, unsigned char *out,
                                   size_t *bad_offset, bool *finished)
{
    int values[4] = {0, 0, 0, 0};
    size_t index = *at;
    int count = 0, used = 4;

    while (count < 4) {
        unsigned char c;
        int value;
        if (index == length) {
            if (count == 0) {
                *finished = true;
                *at = index;
                return 0;
            }
            *bad_offset = index - (size_t)count; /* padding is required */
            return -1;
        }
        c = (unsigned char)text[index++];
        value = gopusher_base64_value(c);
        if (value >= 0) {
            values[count++] = value;
            continue;
        }
        if (gopusher_is_newline((char)c))
            continue;
        if (c != '=' || count < 2) {
            *bad_offset = index - 1; /* a bad character, or padding too early */
            return -1;
        }
        if (count == 2) { /* "==" expected: the first '=' is read */
            while (index < length && gopusher_is_newline(text[index]))
                index++;
            if (index == length) {
                *bad_offset = length;
                return -1;
            }
            if (text[index] != '=') {
                *bad_offset = index - 1;
                return -1;
            }
            index++;
        }
        while (index < length && gopusher_is_newline(text[index]))
            index++;
        if (index < length) {
            *bad_offset = index; /* trailing garbage after the padding */
            return -1;
        }
        used = count;
        *finished = true;
        break;
    }
    *at = index;
    {
        unsigned long bits = ((unsigned long)values[0] << 18) | ((unsigned long)values[1] << 12) |
                             ((unsigned long)values[2] << 6) | (unsigned long)values[3];
        out[0] = (unsigned char)(bits >> 16);
        out[1] = (unsigned char)(bits >> 8);
        out[2] = (unsigned char)bits;
    }
    return used - 1;
}

int gopusher_base64_decode(const char *text, size_t length, unsigned char *out, size_t *out_length,
                           size_t *bad_offset)
{
    size_t at = 0, written = 0;
    bool finished = false;

    *out_length = 0;
    while (!finished) {
        int produced =
            gopusher_base64_quantum(text, length, &at, out + written, bad_offset, &finished);
        if (produced < 0)
            return GIM_ERR_INVALID;
        written += (size_t)produced;
    }
    *out_length = written;
    return GIM_OK;
}

void gopusher_credentials_clear(struct gopusher_credentials *credentials)
{
    if (credentials->password != NULL) {
        explicit_bzero(credentials->password, strlen(credentials->password));
        free(credentials->password);
    }
    free(credentials->user);
    credentials->user = credentials->password = NULL;
}

int gopusher_credentials_parse(const char *header, struct gopusher_credentials *credentials,
                               char *error, size_t error_size)
{
    const char *space, *encoded;
    unsigned char *decoded;
    size_t length, decoded_length, bad_offset = 0;
    char *colon;

    credentials->user = credentials->password = NULL;
    if (header == NULL || (space = strchr(header, ' ')) == NULL)
        return GIM_ERR_NOT_FOUND;
    encoded = space + 1;
    length = strlen(encoded);
    decoded = malloc(length / 4 * 3 + 4);
    if (decoded == NULL)
        return GIM_ERR_NO_MEMORY;
    if (gopusher_base64_decode(encoded, length, decoded, &decoded_length, &bad_offset) != GIM_OK) {
        free(decoded);
        snprintf(error, error_size, "illegal base64 data at input byte %zu", bad_offset);
        return GIM_ERR_INVALID;
    }
    decoded[decoded_length] = '\0';
    colon = memchr(decoded, ':', decoded_length);
    if (colon == NULL || memchr(decoded, '\0', decoded_length) != NULL) {
        explicit_bzero(decoded, decoded_length);
        free(decoded);
        return GIM_ERR_NOT_FOUND; /* no pair (or a NUL byte no account can hold) */
    }
    *colon = '\0';
    credentials->user = strdup((char *)decoded);
    credentials->password = strdup(colon + 1);
    explicit_bzero(decoded, decoded_length);
    free(decoded);
    if (credentials->user == NULL || credentials->password == NULL) {
        gopusher_credentials_clear(credentials);
        return GIM_ERR_NO_MEMORY;
    }
    return GIM_OK;
}
