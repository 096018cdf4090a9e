/* session.c: goim's mid_/key_ routing keys in Redis (see session.h). */
#include "logic/session.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/status.h"

/* The most MGET arguments sent in one command; longer key lists are split. */
#define SESSION_MGET_CHUNK 512
/* The most HGETALL commands in flight in one pipeline; longer mid lists are split. */
#define SESSION_PIPELINE_CHUNK 512

void session_routes_free(struct session_routes *routes)
{
    size_t index;

    for (index = 0; index < routes->count; index++) {
        free(routes->items[index].key);
        free(routes->items[index].server);
    }
    free(routes->items);
    routes->items = NULL;
    routes->count = routes->capacity = 0;
}

int session_routes_append(struct session_routes *routes, const char *key, size_t key_length,
                          const char *server, size_t server_length)
{
    struct session_route *route;

    if (gim_grow(&routes->items, &routes->capacity, routes->count + 1, sizeof(*routes->items), 16,
                 SIZE_MAX) != GIM_OK)
        return GIM_ERR_NO_MEMORY;
    route = &routes->items[routes->count];
    route->key = strndup(key, key_length);
    route->server = strndup(server, server_length);
    if (route->key == NULL || route->server == NULL) {
        free(route->key);
        free(route->server);
        return GIM_ERR_NO_MEMORY;
    }
    routes->count++;
    return GIM_OK;
}

int session_drain(struct gim_redis *redis, int pending, long long *integer_of_last)
{
    int status = GIM_OK;

    while (pending-- > 0) {
        redisReply *reply = gim_redis_reply(redis);
        if (reply == NULL)
            return GIM_ERR_UNAVAILABLE; /* the connection is gone with the rest */
        if (reply->type == REDIS_REPLY_ERROR) {
            gim_log_warn("session: redis error: %.*s", (int)reply->len, reply->str);
            status = GIM_ERR_REMOTE;
        } else if (pending == 0 && integer_of_last != NULL) {
            *integer_of_last = reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
        }
        freeReplyObject(reply);
    }
    return status;
}

int session_add_append(struct gim_redis *redis, int64_t mid, const char *key, const char *server,
                       int64_t expire_seconds, int *appended)
{
    int pending = 0;
    int status = GIM_OK;

    if (mid > 0) {
        SESSION_QUEUE("HSET mid_%" PRId64 " %s %s", mid, key, server);
        SESSION_QUEUE("EXPIRE mid_%" PRId64 " %" PRId64, mid, expire_seconds);
    }
    if (expire_seconds > 0) { /* goim sends SET then EXPIRE; SET ... EX is one command */
        SESSION_QUEUE("SET key_%s %s EX %" PRId64, key, server, expire_seconds);
    } else { /* EX must be positive; EXPIRE 0 removes the key as goim's would */
        SESSION_QUEUE("SET key_%s %s", key, server);
        SESSION_QUEUE("EXPIRE key_%s %" PRId64, key, expire_seconds);
    }
    *appended = pending;
    return status;
}

int session_add_read(struct gim_redis *redis, int appended)
{
    return session_drain(redis, appended, NULL);
}

int session_add(struct gim_redis *redis, int64_t mid, const char *key, const char *server,
                int64_t expire_seconds)
{
    int appended = 0;
    int status = session_add_append(redis, mid, key, server, expire_seconds, &appended);

    if (status != GIM_OK)
        return status;
    return session_add_read(redis, appended);
}

int session_renew(struct gim_redis *redis, int64_t mid, const char *key, const char *server,
                  int64_t expire_seconds)
{
    long long key_existed = 0;
    int pending = 0;
    int status = GIM_OK;

    if (mid > 0)
        SESSION_QUEUE("EXPIRE mid_%" PRId64 " %" PRId64, mid, expire_seconds);
    SESSION_QUEUE("EXPIRE key_%s %" PRId64, key, expire_seconds);
    if (status != GIM_OK)
        return status;
    status = session_drain(redis, pending, &key_existed);
    if (status != GIM_OK)
        return status;
    if (!key_existed)
        return session_add(redis, mid, key, server, expire_seconds);
    return GIM_OK;
}

int session_remove(struct gim_redis *redis, int64_t mid, const char *key, bool *had)
{
    long long deleted = 0;
    int pending = 0;
    int status = GIM_OK;

    *had = false;
    if (mid > 0)
        SESSION_QUEUE("HDEL mid_%" PRId64 " %s", mid, key);
    SESSION_QUEUE("DEL key_%s", key);
    if (status != GIM_OK)
        return status;
    status = session_drain(redis, pending, &deleted);
    *had = status == GIM_OK && deleted > 0;
    return status;
}

