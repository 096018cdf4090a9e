/*
 * auth.h: the client's auth body (goim's op-7 frame body, ConnectReq.token).
 *
 *   {"mid":int64, "key":string, "room_id":string, "platform":string,
 *    "accepts":[int32,...], "token":string}
 *
 * "token" is goim-c's: a JWT proving the mid when client authentication is
 * on (logic/client_auth.h); goim ignores it.
 *
 * Decoded as goim does with Go's encoding/json into a struct: unknown
 * fields are ignored, missing or null fields stay zero/empty, a field of the
 * wrong type (or an integer out of range) is an error, and so is anything
 * that is not one JSON object. Also a fuzz target: token is untrusted bytes.
 */
#ifndef LOGIC_AUTH_H
#define LOGIC_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct auth_token {
    int64_t mid;
    char *key;        /* never NULL after a successful parse; owned by the token */
    char *room_id;    /* never NULL after a successful parse; owned by the token */
    char *platform;   /* never NULL after a successful parse; owned by the token */
    int32_t *accepts; /* accept_count entries, owned by the token (NULL if none) */
    size_t accept_count;
    char *token; /* the "token" field; never NULL after a successful parse; owned */
};

/*
 * Parses token[0..length) into *out (zeroed first). Returns GIM_OK, or
 * GIM_ERR_INVALID with a reason in error[0..error_size), or GIM_ERR_NO_MEMORY.
 * Call auth_token_free on *out in every case.
 */
int auth_token_parse(const uint8_t *token, size_t length, struct auth_token *out, char *error,
                     size_t error_size);

/* Frees what *token owns and zeroes it. */
void auth_token_free(struct auth_token *token);

/*
 * Writes a random UUIDv4 ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", 36
 * characters + NUL) into out, which must hold 37 bytes: goim's key for a
 * client that sent none. Returns GIM_OK or GIM_ERR_IO (no randomness).
 */
int auth_generate_key(char out[37]);

/* Fills out[0..length) from getrandom (the kernel's CSPRNG). GIM_OK or GIM_ERR_IO. */
int auth_random_bytes(uint8_t *out, size_t length);

#endif
