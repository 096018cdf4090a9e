/*
 * gopusher_presence.h: which user_tags of a gopusher app are online, across
 * every comet, read from the presence keys the comets write in Redis.
 *
 * Keys (written by each comet holding gopusher sockets of the app; the
 * contract is in docs/internals.md, "gopusher"):
 *   gopusher/online/<app_key>            ZSET member = comet server id,
 *                                        score = Unix time in ms until which
 *                                        that comet's hash is valid
 *   gopusher/online/<app_key>/<server>   HASH field = user_tag, value = how many
 *                                        of that comet's sockets have it (> 0);
 *                                        PEXPIREAT at the same deadline
 * A reader takes the members whose deadline is still ahead, reads their
 * hashes and sums the counts per user_tag; members already past their
 * deadline are removed on the way (a comet that died leaves nothing behind
 * for long). Blocks on Redis: never on an event loop.
 */
#ifndef LOGIC_GOPUSHER_PRESENCE_H
#define LOGIC_GOPUSHER_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

struct gim_redis;

/* One user_tag online and its socket count over every comet. */
struct gopusher_tag {
    char *tag; /* malloc'd, NUL-terminated; length bytes (may hold other bytes than text) */
    size_t length;
    int64_t sockets;
};

/* The user_tags of one app, distinct, sorted bytewise. */
struct gopusher_online {
    struct gopusher_tag *tags; /* malloc'd array, owned */
    size_t count;
    int64_t sockets; /* sum over tags */
};

/*
 * Reads app_key's presence at Unix time now_ms into *online (zeroed first;
 * the caller frees it with gopusher_online_clear in every case). A value
 * that is not a positive decimal is ignored. Returns GIM_OK,
 * GIM_ERR_UNAVAILABLE (Redis unreachable or an error reply) or
 * GIM_ERR_NO_MEMORY.
 */
int gopusher_presence_read(struct gim_redis *redis, const char *app_key, int64_t now_ms,
                           struct gopusher_online *online);

/* Frees what gopusher_presence_read filled in and zeroes it. */
void gopusher_online_clear(struct gopusher_online *online);

#endif
