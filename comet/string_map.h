/*
 * string_map.h: a small open-addressing hash map from a C string to a pointer.
 *
 * Used by one event loop at a time (no locking): key -> connection and
 * room key -> room. The map does not copy keys: each key must stay valid
 * and unchanged while its entry is in the map (it normally points into the
 * value it maps to). Linear probing with backward-shift deletion, so there
 * are no tombstones; the table doubles at 3/4 load and never shrinks below
 * its initial size.
 */
#ifndef COMET_STRING_MAP_H
#define COMET_STRING_MAP_H

#include <stddef.h>
#include <stdint.h>

struct string_map_slot {
    const char *key; /* NULL = empty */
    void *value;
    uint32_t hash;
};

struct string_map {
    struct string_map_slot *slots;
    size_t capacity; /* power of two, or 0 before the first insert */
    size_t count;
};

/* Initialises an empty map (no allocation until the first insert). */
void string_map_init(struct string_map *map);

/* Frees the table (not the keys or values). The map is empty afterwards. */
void string_map_destroy(struct string_map *map);

/* Returns the value stored under key, or NULL. */
void *string_map_get(const struct string_map *map, const char *key);

/*
 * Stores value under key (key borrowed, see above), replacing any value
 * already there. If previous is not NULL, *previous receives the value that
 * was replaced (or NULL). Returns GIM_OK or GIM_ERR_NO_MEMORY (map unchanged).
 */
int string_map_put(struct string_map *map, const char *key, void *value, void **previous);

/* Removes key only if it maps to value. Returns 1 if removed, 0 otherwise. */
int string_map_remove_if(struct string_map *map, const char *key, const void *value);

/* Calls visit(value, context) for every entry; visit must not change the map. */
void string_map_each(const struct string_map *map, void (*visit)(void *value, void *context),
                     void *context);

#endif
