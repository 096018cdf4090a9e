/* push_group.c: the PUSH records of a lookup, one per comet server (see push_group.h). */
#include "logic/push_group.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/status.h"
#include "logic.pb-c.h"

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

void push_group_free(struct producer_record *records, size_t count)
{
    size_t index;

    if (records == NULL)
        return;
    for (index = 0; index < count; index++)
        free((void *)records[index].value);
    free(records);
}

int push_group_by_server(const struct session_routes *routes, int32_t operation,
                         const uint8_t *message, size_t length, struct producer_record **out,
                         size_t *out_count)
{
    struct push_slot *slots;
    struct producer_record *records;
    char **keys;
    size_t index, start, record_count = 0;

    *out = NULL;
    *out_count = 0;
    if (routes->count == 0)
        return GIM_OK;
    slots = calloc(routes->count, sizeof(*slots));
    keys = calloc(routes->count, sizeof(*keys));
    records = calloc(routes->count, sizeof(*records)); /* at most one per route */
    if (slots == NULL || keys == NULL || records == NULL) {
        free(slots);
        free(keys);
        free(records);
        return GIM_ERR_NO_MEMORY;
    }
    for (index = 0; index < routes->count; index++) {
        slots[index].route = &routes->items[index];
        slots[index].position = index;
    }
    qsort(slots, routes->count, sizeof(*slots), push_slot_compare);
    for (index = 0; index < routes->count; index++)
        keys[index] = slots[index].route->key;

    for (start = 0; start < routes->count;) {
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
            push_group_free(records, record_count);
            free(keys);
            free(slots);
            return GIM_ERR_NO_MEMORY;
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
    free(keys);
    free(slots);
    *out = records;
    *out_count = record_count;
    return GIM_OK;
}
