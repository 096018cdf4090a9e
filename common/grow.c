/* grow.c: growing an array by doubling (see grow.h). */
#include "common/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

int gim_grow(void *items, size_t *capacity, size_t needed, size_t item_size, size_t first_capacity,
             size_t max_items)
{
    size_t grown_capacity = *capacity ? *capacity : first_capacity;
    void *array, *grown;

    if (needed <= *capacity)
        return GIM_OK;
    if (needed > max_items)
        return GIM_ERR_TOO_LARGE;
    if (grown_capacity == 0)
        grown_capacity = 1;
    while (grown_capacity < needed)
        grown_capacity = grown_capacity > SIZE_MAX / 2 ? needed : grown_capacity * 2;
    if (grown_capacity > max_items)
        grown_capacity = max_items;
    if (item_size != 0 && grown_capacity > SIZE_MAX / item_size)
        return GIM_ERR_NO_MEMORY;
    /* the pointer is read and written as bytes: items may be any T ** */
    memcpy(&array, items, sizeof(array));
    grown = realloc(array, grown_capacity * item_size);
    if (grown == NULL)
        return GIM_ERR_NO_MEMORY;
    memcpy(items, &grown, sizeof(grown));
    *capacity = grown_capacity;
    return GIM_OK;
}
