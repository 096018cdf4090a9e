/* push.c: push requests -> grouped PushMsg records on Kafka (see push.h). */
#include "logic/push.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"
#include "logic.pb-c.h"
#include "logic/context.h"
#include "logic/producer.h"
#include "logic/push_group.h"
#include "logic/redis_pool.h"
#include "logic/session.h"
#include "logic/session_batch.h"

void push_routes(const struct logic_context *logic, int32_t operation,
                 const struct session_routes *routes, const uint8_t *message, size_t length,
                 producer_done_fn done, void *user)
{
    struct producer_record *records;
    size_t record_count;

    if (push_group_by_server(routes, operation, message, length, &records, &record_count) !=
        GIM_OK) {
        done(user, GIM_ERR_NO_MEMORY, "out of memory");
        return;
    }
    producer_send_async(logic->producer, records, record_count, done, user); /* 0: GIM_OK */
    push_group_free(records, record_count);
}

/* Reports a failed Redis lookup to done. */
static void push_redis_failed(int status, producer_done_fn done, void *user)
{
    char error[96];

    if (status == GIM_ERR_NO_MEMORY)
        snprintf(error, sizeof(error), "out of memory");
    else
        snprintf(error, sizeof(error), "redis: %s", gim_strerror(status));
    done(user, status, error);
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
static void push_to_sessions(const struct logic_context *logic, int32_t operation,
                             const struct push_targets *targets, const uint8_t *message,
                             size_t length, producer_done_fn done, void *user)
{
    struct session_routes routes = {0};
    struct gim_redis *redis;
    int status;

    redis = redis_pool_acquire(logic->redis);
    if (redis == NULL) {
        done(user, GIM_ERR_NO_MEMORY, "out of memory");
        return;
    }
    if (targets->keys != NULL)
        status = session_routes_by_keys(redis, targets->keys, targets->count, &routes);
    else
        status = session_routes_by_mids(redis, targets->mids, targets->count, &routes);
    redis_pool_release(logic->redis, redis);
    if (status != GIM_OK)
        push_redis_failed(status, done, user);
    else
        push_routes(logic, operation, &routes, message, length, done, user);
    session_routes_free(&routes);
}

void push_keys(const struct logic_context *logic, int32_t operation, const char *const *keys,
               size_t count, const uint8_t *message, size_t length, producer_done_fn done,
               void *user)
{
    const struct push_targets targets = {.keys = keys, .count = count};

    if (count == 0) {
        done(user, GIM_ERR_INVALID, "keys: no key given");
        return;
    }
    push_to_sessions(logic, operation, &targets, message, length, done, user);
}

/* A push by mid whose lookup is queued on the session batch; the message follows the struct. */
struct push_pending {
    const struct logic_context *logic;
    int32_t operation;
    producer_done_fn done;
    void *user;
    size_t length;
    uint8_t message[];
};

/* session_batch_fn: the lookup of a push_pending came back; produce it (push_routes). */
static void push_looked_up(void *user, int status, struct session_routes *routes)
{
    struct push_pending *pending = user;

    if (status != GIM_OK)
        push_redis_failed(status, pending->done, pending->user);
    else
        push_routes(pending->logic, pending->operation, routes, pending->message, pending->length,
                    pending->done, pending->user);
    free(pending);
}

void push_mids(const struct logic_context *logic, int32_t operation, const int64_t *mids,
               size_t count, const uint8_t *message, size_t length, producer_done_fn done,
               void *user)
{
    const struct push_targets targets = {.mids = mids, .count = count};
    struct push_pending *pending;

    if (count == 0) {
        done(user, GIM_OK, "");
        return;
    }
    if (logic->sessions != NULL && count <= SESSION_BATCH_MAX_MIDS) {
        pending = malloc(sizeof(*pending) + length);
        if (pending != NULL) {
            pending->logic = logic;
            pending->operation = operation;
            pending->done = done;
            pending->user = user;
            pending->length = length;
            if (length > 0)
                memcpy(pending->message, message, length);
            if (session_batch_lookup_mids(logic->sessions, mids, count, push_looked_up, pending) ==
                GIM_OK)
                return;
            free(pending); /* refused (queue full, stopping): look up on this thread */
        }
    }
    push_to_sessions(logic, operation, &targets, message, length, done, user);
}

/* Packs push and produces it as one record with key; done as push.h. */
static void push_one_record(const struct logic_context *logic, const Goim__Logic__PushMsg *push,
                            const char *key, producer_done_fn done, void *user)
{
    struct producer_record record;
    size_t packed_size = goim__logic__push_msg__get_packed_size(push);
    uint8_t *packed = malloc(packed_size ? packed_size : 1);

    if (packed == NULL) {
        done(user, GIM_ERR_NO_MEMORY, "out of memory");
        return;
    }
    goim__logic__push_msg__pack(push, packed);
    record.key = key;
    record.key_length = strlen(key);
    record.value = packed;
    record.value_length = packed_size;
    producer_send_async(logic->producer, &record, 1, done, user);
    free(packed);
}

void push_room(const struct logic_context *logic, int32_t operation, const char *room_key,
               const uint8_t *message, size_t length, producer_done_fn done, void *user)
{
    Goim__Logic__PushMsg push = GOIM__LOGIC__PUSH_MSG__INIT;

    push.type = GOIM__LOGIC__PUSH_MSG__TYPE__ROOM;
    push.operation = operation;
    push.room = (char *)room_key;
    push.msg.data = (uint8_t *)message;
    push.msg.len = length;
    gim_log_debug("push: room=%s op=%d bytes=%zu", room_key, operation, length);
    push_one_record(logic, &push, room_key, done, user);
}

void push_room_text(const struct logic_context *logic, const char *room_key,
                    const char *user_tag_pattern, const uint8_t *message, size_t length,
                    producer_done_fn done, void *user)
{
    Goim__Logic__PushMsg push = GOIM__LOGIC__PUSH_MSG__INIT;

    push.type = GOIM__LOGIC__PUSH_MSG__TYPE__ROOM;
    push.room = (char *)room_key;
    push.msg.data = (uint8_t *)message;
    push.msg.len = length;
    push.text = true;
    if (user_tag_pattern != NULL)
        push.usertagpattern = (char *)user_tag_pattern;
    gim_log_debug("push: text room=%s pattern=%s bytes=%zu", room_key, push.usertagpattern, length);
    push_one_record(logic, &push, room_key, done, user);
}

void push_room_close(const struct logic_context *logic, const char *room_key, producer_done_fn done,
                     void *user)
{
    Goim__Logic__PushMsg push = GOIM__LOGIC__PUSH_MSG__INIT;

    push.type = GOIM__LOGIC__PUSH_MSG__TYPE__ROOM;
    push.room = (char *)room_key;
    push.closeroom = true;
    gim_log_debug("push: close room=%s", room_key);
    push_one_record(logic, &push, room_key, done, user);
}

void push_all(const struct logic_context *logic, int32_t operation, int32_t speed,
              const uint8_t *message, size_t length, producer_done_fn done, void *user)
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
    push_one_record(logic, &push, key, done, user);
}

