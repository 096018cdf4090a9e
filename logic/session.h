/*
 * session.h: the session routing tables in Redis, exactly goim's keys.
 *
 *   mid_<mid>  HASH   field = connection key, value = comet server id (only mid > 0)
 *   key_<key>  STRING comet server id
 *
 * Both get EXPIRE <expire seconds> whenever they are written or renewed.
 * Every function takes a gim_redis borrowed by the calling thread (see
 * redis_pool.h) and pipelines its commands. Return values: GIM_OK, or
 * GIM_ERR_UNAVAILABLE when Redis cannot be reached or the connection broke,
 * or GIM_ERR_REMOTE when Redis answered a command with an error.
 */
#ifndef LOGIC_SESSION_H
#define LOGIC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gim_redis;

/* One connection key and the comet server that holds it. */
struct session_route {
    char *key;    /* owned by the list */
    char *server; /* owned by the list */
};

/* A growable list of routes; zero-initialise, free with session_routes_free. */
struct session_routes {
    struct session_route *items;
    size_t count;
    size_t capacity;
};

/* Frees every string and the array; the list is empty and reusable afterwards. */
void session_routes_free(struct session_routes *routes);

/*
 * Appends copies of key[0..key_length) and server[0..server_length) to
 * routes. Returns GIM_OK or GIM_ERR_NO_MEMORY (routes unchanged).
 */
int session_routes_append(struct session_routes *routes, const char *key, size_t key_length,
                          const char *server, size_t server_length);

/*
 * Queues one command on the pipeline of redis if nothing failed so far
 * (int status == GIM_OK in the caller's scope), counting it in the caller's
 * int pending; read the replies with session_drain. After a failed append the connection has been
 * dropped together with everything queued, so nothing is left to read.
 */
#define SESSION_QUEUE(...)                                                                         \
    do {                                                                                           \
        if (status == GIM_OK) {                                                                    \
            status = gim_redis_append(redis, __VA_ARGS__);                                         \
            if (status == GIM_OK)                                                                  \
                pending++;                                                                         \
        }                                                                                          \
    } while (0)

/*
 * Reads `pending` pipelined replies, always all of them so the connection
 * stays in step. integer_of_last (may be NULL) receives the integer of the
 * last reply. Returns GIM_OK, GIM_ERR_UNAVAILABLE or GIM_ERR_REMOTE (a
 * reply was an error; logged).
 */
int session_drain(struct gim_redis *redis, int pending, long long *integer_of_last);

/*
 * Connect: HSET mid_<mid> key server + EXPIRE (if mid > 0), SET key_<key>
 * server EX expire_seconds (SET + EXPIRE when expire_seconds <= 0), in one
 * pipeline. Strings stay the caller's.
 */
int session_add(struct gim_redis *redis, int64_t mid, const char *key, const char *server,
                int64_t expire_seconds);

/*
 * Heartbeat: EXPIRE mid_<mid> (if mid > 0) and key_<key>; if key_<key> no
 * longer exists, writes the mapping again as session_add does.
 */
int session_renew(struct gim_redis *redis, int64_t mid, const char *key, const char *server,
                  int64_t expire_seconds);

/*
 * Disconnect: HDEL mid_<mid> key (if mid > 0), DEL key_<key>. *had is set
 * to whether key_<key> existed (goim's DisconnectReply.has).
 */
int session_remove(struct gim_redis *redis, int64_t mid, const char *key, bool *had);

/*
 * MGET key_<k> for keys[0..count) and appends a route for every key that has
 * a non-empty server (keys without a session are skipped). count must be > 0
 * (GIM_ERR_INVALID otherwise). routes receives copies; keys stay the caller's.
 */
int session_routes_by_keys(struct gim_redis *redis, const char *const *keys, size_t count,
                           struct session_routes *routes);

/*
 * Pipelined HGETALL mid_<m> for mids[0..count) and appends every
 * key -> server pair found (no mids: GIM_OK and nothing appended).
 */
int session_routes_by_mids(struct gim_redis *redis, const int64_t *mids, size_t count,
                           struct session_routes *routes);

/*
 * The two halves of session_routes_by_mids, for a caller that pipelines the
 * lookups of several requests on one connection (session_batch.h):
 * session_mids_append queues HGETALL mid_<mid> for mids[0..count) without
 * sending; session_mids_read reads `count` such replies, in order, appending
 * the routes to routes (always all of them, so the connection stays in
 * step). A failed append (GIM_ERR_UNAVAILABLE) has dropped the connection
 * with everything queued on it: append nothing more on it before reading,
 * the replies of what was queued earlier are lost too (their reads return
 * GIM_ERR_UNAVAILABLE).
 */
int session_mids_append(struct gim_redis *redis, const int64_t *mids, size_t count);
int session_mids_read(struct gim_redis *redis, size_t count, struct session_routes *routes);

/*
 * The two halves of session_add, under the same rules: session_add_append
 * queues its commands without sending and sets *appended to how many it
 * queued; session_add_read reads that many replies. Strings stay the
 * caller's.
 */
int session_add_append(struct gim_redis *redis, int64_t mid, const char *key, const char *server,
                       int64_t expire_seconds, int *appended);
int session_add_read(struct gim_redis *redis, int appended);

#endif
