/* gopusher_apps.c: gopusher's apps in Redis (see gopusher_apps.h). */
#include "logic/gopusher_apps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/redis.h"
#include "common/status.h"

#define GOPUSHER_APP_PREFIX    "gopusher/app/"
#define GOPUSHER_APPS_INDEX    "gopusher/apps"
#define GOPUSHER_APPS_SEQUENCE "gopusher/apps/sequence"
#define GOPUSHER_APP_FIELDS    7

/* Field names in struct order (the JSON order of app-list too). */
static const char *const gopusher_app_fields[GOPUSHER_APP_FIELDS] = {
    "app_key", "auth_account", "auth_password", "connect_hook", "request_ip", "timestamp", "date"};

static const char gopusher_register_script[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end "
    "local sequence = redis.call('INCR', KEYS[3]) "
    "redis.call('HSET', KEYS[1], 'app_key', ARGV[1], 'auth_account', ARGV[2], "
    "'auth_password', ARGV[3], 'connect_hook', ARGV[4], 'request_ip', ARGV[5], "
    "'timestamp', ARGV[6], 'date', ARGV[7]) "
    "redis.call('ZADD', KEYS[2], sequence, ARGV[1]) "
    "return 1";

static const char gopusher_unregister_script[] =
    "if redis.call('DEL', KEYS[1]) == 0 then return 0 end "
    "redis.call('ZREM', KEYS[2], ARGV[1]) "
    "return 1";

/* The members of app in field order. */
static char **gopusher_app_member(struct gopusher_app *app, size_t index)
{
    char **members[GOPUSHER_APP_FIELDS] = {
        &app->app_key,    &app->auth_account, &app->auth_password, &app->connect_hook,
        &app->request_ip, &app->timestamp,    &app->date};
    return members[index];
}

/* "gopusher/app/<app_key>", malloc'd, or NULL. */
static char *gopusher_app_key(const char *app_key)
{
    size_t length = strlen(GOPUSHER_APP_PREFIX) + strlen(app_key) + 1;
    char *key = malloc(length);

    if (key != NULL)
        snprintf(key, length, "%s%s", GOPUSHER_APP_PREFIX, app_key);
    return key;
}

/* Runs one of the scripts; *result = its integer answer. */
static int gopusher_apps_script(struct gim_redis *redis, int argc, const char **argv,
                                long long *result)
{
    redisReply *reply = gim_redis_command_argv(redis, argc, argv, NULL);
    int status = GIM_OK;

    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    if (reply->type == REDIS_REPLY_INTEGER)
        *result = reply->integer;
    else
        status = GIM_ERR_UNAVAILABLE;
    freeReplyObject(reply);
    return status;
}

int gopusher_apps_register(struct gim_redis *redis, const struct gopusher_app *app, bool *created)
{
    char *key = gopusher_app_key(app->app_key);
    const char *argv[3 + 3 + GOPUSHER_APP_FIELDS];
    long long result = 0;
    int status;
    size_t index;

    *created = false;
    if (key == NULL)
        return GIM_ERR_NO_MEMORY;
    argv[0] = "EVAL";
    argv[1] = gopusher_register_script;
    argv[2] = "3";
    argv[3] = key;
    argv[4] = GOPUSHER_APPS_INDEX;
    argv[5] = GOPUSHER_APPS_SEQUENCE;
    for (index = 0; index < GOPUSHER_APP_FIELDS; index++)
        argv[6 + index] = *gopusher_app_member((struct gopusher_app *)app, index);
    status = gopusher_apps_script(redis, 6 + GOPUSHER_APP_FIELDS, argv, &result);
    free(key);
    *created = status == GIM_OK && result == 1;
    return status;
}

int gopusher_apps_unregister(struct gim_redis *redis, const char *app_key)
{
    char *key = gopusher_app_key(app_key);
    const char *argv[6];
    long long result = 0;
    int status;

    if (key == NULL)
        return GIM_ERR_NO_MEMORY;
    argv[0] = "EVAL";
    argv[1] = gopusher_unregister_script;
    argv[2] = "2";
    argv[3] = key;
    argv[4] = GOPUSHER_APPS_INDEX;
    argv[5] = app_key;
    status = gopusher_apps_script(redis, 6, argv, &result);
    free(key);
    if (status == GIM_OK && result == 0)
        return GIM_ERR_NOT_FOUND;
    return status;
}

void gopusher_app_clear(struct gopusher_app *app)
{
    size_t index;

    for (index = 0; index < GOPUSHER_APP_FIELDS; index++)
        free(*gopusher_app_member(app, index));
    memset(app, 0, sizeof(*app));
}

void gopusher_apps_free(struct gopusher_app *apps, size_t count)
{
    size_t index;

    for (index = 0; index < count; index++)
        gopusher_app_clear(&apps[index]);
    free(apps);
}

/* Fills app from an HMGET reply of every field. GIM_ERR_NOT_FOUND when the hash is gone. */
static int gopusher_app_from_reply(const redisReply *reply, struct gopusher_app *app)
{
    size_t index;

    memset(app, 0, sizeof(*app));
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != GOPUSHER_APP_FIELDS)
        return GIM_ERR_UNAVAILABLE;
    if (reply->element[0]->type != REDIS_REPLY_STRING)
        return GIM_ERR_NOT_FOUND; /* no app_key field: no such app */
    for (index = 0; index < GOPUSHER_APP_FIELDS; index++) {
        const redisReply *field = reply->element[index];
        char **member = gopusher_app_member(app, index);
        if (field->type == REDIS_REPLY_STRING)
            *member = strndup(field->str, field->len);
        else
            *member = strdup("");
        if (*member == NULL) {
            gopusher_app_clear(app);
            return GIM_ERR_NO_MEMORY;
        }
    }
    return GIM_OK;
}

