/* online_store.c: ol_<server> hashes of room counts (see online_store.h). */
#include "logic/online_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"
#include "logic/cityhash.h"

/* Longest server id accepted in a key name (the registry holds hostnames). */
#define ONLINE_STORE_MAX_KEY 300

unsigned online_store_shard(const char *room, size_t length)
{
    return cityhash32(room, length) % ONLINE_STORE_SHARDS;
}

static int online_store_key(const char *server, char *key, size_t size)
{
    int length = snprintf(key, size, ONLINE_STORE_KEY_PREFIX "%s", server);
    return length < 0 || (size_t)length >= size ? GIM_ERR_TOO_LARGE : GIM_OK;
}

/* Checks one reply of the MULTI block; frees it. */
static int online_store_check(redisReply *reply)
{
    int status;

    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    status = reply->type == REDIS_REPLY_ERROR ? GIM_ERR_REMOTE : GIM_OK;
    if (status != GIM_OK)
        gim_log_warn("online: redis: %s", reply->str);
    freeReplyObject(reply);
    return status;
}

/* Runs MULTI; HSET key (non-empty shards); HDEL key (empty shards); EXPIRE; EXEC. */
static int online_store_replace(struct gim_redis *redis, const char *key, char **values,
                                int64_t expire_seconds)
{
    char fields[ONLINE_STORE_SHARDS][12];
    const char *set_argv[2 + 2 * ONLINE_STORE_SHARDS], *delete_argv[2 + ONLINE_STORE_SHARDS];
    int set_count = 2, delete_count = 2, shard, status;
    redisReply *reply;

    set_argv[0] = "HSET";
    delete_argv[0] = "HDEL";
    set_argv[1] = delete_argv[1] = key;
    for (shard = 0; shard < ONLINE_STORE_SHARDS; shard++) {
        snprintf(fields[shard], sizeof(fields[shard]), "%d", shard);
        if (values[shard] != NULL) {
            set_argv[set_count++] = fields[shard];
            set_argv[set_count++] = values[shard];
        } else {
            delete_argv[delete_count++] = fields[shard];
        }
    }
    if (set_count == 2) /* no room at all: the key goes */
        return online_store_check(gim_redis_command(redis, "DEL %s", key));
    status = online_store_check(gim_redis_command(redis, "MULTI"));
    if (status != GIM_OK)
        return status;
    status = online_store_check(gim_redis_command_argv(redis, set_count, set_argv, NULL));
    if (status == GIM_OK && delete_count > 2)
        status = online_store_check(gim_redis_command_argv(redis, delete_count, delete_argv, NULL));
    if (status == GIM_OK)
        status = online_store_check(
            gim_redis_command(redis, "EXPIRE %s %lld", key, (long long)expire_seconds));
    if (status != GIM_OK) {
        if (status != GIM_ERR_UNAVAILABLE)
            online_store_check(gim_redis_command(redis, "DISCARD"));
        return status;
    }
    reply = gim_redis_command(redis, "EXEC");
    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    status = reply->type == REDIS_REPLY_ARRAY ? GIM_OK : GIM_ERR_REMOTE;
    freeReplyObject(reply);
    return status;
}

