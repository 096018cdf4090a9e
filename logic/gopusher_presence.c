/* gopusher_presence.c: an app's online user_tags from the comets' Redis keys (see .h). */
#include "logic/gopusher_presence.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/redis.h"
#include "common/status.h"

#define GOPUSHER_ONLINE_PREFIX "gopusher/online/"

void gopusher_online_clear(struct gopusher_online *online)
{
    size_t index;

    for (index = 0; index < online->count; index++)
        free(online->tags[index].tag);
    free(online->tags);
    memset(online, 0, sizeof(*online));
}

static int gopusher_tag_compare(const void *left, const void *right)
{
    const struct gopusher_tag *a = left, *b = right;
    size_t shorter = a->length < b->length ? a->length : b->length;
    int order = memcmp(a->tag, b->tag, shorter);

    if (order != 0)
        return order;
    return a->length < b->length ? -1 : a->length > b->length;
}

/* A positive decimal count, or 0 for anything else. */
static int64_t gopusher_count_of(const redisReply *value)
{
    char text[24], *end;
    long long count;

    if (value->type != REDIS_REPLY_STRING || value->len == 0 || value->len >= sizeof(text))
        return 0;
    memcpy(text, value->str, value->len);
    text[value->len] = '\0';
    errno = 0;
    count = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || count <= 0)
        return 0;
    return count;
}

/* Appends the pairs of one HGETALL reply to online->tags (unsorted, duplicates allowed). */
static int gopusher_online_add(struct gopusher_online *online, size_t *capacity,
                               const redisReply *hash)
{
    size_t index;

    for (index = 0; index + 1 < hash->elements; index += 2) {
        const redisReply *tag = hash->element[index];
        int64_t sockets = gopusher_count_of(hash->element[index + 1]);
        struct gopusher_tag *entry;

        if (tag->type != REDIS_REPLY_STRING || sockets <= 0)
            continue;
        if (online->count == *capacity) {
            size_t grown_capacity = *capacity ? *capacity * 2 : 16;
            struct gopusher_tag *grown =
                realloc(online->tags, grown_capacity * sizeof(*online->tags));
            if (grown == NULL)
                return GIM_ERR_NO_MEMORY;
            online->tags = grown;
            *capacity = grown_capacity;
        }
        entry = &online->tags[online->count];
        entry->tag = malloc(tag->len + 1);
        if (entry->tag == NULL)
            return GIM_ERR_NO_MEMORY;
        memcpy(entry->tag, tag->str, tag->len);
        entry->tag[tag->len] = '\0';
        entry->length = tag->len;
        entry->sockets = sockets;
        online->count++;
    }
    return GIM_OK;
}

/* Sorts online->tags and sums the duplicates (one tag held by several comets). */
static void gopusher_online_merge(struct gopusher_online *online)
{
    size_t read, write = 0;

    if (online->count > 1)
        qsort(online->tags, online->count, sizeof(*online->tags), gopusher_tag_compare);
    online->sockets = 0;
    for (read = 0; read < online->count; read++) {
        struct gopusher_tag *entry = &online->tags[read];
        if (write > 0 && gopusher_tag_compare(&online->tags[write - 1], entry) == 0) {
            online->tags[write - 1].sockets += entry->sockets;
            free(entry->tag);
        } else {
            online->tags[write++] = *entry;
        }
        online->sockets += entry->sockets;
    }
    online->count = write;
}

int gopusher_presence_read(struct gim_redis *redis, const char *app_key, int64_t now_ms,
                           struct gopusher_online *online)
{
    redisReply *trimmed, *servers, *hash;
    size_t index, appended = 0, capacity = 0;
    int status = GIM_OK;

    memset(online, 0, sizeof(*online));
    if (gim_redis_append(redis, "ZREMRANGEBYSCORE %s%s -inf (%lld", GOPUSHER_ONLINE_PREFIX, app_key,
                         (long long)now_ms) != GIM_OK ||
        gim_redis_append(redis, "ZRANGEBYSCORE %s%s %lld +inf", GOPUSHER_ONLINE_PREFIX, app_key,
                         (long long)now_ms) != GIM_OK)
        return GIM_ERR_UNAVAILABLE;
    trimmed = gim_redis_reply(redis);
    if (trimmed == NULL)
        return GIM_ERR_UNAVAILABLE;
    freeReplyObject(trimmed);
    servers = gim_redis_reply(redis);
    if (servers == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (servers->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(servers);
        return GIM_ERR_UNAVAILABLE;
    }
    for (index = 0; index < servers->elements; index++) {
        const redisReply *server = servers->element[index];
        if (server->type != REDIS_REPLY_STRING)
            continue;
        if (gim_redis_append(redis, "HGETALL %s%s/%b", GOPUSHER_ONLINE_PREFIX, app_key, server->str,
                             server->len) != GIM_OK) {
            status = GIM_ERR_UNAVAILABLE;
            break;
        }
        appended++;
    }
    freeReplyObject(servers);
    /* Every queued reply is read, so the connection goes back to the pool clean. */
    for (index = 0; index < appended; index++) {
        hash = gim_redis_reply(redis);
        if (hash == NULL) {
            status = GIM_ERR_UNAVAILABLE; /* the connection is dropped with what is left */
            break;
        }
        if (status == GIM_OK) {
            if (hash->type == REDIS_REPLY_ARRAY)
                status = gopusher_online_add(online, &capacity, hash);
            else
                status = GIM_ERR_UNAVAILABLE;
        }
        freeReplyObject(hash);
    }
    if (status != GIM_OK) {
        gopusher_online_clear(online);
        return status;
    }
    gopusher_online_merge(online);
    return GIM_OK;
}
