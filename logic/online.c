/* online.c: the refreshed cluster-wide view of comets and rooms (see online.h). */
#include "logic/online.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/status.h"
#include "logic/balancer.h"
#include "logic/online_store.h"
#include "logic/redis_pool.h"

/*
 * Bound: at most this many distinct rooms in the cluster-wide view. Rooms
 * past it (in ol_ hashes read later in a round) are left out and the round
 * logs it; the comets' own counts are not affected.
 */
#define ONLINE_MAX_ROOMS (1u << 20)

/*
 * Between rounds the refresher looks this often at which comets are
 * registered (one ZRANGE) and refreshes at once when that set changed or
 * while the view has no comet, so a new comet is offered within about this
 * long instead of up to online.interval later.
 */
#define ONLINE_WATCH_MS 250

struct logic_online {
    struct redis_pool *pool;
    struct balancer *balancer;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct logic_online_snapshot *current; /* NULL before the first successful refresh */
    int last_status;                       /* of the last refresh */
    bool started;
    bool stopping;
    int64_t interval_ms;
    pthread_t thread;
};

static void logic_online_snapshot_free(struct logic_online_snapshot *snapshot)
{
    size_t index;

    if (snapshot == NULL)
        return;
    for (index = 0; index < snapshot->room_count; index++)
        free(snapshot->rooms[index].room);
    free(snapshot->rooms);
    gim_registry_free_list(snapshot->instances, snapshot->instance_count);
    free(snapshot);
}

int logic_online_create(struct logic_online **out, struct redis_pool *pool,
                        struct balancer *balancer)
{
    struct logic_online *online = calloc(1, sizeof(*online));

    *out = NULL;
    if (online == NULL)
        return GIM_ERR_NO_MEMORY;
    online->pool = pool;
    online->balancer = balancer;
    online->last_status = GIM_ERR_UNAVAILABLE;
    pthread_mutex_init(&online->lock, NULL);
    gim_cond_init_monotonic(&online->wake); /* the interval ignores clock jumps */
    *out = online;
    return GIM_OK;
}

static int online_room_order(const void *left, const void *right)
{
    return strcmp(((const struct logic_online_room *)left)->room,
                  ((const struct logic_online_room *)right)->room);
}

/* Moves totals (room -> count) into snapshot->rooms, sorted. */
static int online_snapshot_rooms(struct logic_online_snapshot *snapshot, json_t *totals)
{
    const char *room;
    json_t *count;
    size_t size = json_object_size(totals);

    if (size == 0)
        return GIM_OK;
    snapshot->rooms = calloc(size, sizeof(*snapshot->rooms));
    if (snapshot->rooms == NULL)
        return GIM_ERR_NO_MEMORY;
    json_object_foreach(totals, room, count)
    {
        struct logic_online_room *slot = &snapshot->rooms[snapshot->room_count];
        slot->room = strdup(room);
        if (slot->room == NULL)
            return GIM_ERR_NO_MEMORY;
        slot->count = json_integer_value(count);
        snapshot->room_count++;
    }
    qsort(snapshot->rooms, snapshot->room_count, sizeof(*snapshot->rooms), online_room_order);
    return GIM_OK;
}

/* Reads the registry and the ol_ hashes into a new snapshot. */
static int online_load(struct gim_redis *redis, struct logic_online_snapshot **out)
{
    struct gim_instance *instances = NULL;
    struct logic_online_snapshot *snapshot;
    json_t *totals;
    size_t count = 0, index, live = 0;
    int64_t now = (int64_t)time(NULL);
    int status;

    *out = NULL;
    status = gim_registry_list(redis, &instances, &count);
    if (status != GIM_OK)
        return status;
    snapshot = calloc(1, sizeof(*snapshot));
    totals = json_object();
    if (snapshot == NULL || totals == NULL) {
        free(snapshot);
        json_decref(totals);
        gim_registry_free_list(instances, count);
        return GIM_ERR_NO_MEMORY;
    }
    /* Keep only the comets that are not offline, compacted to the front. */
    for (index = 0; index < count; index++) {
        if (instances[index].offline) {
            gim_instance_clear(&instances[index]);
            continue;
        }
        if (live != index) {
            instances[live] = instances[index];
            memset(&instances[index], 0, sizeof(instances[index]));
        }
        live++;
    }
    snapshot->instances = instances;
    snapshot->instance_count = live;
    for (index = 0; index < live && status == GIM_OK; index++) {
        snapshot->conn_count += instances[index].conn_count;
        snapshot->ip_count += instances[index].ip_count;
        status = online_store_read(redis, instances[index].hostname, now, totals);
        if (json_object_size(totals) > ONLINE_MAX_ROOMS) {
            gim_log_warn("online: more than %u rooms, the rest left out", ONLINE_MAX_ROOMS);
            break;
        }
    }
    /* The tail slots past `live` own no strings now: freeing `live` entries frees everything. */
    if (status == GIM_OK)
        status = online_snapshot_rooms(snapshot, totals);
    json_decref(totals);
    if (status != GIM_OK) {
        logic_online_snapshot_free(snapshot);
        return status;
    }
    *out = snapshot;
    return GIM_OK;
}

