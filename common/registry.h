/*
 * registry.h: the comet registry in Redis, goim-c's only discovery.
 *
 * Each comet publishes itself every few seconds as a JSON document in the
 * shape of a bilibili discovery instance (the shape goim's
 * /goim/nodes/instances returns):
 *   {"region","zone","env","appid":"goim.comet","hostname","addrs":[rpc url],
 *    "version","latest_timestamp":<unix ns>,
 *    "metadata":{"addrs","conn_count","ip_count","offline","weight"}}
 * Redis keys:
 *   goim_comet_<hostname>  STRING, that JSON, with a TTL (the liveness)
 *   goim_comets            ZSET, member hostname, score = unix seconds of
 *                          the last publish (the index to find them)
 * A comet whose key has expired is gone; index members that were not
 * refreshed for ten minutes are removed by readers.
 */
#ifndef GIM_REGISTRY_H
#define GIM_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "redis.h"

#define GIM_REGISTRY_INDEX_KEY  "goim_comets"
#define GIM_REGISTRY_KEY_PREFIX "goim_comet_"

struct gim_instance {
    char *region;
    char *zone;
    char *env;
    char *appid;
    char *hostname;    /* the comet's server id (goim's -host) */
    char *rpc_address; /* nng URL job dials, the first of "addrs" */
    char *version;
    int64_t latest_timestamp; /* unix nanoseconds of the last publish */
    char *public_addrs;       /* metadata.addrs: comma-joined public IPs for clients */
    int64_t weight;
    bool offline;
    int64_t conn_count;
    int64_t ip_count;
};

/*
 * Writes instance under its hostname with a TTL of ttl_seconds and adds it
 * to the index. latest_timestamp is written as given. Returns GIM_OK,
 * GIM_ERR_UNAVAILABLE / GIM_ERR_REMOTE (Redis unreachable / an error reply)
 * or GIM_ERR_NO_MEMORY. instance stays the caller's.
 */
int gim_registry_publish(struct gim_redis *redis, const struct gim_instance *instance,
                         int ttl_seconds);

/*
 * Sets *exists to whether hostname's entry is in the registry (its key has not
 * expired or been lost). Returns GIM_OK, GIM_ERR_UNAVAILABLE (Redis cannot be
 * reached) or GIM_ERR_REMOTE (an error reply); *exists is false on failure.
 */
int gim_registry_exists(struct gim_redis *redis, const char *hostname, bool *exists);

/* Removes hostname from the registry (graceful shutdown). Returns GIM_OK or
 * GIM_ERR_UNAVAILABLE (Redis unreachable). */
int gim_registry_withdraw(struct gim_redis *redis, const char *hostname);

/*
 * Reads every live instance (offline ones included; callers filter).
 * On GIM_OK *instances is an array of *count entries owned by the caller
 * (gim_registry_free_list), possibly empty (NULL, 0). Returns GIM_OK,
 * GIM_ERR_UNAVAILABLE (Redis cannot be reached), GIM_ERR_REMOTE (an error
 * reply) or GIM_ERR_NO_MEMORY; malformed entries are skipped.
 */
int gim_registry_list(struct gim_redis *redis, struct gim_instance **instances, size_t *count);

/*
 * A cheap summary of which comets are registered: *fingerprint is a hash of
 * the set of hostnames in the index (order-independent; their publish times
 * do not count), so it changes when a comet registers or is withdrawn.
 * One ZRANGE. Returns GIM_OK, GIM_ERR_UNAVAILABLE or GIM_ERR_REMOTE.
 */
int gim_registry_fingerprint(struct gim_redis *redis, uint64_t *fingerprint);

/* Frees an array returned by gim_registry_list. */
void gim_registry_free_list(struct gim_instance *instances, size_t count);

/* Frees the strings inside one instance (not the instance itself). */
void gim_instance_clear(struct gim_instance *instance);

/*
 * Encodes instance as the JSON document above; returns a malloc'd string
 * owned by the caller, or NULL on allocation failure.
 */
char *gim_instance_to_json(const struct gim_instance *instance);

/*
 * Decodes the JSON document above into *instance (zeroed first; strings
 * owned by instance, freed with gim_instance_clear). Returns GIM_OK or
 * GIM_ERR_INVALID.
 */
int gim_instance_from_json(const char *json, size_t length, struct gim_instance *instance);

#endif
