/* presence_sum.c: names online summed over the comets' presence hashes (see presence_sum.h). */
#include "logic/presence_sum.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/grow.h"
#include "common/redis.h"
#include "common/status.h"

int64_t presence_now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void presence_sum_clear(struct presence_sum *sum)
{
    size_t index;

    for (index = 0; index < sum->size; index++)
        free(sum->entries[index].name);
    free(sum->entries);
    memset(sum, 0, sizeof(*sum));
}

static int presence_entry_compare(const void *left, const void *right)
{
    const struct presence_entry *a = left, *b = right;
    size_t shorter = a->length < b->length ? a->length : b->length;
    int order = memcmp(a->name, b->name, shorter);

    if (order != 0)
        return order;
    return a->length < b->length ? -1 : a->length > b->length;
}

/* A positive decimal count, or 0 for anything else. */
static int64_t presence_count_of(const redisReply *value)
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

/* Appends the pairs of one HGETALL reply to sum->entries (unsorted, duplicates allowed). */
static int presence_sum_add(struct presence_sum *sum, size_t *capacity, const redisReply *hash)
{
    size_t index;

    for (index = 0; index + 1 < hash->elements; index += 2) {
        const redisReply *name = hash->element[index];
        int64_t sockets = presence_count_of(hash->element[index + 1]);
        struct presence_entry *entry;

        if (name->type != REDIS_REPLY_STRING || sockets <= 0)
            continue;
        if (gim_grow(&sum->entries, capacity, sum->size + 1, sizeof(*sum->entries), 16, SIZE_MAX) !=
            GIM_OK)
            return GIM_ERR_NO_MEMORY;
        entry = &sum->entries[sum->size];
        entry->name = malloc(name->len + 1);
        if (entry->name == NULL)
            return GIM_ERR_NO_MEMORY;
        memcpy(entry->name, name->str, name->len);
        entry->name[name->len] = '\0';
        entry->length = name->len;
        entry->count = sockets;
        sum->size++;
    }
    return GIM_OK;
}

/* Sorts sum->entries and sums the duplicates (one tag held by several comets). */
static void presence_sum_merge(struct presence_sum *sum)
{
    size_t read, write = 0;

    if (sum->size > 1)
        qsort(sum->entries, sum->size, sizeof(*sum->entries), presence_entry_compare);
    sum->total = 0;
    for (read = 0; read < sum->size; read++) {
        struct presence_entry *entry = &sum->entries[read];
        if (write > 0 && presence_entry_compare(&sum->entries[write - 1], entry) == 0) {
            sum->entries[write - 1].count += entry->count;
            free(entry->name);
        } else {
            sum->entries[write++] = *entry;
        }
        sum->total += entry->count;
    }
    sum->size = write;
}

int presence_sum_read(struct gim_redis *redis, const char *index_key, size_t index_length,
                      const char *suffix, size_t suffix_length, int64_t now_ms,
                      struct presence_sum *sum)
{
    redisReply *trimmed, *servers, *hash;
    size_t index, appended = 0, capacity = 0;
    int status = GIM_OK;

    memset(sum, 0, sizeof(*sum));
    if (gim_redis_append(redis, "ZREMRANGEBYSCORE %b -inf (%lld", index_key, index_length,
                         (long long)now_ms) != GIM_OK ||
        gim_redis_append(redis, "ZRANGEBYSCORE %b %lld +inf", index_key, index_length,
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
        if (gim_redis_append(redis, "HGETALL %b/%b%b", index_key, index_length, server->str,
                             server->len, suffix, suffix_length) != GIM_OK) {
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
                status = presence_sum_add(sum, &capacity, hash);
            else
                status = GIM_ERR_UNAVAILABLE;
        }
        freeReplyObject(hash);
    }
    if (status != GIM_OK) {
        presence_sum_clear(sum);
        return status;
    }
    presence_sum_merge(sum);
    return GIM_OK;
}