int logic_online_refresh(struct logic_online *online)
{
    struct gim_redis *redis = redis_pool_acquire(online->pool);
    struct logic_online_snapshot *snapshot = NULL, *old = NULL;
    int status;

    status = redis == NULL ? GIM_ERR_NO_MEMORY : online_load(redis, &snapshot);
    redis_pool_release(online->pool, redis);
    if (status == GIM_OK &&
        balancer_update(online->balancer, snapshot->instances, snapshot->instance_count) != GIM_OK)
        gim_log_warn("online: balancer not updated (out of memory)");
    pthread_mutex_lock(&online->lock);
    if (status != GIM_OK && online->last_status == GIM_OK)
        gim_log_warn("online: refresh failed: %s (online API answers -500 until it recovers)",
                     gim_strerror(status));
    else if (status == GIM_OK && online->last_status != GIM_OK && online->started)
        gim_log_info("online: refresh works again");
    online->last_status = status;
    if (status == GIM_OK) {
        snapshot->references = 1;
        old = online->current;
        online->current = snapshot;
        if (old != NULL && --old->references > 0)
            old = NULL; /* a reader still holds it; its release frees it */
    }
    pthread_mutex_unlock(&online->lock);
    logic_online_snapshot_free(old);
    return status;
}

/* Whether the view must be rebuilt before its round: the registered set changed, or the view
 * has no comet (or failed). *fingerprint is the last set seen, updated here. */
static bool online_registry_changed(struct logic_online *online, uint64_t *fingerprint)
{
    struct gim_redis *redis = redis_pool_acquire(online->pool);
    uint64_t now_seen = 0;
    bool empty;
    int status;

    status = redis == NULL ? GIM_ERR_NO_MEMORY : gim_registry_fingerprint(redis, &now_seen);
    redis_pool_release(online->pool, redis);
    pthread_mutex_lock(&online->lock);
    empty = online->last_status != GIM_OK || online->current == NULL ||
            online->current->instance_count == 0;
    pthread_mutex_unlock(&online->lock);
    if (status != GIM_OK)
        return false; /* Redis trouble: the round finds it and marks the view failed */
    if (now_seen != *fingerprint) {
        *fingerprint = now_seen;
        return true;
    }
    return empty && now_seen != (uint64_t)0;
}

static void *online_thread(void *argument)
{
    struct logic_online *online = argument;
    int64_t next_round = gim_monotonic_ms() + online->interval_ms;
    uint64_t fingerprint = 0;
    struct gim_redis *redis = redis_pool_acquire(online->pool);

    if (redis != NULL) /* the set the start-up refresh saw (or one registered since) */
        gim_registry_fingerprint(redis, &fingerprint);
    redis_pool_release(online->pool, redis);
    for (;;) {
        struct timespec deadline;
        int64_t wait = next_round - gim_monotonic_ms();
        bool changed;

        gim_deadline_after_ms(&deadline,
                              wait < ONLINE_WATCH_MS ? (wait > 0 ? wait : 0) : ONLINE_WATCH_MS);
        pthread_mutex_lock(&online->lock);
        while (!online->stopping &&
               pthread_cond_timedwait(&online->wake, &online->lock, &deadline) == 0)
            ;
        if (online->stopping) {
            pthread_mutex_unlock(&online->lock);
            return NULL;
        }
        pthread_mutex_unlock(&online->lock);
        changed = online_registry_changed(online, &fingerprint);
        if (changed || gim_monotonic_ms() >= next_round) {
            logic_online_refresh(online);
            next_round = gim_monotonic_ms() + online->interval_ms;
        }
    }
}

int logic_online_start(struct logic_online *online, int64_t interval_ms)
{
    online->interval_ms = interval_ms;
    logic_online_refresh(online); /* the view is ready before logic says it is */
    if (pthread_create(&online->thread, NULL, online_thread, online) != 0)
        return GIM_ERR_IO;
    online->started = true;
    return GIM_OK;
}

int logic_online_acquire(struct logic_online *online, struct logic_online_snapshot **snapshot)
{
    int status;

    pthread_mutex_lock(&online->lock);
    status = online->last_status;
    *snapshot = NULL;
    if (status == GIM_OK && online->current != NULL) {
        online->current->references++;
        *snapshot = online->current;
    } else if (status == GIM_OK) {
        status = GIM_ERR_UNAVAILABLE;
    }
    pthread_mutex_unlock(&online->lock);
    return status;
}

void logic_online_release(struct logic_online *online, struct logic_online_snapshot *snapshot)
{
    bool last;

    if (snapshot == NULL)
        return;
    pthread_mutex_lock(&online->lock);
    last = --snapshot->references == 0;
    pthread_mutex_unlock(&online->lock);
    if (last)
        logic_online_snapshot_free(snapshot);
}

int64_t logic_online_room_lookup(const struct logic_online_snapshot *snapshot, const char *room)
{
    struct logic_online_room key = {(char *)room, 0};
    const struct logic_online_room *found =
        snapshot->room_count == 0 ? NULL
                                  : bsearch(&key, snapshot->rooms, snapshot->room_count,
                                            sizeof(*snapshot->rooms), online_room_order);
    return found ? found->count : 0;
}

void logic_online_destroy(struct logic_online *online)
{
    if (online == NULL)
        return;
    if (online->started) {
        pthread_mutex_lock(&online->lock);
        online->stopping = true;
        pthread_cond_signal(&online->wake);
        pthread_mutex_unlock(&online->lock);
        pthread_join(online->thread, NULL);
    }
    if (online->current != NULL && --online->current->references == 0)
        logic_online_snapshot_free(online->current);
    pthread_cond_destroy(&online->wake);
    pthread_mutex_destroy(&online->lock);
    free(online);
}
