/* client_auth.c: RS256 JWT check of a goim client's auth body, with libjwt (see client_auth.h). */
#include "logic/client_auth.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <jwt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/redis.h"
#include "common/status.h"

#define CLIENT_AUTH_MAX_KEY   (64 * 1024) /* a PEM public key is a few hundred bytes */
#define CLIENT_AUTH_MAX_TOKEN 8192        /* longer tokens are refused unread */

struct client_auth {
    unsigned char *key; /* PEM text */
    int key_length;
};

int client_auth_read_public_key(const char *setting, const char *path, unsigned char **key,
                                int *key_length, char *error, size_t error_size)
{
    unsigned char *text;
    FILE *file;
    size_t length;

    *key = NULL;
    *key_length = 0;
    file = fopen(path, "rb");
    if (file == NULL) {
        snprintf(error, error_size, "%s: cannot open \"%s\": %s", setting, path, strerror(errno));
        return GIM_ERR_INVALID;
    }
    text = malloc(CLIENT_AUTH_MAX_KEY + 1);
    if (text == NULL) {
        fclose(file);
        return GIM_ERR_NO_MEMORY;
    }
    length = fread(text, 1, CLIENT_AUTH_MAX_KEY + 1, file);
    fclose(file);
    text[length > CLIENT_AUTH_MAX_KEY ? CLIENT_AUTH_MAX_KEY : length] = '\0';
    if (length > CLIENT_AUTH_MAX_KEY ||
        strstr((char *)text, "-----BEGIN PUBLIC KEY-----") == NULL) {
        snprintf(error, error_size,
                 "%s: \"%s\" is not a PEM public key (-----BEGIN PUBLIC KEY-----)", setting, path);
        free(text);
        return GIM_ERR_INVALID;
    }
    *key = text;
    *key_length = (int)length;
    return GIM_OK;
}

int client_auth_create(struct client_auth **out, const char *public_key_path, char *error,
                       size_t error_size)
{
    struct client_auth *auth;
    int status;

    *out = NULL;
    auth = calloc(1, sizeof(*auth));
    if (auth == NULL)
        return GIM_ERR_NO_MEMORY;
    status = client_auth_read_public_key("auth.jwtPublicKey", public_key_path, &auth->key,
                                         &auth->key_length, error, error_size);
    if (status != GIM_OK) {
        free(auth);
        return status;
    }
    *out = auth;
    return GIM_OK;
}

void client_auth_destroy(struct client_auth *auth)
{
    if (auth == NULL)
        return;
    free(auth->key);
    free(auth);
}

/* Whether room_id is allowed by the "rooms" claim (absent: every room). */
static int client_auth_room_allowed(jwt_t *jwt, const char *room_id, char *error, size_t error_size)
{
    char *rooms_json = jwt_get_grants_json(jwt, "rooms");
    json_t *rooms, *room;
    size_t index;
    bool allowed = false;

    if (rooms_json == NULL || room_id[0] == '\0') {
        free(rooms_json);
        return GIM_OK;
    }
    rooms = json_loads(rooms_json, 0, NULL);
    free(rooms_json);
    if (rooms == NULL || !json_is_array(rooms)) {
        json_decref(rooms);
        snprintf(error, error_size, "auth: token: rooms: not an array");
        return GIM_ERR_INVALID;
    }
    json_array_foreach(rooms, index, room)
    {
        if (json_is_string(room) && strcmp(json_string_value(room), room_id) == 0)
            allowed = true;
    }
    json_decref(rooms);
    if (!allowed) {
        snprintf(error, error_size, "auth: token does not allow room \"%s\"", room_id);
        return GIM_ERR_INVALID;
    }
    return GIM_OK;
}

int client_auth_verify(const struct client_auth *auth, const char *token, int64_t mid,
                       const char *room_id, char *error, size_t error_size)
{
    jwt_t *jwt = NULL;
    const char *subject;
    char expected[32];
    long expires, not_before;
    time_t now = time(NULL);
    int status;

    if (token == NULL || token[0] == '\0') {
        snprintf(error, error_size, "auth: no token (client authentication is on)");
        return GIM_ERR_INVALID;
    }
    if (strlen(token) > CLIENT_AUTH_MAX_TOKEN) {
        snprintf(error, error_size, "auth: token longer than %d bytes", CLIENT_AUTH_MAX_TOKEN);
        return GIM_ERR_INVALID;
    }
    if (jwt_decode(&jwt, token, auth->key, auth->key_length) != 0 || jwt == NULL) {
        snprintf(error, error_size, "auth: token: bad signature or not a JWT");
        return GIM_ERR_INVALID;
    }
    status = GIM_ERR_INVALID;
    snprintf(expected, sizeof(expected), "%" PRId64, mid);
    if (jwt_get_alg(jwt) != JWT_ALG_RS256) {
        snprintf(error, error_size, "auth: token: algorithm is not RS256");
        goto out;
    }
    subject = jwt_get_grant(jwt, "sub");
    if (mid <= 0 || subject == NULL || strcmp(subject, expected) != 0) {
        snprintf(error, error_size, "auth: token: sub is not the mid %" PRId64, mid);
        goto out;
    }
    errno = 0;
    expires = jwt_get_grant_int(jwt, "exp");
    if (errno != 0 || expires <= (long)now) {
        snprintf(error, error_size, "auth: token: no exp, or expired");
        goto out;
    }
    errno = 0;
    not_before = jwt_get_grant_int(jwt, "nbf");
    if (errno == 0 && not_before > (long)now) {
        snprintf(error, error_size, "auth: token: not valid yet (nbf)");
        goto out;
    }
    status = client_auth_room_allowed(jwt, room_id, error, error_size);
out:
    jwt_free(jwt);
    return status;
}

int client_auth_check_key(struct gim_redis *redis, int64_t mid, const char *key, char *error,
                          size_t error_size)
{
    long long exists = 0;
    int status = gim_redis_integer_reply(gim_redis_command(redis, "EXISTS key_%s", key), &exists);

    if (status != GIM_OK || exists == 0)
        return status;
    status = gim_redis_integer_reply(
        gim_redis_command(redis, "HEXISTS mid_%" PRId64 " %s", mid, key), &exists);
    if (status == GIM_OK && exists == 0) {
        snprintf(error, error_size, "auth: key \"%s\" is another user's connection", key);
        return GIM_ERR_INVALID;
    }
    return status;
}
