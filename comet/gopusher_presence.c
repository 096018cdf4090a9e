/* gopusher_presence.c: gopusher's user_tags per app, written to Redis off the loops (see
 * gopusher_presence.h). */
#include "comet/gopusher_presence.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comet/string_map.h"
#include "common/log.h"
#include "common/status.h"

#define HSET_PAIRS_PER_COMMAND 512

struct tag_count {
    long sockets;
    char tag[]; /* the tags map's key */
};

struct app_presence {
    struct string_map tags; /* tag -> struct tag_count */
    long sockets;
    char app[]; /* the apps map's key */
};

struct gopusher_presence {
    pthread_mutex_t lock;
    struct string_map apps; /* app -> struct app_presence */
    struct redis_writer *writer;
    char *server;
};

static int build_app(void *context, const char *app, struct redis_batch *batch);

int gopusher_presence_create(struct gopusher_presence **out, const char *server)
{
    struct gopusher_presence *presence = calloc(1, sizeof(*presence));

    if (presence == NULL || (presence->server = strdup(server)) == NULL) {
        free(presence);
        return GIM_ERR_NO_MEMORY;
    }
    pthread_mutex_init(&presence->lock, NULL);
    string_map_init(&presence->apps);
    *out = presence;
    return GIM_OK;
}

void gopusher_presence_attach(struct gopusher_presence *presence, struct redis_writer *writer)
{
    presence->writer = writer;
}

/* Asks the writer to write app (under the lock; the writer's lock nests inside ours). */
static void mark(struct gopusher_presence *presence, const char *app)
{
    if (presence->writer != NULL)
        redis_writer_mark(presence->writer, app, build_app, presence);
}

int gopusher_presence_add(struct gopusher_presence *presence, const char *app, const char *tag)
{
    struct app_presence *entry;
    struct tag_count *count;
    int status = GIM_OK;

    pthread_mutex_lock(&presence->lock);
    entry = string_map_get(&presence->apps, app);
    if (entry == NULL) {
        size_t length = strlen(app);
        entry = calloc(1, sizeof(*entry) + length + 1);
        if (entry == NULL)
            goto no_memory;
        memcpy(entry->app, app, length + 1);
        string_map_init(&entry->tags);
        if (string_map_put(&presence->apps, entry->app, entry, NULL) != GIM_OK) {
            free(entry);
            goto no_memory;
        }
    }
    count = string_map_get(&entry->tags, tag);
    if (count == NULL) {
        size_t length = strlen(tag);
        count = calloc(1, sizeof(*count) + length + 1);
        if (count == NULL)
            goto no_memory;
        memcpy(count->tag, tag, length + 1);
        if (string_map_put(&entry->tags, count->tag, count, NULL) != GIM_OK) {
            free(count);
            goto no_memory;
        }
    }
    count->sockets++;
    entry->sockets++;
    mark(presence, app);
    pthread_mutex_unlock(&presence->lock);
    return status;
no_memory:
    /* an empty app entry left behind is written as "none here" and forgotten by its build */
    pthread_mutex_unlock(&presence->lock);
    return GIM_ERR_NO_MEMORY;
}

void gopusher_presence_remove(struct gopusher_presence *presence, const char *app, const char *tag)
{
    struct app_presence *entry;
    struct tag_count *count;

    pthread_mutex_lock(&presence->lock);
    entry = string_map_get(&presence->apps, app);
    count = entry != NULL ? string_map_get(&entry->tags, tag) : NULL;
    if (count != NULL) {
        entry->sockets--;
        if (--count->sockets <= 0) {
            string_map_remove_if(&entry->tags, count->tag, count);
            free(count);
        }
        mark(presence, app); /* an app left empty is forgotten once its DEL is built */
    }
    pthread_mutex_unlock(&presence->lock);
}

static void mark_visit(void *value, void *context)
{
    struct app_presence *entry = value;
    mark(context, entry->app);
}

void gopusher_presence_refresh(void *context)
{
    struct gopusher_presence *presence = context;

    pthread_mutex_lock(&presence->lock);
    string_map_each(&presence->apps, mark_visit, presence);
    pthread_mutex_unlock(&presence->lock);
}

static int64_t unix_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The Redis keys of app on this comet. */
static void key_names(const struct gopusher_presence *presence, const char *app, char *zset,
                      size_t zset_size, char *hash, size_t hash_size)
{
    snprintf(zset, zset_size, "gopusher/online/%s", app);
    snprintf(hash, hash_size, "gopusher/online/%s/%s", app, presence->server);
}

/* Appends DEL hash, ZREM zset server. */
static int add_withdraw(const struct gopusher_presence *presence, const char *app,
                        struct redis_batch *batch)
{
    char zset[1100], hash[1400];
    const char *del[2] = {"DEL", hash}, *zrem[3] = {"ZREM", zset, presence->server};
    int status;

