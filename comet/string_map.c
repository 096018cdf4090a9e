/* string_map.c: open-addressing string -> pointer map (see string_map.h). */
#include "comet/string_map.h"

#include <stdlib.h>
#include <string.h>

#include "common/status.h"

#define STRING_MAP_INITIAL 16

static uint32_t string_hash(const char *key)
{
    uint32_t hash = 2166136261u; /* FNV-1a */
    while (*key != '\0') {
        hash ^= (uint8_t)*key++;
        hash *= 16777619u;
    }
    return hash;
}

void string_map_init(struct string_map *map)
{
    map->slots = NULL;
    map->capacity = 0;
    map->count = 0;
}

void string_map_destroy(struct string_map *map)
{
    free(map->slots);
    string_map_init(map);
}

static size_t string_map_find(const struct string_map *map, const char *key, uint32_t hash)
{
    size_t mask = map->capacity - 1, index = hash & mask;

    while (map->slots[index].key != NULL) {
        if (map->slots[index].hash == hash && strcmp(map->slots[index].key, key) == 0)
            return index;
        index = (index + 1) & mask;
    }
    return index; /* the empty slot where key would go */
}

void *string_map_get(const struct string_map *map, const char *key)
{
    size_t index;

    if (map->count == 0)
        return NULL;
    index = string_map_find(map, key, string_hash(key));
    return map->slots[index].key ? map->slots[index].value : NULL;
}

static int string_map_grow(struct string_map *map)
{
    size_t capacity = map->capacity ? map->capacity * 2 : STRING_MAP_INITIAL, index;
    struct string_map_slot *old = map->slots;
    size_t old_capacity = map->capacity;

    map->slots = calloc(capacity, sizeof(*map->slots));
    if (map->slots == NULL) {
        map->slots = old;
        return GIM_ERR_NO_MEMORY;
    }
    map->capacity = capacity;
    for (index = 0; index < old_capacity; index++) {
        if (old[index].key != NULL)
            map->slots[string_map_find(map, old[index].key, old[index].hash)] = old[index];
    }
    free(old);
    return GIM_OK;
}

int string_map_put(struct string_map *map, const char *key, void *value, void **previous)
{
    uint32_t hash = string_hash(key);
    size_t index;

    if (previous != NULL)
        *previous = NULL;
    if ((map->count + 1) * 4 > map->capacity * 3 && string_map_grow(map) != GIM_OK)
        return GIM_ERR_NO_MEMORY;
    index = string_map_find(map, key, hash);
    if (map->slots[index].key != NULL) {
        if (previous != NULL)
            *previous = map->slots[index].value;
    } else {
        map->count++;
    }
    map->slots[index].key = key;
    map->slots[index].value = value;
    map->slots[index].hash = hash;
    return GIM_OK;
}

int string_map_remove_if(struct string_map *map, const char *key, const void *value)
{
    size_t mask, hole, next;

    if (map->count == 0)
        return 0;
    mask = map->capacity - 1;
    hole = string_map_find(map, key, string_hash(key));
    if (map->slots[hole].key == NULL || map->slots[hole].value != value)
        return 0;
    /* Backward-shift: move later members of the probe run into the hole. */
    next = (hole + 1) & mask;
    while (map->slots[next].key != NULL) {
        size_t home = map->slots[next].hash & mask;
        /* Move if the hole lies cyclically in [home, next). */
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            map->slots[hole] = map->slots[next];
            hole = next;
        }
        next = (next + 1) & mask;
    }
    map->slots[hole].key = NULL;
    map->slots[hole].value = NULL;
    map->count--;
    return 1;
}

void string_map_each(const struct string_map *map, void (*visit)(void *value, void *context),
                     void *context)
{
    size_t index;

    for (index = 0; index < map->capacity; index++) {
        if (map->slots[index].key != NULL)
            visit(map->slots[index].value, context);
    }
}
