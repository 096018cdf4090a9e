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
 * read by logic/presence_sum.h. Blocks on Redis: never on an event loop.
 */
#ifndef LOGIC_GOPUSHER_PRESENCE_H
#define LOGIC_GOPUSHER_PRESENCE_H

#include <stdint.h>

#include "logic/presence_sum.h"

struct gim_redis;

/*
 * Reads app_key's presence at Unix time now_ms into *online (an entry per
 * user_tag with its socket count; presence_sum_read's contract: free it
 * with presence_sum_clear in every case). Returns GIM_OK,
 * GIM_ERR_UNAVAILABLE or GIM_ERR_NO_MEMORY.
 */
int gopusher_presence_read(struct gim_redis *redis, const char *app_key, int64_t now_ms,
                           struct presence_sum *online);

#endif
