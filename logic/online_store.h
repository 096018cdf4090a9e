/*
 * online_store.h: the per-comet room counts in Redis, goim's ol_<server>.
 *
 *   ol_<server>  HASH, fields "0".."63" = cityhash32(room) % 64 in decimal,
 *                value = {"server":"<id>","room_count":{"<type>://<room>":N,...},
 *                         "updated":<unix seconds>}
 *                TTL redis.expire.
 *
 * Written on every RenewOnline of a comet; unlike goim, shards that became
 * empty are deleted in the same MULTI/EXEC, so a room that emptied does not
 * keep its last count. Read with one HGETALL.
 */
#ifndef LOGIC_ONLINE_STORE_H
#define LOGIC_ONLINE_STORE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/redis.h"

#define ONLINE_STORE_SHARDS     64
#define ONLINE_STORE_KEY_PREFIX "ol_"
/* A server whose newest shard is older than this is gone (goim: 5 minutes). */
#define ONLINE_STORE_STALE_SECONDS 300

/* One room of a comet: name points into the caller's memory. */
struct online_room_count {
    const char *room;
    int64_t count;
};

/* Returns the shard (0..63) of room[0..length): cityhash32 % 64, as goim. */
unsigned online_store_shard(const char *room, size_t length);

/*
 * Encodes rooms[0..count) as the 64 shard documents of ol_<server>:
 * values[shard] is a malloc'd JSON text the caller frees, or NULL for an
 * empty shard. Rooms with a count <= 0 or a name that is not UTF-8 are left
 * out. Returns GIM_OK, or GIM_ERR_NO_MEMORY with every values[] NULL.
 */
int online_store_encode(const char *server, const struct online_room_count *rooms, size_t count,
                        int64_t now_seconds, char *values[ONLINE_STORE_SHARDS]);

/*
 * Merges the shard documents values[i][0..lengths[i]) of one server into
 * totals (room -> summed count; the caller's JSON object). Undecodable
 * shards are skipped. Returns GIM_OK, GIM_ERR_NOT_FOUND (no shard, or the
 * newest "updated" is older than ONLINE_STORE_STALE_SECONDS before
 * now_seconds: nothing added) or GIM_ERR_NO_MEMORY. A pure function.
 */
int online_store_merge(const char *const *values, const size_t *lengths, size_t count,
                       int64_t now_seconds, json_t *totals);

/*
 * Replaces ol_<server> with rooms[0..count) (rooms with a count <= 0 or a
 * name that is not UTF-8 are left out), stamped updated = now_seconds, TTL
 * expire_seconds; no room left deletes the key. rooms stay the caller's.
 * Returns GIM_OK, GIM_ERR_UNAVAILABLE (Redis unreachable), GIM_ERR_REMOTE
 * (Redis refused) or GIM_ERR_NO_MEMORY.
 */
int online_store_write(struct gim_redis *redis, const char *server,
                       const struct online_room_count *rooms, size_t count, int64_t expire_seconds,
                       int64_t now_seconds);

/*
 * Reads ol_<server> with one HGETALL and adds its room counts into totals (a JSON object
 * room -> integer, the caller's). If the newest "updated" is older than
 * ONLINE_STORE_STALE_SECONDS before now_seconds the key is deleted and
 * nothing is added; undecodable shards are skipped. Returns GIM_OK (also
 * when the key is absent or stale), GIM_ERR_UNAVAILABLE / GIM_ERR_REMOTE for
 * Redis trouble, GIM_ERR_NO_MEMORY.
 */
int online_store_read(struct gim_redis *redis, const char *server, int64_t now_seconds,
                      json_t *totals);

#endif
