/*
 * gopusher_apps.h: gopusher's apps, kept in Redis so that every logic sees
 * the same ones and they outlive any process (gopusher kept them in one
 * SQLite file, the appdata table).
 *
 * Keys (docs/internals.md, "gopusher"):
 *   gopusher/app/<app_key>   HASH app_key, auth_account, auth_password (bcrypt),
 *                            connect_hook, request_ip, timestamp, date
 *   gopusher/apps            ZSET member app_key, score = registration sequence
 *                            (the order app-list shows, as gopusher's row order)
 *   gopusher/apps/sequence   the INCR counter behind those scores
 * Register and unregister are Lua scripts, so an app is all there or not
 * at all. Every function blocks on Redis (never call it on an event loop)
 * and returns GIM_OK, GIM_ERR_UNAVAILABLE (Redis unreachable or an error
 * reply) or GIM_ERR_NO_MEMORY, plus what each says. Pointers passed in stay
 * the caller's.
 */
#ifndef LOGIC_GOPUSHER_APPS_H
#define LOGIC_GOPUSHER_APPS_H

#include <stdbool.h>
#include <stddef.h>

struct gim_redis;

/* One app, as gopusher's AppDataResult; every member a malloc'd string (never NULL once read). */
struct gopusher_app {
    char *app_key;
    char *auth_account;
    char *auth_password; /* bcrypt of account + password */
    char *connect_hook;  /* "" when none */
    char *request_ip;    /* the registering caller's address "ip:port" */
    char *timestamp;     /* epoch milliseconds, decimal */
    char *date;          /* local time "YYYY/MM/DD HH:MM:SS" */
};

/*
 * Stores app (every member non-NULL) unless app->app_key is registered
 * already: *created tells which. Nothing is changed in the second case.
 */
int gopusher_apps_register(struct gim_redis *redis, const struct gopusher_app *app, bool *created);

/*
 * Reads app_key into *app (the caller frees it with gopusher_app_clear).
 * GIM_ERR_NOT_FOUND when no such app (*app zeroed).
 */
int gopusher_apps_get(struct gim_redis *redis, const char *app_key, struct gopusher_app *app);

/* Deletes app_key. GIM_ERR_NOT_FOUND when it was not registered. */
int gopusher_apps_unregister(struct gim_redis *redis, const char *app_key);

/*
 * Reads the apps in registration order from position offset (0-based),
 * at most limit of them (limit 0: all the rest), into *apps (malloc'd
 * array, the caller frees it with gopusher_apps_free; NULL when *count is
 * 0); *total = the number of apps registered.
 */
int gopusher_apps_list(struct gim_redis *redis, size_t offset, size_t limit,
                       struct gopusher_app **apps, size_t *count, size_t *total);

/* Frees the strings of app and zeroes it. */
void gopusher_app_clear(struct gopusher_app *app);

/* Frees apps[0..count) and the array. */
void gopusher_apps_free(struct gopusher_app *apps, size_t count);

#endif
