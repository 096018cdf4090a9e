/*
 * balancer.h: goim's load balancer for /goim/nodes/weighted (goim v2
 * internal/logic/balancer.go), which tells a client which comets to dial.
 *
 * Each live comet is a node with a fixed weight (its `weight` metadata) and
 * a connection count (`conn_count`). Per request every node gets a current
 * weight from its share of the total weight (times node.regionWeight when
 * it is in the client's region) minus half its share of the connections;
 * nodes are sorted by it, highest first, and the first one is assumed to
 * receive the client (its connection count is incremented locally until the
 * comet publishes a new count). At most BALANCER_MAX_NODES are offered.
 *
 * Thread-safe: one mutex around the node table.
 */
#ifndef LOGIC_BALANCER_H
#define LOGIC_BALANCER_H

#include <stddef.h>
#include <stdint.h>

#include "common/registry.h"

/* goim's _maxNodes, _minWeight, _maxWeight. */
#define BALANCER_MAX_NODES  5
#define BALANCER_MIN_WEIGHT 1
#define BALANCER_MAX_WEIGHT (INT64_C(1) << 20)

struct balancer;

/* One offered comet: strings malloc'd, owned by the pick (balancer_pick_free). */
struct balancer_choice {
    char *hostname;
    char *public_addrs; /* metadata.addrs, comma-joined (may be "") */
};

struct balancer_pick {
    struct balancer_choice choices[BALANCER_MAX_NODES];
    size_t count;
};

/*
 * goim's weightedNode.calculateWeight: the current weight of a node with
 * fixed_weight and current_conns, given the totals over all nodes and the
 * region gain (1.0 or node.regionWeight). 0 when total_conns is 0. Halves
 * of the connection correction round down; a negative correction never
 * goes below BALANCER_MIN_WEIGHT, a positive one never above
 * BALANCER_MAX_WEIGHT. A pure function.
 */
int64_t balancer_current_weight(int64_t fixed_weight, int64_t current_conns, int64_t total_weight,
                                int64_t total_conns, double gain);

/* Creates an empty balancer. On GIM_OK *balancer is the caller's (balancer_destroy). */
int balancer_create(struct balancer **balancer);

/*
 * Replaces the node table with the instances that are not offline (the
 * others are never offered). A node whose latest_timestamp is unchanged
 * keeps its state, including connections counted locally since. An empty
 * list empties the table (goim keeps the old table instead; see
 * balancer.c). instances stay the caller's. Returns GIM_OK or
 * GIM_ERR_NO_MEMORY (the old table is kept).
 */
int balancer_update(struct balancer *balancer, const struct gim_instance *instances, size_t count);

/*
 * Chooses up to BALANCER_MAX_NODES nodes for a client in client_region,
 * best first, into *pick (the caller's; free with balancer_pick_free) and
 * counts one connection on the first. Returns GIM_OK (pick->count may be 0)
 * or GIM_ERR_NO_MEMORY.
 */
int balancer_choose(struct balancer *balancer, const char *client_region, double region_weight,
                    struct balancer_pick *pick);

/* Frees the strings of pick. */
void balancer_pick_free(struct balancer_pick *pick);

/* Frees balancer. NULL is allowed. */
void balancer_destroy(struct balancer *balancer);

#endif
