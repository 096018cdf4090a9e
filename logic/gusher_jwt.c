/* gusher_jwt.c: gusher's RS256/384/512 JWTs and their claims, with libjwt (see gusher_jwt.h). */
#include "logic/gusher_jwt.h"

#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"
#include "logic/client_auth.h"

struct gusher_jwt {
    unsigned char *key; /* PEM text */
    int key_length;
};

int gusher_jwt_create(struct gusher_jwt **out, const char *setting, const char *path, char *error,
                      size_t error_size)
{
    struct gusher_jwt *jwt = calloc(1, sizeof(*jwt));
    int status;

    *out = NULL;
    if (jwt == NULL)
        return GIM_ERR_NO_MEMORY;
    status =
        client_auth_read_public_key(setting, path, &jwt->key, &jwt->key_length, error, error_size);
    if (status != GIM_OK) {
        free(jwt);
        return status;
    }
    *out = jwt;
    return GIM_OK;
}

void gusher_jwt_destroy(struct gusher_jwt *jwt)
{
    if (jwt == NULL)
        return;
    free(jwt->key);
    free(jwt);
}

void gusher_claims_clear(struct gusher_claims *claims)
{
    size_t index;

    for (index = 0; index < claims->channel_count; index++)
        free(claims->channels[index]);
    for (index = 0; index < claims->remote_count; index++)
        free(claims->remote_names[index]);
    free(claims->channels);
    free(claims->channel_lengths);
    free(claims->remote_names);
    free(claims->remote_allowed);
    free(claims->user_id);
    free(claims->app_key);
    free(claims->audience);
    free(claims->id);
    free(claims->issuer);
    free(claims->subject);
    memset(claims, 0, sizeof(*claims));
}

/* A copy of string[0..length) with a NUL after it, or NULL. */
static char *gusher_copy(const char *string, size_t length)
{
    char *copy = malloc(length + 1);

    if (copy != NULL) {
        memcpy(copy, string, length);
        copy[length] = '\0';
    }
    return copy;
}

/*
 * A string member as Go decodes it into a string field: absent or null is
 * "", a string is copied, anything else is an error.
 */
static int gusher_take_string(const json_t *object, const char *key, char **out, size_t *length,
                              char *error, size_t error_size)
{
    const json_t *value = json_object_get(object, key);

    if (value != NULL && !json_is_null(value) && !json_is_string(value)) {
        snprintf(error, error_size, "claim %s: not a string", key);
        return GIM_ERR_INVALID;
    }
    if (value != NULL && json_is_string(value)) {
        *out = gusher_copy(json_string_value(value), json_string_length(value));
        if (length != NULL)
            *length = json_string_length(value);
    } else {
        *out = gusher_copy("", 0);
        if (length != NULL)
            *length = 0;
    }
    return *out == NULL ? GIM_ERR_NO_MEMORY : GIM_OK;
}

/* An int64 member: absent or null is 0, an integer literal its value, anything else an error. */
static int gusher_take_integer(const json_t *object, const char *key, int64_t *out, char *error,
                               size_t error_size)
{
    const json_t *value = json_object_get(object, key);

    *out = 0;
    if (value == NULL || json_is_null(value))
        return GIM_OK;
    if (!json_is_integer(value)) {
        snprintf(error, error_size, "claim %s: not an integer", key);
        return GIM_ERR_INVALID;
    }
    *out = (int64_t)json_integer_value(value);
    return GIM_OK;
}

static int gusher_name_compare(const void *left, const void *right)
{
    return strcmp(*(char *const *)left, *(char *const *)right);
}