/* One MGET over keys[0..count), count <= SESSION_MGET_CHUNK. */
static int session_mget_chunk(struct gim_redis *redis, const char *const *keys, size_t count,
                              struct session_routes *routes)
{
    const char *argv[SESSION_MGET_CHUNK + 1];
    char *names[SESSION_MGET_CHUNK];
    redisReply *reply;
    size_t index;
    int status = GIM_OK;

    argv[0] = "MGET";
    for (index = 0; index < count; index++) {
        size_t length = strlen(keys[index]) + sizeof("key_");
        names[index] = malloc(length);
        if (names[index] == NULL) {
            while (index-- > 0)
                free(names[index]);
            return GIM_ERR_NO_MEMORY;
        }
        snprintf(names[index], length, "key_%s", keys[index]);
        argv[index + 1] = names[index];
    }
    reply = gim_redis_command_argv(redis, (int)count + 1, argv, NULL);
    for (index = 0; index < count; index++)
        free(names[index]);
    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != count) {
        gim_log_warn("session: unexpected MGET reply (type %d)", reply->type);
        freeReplyObject(reply);
        return GIM_ERR_REMOTE;
    }
    for (index = 0; index < count && status == GIM_OK; index++) {
        const redisReply *server = reply->element[index];
        /* goim skips keys whose server is empty, and empty keys. */
        if (server->type != REDIS_REPLY_STRING || server->len == 0 || keys[index][0] == '\0')
            continue;
        status = session_routes_append(routes, keys[index], strlen(keys[index]), server->str,
                                       server->len);
    }
    freeReplyObject(reply);
    return status;
}

int session_routes_by_keys(struct gim_redis *redis, const char *const *keys, size_t count,
                           struct session_routes *routes)
{
    size_t done;
    int status = GIM_OK;

    if (count == 0)
        return GIM_ERR_INVALID;
    for (done = 0; done < count && status == GIM_OK; done += SESSION_MGET_CHUNK) {
        size_t chunk = count - done < SESSION_MGET_CHUNK ? count - done : SESSION_MGET_CHUNK;
        status = session_mget_chunk(redis, keys + done, chunk, routes);
    }
    return status;
}

int session_mids_append(struct gim_redis *redis, const int64_t *mids, size_t count)
{
    size_t index;
    int status;

    for (index = 0; index < count; index++) {
        status = gim_redis_append(redis, "HGETALL mid_%" PRId64, mids[index]);
        if (status != GIM_OK)
            return status;
    }
    return GIM_OK;
}

int session_mids_read(struct gim_redis *redis, size_t count, struct session_routes *routes)
{
    size_t index;
    int status = GIM_OK;

    for (index = 0; index < count; index++) {
        redisReply *reply = gim_redis_reply(redis);
        size_t field;

        if (reply == NULL)
            return GIM_ERR_UNAVAILABLE;
        if (reply->type == REDIS_REPLY_ERROR) {
            gim_log_warn("session: redis error: %.*s", (int)reply->len, reply->str);
            status = GIM_ERR_REMOTE;
        } else if (reply->type == REDIS_REPLY_ARRAY && status == GIM_OK) {
            for (field = 0; field + 1 < reply->elements && status == GIM_OK; field += 2) {
                const redisReply *key = reply->element[field];
                const redisReply *server = reply->element[field + 1];
                if (key->type != REDIS_REPLY_STRING || server->type != REDIS_REPLY_STRING ||
                    key->len == 0 || server->len == 0)
                    continue;
                status =
                    session_routes_append(routes, key->str, key->len, server->str, server->len);
            }
        }
        freeReplyObject(reply); /* keep reading: the pipeline must be drained */
    }
    return status;
}

/* Pipelined HGETALL over mids[0..count), count <= SESSION_PIPELINE_CHUNK. */
static int session_hgetall_chunk(struct gim_redis *redis, const int64_t *mids, size_t count,
                                 struct session_routes *routes)
{
    int status = session_mids_append(redis, mids, count);

    if (status != GIM_OK)
        return status; /* the connection was dropped with everything queued */
    return session_mids_read(redis, count, routes);
}

int session_routes_by_mids(struct gim_redis *redis, const int64_t *mids, size_t count,
                           struct session_routes *routes)
{
    size_t done;
    int status = GIM_OK;

    for (done = 0; done < count && status == GIM_OK; done += SESSION_PIPELINE_CHUNK) {
        size_t chunk =
            count - done < SESSION_PIPELINE_CHUNK ? count - done : SESSION_PIPELINE_CHUNK;
        status = session_hgetall_chunk(redis, mids + done, chunk, routes);
    }
    return status;
}
