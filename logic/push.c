/* push.c: push requests -> grouped PushMsg records on Kafka (see push.h). */
#include "logic/push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"
#include "logic.pb-c.h"
#include "logic/context.h"
#include "logic/producer.h"
#include "logic/redis_pool.h"
#include "logic/session.h"

/* A route with its position in the lookup result, so that sorting keeps key order. */
struct push_slot {
    const struct session_route *route;
    size_t position;
};

/* Orders by server, then by original position: groups servers, keeps each group's order. */
static int push_slot_compare(const void *left, const void *right)
{
    const struct push_slot *a = left, *b = right;
    int order = strcmp(a->route->server, b->route->server);

    if (order != 0)
        return order;
    return a->position < b->position ? -1 : a->position > b->position;
}

/* Frees the packed record values of records[0..count) and the arrays. */
static void push_records_free(struct producer_record *records, size_t count)
{
    size_t index;

    for (index = 0; index < count; index++)
        free((void *)records[index].value);
    free(records);
}

/*
 * One PUSH record per distinct server of routes, with that server's keys in
 * lookup order; record key = keys[0] as goim. Produces them and waits.
 */
static int push_routes(const struct logic_context *logic, int32_t operation,
                       const struct session_routes *routes, const uint8_t *message, size_t length,
                       char *error, size_t error_size)
{
    struct push_slot *slots;
    struct producer_record *records;
    char **keys;
    size_t index, start, record_count = 0;
    int status = GIM_OK;

    if (routes->count == 0)
        return GIM_OK;
    slots = calloc(routes->count, sizeof(*slots));
    keys = calloc(routes->count, sizeof(*keys));
    records = calloc(routes->count, sizeof(*records)); /* at most one per route */
    if (slots == NULL || keys == NULL || records == NULL) {
        free(slots);
        free(keys);
        free(records);
        snprintf(error, error_size, "out of memory");
        return GIM_ERR_NO_MEMORY;
    }
    for (index = 0; index < routes->count; index++) {
        slots[index].route = &routes->items[index];
        slots[index].position = index;
    }
    qsort(slots, routes->count, sizeof(*slots), push_slot_compare);
    for (index = 0; index < routes->count; index++)
        keys[index] = slots[index].route->key;

    for (start = 0; start < routes->count && status == GIM_OK;) {
        Goim__Logic__PushMsg push = GOIM__LOGIC__PUSH_MSG__INIT;
        size_t end = start + 1, packed_size;
        uint8_t *packed;

        while (end < routes->count &&
               strcmp(slots[end].route->server, slots[start].route->server) == 0)
            end++;
        push.type = GOIM__LOGIC__PUSH_MSG__TYPE__PUSH;
        push.operation = operation;
        push.server = slots[start].route->server;
        push.n_keys = end - start;
        push.keys = &keys[start];
        push.msg.data = (uint8_t *)message;
        push.msg.len = length;
        packed_size = goim__logic__push_msg__get_packed_size(&push);
        packed = malloc(packed_size ? packed_size : 1);
        if (packed == NULL) {
            snprintf(error, error_size, "out of memory");
            status = GIM_ERR_NO_MEMORY;
            break;
        }
        goim__logic__push_msg__pack(&push, packed);
        records[record_count].key = keys[start];
        records[record_count].key_length = strlen(keys[start]);
        records[record_count].value = packed;
        records[record_count].value_length = packed_size;
        record_count++;
        gim_log_debug("push: server=%s keys=%zu op=%d bytes=%zu", push.server, push.n_keys,
                      operation, length);
        start = end;
    }
    if (status == GIM_OK)
        status = producer_send(logic->producer, records, record_count, error, error_size);
    push_records_free(records, record_count);
    free(keys);
    free(slots);
    return status;
}

/* Writes the text of a failed Redis lookup into error; returns status unchanged. */
static int push_redis_failed(int status, char *error, size_t error_size)
{
    if (status == GIM_ERR_NO_MEMORY)
        snprintf(error, error_size, "out of memory");
    else
        snprintf(error, error_size, "redis: %s", gim_strerror(status));
    return status;
}

