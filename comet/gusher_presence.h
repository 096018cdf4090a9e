/*
 * gusher_presence.h: what this comet tells Redis about its gusher sockets (layer 0).
 *
 * One comet-wide table, app -> its sockets per user_id and its subscriptions per channel
 * (and per user_id within a channel), behind one mutex held only for a hash update, so loops
 * call it on every admission, subscription and close. A change marks its app; a writer (any
 * thread, off the loops: comet/redis_writer.h) turns each marked app, or all of them at a
 * refresh, into one Redis transaction with the keys of docs/internals.md ("gusher", Presence):
 *   gusher/presence/<app>                          ZSET  server -> deadline (Unix ms)
 *   gusher/presence/<app>/<server>/users           HASH  user_id -> sockets ("" left out)
 *   gusher/presence/<app>/<server>/channels        HASH  channel -> subscribed sockets
 *   gusher/presence/<app>/<server>/channel/<ch>    HASH  user_id -> subscribed sockets
 * each hash rewritten whole (DEL, HSET, PEXPIREAT deadline); an app whose last socket left
 * gets DEL of its keys and ZREM of this server, and is forgotten. Counts that reach zero are
 * kept until the write that takes them away.
 */
#ifndef COMET_GUSHER_PRESENCE_H
#define COMET_GUSHER_PRESENCE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comet/redis_writer.h"
#include "comet/string_map.h"

struct redis_writer;

struct gusher_presence {
    pthread_mutex_t lock;
    struct string_map apps; /* app_key -> its counts (owned) */
    /* set by gusher_presence_attach: where changes are written */
    struct redis_writer *writer;
    char *server;
};

/* Initialises an empty table that writes nowhere (until gusher_presence_attach). */
void gusher_presence_init(struct gusher_presence *presence);

/* Frees the table. No thread may use it any more. */
void gusher_presence_destroy(struct gusher_presence *presence);

/*
 * From now on a change of an app marks it in writer (redis_writer_mark, key
 * "gusher/presence/<app>"), whose build writes the app's state for server (copied) with
 * deadline now + 30 s. Call before the loops run. Returns GIM_OK or GIM_ERR_NO_MEMORY.
 */
int gusher_presence_attach(struct gusher_presence *presence, struct redis_writer *writer,
                           const char *server);

/* Marks every app (the periodic refresh; the writer's tick). Any thread. */
void gusher_presence_refresh(struct gusher_presence *presence);

/* The writer's last batch at stop (redis_writer_stop's last, context the presence): writes
 * every app away. */
int gusher_presence_withdraw_all(void *presence, const char *key, struct redis_batch *batch);

/* A socket of app for user_id opened (delta +1) or closed (-1). Any thread; a change that
 * cannot allocate is dropped (counted one low until the next change of that entry). */
void gusher_presence_socket(struct gusher_presence *presence, const char *app_key,
                            const char *user_id, int delta);

/* A socket of app for user_id subscribed channel (+1) or left it (-1). Any thread. */
void gusher_presence_channel(struct gusher_presence *presence, const char *app_key,
                             const char *user_id, const char *channel, int delta);

/* Receives one Redis command (argv[0..argc), C strings valid during the call); returns GIM_OK
 * or an error. */
typedef int (*gusher_presence_command_fn)(void *context, int argc, const char *const *argv);

/*
 * Passes the MULTI ... EXEC transaction that writes app's state for server to command, each
 * hash expiring at deadline_ms (Unix ms); withdraw, or an app without sockets: its keys are
 * deleted and server leaves the app's ZSET, and the app is forgotten. Entries whose count
 * reached zero are written away and forgotten. An unknown app passes nothing. Returns GIM_OK,
 * GIM_ERR_NO_MEMORY, or command's error (what was passed stays passed).
 */
int gusher_presence_build(struct gusher_presence *presence, const char *app_key, const char *server,
                          int64_t deadline_ms, bool withdraw, gusher_presence_command_fn command,
                          void *context);

/* Calls visit(app_key, context) for every app in the table (under its lock: visit must not
 * call back into the table). */
void gusher_presence_each_app(struct gusher_presence *presence,
                              void (*visit)(const char *app_key, void *context), void *context);

#endif