void push_rooms_text(const struct logic_context *logic, int32_t operation,
                     const struct push_text_room *rooms, size_t count, producer_done_fn done,
                     void *user)
{
    struct producer_record *records = calloc(count ? count : 1, sizeof(*records));
    size_t index, packed_count = 0;

    if (records == NULL) {
        done(user, GIM_ERR_NO_MEMORY, "out of memory");
        return;
    }
    for (index = 0; index < count; index++) {
        Goim__Logic__PushMsg push = GOIM__LOGIC__PUSH_MSG__INIT;
        size_t packed_size;
        uint8_t *packed;

        push.type = GOIM__LOGIC__PUSH_MSG__TYPE__ROOM;
        push.operation = operation;
        push.room = (char *)rooms[index].room_key;
        push.msg.data = (uint8_t *)rooms[index].message;
        push.msg.len = rooms[index].length;
        push.text = true;
        packed_size = goim__logic__push_msg__get_packed_size(&push);
        packed = malloc(packed_size ? packed_size : 1);
        if (packed == NULL)
            break;
        goim__logic__push_msg__pack(&push, packed);
        records[index].key = rooms[index].room_key;
        records[index].key_length = strlen(rooms[index].room_key);
        records[index].value = packed;
        records[index].value_length = packed_size;
        packed_count++;
    }
    if (packed_count < count)
        done(user, GIM_ERR_NO_MEMORY, "out of memory");
    else
        producer_send_async(logic->producer, records, count, done, user); /* 0: GIM_OK */
    for (index = 0; index < packed_count; index++)
        free((void *)records[index].value);
    free(records);
}