/* Whose sessions a PUSH goes to: connection keys or user ids (exactly one of them is set). */
struct push_targets {
    const char *const *keys;
    const int64_t *mids;
    size_t count;
};

/*
 * Looks the sessions of targets up in Redis (one pooled connection, given
 * back before anything is produced), then produces one PUSH record per
 * comet server holding some of them (push_routes).
 */
static int push_to_sessions(const struct logic_context *logic, int32_t operation,
                            const struct push_targets *targets, const uint8_t *message,
                            size_t length, char *error, size_t error_size)
{
    struct session_routes routes = {0};
    struct gim_redis *redis;
    int status;

    redis = redis_pool_acquire(logic->redis);
    if (redis == NULL) {
        snprintf(error, error_size, "out of memory");
        return GIM_ERR_NO_MEMORY;
    }
    if (targets->keys != NULL)
        status = session_routes_by_keys(redis, targets->keys, targets->count, &routes);
    else
        status = session_routes_by_mids(redis, targets->mids, targets->count, &routes);
    redis_pool_release(logic->redis, redis);
    if (status != GIM_OK)
        status = push_redis_failed(status, error, error_size);
    else
        status = push_routes(logic, operation, &routes, message, length, error, error_size);
    session_routes_free(&routes);
    return status;
}

int push_keys(const struct logic_context *logic, int32_t operation, const char *const *keys,
              size_t count, const uint8_t *message, size_t length, char *error, size_t error_size)
{
    const struct push_targets targets = {.keys = keys, .count = count};

    if (count == 0) {
        snprintf(error, error_size, "keys: no key given");
        return GIM_ERR_INVALID;
    }
    return push_to_sessions(logic, operation, &targets, message, length, error, error_size);
}

int push_mids(const struct logic_context *logic, int32_t operation, const int64_t *mids,
              size_t count, const uint8_t *message, size_t length, char *error, size_t error_size)
{
    const struct push_targets targets = {.mids = mids, .count = count};

    if (count == 0)
        return GIM_OK;
    return push_to_sessions(logic, operation, &targets, message, length, error, error_size);
}

/* Packs push and produces it as one record with key; waits for Kafka. */
static int push_one_record(const struct logic_context *logic, const Goim__Logic__PushMsg *push,
                           const char *key, char *error, size_t error_size)
{
    struct producer_record record;
    size_t packed_size = goim__logic__push_msg__get_packed_size(push);
    uint8_t *packed = malloc(packed_size ? packed_size : 1);
    int status;

    if (packed == NULL) {
        snprintf(error, error_size, "out of memory");
        return GIM_ERR_NO_MEMORY;
    }
    goim__logic__push_msg__pack(push, packed);
    record.key = key;
    record.key_length = strlen(key);
    record.value = packed;
    record.value_length = packed_size;
    status = producer_send(logic->producer, &record, 1, error, error_size);
    free(packed);
    return status;
}

int push_room(const struct logic_context *logic, int32_t operation, const char *room_key,
              const uint8_t *message, size_t length, char *error, size_t error_size)
{
    Goim__Logic__PushMsg push = GOIM__LOGIC__PUSH_MSG__INIT;

    push.type = GOIM__LOGIC__PUSH_MSG__TYPE__ROOM;
    push.operation = operation;
    push.room = (char *)room_key;
    push.msg.data = (uint8_t *)message;
    push.msg.len = length;
    gim_log_debug("push: room=%s op=%d bytes=%zu", room_key, operation, length);
    return push_one_record(logic, &push, room_key, error, error_size);
}

int push_all(const struct logic_context *logic, int32_t operation, int32_t speed,
             const uint8_t *message, size_t length, char *error, size_t error_size)
{
    Goim__Logic__PushMsg push = GOIM__LOGIC__PUSH_MSG__INIT;
    char key[16];

    snprintf(key, sizeof(key), "%d", (int)operation);
    push.type = GOIM__LOGIC__PUSH_MSG__TYPE__BROADCAST;
    push.operation = operation;
    push.speed = speed;
    push.msg.data = (uint8_t *)message;
    push.msg.len = length;
    gim_log_debug("push: broadcast op=%d speed=%d bytes=%zu", operation, speed, length);
    return push_one_record(logic, &push, key, error, error_size);
}
