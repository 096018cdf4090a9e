/*
 * gusher_presence.h: what this comet tells Redis about its gusher sockets (layer 0).
 *
 * One comet-wide table, app -> its sockets per user_id and its subscriptions per channel
 * (and per user_id within a channel), behind one mutex held only for a hash update, so loops
 * call it on every admission, subscription and close. A change marks its app; a writer (any
 * thread, off the loops) turns the marked apps, or all of them on a full round, into one
 * Redis transaction each with the keys of docs/internals.md ("gusher", Presence):
 *   gusher/presence/<app>                          ZSET  server -> deadline (Unix ms)
 *   gusher/presence/<app>/<server>/users           HASH  user_id -> sockets ("" left out)
 *   gusher/presence/<app>/<server>/channels        HASH  channel -> subscribed sockets
 *   gusher/presence/<app>/<server>/channel/<ch>    HASH  user_id -> subscribed sockets
 * each hash rewritten whole (DEL, HSET, PEXPIREAT deadline); an app whose last socket left
 * gets DEL of its keys and ZREM of this server, and is forgotten. Counts that reach zero are
 * kept until the round that writes them away.
 */
#ifndef COMET_GUSHER_PRESENCE_H
#define COMET_GUSHER_PRESENCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comet/string_map.h"

struct gusher_presence {
    pthread_mutex_t lock;
    struct string_map apps; /* app_key -> its counts (owned) */
    bool dirty;             /* some app changed since the last round */
};

/* Initialises an empty table. */
void gusher_presence_init(struct gusher_presence *presence);

/* Frees the table. No thread may use it any more. */
void gusher_presence_destroy(struct gusher_presence *presence);

/* A socket of app for user_id opened (delta +1) or closed (-1). Any thread; a change that
 * cannot allocate is dropped (counted one low until the next change of that entry). */
void gusher_presence_socket(struct gusher_presence *presence, const char *app_key,
                            const char *user_id, int delta);

/* A socket of app for user_id subscribed channel (+1) or left it (-1). Any thread. */
void gusher_presence_channel(struct gusher_presence *presence, const char *app_key,
                             const char *user_id, const char *channel, int delta);

/* True when a change waits for a round. Any thread. */
bool gusher_presence_dirty(struct gusher_presence *presence);

/*
 * One round: for each app changed since the last round (every app when full), calls
 * emit(context, commands, length, count) with one MULTI ... EXEC transaction as Redis
 * protocol bytes (commands[0..length), count commands; valid during the call) for this
 * server, each hash expiring at deadline_ms (Unix ms). withdraw: write every app away as if
 * it had no socket (the comet stops). emit returns GIM_OK, or an error: the app stays marked
 * for the next round. Returns GIM_OK or GIM_ERR_NO_MEMORY (the rest waits for the next round).
 */
int gusher_presence_round(struct gusher_presence *presence, const char *server, int64_t deadline_ms,
                          bool full, bool withdraw,
                          int (*emit)(void *context, const char *commands, size_t length,
                                      int count),
                          void *context);

#endif
