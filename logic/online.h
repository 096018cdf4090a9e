/*
 * online.h: logic's cluster-wide view of the live comets and their rooms.
 *
 * Every online.interval (and once at start) a refresher thread rebuilds
 * the view from Redis: the live comets of the registry (offline ones left
 * out), the sum of their conn_count / ip_count metadata, and the room
 * counts summed over their ol_<server> hashes (online_store.h). It also
 * feeds the balancer. A round that cannot read Redis keeps the previous
 * view but marks it failed, so that the online API answers -500 until a
 * round succeeds again.
 *
 * Readers take an immutable snapshot (reference counted), so an HTTP or
 * RPC thread never holds a lock while it builds its answer.
 */
#ifndef LOGIC_ONLINE_H
#define LOGIC_ONLINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/registry.h"

struct logic_online;
struct balancer;
struct redis_pool;

/* One room of the cluster-wide counts. */
struct logic_online_room {
    char *room; /* "<type>://<room>" */
    int64_t count;
};

/* The view at one refresh; read-only for holders. */
struct logic_online_snapshot {
    struct logic_online_room *rooms; /* sorted by room name */
    size_t room_count;
    int64_t conn_count; /* sum of the live comets' conn_count metadata */
    int64_t ip_count;
    struct gim_instance *instances; /* the live, not offline comets */
    size_t instance_count;
    int references; /* guarded by the online's lock */
};

/*
 * Creates the view (empty, marked "not loaded yet") for the comets of the
 * registry reached through pool, updating balancer on every refresh; both
 * stay the caller's and must outlive the online. Starts nothing. On GIM_OK
 * *online is the caller's (logic_online_destroy).
 */
int logic_online_create(struct logic_online **online, struct redis_pool *pool,
                        struct balancer *balancer);

/*
 * Runs one refresh now (on the caller's thread): registry, ol_ hashes,
 * balancer. Returns GIM_OK, or the Redis error (view kept, marked failed).
 */
int logic_online_refresh(struct logic_online *online);

/*
 * Runs one refresh on the caller's thread (bounded by redis.timeout per
 * command), then starts the refresher thread, which refreshes every
 * interval_ms. Returns GIM_OK (also when that first refresh failed: the
 * thread keeps trying) or GIM_ERR_IO (no thread).
 */
int logic_online_start(struct logic_online *online, int64_t interval_ms);

/*
 * Takes a reference on the current snapshot into *snapshot (release with
 * logic_online_release). Returns GIM_OK, or the status of the last refresh when
 * it failed (or GIM_ERR_UNAVAILABLE before the first one), with
 * *snapshot NULL.
 */
int logic_online_acquire(struct logic_online *online, struct logic_online_snapshot **snapshot);

/* Drops a reference taken by logic_online_acquire. NULL is allowed. */
void logic_online_release(struct logic_online *online, struct logic_online_snapshot *snapshot);

/* Returns the count of room in snapshot (0 if unknown). */
int64_t logic_online_room_lookup(const struct logic_online_snapshot *snapshot, const char *room);

/* Stops the refresher thread (if started) and frees online. NULL is allowed. */
void logic_online_destroy(struct logic_online *online);

#endif
