/*
 * gusher_jwt.h: gusher.cluster's JWTs, verified with libjwt against
 * gusher.publicKey, and the claims they carry.
 *
 * As gusher v1.13.8 (golang-jwt v3 with a JwtPack): the signature must be
 * RS256, RS384 or RS512 (HMAC and "none" are refused, also an HMAC token
 * "signed" with the public key's text); exp, nbf and iat are checked only
 * when present and non-zero (now <= exp, now >= nbf, now >= iat); aud and
 * iss are not checked. The "gusher" claim is
 *   {"channels": [string], "user_id": string, "app_key": string,
 *    "remotes": {command: bool}}
 * where every member may be absent or null (Go's zero value), a null
 * array element is "" and a null remote false. A member of another type
 * (channels a string, exp 1.5 or 1e9, user_id a number) refuses the token,
 * as Go's json.Decoder refuses it. Keys match exactly (Go also accepts
 * "Gusher" or "USER_ID": not copied).
 */
#ifndef LOGIC_GUSHER_JWT_H
#define LOGIC_GUSHER_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/go_json.h"

struct gusher_jwt;

/* Longest JWT read; a longer one is refused unread. */
#define GUSHER_JWT_MAX_TOKEN 16384

/* The claims of a verified token. Zero-initialise; gusher_claims_clear frees. */
struct gusher_claims {
    char **channels; /* channel_count strings (malloc'd; may hold NUL bytes: lengths below) */
    size_t *channel_lengths;
    size_t channel_count;
    bool channels_null; /* "channels" absent or null (Go writes null) */
    char *user_id;      /* malloc'd, "" when absent */
    size_t user_id_length;
    char *app_key; /* malloc'd, "" when absent */
    size_t app_key_length;
    char **remote_names; /* remote_count names sorted bytewise (malloc'd, NUL-terminated) */
    bool *remote_allowed;
    size_t remote_count;
    bool remotes_null; /* "remotes" absent or null */
    /* standard claims; "" / 0 when absent */
    char *audience, *id, *issuer, *subject;
    int64_t expires_at, issued_at, not_before;
};

/*
 * Reads the PEM public key file at path (setting names it in errors). On
 * GIM_OK *jwt is the caller's (gusher_jwt_destroy). Returns GIM_ERR_INVALID
 * with the reason in error[0..error_size), or GIM_ERR_NO_MEMORY.
 */
int gusher_jwt_create(struct gusher_jwt **jwt, const char *setting, const char *path, char *error,
                      size_t error_size);

/* Frees jwt. NULL allowed. */
void gusher_jwt_destroy(struct gusher_jwt *jwt);

/*
 * Verifies token[0..length) at Unix time now and fills *claims (zeroed
 * first; clear it in every case). Returns GIM_OK, GIM_ERR_INVALID with the
 * reason in error[0..error_size) (not a JWT, bad signature, algorithm,
 * expired, not yet valid, issued in the future, a claim of the wrong type),
 * or GIM_ERR_NO_MEMORY. Any thread.
 */
int gusher_jwt_verify(const struct gusher_jwt *jwt, const char *token, size_t length, int64_t now,
                      struct gusher_claims *claims, char *error, size_t error_size);

/*
 * Fills *claims from the JSON body of a JWT (already verified) and checks
 * exp, nbf and iat at now, as gusher_jwt_verify does after the signature.
 * A pure function (tests/fuzz/fuzz_logic_gusher_jwt.c).
 */
int gusher_claims_parse(const char *body, size_t length, int64_t now, struct gusher_claims *claims,
                        char *error, size_t error_size);

/* Frees what claims holds and zeroes it. */
void gusher_claims_clear(struct gusher_claims *claims);

/*
 * Appends the "gusher" object as Go encodes gusher's Auth struct:
 * {"channels":[...]|null,"user_id":"...","app_key":"...","remotes":{...}|null}
 * (remotes sorted). Returns false when out of memory.
 */
bool gusher_claims_append_auth(struct gim_text *text, const struct gusher_claims *claims);

/*
 * Appends what gusher's /decode answers: {"gusher":<auth>} followed by the
 * standard claims that are set, in golang-jwt v3's order (aud, exp, jti,
 * iat, iss, nbf, sub), and json.Encoder's newline.
 */
bool gusher_claims_append_decoded(struct gim_text *text, const struct gusher_claims *claims);

/*
 * Reads back what gusher_claims_append_auth wrote (the token store's value)
 * into *claims (zeroed first; clear it in every case). Returns GIM_OK or
 * GIM_ERR_INVALID (not such an object) or GIM_ERR_NO_MEMORY.
 */
int gusher_claims_parse_auth(const char *text, size_t length, struct gusher_claims *claims);

#endif