/* Fills the Auth part of claims from the "gusher" object (NULL or null: Go's zero Auth). */
static int gusher_auth_fill(const json_t *auth, struct gusher_claims *claims, char *error,
                            size_t error_size)
{
    const json_t *channels, *remotes, *value;
    const char *name;
    size_t index, count;
    int status;

    if (auth != NULL && !json_is_null(auth) && !json_is_object(auth)) {
        snprintf(error, error_size, "claim gusher: not an object");
        return GIM_ERR_INVALID;
    }
    if (auth == NULL || json_is_null(auth))
        auth = NULL;
    status = gusher_take_string(auth, "user_id", &claims->user_id, &claims->user_id_length, error,
                                error_size);
    if (status == GIM_OK)
        status = gusher_take_string(auth, "app_key", &claims->app_key, &claims->app_key_length,
                                    error, error_size);
    if (status != GIM_OK)
        return status;
    channels = auth ? json_object_get(auth, "channels") : NULL;
    claims->channels_null = channels == NULL || json_is_null(channels);
    if (!claims->channels_null) {
        if (!json_is_array(channels)) {
            snprintf(error, error_size, "claim gusher.channels: not an array");
            return GIM_ERR_INVALID;
        }
        count = json_array_size(channels);
        claims->channels = calloc(count ? count : 1, sizeof(*claims->channels));
        claims->channel_lengths = calloc(count ? count : 1, sizeof(*claims->channel_lengths));
        if (claims->channels == NULL || claims->channel_lengths == NULL)
            return GIM_ERR_NO_MEMORY;
        json_array_foreach(channels, index, value)
        {
            if (!json_is_string(value) && !json_is_null(value)) {
                snprintf(error, error_size, "claim gusher.channels: an element is not a string");
                return GIM_ERR_INVALID;
            }
            claims->channel_lengths[index] = json_is_string(value) ? json_string_length(value) : 0;
            claims->channels[index] =
                gusher_copy(json_is_string(value) ? json_string_value(value) : "",
                            claims->channel_lengths[index]);
            if (claims->channels[index] == NULL)
                return GIM_ERR_NO_MEMORY;
            claims->channel_count++;
        }
    }
    remotes = auth ? json_object_get(auth, "remotes") : NULL;
    claims->remotes_null = remotes == NULL || json_is_null(remotes);
    if (!claims->remotes_null) {
        if (!json_is_object(remotes)) {
            snprintf(error, error_size, "claim gusher.remotes: not an object");
            return GIM_ERR_INVALID;
        }
        count = json_object_size(remotes);
        claims->remote_names = calloc(count ? count : 1, sizeof(*claims->remote_names));
        claims->remote_allowed = calloc(count ? count : 1, sizeof(*claims->remote_allowed));
        if (claims->remote_names == NULL || claims->remote_allowed == NULL)
            return GIM_ERR_NO_MEMORY;
        json_object_foreach((json_t *)remotes, name, value)
        {
            if (!json_is_boolean(value) && !json_is_null(value)) {
                snprintf(error, error_size, "claim gusher.remotes.%s: not a boolean", name);
                return GIM_ERR_INVALID;
            }
            if (json_object_iter_key_len(json_object_key_to_iter(name)) != strlen(name)) {
                snprintf(error, error_size, "claim gusher.remotes: a name with a NUL character");
                return GIM_ERR_INVALID;
            }
            claims->remote_names[claims->remote_count] = strdup(name);
            if (claims->remote_names[claims->remote_count] == NULL)
                return GIM_ERR_NO_MEMORY;
            claims->remote_allowed[claims->remote_count++] = json_is_true(value);
        }
        /* Go writes a map sorted by key: sort the names with their values. */
        for (index = 0; index < claims->remote_count; index++) {
            size_t lowest = index, other;
            for (other = index + 1; other < claims->remote_count; other++)
                if (gusher_name_compare(&claims->remote_names[other],
                                        &claims->remote_names[lowest]) < 0)
                    lowest = other;
            if (lowest != index) {
                char *name_swap = claims->remote_names[index];
                bool allowed_swap = claims->remote_allowed[index];
                claims->remote_names[index] = claims->remote_names[lowest];
                claims->remote_allowed[index] = claims->remote_allowed[lowest];
                claims->remote_names[lowest] = name_swap;
                claims->remote_allowed[lowest] = allowed_swap;
            }
        }
    }
    return GIM_OK;
}