int online_store_encode(const char *server, const struct online_room_count *rooms, size_t count,
                        int64_t now_seconds, char *values[ONLINE_STORE_SHARDS])
{
    json_t *shards[ONLINE_STORE_SHARDS] = {0};
    size_t index;
    int shard, status = GIM_OK;

    for (shard = 0; shard < ONLINE_STORE_SHARDS; shard++)
        values[shard] = NULL;
    for (index = 0; index < count && status == GIM_OK; index++) {
        const char *room = rooms[index].room;
        size_t length = strlen(room);
        json_t *value;

        if (rooms[index].count <= 0)
            continue;
        shard = (int)online_store_shard(room, length);
        if (shards[shard] == NULL) {
            shards[shard] = json_object();
            if (shards[shard] == NULL) {
                status = GIM_ERR_NO_MEMORY;
                break;
            }
        }
        value = json_integer(rooms[index].count);
        if (value == NULL) {
            status = GIM_ERR_NO_MEMORY;
        } else if (json_object_setn_new(shards[shard], room, length, value) != 0) {
            /* jansson refuses keys that are not UTF-8: such a room cannot be stored as JSON. */
            gim_log_debug("online: %s: room name not UTF-8, left out", server);
        }
    }
    for (shard = 0; shard < ONLINE_STORE_SHARDS && status == GIM_OK; shard++) {
        json_t *document;

        if (shards[shard] == NULL || json_object_size(shards[shard]) == 0)
            continue;
        document = json_pack("{s:s, s:O, s:I}", "server", server, "room_count", shards[shard],
                             "updated", (json_int_t)now_seconds);
        values[shard] = document ? json_dumps(document, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(document);
        if (values[shard] == NULL)
            status = document == NULL ? GIM_ERR_INVALID : GIM_ERR_NO_MEMORY;
    }
    for (shard = 0; shard < ONLINE_STORE_SHARDS; shard++) {
        json_decref(shards[shard]);
        if (status != GIM_OK) {
            free(values[shard]);
            values[shard] = NULL;
        }
    }
    return status;
}

int online_store_write(struct gim_redis *redis, const char *server,
                       const struct online_room_count *rooms, size_t count, int64_t expire_seconds,
                       int64_t now_seconds)
{
    char *values[ONLINE_STORE_SHARDS];
    char key[ONLINE_STORE_MAX_KEY];
    int shard, status;

    if (online_store_key(server, key, sizeof(key)) != GIM_OK)
        return GIM_ERR_TOO_LARGE;
    status = online_store_encode(server, rooms, count, now_seconds, values);
    if (status != GIM_OK)
        return status;
    status = online_store_replace(redis, key, values, expire_seconds);
    for (shard = 0; shard < ONLINE_STORE_SHARDS; shard++)
        free(values[shard]);
    return status;
}

/* Adds the room_count of one shard document into rooms; returns its "updated" (or -1). */
static int64_t online_store_add_shard(const char *text, size_t length, json_t *rooms)
{
    json_t *document = json_loadb(text, length, 0, NULL);
    json_t *room_count, *updated, *count;
    const char *room;
    int64_t stamp = -1;

    if (document == NULL)
        return -1;
    room_count = json_object_get(document, "room_count");
    updated = json_object_get(document, "updated");
    if (json_is_object(room_count) && json_is_integer(updated)) {
        stamp = json_integer_value(updated);
        json_object_foreach(room_count, room, count)
        {
            if (json_is_integer(count) && json_integer_value(count) > 0)
                json_object_set_new(rooms, room, json_integer(json_integer_value(count)));
        }
    }
    json_decref(document);
    return stamp;
}

int online_store_merge(const char *const *values, const size_t *lengths, size_t count,
                       int64_t now_seconds, json_t *totals)
{
    json_t *rooms, *room_total;
    const char *room;
    int64_t newest = -1;
    size_t index;
    int status = GIM_OK;

    if (count == 0)
        return GIM_ERR_NOT_FOUND;
    rooms = json_object();
    if (rooms == NULL)
        return GIM_ERR_NO_MEMORY;
    for (index = 0; index < count; index++) {
        int64_t stamp = online_store_add_shard(values[index], lengths[index], rooms);
        if (stamp > newest)
            newest = stamp;
    }
    if (newest < now_seconds - ONLINE_STORE_STALE_SECONDS) {
        json_decref(rooms);
        return GIM_ERR_NOT_FOUND;
    }
    json_object_foreach(rooms, room, room_total)
    {
        json_int_t sum =
            json_integer_value(json_object_get(totals, room)) + json_integer_value(room_total);
        if (json_object_set_new(totals, room, json_integer(sum)) != 0) {
            status = GIM_ERR_NO_MEMORY;
            break;
        }
    }
    json_decref(rooms);
    return status;
}

/* Bound: a server's hash has at most ONLINE_STORE_SHARDS fields; more are ignored. */
int online_store_read(struct gim_redis *redis, const char *server, int64_t now_seconds,
                      json_t *totals)
{
    const char *values[ONLINE_STORE_SHARDS];
    size_t lengths[ONLINE_STORE_SHARDS], count = 0, index;
    char key[ONLINE_STORE_MAX_KEY];
    redisReply *reply;
    int status;

    if (online_store_key(server, key, sizeof(key)) != GIM_OK)
        return GIM_OK; /* no such key can exist */
    reply = gim_redis_command(redis, "HGETALL %s", key);
    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (reply->type != REDIS_REPLY_ARRAY) {
        gim_log_warn("online: HGETALL %s: %s", key,
                     reply->type == REDIS_REPLY_ERROR ? reply->str : "not an array");
        freeReplyObject(reply);
        return GIM_ERR_REMOTE;
    }
    if (reply->elements == 0) {
        freeReplyObject(reply);
        return GIM_OK;
    }
    for (index = 1; index < reply->elements && count < ONLINE_STORE_SHARDS; index += 2) {
        const redisReply *value = reply->element[index];
        if (value->type != REDIS_REPLY_STRING)
            continue;
        values[count] = value->str;
        lengths[count++] = value->len;
    }
    status = online_store_merge(values, lengths, count, now_seconds, totals);
    freeReplyObject(reply);
    if (status == GIM_ERR_NOT_FOUND) {
        gim_log_info("online: %s is stale or empty, deleted", key);
        reply = gim_redis_command(redis, "DEL %s", key);
        if (reply != NULL)
            freeReplyObject(reply);
        return GIM_OK;
    }
    return status;
}