    key_names(presence, app, zset, sizeof(zset), hash, sizeof(hash));
    status = redis_batch_add(batch, 2, del, NULL);
    if (status == GIM_OK)
        status = redis_batch_add(batch, 3, zrem, NULL);
    return status;
}

struct hset_state {
    const char **argv;
    int argc;
    char (*counts)[24];
    struct redis_batch *batch;
    int status;
};

/* Flushes the HSET built so far (argv[0..1] are HSET and the key). */
static void hset_flush(struct hset_state *state)
{
    if (state->argc > 2 && state->status == GIM_OK)
        state->status = redis_batch_add(state->batch, state->argc, state->argv, NULL);
    state->argc = 2;
}

static void hset_visit(void *value, void *context)
{
    struct tag_count *count = value;
    struct hset_state *state = context;
    int pair = (state->argc - 2) / 2;

    snprintf(state->counts[pair], sizeof(state->counts[pair]), "%ld", count->sockets);
    state->argv[state->argc++] = count->tag;
    state->argv[state->argc++] = state->counts[pair];
    if (state->argc == 2 + 2 * HSET_PAIRS_PER_COMMAND)
        hset_flush(state);
}

/* The writer's build for app (its thread): the whole state of app on this comet. */
static int build_app(void *context, const char *app, struct redis_batch *batch)
{
    struct gopusher_presence *presence = context;
    static const char *const multi[1] = {"MULTI"}, *const exec[1] = {"EXEC"};
    struct app_presence *entry;
    char zset[1100], hash[1400], deadline[24];
    int status;

    key_names(presence, app, zset, sizeof(zset), hash, sizeof(hash));
    snprintf(deadline, sizeof(deadline), "%lld", (long long)(unix_ms() + GOPUSHER_PRESENCE_TTL_MS));
    pthread_mutex_lock(&presence->lock);
    entry = string_map_get(&presence->apps, app);
    status = redis_batch_add(batch, 1, multi, NULL);
    if (entry == NULL || entry->sockets <= 0) {
        if (status == GIM_OK)
            status = add_withdraw(presence, app, batch);
        if (entry != NULL) {
            string_map_remove_if(&presence->apps, entry->app, entry);
            string_map_destroy(&entry->tags);
            free(entry);
        }
    } else {
        const char *del[2] = {"DEL", hash}, *expire[3] = {"PEXPIREAT", hash, deadline};
        const char *zadd[4] = {"ZADD", zset, deadline, presence->server};
        struct hset_state state = {0};
        state.argv = calloc(2 + 2 * HSET_PAIRS_PER_COMMAND, sizeof(*state.argv));
        state.counts = calloc(HSET_PAIRS_PER_COMMAND, sizeof(*state.counts));
        state.batch = batch;
        state.status = status;
        if (state.argv == NULL || state.counts == NULL)
            state.status = GIM_ERR_NO_MEMORY;
        if (state.status == GIM_OK)
            state.status = redis_batch_add(batch, 2, del, NULL);
        if (state.status == GIM_OK) {
            state.argv[0] = "HSET";
            state.argv[1] = hash;
            state.argc = 2;
            string_map_each(&entry->tags, hset_visit, &state);
            hset_flush(&state);
        }
        if (state.status == GIM_OK)
            state.status = redis_batch_add(batch, 3, expire, NULL);
        if (state.status == GIM_OK)
            state.status = redis_batch_add(batch, 4, zadd, NULL);
        free(state.argv);
        free(state.counts);
        status = state.status;
    }
    pthread_mutex_unlock(&presence->lock);
    if (status == GIM_OK)
        status = redis_batch_add(batch, 1, exec, NULL);
    return status;
}

struct withdraw_state {
    struct gopusher_presence *presence;
    struct redis_batch *batch;
    int status;
};

static void withdraw_visit(void *value, void *context)
{
    struct app_presence *entry = value;
    struct withdraw_state *state = context;

    if (state->status == GIM_OK)
        state->status = add_withdraw(state->presence, entry->app, state->batch);
}

int gopusher_presence_withdraw(void *context, const char *key, struct redis_batch *batch)
{
    struct withdraw_state state = {context, batch, GIM_OK};

    (void)key;
    pthread_mutex_lock(&state.presence->lock);
    string_map_each(&state.presence->apps, withdraw_visit, &state);
    pthread_mutex_unlock(&state.presence->lock);
    return state.status;
}

static void free_tag(void *value, void *context)
{
    (void)context;
    free(value);
}

static void free_app(void *value, void *context)
{
    struct app_presence *entry = value;

    (void)context;
    string_map_each(&entry->tags, free_tag, NULL);
    string_map_destroy(&entry->tags);
    free(entry);
}

void gopusher_presence_destroy(struct gopusher_presence *presence)
{
    if (presence == NULL)
        return;
    string_map_each(&presence->apps, free_app, NULL);
    string_map_destroy(&presence->apps);
    pthread_mutex_destroy(&presence->lock);
    free(presence->server);
    free(presence);
}