int gusher_claims_parse(const char *body, size_t length, int64_t now, struct gusher_claims *claims,
                        char *error, size_t error_size)
{
    json_error_t parse_error;
    json_t *root;
    int status;

    memset(claims, 0, sizeof(*claims));
    root = json_loadb(body, length, JSON_ALLOW_NUL, &parse_error);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        snprintf(error, error_size, "claims: not a JSON object");
        return GIM_ERR_INVALID;
    }
    status = gusher_auth_fill(json_object_get(root, "gusher"), claims, error, error_size);
    if (status == GIM_OK)
        status = gusher_take_string(root, "aud", &claims->audience, NULL, error, error_size);
    if (status == GIM_OK)
        status = gusher_take_string(root, "jti", &claims->id, NULL, error, error_size);
    if (status == GIM_OK)
        status = gusher_take_string(root, "iss", &claims->issuer, NULL, error, error_size);
    if (status == GIM_OK)
        status = gusher_take_string(root, "sub", &claims->subject, NULL, error, error_size);
    if (status == GIM_OK)
        status = gusher_take_integer(root, "exp", &claims->expires_at, error, error_size);
    if (status == GIM_OK)
        status = gusher_take_integer(root, "iat", &claims->issued_at, error, error_size);
    if (status == GIM_OK)
        status = gusher_take_integer(root, "nbf", &claims->not_before, error, error_size);
    json_decref(root);
    if (status != GIM_OK)
        return status;
    /* golang-jwt v3 StandardClaims.Valid: each check only when the claim is set (non-zero). */
    if (claims->expires_at != 0 && now > claims->expires_at) {
        snprintf(error, error_size, "token is expired");
        return GIM_ERR_INVALID;
    }
    if (claims->issued_at != 0 && now < claims->issued_at) {
        snprintf(error, error_size, "token used before issued");
        return GIM_ERR_INVALID;
    }
    if (claims->not_before != 0 && now < claims->not_before) {
        snprintf(error, error_size, "token is not valid yet");
        return GIM_ERR_INVALID;
    }
    return GIM_OK;
}

int gusher_jwt_verify(const struct gusher_jwt *keys, const char *token, size_t length, int64_t now,
                      struct gusher_claims *claims, char *error, size_t error_size)
{
    jwt_t *jwt = NULL;
    jwt_alg_t algorithm;
    char *text, *body;
    int status;

    memset(claims, 0, sizeof(*claims));
    if (length == 0 || length > GUSHER_JWT_MAX_TOKEN || memchr(token, '\0', length) != NULL) {
        snprintf(error, error_size, "token: empty, longer than %d bytes, or with a NUL byte",
                 GUSHER_JWT_MAX_TOKEN);
        return GIM_ERR_INVALID;
    }
    text = gusher_copy(token, length);
    if (text == NULL)
        return GIM_ERR_NO_MEMORY;
    status = jwt_decode(&jwt, text, keys->key, keys->key_length);
    free(text);
    if (status != 0 || jwt == NULL) {
        snprintf(error, error_size, "token: bad signature or not a JWT");
        return GIM_ERR_INVALID;
    }
    /* jwt_decode verified with the header's algorithm: only RSA may pass (an HS256 token
     * keyed with the PEM text verifies in libjwt; gusher refuses every non-RSA method). */
    algorithm = jwt_get_alg(jwt);
    if (algorithm != JWT_ALG_RS256 && algorithm != JWT_ALG_RS384 && algorithm != JWT_ALG_RS512) {
        jwt_free(jwt);
        snprintf(error, error_size, "token: algorithm %s refused (RS256, RS384, RS512 only)",
                 jwt_alg_str(algorithm) ? jwt_alg_str(algorithm) : "?");
        return GIM_ERR_INVALID;
    }
    body = jwt_get_grants_json(jwt, NULL);
    jwt_free(jwt);
    if (body == NULL)
        return GIM_ERR_NO_MEMORY;
    status = gusher_claims_parse(body, strlen(body), now, claims, error, error_size);
    free(body);
    return status;
}

