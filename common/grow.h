/*
 * grow.h: the "double the capacity and realloc" step of a growing array or
 * byte buffer, with its overflow checks written once.
 */
#ifndef GIM_GROW_H
#define GIM_GROW_H

#include <stddef.h>

/*
 * Makes the array at *items (items is the address of the array's pointer,
 * any T **; item_size is sizeof(T), not 0) hold at least needed items. When
 * *capacity >= needed nothing changes. Otherwise the new capacity is
 * *capacity (first_capacity when it is 0) doubled until it reaches needed,
 * then lowered to max_items if it went past (SIZE_MAX: no bound), and the
 * array is reallocated to it: *items and *capacity are updated, the first
 * *capacity items kept; the caller still owns the array.
 * Returns GIM_OK; GIM_ERR_TOO_LARGE when needed > max_items;
 * GIM_ERR_NO_MEMORY when the size overflows or realloc fails (*items and
 * *capacity unchanged in both cases).
 */
int gim_grow(void *items, size_t *capacity, size_t needed, size_t item_size, size_t first_capacity,
             size_t max_items);

#endif
