/*
 * gopusher_presence.h: which gopusher user_tags this comet holds, per app, written to Redis for
 * logic's listonlineuser (layer 0 of comet; docs/internals.md "gopusher", Presence).
 *
 * One comet-wide table app_key -> (user_tag -> sockets), behind one mutex held only for a hash
 * update; loops add and remove sockets as they are admitted and close. Every change marks the
 * app in the Redis writer (comet/redis_writer.h), which builds the app's whole state on its own
 * thread when its turn comes (a burst of changes is one write):
 *   MULTI, DEL gopusher/online/<app>/<server>, HSET it tag count ..., PEXPIREAT it deadline,
 *   ZADD gopusher/online/<app> deadline <server>, EXEC      (deadline = now + 30 s, Unix ms)
 * or, when its last socket left, MULTI, DEL the hash, ZREM the member, EXEC (and the app is
 * forgotten). Every 10 s (the writer's tick) every app is written again; at stop every app is
 * withdrawn (DEL + ZREM).
 */
#ifndef COMET_GOPUSHER_PRESENCE_H
#define COMET_GOPUSHER_PRESENCE_H

#include <stdint.h>

#include "comet/redis_writer.h"

#define GOPUSHER_PRESENCE_TTL_MS     30000 /* each write is valid this long */
#define GOPUSHER_PRESENCE_REFRESH_MS 10000 /* every app is written again this often */

struct gopusher_presence;

/*
 * An empty table for this comet's server id (copied). Attach a writer before the loops run.
 * Returns GIM_OK with *presence the caller's, or GIM_ERR_NO_MEMORY.
 */
int gopusher_presence_create(struct gopusher_presence **presence, const char *server);

/* The writer changes are marked in (the caller's; it must outlive every add and remove). */
void gopusher_presence_attach(struct gopusher_presence *presence, struct redis_writer *writer);

/* One more socket of app with tag (any thread). Returns GIM_OK or GIM_ERR_NO_MEMORY. */
int gopusher_presence_add(struct gopusher_presence *presence, const char *app, const char *tag);

/* One socket of app with tag fewer (any thread; one that was added). */
void gopusher_presence_remove(struct gopusher_presence *presence, const char *app, const char *tag);

/* Marks every app for writing (the writer's tick: a redis_writer_options.tick). */
void gopusher_presence_refresh(void *presence);

/* The writer's last batch at stop (redis_writer_stop's last): withdraws every app. */
int gopusher_presence_withdraw(void *presence, const char *key, struct redis_batch *batch);

/* Frees the table (after the writer stopped). NULL is allowed. */
void gopusher_presence_destroy(struct gopusher_presence *presence);

#endif
