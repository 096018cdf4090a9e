/*
 * gopusher_auth.h: gopusher's HTTP Basic credentials.
 *
 * A stored password is bcrypt of the account concatenated with the
 * password, as gopusher stores it (its config's auth_password and its
 * appdata rows): "$2a$05$..." from Go, "$2b$05$..." from here (cost 5, as
 * gopusher; every API call verifies one, so the cost is a per-request CPU
 * price). Verification is libcrypt's crypt_r, which reads $2a$, $2b$ and
 * $2y$ alike, so hashes imported from gopusher verify unchanged.
 *
 * The Authorization header is read as gopusher does: "<scheme> <base64>"
 * (the scheme is not checked), standard base64 with padding, the decoded
 * text split at its first ':'.
 */
#ifndef LOGIC_GOPUSHER_AUTH_H
#define LOGIC_GOPUSHER_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* bcrypt cost of the hashes made here (gopusher's). */
#define GOPUSHER_BCRYPT_COST 5
/* Room for a bcrypt hash and its NUL. */
#define GOPUSHER_HASH_SIZE 128

/*
 * Writes bcrypt(account + password) with a fresh random salt into
 * hash[0..hash_size) (hash_size >= GOPUSHER_HASH_SIZE). Returns GIM_OK,
 * GIM_ERR_NO_MEMORY, or GIM_ERR_IO (no random bytes / crypt failed). All
 * pointers stay the caller's.
 */
int gopusher_password_hash(const char *account, const char *password, char *hash, size_t hash_size);

/*
 * True when hash is the bcrypt of account + password. A NULL, empty or
 * malformed hash is never verified. Compares in constant time. Blocks for
 * the hash's cost (a few ms at cost 5).
 */
bool gopusher_password_verify(const char *account, const char *password, const char *hash);

/* What an Authorization header carries. */
struct gopusher_credentials {
    char *user;     /* malloc'd, owned (gopusher_credentials_clear) */
    char *password; /* malloc'd, owned */
};

/*
 * Reads header (may be NULL) as gopusher's BasicAuth does. Returns GIM_OK
 * with credentials filled (the caller clears them), GIM_ERR_NOT_FOUND (no
 * header, no space, or no ':' in the decoded text: "Not authorized"),
 * GIM_ERR_INVALID (the base64 does not decode: error[0..error_size) holds
 * Go's text, "illegal base64 data at input byte N") or GIM_ERR_NO_MEMORY.
 */
int gopusher_credentials_parse(const char *header, struct gopusher_credentials *credentials,
                               char *error, size_t error_size);

/* Frees what gopusher_credentials_parse filled in; safe on a zeroed struct. */
void gopusher_credentials_clear(struct gopusher_credentials *credentials);

/*
 * Decodes standard base64 with padding (RFC 4648 section 4; '\r' and '\n'
 * are skipped, as Go's StdEncoding) from text[0..length) into out (at
 * least length / 4 * 3 + 3 bytes), *out_length = the decoded size. Returns
 * GIM_OK or GIM_ERR_INVALID with *bad_offset = the input byte Go's decoder
 * names. A pure function (unit-tested).
 */
int gopusher_base64_decode(const char *text, size_t length, unsigned char *out, size_t *out_length,
                           size_t *bad_offset);

#endif
