/*
 * balancer.c: goim's weighted node choice (see balancer.h).
 *
 * Differences from goim, on purpose: goim ignores an update whose list is
 * empty or less than half the current table (flap protection against a
 * discovery glitch); here the registry is read from Redis and a failed read
 * never reaches balancer_update, so every list is taken as it is: a comet
 * that left the registry or went offline is never offered again. Ties in
 * current weight are broken by hostname so the order is deterministic
 * (goim's sort.Slice over a map is not).
 */
#include "logic/balancer.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

struct balancer_node {
    char *region;
    char *hostname;
    char *public_addrs;
    int64_t fixed_weight;
    int64_t current_weight;
    int64_t current_conns;
    int64_t updated;
};

struct balancer {
    pthread_mutex_t lock;
    struct balancer_node *nodes;
    size_t node_count;
    int64_t total_conns;
    int64_t total_weight;
};

int64_t balancer_current_weight(int64_t fixed_weight, int64_t current_conns, int64_t total_weight,
                                int64_t total_conns, double gain)
{
    double gained_weight = (double)fixed_weight * gain;
    double weight_ratio, conn_ratio, diff, multiple, floored;
    int64_t weight;

    if (total_conns <= 0)
        return 0;
    total_weight += (int64_t)gained_weight - fixed_weight;
    weight_ratio = total_weight != 0 ? gained_weight / (double)total_weight : 0.0;
    conn_ratio = (double)current_conns / (double)total_conns * 0.5;
    diff = weight_ratio - conn_ratio;
    multiple = diff * (double)total_conns;
    floored = floor(multiple);
    if (floored - multiple >= -0.5)
        weight = (int64_t)(gained_weight + floored);
    else
        weight = (int64_t)(gained_weight + ceil(multiple));
    if (diff < 0) {
        if (weight < BALANCER_MIN_WEIGHT)
            weight = BALANCER_MIN_WEIGHT;
    } else if (weight > BALANCER_MAX_WEIGHT) {
        weight = BALANCER_MAX_WEIGHT;
    }
    return weight;
}

static void balancer_node_clear(struct balancer_node *node)
{
    free(node->region);
    free(node->hostname);
    free(node->public_addrs);
}

static void balancer_nodes_free(struct balancer_node *nodes, size_t count)
{
    size_t index;

    for (index = 0; index < count; index++)
        balancer_node_clear(&nodes[index]);
    free(nodes);
}

int balancer_create(struct balancer **out)
{
    struct balancer *balancer = calloc(1, sizeof(*balancer));

    *out = NULL;
    if (balancer == NULL)
        return GIM_ERR_NO_MEMORY;
    pthread_mutex_init(&balancer->lock, NULL);
    *out = balancer;
    return GIM_OK;
}

static char *balancer_copy(const char *text)
{
    return strdup(text != NULL ? text : "");
}

int balancer_update(struct balancer *balancer, const struct gim_instance *instances, size_t count)
{
    struct balancer_node *nodes = count ? calloc(count, sizeof(*nodes)) : NULL;
    size_t index, node_count = 0, old;
    int64_t total_conns = 0, total_weight = 0;

    if (count > 0 && nodes == NULL)
        return GIM_ERR_NO_MEMORY;
    pthread_mutex_lock(&balancer->lock);
    for (index = 0; index < count; index++) {
        const struct gim_instance *instance = &instances[index];
        struct balancer_node *node = &nodes[node_count];
        const struct balancer_node *previous = NULL;

        if (instance->offline || instance->hostname == NULL)
            continue;
        for (old = 0; old < balancer->node_count; old++)
            if (strcmp(balancer->nodes[old].hostname, instance->hostname) == 0)
                previous = &balancer->nodes[old];
        node->region = balancer_copy(instance->region);
        node->hostname = balancer_copy(instance->hostname);
        node->public_addrs = balancer_copy(instance->public_addrs);
        node_count++;
        if (node->region == NULL || node->hostname == NULL || node->public_addrs == NULL) {
            pthread_mutex_unlock(&balancer->lock);
            balancer_nodes_free(nodes, node_count);
            return GIM_ERR_NO_MEMORY;
        }
        node->updated = instance->latest_timestamp;
        if (previous != NULL && previous->updated == instance->latest_timestamp) {
            node->fixed_weight = previous->fixed_weight;
            node->current_conns = previous->current_conns;
        } else {
            node->fixed_weight = instance->weight;
            node->current_conns = instance->conn_count;
        }
        total_conns += node->current_conns;
        total_weight += node->fixed_weight;
    }
    balancer_nodes_free(balancer->nodes, balancer->node_count);
    balancer->nodes = nodes;
    balancer->node_count = node_count;
    balancer->total_conns = total_conns;
    balancer->total_weight = total_weight;
    pthread_mutex_unlock(&balancer->lock);
    return GIM_OK;
}

/* Highest current weight first; ties by hostname. */
static int balancer_node_order(const void *left, const void *right)
{
    const struct balancer_node *a = *(const struct balancer_node *const *)left;
    const struct balancer_node *b = *(const struct balancer_node *const *)right;

    if (a->current_weight != b->current_weight)
        return a->current_weight > b->current_weight ? -1 : 1;
    return strcmp(a->hostname, b->hostname);
}

int balancer_choose(struct balancer *balancer, const char *client_region, double region_weight,
                    struct balancer_pick *pick)
{
    struct balancer_node **order;
    size_t index;
    int status = GIM_OK;

    memset(pick, 0, sizeof(*pick));
    pthread_mutex_lock(&balancer->lock);
    if (balancer->node_count == 0) {
        pthread_mutex_unlock(&balancer->lock);
        return GIM_OK;
    }
    order = calloc(balancer->node_count, sizeof(*order));
    if (order == NULL) {
        pthread_mutex_unlock(&balancer->lock);
        return GIM_ERR_NO_MEMORY;
    }
    for (index = 0; index < balancer->node_count; index++) {
        struct balancer_node *node = &balancer->nodes[index];
        double gain = strcmp(node->region, client_region) == 0 ? region_weight : 1.0;
        node->current_weight =
            balancer_current_weight(node->fixed_weight, node->current_conns, balancer->total_weight,
                                    balancer->total_conns, gain);
        order[index] = node;
    }
    qsort(order, balancer->node_count, sizeof(*order), balancer_node_order);
    order[0]->current_conns++;
    balancer->total_conns++;
    for (index = 0; index < balancer->node_count && index < BALANCER_MAX_NODES; index++) {
        struct balancer_choice *choice = &pick->choices[index];
        choice->hostname = strdup(order[index]->hostname);
        choice->public_addrs = strdup(order[index]->public_addrs);
        pick->count++;
        if (choice->hostname == NULL || choice->public_addrs == NULL) {
            status = GIM_ERR_NO_MEMORY;
            break;
        }
    }
    pthread_mutex_unlock(&balancer->lock);
    free(order);
    if (status != GIM_OK)
        balancer_pick_free(pick);
    return status;
}

void balancer_pick_free(struct balancer_pick *pick)
{
    size_t index;

    for (index = 0; index < pick->count; index++) {
        free(pick->choices[index].hostname);
        free(pick->choices[index].public_addrs);
    }
    pick->count = 0;
}

void balancer_destroy(struct balancer *balancer)
{
    if (balancer == NULL)
        return;
    balancer_nodes_free(balancer->nodes, balancer->node_count);
    pthread_mutex_destroy(&balancer->lock);
    free(balancer);
}