/* Queues HMGET of every field of app_key's hash. */
static int gopusher_app_append_read(struct gim_redis *redis, const char *app_key)
{
    return gim_redis_append(redis, "HMGET %s%s %s %s %s %s %s %s %s", GOPUSHER_APP_PREFIX, app_key,
                            gopusher_app_fields[0], gopusher_app_fields[1], gopusher_app_fields[2],
                            gopusher_app_fields[3], gopusher_app_fields[4], gopusher_app_fields[5],
                            gopusher_app_fields[6]);
}

int gopusher_apps_get(struct gim_redis *redis, const char *app_key, struct gopusher_app *app)
{
    redisReply *reply;
    int status;

    memset(app, 0, sizeof(*app));
    if (gopusher_app_append_read(redis, app_key) != GIM_OK)
        return GIM_ERR_UNAVAILABLE;
    reply = gim_redis_reply(redis);
    status = gopusher_app_from_reply(reply, app);
    if (reply != NULL)
        freeReplyObject(reply);
    return status;
}

int gopusher_apps_list(struct gim_redis *redis, size_t offset, size_t limit,
                       struct gopusher_app **apps, size_t *count, size_t *total)
{
    redisReply *reply, *keys;
    struct gopusher_app *list = NULL;
    size_t index, found = 0, appended = 0;
    long long stop = limit == 0 ? -1 : (long long)(offset + limit - 1);
    int status = GIM_OK;

    *apps = NULL;
    *count = *total = 0;
    if (gim_redis_append(redis, "ZCARD %s", GOPUSHER_APPS_INDEX) != GIM_OK ||
        gim_redis_append(redis, "ZRANGE %s %lld %lld", GOPUSHER_APPS_INDEX, (long long)offset,
                         stop) != GIM_OK)
        return GIM_ERR_UNAVAILABLE;
    reply = gim_redis_reply(redis);
    if (reply == NULL)
        return GIM_ERR_UNAVAILABLE;
    keys = gim_redis_reply(redis);
    if (reply->type != REDIS_REPLY_INTEGER || keys == NULL || keys->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(reply);
        if (keys != NULL)
            freeReplyObject(keys);
        return GIM_ERR_UNAVAILABLE;
    }
    *total = (size_t)reply->integer;
    freeReplyObject(reply);
    if (keys->elements == 0) {
        freeReplyObject(keys);
        return GIM_OK;
    }
    list = calloc(keys->elements, sizeof(*list));
    if (list == NULL) {
        freeReplyObject(keys);
        return GIM_ERR_NO_MEMORY;
    }
    for (index = 0; index < keys->elements; index++) {
        if (keys->element[index]->type != REDIS_REPLY_STRING ||
            gopusher_app_append_read(redis, keys->element[index]->str) != GIM_OK) {
            status = GIM_ERR_UNAVAILABLE;
            break;
        }
        appended++;
    }
    /* Every queued reply is read, so the connection goes back to the pool clean. */
    for (index = 0; index < appended; index++) {
        int read;
        reply = gim_redis_reply(redis);
        if (reply == NULL) {
            status = GIM_ERR_UNAVAILABLE; /* the connection is dropped: nothing left to read */
            break;
        }
        read = status == GIM_OK ? gopusher_app_from_reply(reply, &list[found]) : status;
        freeReplyObject(reply);
        if (read == GIM_OK)
            found++;
        else if (read != GIM_ERR_NOT_FOUND) /* NOT_FOUND: unregistered meanwhile, left out */
            status = read;
    }
    freeReplyObject(keys);
    if (status != GIM_OK) {
        gopusher_apps_free(list, found);
        *total = 0;
        return status;
    }
    *apps = list;
    *count = found;
    return GIM_OK;
}
