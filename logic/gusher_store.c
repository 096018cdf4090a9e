/* gusher_store.c: gusher's tokens and socket sessions in Redis (see gusher_store.h). */
#include "logic/gusher_store.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/redis.h"
#include "common/status.h"
#include "logic/auth.h"

#define GUSHER_KEY_PREFIX "gusher/"

int gusher_token_generate(char out[GUSHER_TOKEN_LENGTH + 1])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t random[GUSHER_TOKEN_LENGTH / 2];
    size_t index;

    if (auth_random_bytes(random, sizeof(random)) != GIM_OK)
        return GIM_ERR_IO;
    for (index = 0; index < sizeof(random); index++) {
        out[2 * index] = hex[random[index] >> 4];
        out[2 * index + 1] = hex[random[index] & 0xf];
    }
    out[GUSHER_TOKEN_LENGTH] = '\0';
    return GIM_OK;
}

int gusher_token_well_formed(const char *text, size_t length)
{
    size_t index;

    if (length != GUSHER_TOKEN_LENGTH)
        return 0;
    for (index = 0; index < length; index++)
        if (!((text[index] >= '0' && text[index] <= '9') ||
              (text[index] >= 'a' && text[index] <= 'f')))
            return 0;
    return 1;
}

int gusher_token_store(struct gim_redis *redis, const char *token, const char *value, size_t length,
                       int64_t ttl_ms)
{
    redisReply *reply = gim_redis_command(redis, "SET " GUSHER_KEY_PREFIX "token/%s %b PX %" PRId64,
                                          token, value, length, ttl_ms);
    int status = GIM_OK;

    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (reply->type == REDIS_REPLY_ERROR)
        status = GIM_ERR_REMOTE;
    freeReplyObject(reply);
    return status;
}

int gusher_token_read(struct gim_redis *redis, const char *token, char **value, size_t *length)
{
    redisReply *reply = gim_redis_command(redis, "GET " GUSHER_KEY_PREFIX "token/%s", token);
    int status = GIM_OK;

    *value = NULL;
    *length = 0;
    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (reply->type == REDIS_REPLY_STRING) {
        *value = malloc(reply->len + 1);
        if (*value == NULL) {
            status = GIM_ERR_NO_MEMORY;
        } else {
            memcpy(*value, reply->str, reply->len);
            (*value)[reply->len] = '\0';
            *length = reply->len;
        }
    } else {
        status = reply->type == REDIS_REPLY_ERROR ? GIM_ERR_REMOTE : GIM_ERR_NOT_FOUND;
    }
    freeReplyObject(reply);
    return status;
}

int gusher_session_write(struct gim_redis *redis, struct gusher_name app, struct gusher_name user,
                         struct gusher_name socket, const char *server, int64_t expire_seconds)
{
    int pending = 0, status = GIM_OK;

    if (expire_seconds < 1)
        expire_seconds = 1;
    SESSION_QUEUE("SET " GUSHER_KEY_PREFIX "socket/%b/%b %s EX %" PRId64, app.bytes, app.length,
                  socket.bytes, socket.length, server, expire_seconds);
    if (user.length > 0) {
        SESSION_QUEUE("HSET " GUSHER_KEY_PREFIX "user/%b/%b %b %s", app.bytes, app.length,
                      user.bytes, user.length, socket.bytes, socket.length, server);
        SESSION_QUEUE("EXPIRE " GUSHER_KEY_PREFIX "user/%b/%b %" PRId64, app.bytes, app.length,
                      user.bytes, user.length, expire_seconds);
    }
    if (status != GIM_OK)
        return status;
    return session_drain(redis, pending, NULL);
}

int gusher_session_remove(struct gim_redis *redis, struct gusher_name app, struct gusher_name user,
                          struct gusher_name socket)
{
    int pending = 0, status = GIM_OK;

    SESSION_QUEUE("DEL " GUSHER_KEY_PREFIX "socket/%b/%b", app.bytes, app.length, socket.bytes,
                  socket.length);
    if (user.length > 0)
        SESSION_QUEUE("HDEL " GUSHER_KEY_PREFIX "user/%b/%b %b", app.bytes, app.length, user.bytes,
                      user.length, socket.bytes, socket.length);
    if (status != GIM_OK)
        return status;
    return session_drain(redis, pending, NULL);
}

/* Appends the route gusher/<app>/<socket> -> server. */
static int gusher_route_append(struct session_routes *routes, struct gusher_name app,
                               const char *socket, size_t socket_length, const char *server,
                               size_t server_length)
{
    size_t prefix = strlen(GUSHER_KEY_PREFIX), length = prefix + app.length + 1 + socket_length;
    char *key = malloc(length + 1);
    int status;

    if (key == NULL)
        return GIM_ERR_NO_MEMORY;
    memcpy(key, GUSHER_KEY_PREFIX, prefix);
    memcpy(key + prefix, app.bytes, app.length);
    key[prefix + app.length] = '/';
    memcpy(key + prefix + app.length + 1, socket, socket_length);
    key[length] = '\0';
    status = session_routes_append(routes, key, length, server, server_length);
    free(key);
    return status;
}

int gusher_routes_of_user(struct gim_redis *redis, struct gusher_name app, struct gusher_name user,
                          struct session_routes *routes)
{
    redisReply *reply = gim_redis_command(redis, "HGETALL " GUSHER_KEY_PREFIX "user/%b/%b",
                                          app.bytes, app.length, user.bytes, user.length);
    int status = GIM_OK;
    size_t index;

    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (reply->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        return GIM_ERR_REMOTE;
    }
    for (index = 0; status == GIM_OK && index + 1 < reply->elements; index += 2) {
        const redisReply *socket = reply->element[index], *server = reply->element[index + 1];
        if (socket->type != REDIS_REPLY_STRING || server->type != REDIS_REPLY_STRING ||
            server->len == 0)
            continue;
        status =
            gusher_route_append(routes, app, socket->str, socket->len, server->str, server->len);
    }
    freeReplyObject(reply);
    return status;
}

int gusher_routes_of_socket(struct gim_redis *redis, struct gusher_name app,
                            struct gusher_name socket, struct session_routes *routes)
{
    redisReply *reply = gim_redis_command(redis, "GET " GUSHER_KEY_PREFIX "socket/%b/%b", app.bytes,
                                          app.length, socket.bytes, socket.length);
    int status = GIM_OK;

    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (reply->type == REDIS_REPLY_ERROR)
        status = GIM_ERR_REMOTE;
    else if (reply->type == REDIS_REPLY_STRING && reply->len > 0)
        status =
            gusher_route_append(routes, app, socket.bytes, socket.length, reply->str, reply->len);
    freeReplyObject(reply);
    return status;
}