bool gusher_claims_append_auth(struct gim_text *text, const struct gusher_claims *claims)
{
    size_t index;
    bool ok = gim_text_append_cstring(text, "{\"channels\":");

    if (claims->channels_null) {
        ok = ok && gim_text_append_cstring(text, "null");
    } else {
        ok = ok && gim_text_append(text, "[", 1);
        for (index = 0; ok && index < claims->channel_count; index++)
            ok = (index == 0 || gim_text_append(text, ",", 1)) &&
                 gim_go_json_append_string(text, claims->channels[index],
                                           claims->channel_lengths[index]);
        ok = ok && gim_text_append(text, "]", 1);
    }
    ok = ok && gim_text_append_cstring(text, ",\"user_id\":") &&
         gim_go_json_append_string(text, claims->user_id, claims->user_id_length) &&
         gim_text_append_cstring(text, ",\"app_key\":") &&
         gim_go_json_append_string(text, claims->app_key, claims->app_key_length) &&
         gim_text_append_cstring(text, ",\"remotes\":");
    if (claims->remotes_null)
        return ok && gim_text_append_cstring(text, "null}");
    ok = ok && gim_text_append(text, "{", 1);
    for (index = 0; ok && index < claims->remote_count; index++)
        ok = (index == 0 || gim_text_append(text, ",", 1)) &&
             gim_go_json_append_string(text, claims->remote_names[index],
                                       strlen(claims->remote_names[index])) &&
             gim_text_append_cstring(text, claims->remote_allowed[index] ? ":true" : ":false");
    return ok && gim_text_append_cstring(text, "}}");
}

/* Appends ,"name":"value" when value is not empty (omitempty). */
static bool gusher_append_claim_string(struct gim_text *text, const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return true;
    return gim_text_append(text, ",\"", 2) && gim_text_append_cstring(text, name) &&
           gim_text_append(text, "\":", 2) && gim_go_json_append_string(text, value, strlen(value));
}

/* Appends ,"name":value when value is not 0 (omitempty). */
static bool gusher_append_claim_integer(struct gim_text *text, const char *name, int64_t value)
{
    if (value == 0)
        return true;
    return gim_text_append(text, ",\"", 2) && gim_text_append_cstring(text, name) &&
           gim_text_append(text, "\":", 2) && gim_text_append_integer(text, value);
}

bool gusher_claims_append_decoded(struct gim_text *text, const struct gusher_claims *claims)
{
    return gim_text_append_cstring(text, "{\"gusher\":") &&
           gusher_claims_append_auth(text, claims) &&
           gusher_append_claim_string(text, "aud", claims->audience) &&
           gusher_append_claim_integer(text, "exp", claims->expires_at) &&
           gusher_append_claim_string(text, "jti", claims->id) &&
           gusher_append_claim_integer(text, "iat", claims->issued_at) &&
           gusher_append_claim_string(text, "iss", claims->issuer) &&
           gusher_append_claim_integer(text, "nbf", claims->not_before) &&
           gusher_append_claim_string(text, "sub", claims->subject) &&
           gim_text_append_cstring(text, "}\n");
}

int gusher_claims_parse_auth(const char *text, size_t length, struct gusher_claims *claims)
{
    json_error_t parse_error;
    json_t *auth;
    char error[128];
    int status;

    memset(claims, 0, sizeof(*claims));
    auth = json_loadb(text, length, JSON_ALLOW_NUL, &parse_error);
    if (auth == NULL || !json_is_object(auth)) {
        json_decref(auth);
        return GIM_ERR_INVALID;
    }
    status = gusher_auth_fill(auth, claims, error, sizeof(error));
    json_decref(auth);
    return status;
}
