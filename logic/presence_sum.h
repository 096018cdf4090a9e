/*
 * presence_sum.h: names online across every comet, summed from the presence
 * keys comets write in Redis (gopusher's user_tags, gusher's users and
 * channels; the keys of each dialect are in docs/internals.md).
 *
 *   <index>                    ZSET member = comet server id, score = Unix time in
 *                              ms until which that comet's hashes are valid
 *   <index>/<server><suffix>   HASH field = a name, value = how many of that
 *                              comet's sockets have it (decimal > 0), PEXPIREAT
 *                              the same deadline
 *
 * A reader drops the members past their deadline (a comet that died leaves
 * nothing behind for long), reads the hashes of the others in one pipeline
 * and sums the counts per name. Blocks on Redis: never on an event loop.
 */
#ifndef LOGIC_PRESENCE_SUM_H
#define LOGIC_PRESENCE_SUM_H

#include <stddef.h>
#include <stdint.h>

struct gim_redis;

/* One name online and its socket count over every comet. */
struct presence_entry {
    char *name; /* malloc'd, length bytes and a NUL (the bytes may hold a NUL) */
    size_t length;
    int64_t count;
};

/* The names of one presence hash family, distinct, sorted bytewise. */
struct presence_sum {
    struct presence_entry *entries; /* malloc'd array of size, owned */
    size_t size;
    int64_t total; /* sum of the counts */
};

/*
 * Reads the family index[0..index_length) / suffix (a NUL-terminated
 * string, "" for none) at Unix time now_ms into *sum (zeroed first; free
 * it with presence_sum_clear in every case). A value that is not a
 * positive decimal is ignored. Returns GIM_OK, GIM_ERR_UNAVAILABLE (Redis
 * unreachable or an error reply) or GIM_ERR_NO_MEMORY.
 */
int presence_sum_read(struct gim_redis *redis, const char *index, size_t index_length,
                      const char *suffix, size_t suffix_length, int64_t now_ms,
                      struct presence_sum *sum);

/* Frees what presence_sum_read filled in and zeroes it. */
void presence_sum_clear(struct presence_sum *sum);

/* Unix time in milliseconds (presence deadlines are wall-clock). */
int64_t presence_now_ms(void);

#endif
