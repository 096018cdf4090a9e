/*
 * client_auth.h: optional authentication of goim clients in logic's Connect
 * (off by default, as in goim, where a client may claim any mid).
 *
 * With auth.jwtPublicKey set (a PEM RSA public key file), the auth body's
 * "token" field must be a JWT signed with RS256 by the matching private key
 * (any other algorithm is refused, so an HS256 token "signed" with the
 * public key never passes), whose "sub" is the auth body's mid in decimal,
 * whose "exp" (required) is in the future and whose "nbf", when present, is
 * past. An optional "rooms" claim (an array of strings) lists the rooms the
 * client may join: its room_id must be one of them (an empty room_id is
 * always allowed). A connection may take over an existing key only when the
 * key is already this mid's (the key_<key> session exists and mid_<mid>
 * holds the key); a key of another user is refused, so no client can push
 * another one off its connection.
 */
#ifndef LOGIC_CLIENT_AUTH_H
#define LOGIC_CLIENT_AUTH_H

#include <stddef.h>
#include <stdint.h>

struct client_auth;
struct gim_redis;

/*
 * Loads the public key from public_key_path (PEM). On GIM_OK *auth is the
 * caller's (client_auth_destroy). Returns GIM_ERR_INVALID (unreadable or
 * not a PEM public key) with a reason in error[0..error_size), or
 * GIM_ERR_NO_MEMORY.
 */
int client_auth_create(struct client_auth **auth, const char *public_key_path, char *error,
                       size_t error_size);

/*
 * Reads the PEM public key file at path (at most 64 KiB, holding
 * "-----BEGIN PUBLIC KEY-----"): *key (malloc'd, NUL-terminated, the
 * caller's) and *key_length, as libjwt's jwt_decode takes them. Returns
 * GIM_OK, GIM_ERR_INVALID (reason in error, naming setting) or
 * GIM_ERR_NO_MEMORY. Shared with gusher's JWTs (logic/gusher_jwt.h).
 */
int client_auth_read_public_key(const char *setting, const char *path, unsigned char **key,
                                int *key_length, char *error, size_t error_size);

/* Frees auth. NULL allowed. */
void client_auth_destroy(struct client_auth *auth);

/*
 * Verifies token (NUL-terminated JWT, "" when absent) for mid and room_id as
 * described above. Returns GIM_OK, or GIM_ERR_INVALID with the reason in
 * error[0..error_size). Any thread.
 */
int client_auth_verify(const struct client_auth *auth, const char *token, int64_t mid,
                       const char *room_id, char *error, size_t error_size);

/*
 * Whether key may be (re)bound to mid: GIM_OK when key_<key> does not exist
 * or mid_<mid> holds key; GIM_ERR_INVALID (reason in error) when it belongs
 * to someone else; GIM_ERR_UNAVAILABLE / GIM_ERR_REMOTE for Redis trouble.
 */
int client_auth_check_key(struct gim_redis *redis, int64_t mid, const char *key, char *error,
                          size_t error_size);

#endif
