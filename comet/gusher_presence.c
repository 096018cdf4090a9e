/* gusher_presence.c: the comet-wide gusher presence table and its Redis rounds (see
 * gusher_presence.h). */
#include "comet/gusher_presence.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/status.h"

/* A name and how many sockets count under it. */
struct presence_count {
    char *name; /* owned; the key in its map */
    uint32_t count;
};

struct presence_channel {
    char *name;
    uint32_t sockets;        /* subscribed sockets */
    struct string_map users; /* user_id ("" kept) -> struct presence_count */
};

struct presence_app {
    char *name;
    uint32_t sockets;
    struct string_map users;    /* user_id ("" counted too, left out of Redis) */
    struct string_map channels; /* channel -> struct presence_channel */
    bool dirty;
};

void gusher_presence_init(struct gusher_presence *presence)
{
    pthread_mutex_init(&presence->lock, NULL);
    string_map_init(&presence->apps);
    presence->dirty = false;
}

static void free_count(void *value, void *context)
{
    struct presence_count *count = value;
    (void)context;
    free(count->name);
    free(count);
}

static void free_channel(void *value, void *context)
{
    struct presence_channel *channel = value;
    (void)context;
    string_map_each(&channel->users, free_count, NULL);
    string_map_destroy(&channel->users);
    free(channel->name);
    free(channel);
}

static void free_app(void *value, void *context)
{
    struct presence_app *app = value;
    (void)context;
    string_map_each(&app->users, free_count, NULL);
    string_map_destroy(&app->users);
    string_map_each(&app->channels, free_channel, NULL);
    string_map_destroy(&app->channels);
    free(app->name);
    free(app);
}

void gusher_presence_destroy(struct gusher_presence *presence)
{
    string_map_each(&presence->apps, free_app, NULL);
    string_map_destroy(&presence->apps);
    pthread_mutex_destroy(&presence->lock);
}

/* map[name], made with size bytes (zeroed, name copied into its first member) when absent
 * and create; NULL when absent and not created. */
static void *entry(struct string_map *map, const char *name, size_t size, bool create)
{
    char **found = string_map_get(map, name);

    if (found != NULL || !create)
        return found;
    found = calloc(1, size);
    if (found == NULL || (*found = strdup(name)) == NULL ||
        string_map_put(map, *found, found, NULL) != GIM_OK) {
        if (found != NULL)
            free(*found);
        free(found);
        return NULL;
    }
    return found;
}

/* The app's entry (its maps zeroed: string_map_init's empty state). */
static struct presence_app *app_entry(struct gusher_presence *presence, const char *app_key,
                                      bool create)
{
    return entry(&presence->apps, app_key, sizeof(struct presence_app), create);
}

static void add(uint32_t *counter, int delta)
{
    if (delta > 0)
        *counter += (uint32_t)delta;
    else
        *counter = *counter > (uint32_t)-delta ? *counter - (uint32_t)-delta : 0;
}

void gusher_presence_socket(struct gusher_presence *presence, const char *app_key,
                            const char *user_id, int delta)
{
    struct presence_app *app;
    struct presence_count *user;

    pthread_mutex_lock(&presence->lock);
    app = app_entry(presence, app_key, delta > 0);
    if (app != NULL) {
        add(&app->sockets, delta);
        user = entry(&app->users, user_id, sizeof(*user), delta > 0);
        if (user != NULL)
            add(&user->count, delta);
        app->dirty = presence->dirty = true;
    }
    pthread_mutex_unlock(&presence->lock);
}

void gusher_presence_channel(struct gusher_presence *presence, const char *app_key,
                             const char *user_id, const char *channel_name, int delta)
{
    struct presence_app *app;
    struct presence_channel *channel;
    struct presence_count *user;

    pthread_mutex_lock(&presence->lock);
    app = app_entry(presence, app_key, delta > 0);
    channel = app ? entry(&app->channels, channel_name, sizeof(*channel), delta > 0) : NULL;
    if (channel != NULL) {
        add(&channel->sockets, delta);
        user = entry(&channel->users, user_id, sizeof(*user), delta > 0);
        if (user != NULL)
            add(&user->count, delta);
        app->dirty = presence->dirty = true;
    }
    pthread_mutex_unlock(&presence->lock);
}

bool gusher_presence_dirty(struct gusher_presence *presence)
{
    bool dirty;

    pthread_mutex_lock(&presence->lock);
    dirty = presence->dirty;
    pthread_mutex_unlock(&presence->lock);
    return dirty;
}

/* ---- Redis protocol ----------------------------------------------------------------- */

struct resp {
    char *data;
    size_t length, capacity;
    int count;
    bool failed;
};

static void resp_append(struct resp *resp, const char *bytes, size_t length)
{
    if (resp->failed)
        return;
    if (resp->length + length > resp->capacity) {
        size_t capacity = resp->capacity ? resp->capacity : 1024;
        char *grown;
        while (capacity < resp->length + length)
            capacity *= 2;
        if ((grown = realloc(resp->data, capacity)) == NULL) {
            resp->failed = true;
            return;
        }
        resp->data = grown;
        resp->capacity = capacity;
    }
    memcpy(resp->data + resp->length, bytes, length);
    resp->length += length;
}

/* Starts a command of argc arguments. */
static void resp_command(struct resp *resp, size_t argc)
{
    char header[32];
    int length = snprintf(header, sizeof(header), "*%zu\r\n", argc);

    resp_append(resp, header, (size_t)length);
    resp->count++;
}

static void resp_argument(struct resp *resp, const char *argument)
{
    char header[32];
    size_t argument_length = strlen(argument);
    int length = snprintf(header, sizeof(header), "$%zu\r\n", argument_length);

    resp_append(resp, header, (size_t)length);
    resp_append(resp, argument, argument_length);
    resp_append(resp, "\r\n", 2);
}

static void resp_number(struct resp *resp, int64_t number)
{
    char text[24];

    snprintf(text, sizeof(text), "%" PRId64, number);
    resp_argument(resp, text);
}

static void resp_simple(struct resp *resp, const char *name, const char *key)
{
    resp_command(resp, key ? 2 : 1);
    resp_argument(resp, name);
    if (key != NULL)
        resp_argument(resp, key);
}

/* ---- rounds ------------------------------------------------------------------------- */

struct hash_writer {
    struct resp *resp;
    bool skip_empty_name; /* the users hash leaves user_id "" out */
    size_t fields;
    bool counting;
};

static void visit_count(void *value, void *context)
{
    struct presence_count *count = value;
    struct hash_writer *writer = context;

    if (count->count == 0 || (writer->skip_empty_name && count->name[0] == '\0'))
        return;
    if (writer->counting) {
        writer->fields++;
        return;
    }
    resp_argument(writer->resp, count->name);
    resp_number(writer->resp, count->count);
}

static void visit_channel_count(void *value, void *context)
{
    struct presence_channel *channel = value;
    struct presence_count as_count = {channel->name, channel->sockets};

    visit_count(&as_count, context);
}

/* DEL key, then (unless nothing counts) HSET key field count ... and PEXPIREAT key deadline. */
static void write_hash(struct resp *resp, const char *key, const struct string_map *map,
                       void (*visit)(void *, void *), bool skip_empty_name, int64_t deadline_ms,
                       bool withdraw)
{
    struct hash_writer writer = {resp, skip_empty_name, 0, true};

    resp_simple(resp, "DEL", key);
    if (withdraw)
        return;
    string_map_each(map, visit, &writer);
    if (writer.fields == 0)
        return;
    writer.counting = false;
    resp_command(resp, 2 + 2 * writer.fields);
    resp_argument(resp, "HSET");
    resp_argument(resp, key);
    string_map_each(map, visit, &writer);
    resp_command(resp, 3);
    resp_argument(resp, "PEXPIREAT");
    resp_argument(resp, key);
    resp_number(resp, deadline_ms);
}

struct app_round {
    struct resp *resp;
    const char *prefix; /* gusher/presence/<app>/<server> */
    int64_t deadline_ms;
    bool withdraw;
};

static void visit_channel_hash(void *value, void *context)
{
    struct presence_channel *channel = value;
    struct app_round *round = context;
    char *key;

    if (asprintf(&key, "%s/channel/%s", round->prefix, channel->name) < 0) {
        round->resp->failed = true;
        return;
    }
    write_hash(round->resp, key, &channel->users, visit_count, false, round->deadline_ms,
               round->withdraw || channel->sockets == 0);
    free(key);
}

/* Collects the entries of map whose count is zero (for pruning after a round). */
struct prune {
    void **items;
    size_t count;
    size_t offset; /* of the uint32_t count inside an entry */
};

static void visit_prune(void *value, void *context)
{
    struct prune *prune = context;
    uint32_t *counter = (uint32_t *)((char *)value + prune->offset);

    if (*counter == 0 && prune->items != NULL)
        prune->items[prune->count++] = value;
    else if (*counter == 0)
        prune->count++;
}

/* Removes the zero entries of map, freeing each with release. */
static void prune_map(struct string_map *map, size_t offset, void (*release)(void *, void *))
{
    struct prune prune = {NULL, 0, offset};
    size_t index;

    string_map_each(map, visit_prune, &prune);
    if (prune.count == 0 || (prune.items = calloc(prune.count, sizeof(void *))) == NULL)
        return;
    prune.count = 0;
    string_map_each(map, visit_prune, &prune);
    for (index = 0; index < prune.count; index++) {
        char **named = prune.items[index];
        string_map_remove_if(map, *named, named);
        release(named, NULL);
    }
    free(prune.items);
}

static void prune_channel_users(void *value, void *context)
{
    struct presence_channel *channel = value;
    (void)context;
    prune_map(&channel->users, offsetof(struct presence_count, count), free_count);
}

struct round_context {
    struct gusher_presence *presence;
    const char *server;
    int64_t deadline_ms;
    bool full, withdraw;
    int (*emit)(void *, const char *, size_t, int);
    void *emit_context;
    struct presence_app **done; /* apps written, to prune after the walk */
    size_t done_count;
    int status;
};

static void visit_app(void *value, void *context)
{
    struct presence_app *app = value;
    struct round_context *round = context;
    struct resp resp = {0};
    char *prefix = NULL, *key = NULL, *index_key = NULL;
    bool gone = round->withdraw || app->sockets == 0;
    struct app_round channels = {&resp, NULL, round->deadline_ms, gone};

    if (round->status != GIM_OK || (!app->dirty && !round->full))
        return;
    if (asprintf(&prefix, "gusher/presence/%s/%s", app->name, round->server) < 0 ||
        asprintf(&index_key, "gusher/presence/%s", app->name) < 0) {
        free(prefix);
        round->status = GIM_ERR_NO_MEMORY;
        return;
    }
    channels.prefix = prefix;
    resp_simple(&resp, "MULTI", NULL);
    if (asprintf(&key, "%s/users", prefix) >= 0) {
        write_hash(&resp, key, &app->users, visit_count, true, round->deadline_ms, gone);
        free(key);
    } else {
        resp.failed = true;
    }
    if (asprintf(&key, "%s/channels", prefix) >= 0) {
        write_hash(&resp, key, &app->channels, visit_channel_count, false, round->deadline_ms,
                   gone);
        free(key);
    } else {
        resp.failed = true;
    }
    string_map_each(&app->channels, visit_channel_hash, &channels);
    if (gone) {
        resp_command(&resp, 3);
        resp_argument(&resp, "ZREM");
        resp_argument(&resp, index_key);
        resp_argument(&resp, round->server);
    } else {
        resp_command(&resp, 4);
        resp_argument(&resp, "ZADD");
        resp_argument(&resp, index_key);
        resp_number(&resp, round->deadline_ms);
        resp_argument(&resp, round->server);
    }
    resp_simple(&resp, "EXEC", NULL);
    if (resp.failed)
        round->status = GIM_ERR_NO_MEMORY;
    else if (round->emit(round->emit_context, resp.data, resp.length, resp.count) == GIM_OK) {
        app->dirty = false;
        round->done[round->done_count++] = app;
    }
    free(resp.data);
    free(prefix);
    free(index_key);
}

static void visit_still_dirty(void *value, void *context)
{
    struct gusher_presence *presence = context;

    if (((struct presence_app *)value)->dirty)
        presence->dirty = true;
}

int gusher_presence_round(struct gusher_presence *presence, const char *server, int64_t deadline_ms,
                          bool full, bool withdraw,
                          int (*emit)(void *context, const char *commands, size_t length,
                                      int count),
                          void *context)
{
    struct round_context round = {
        presence, server, deadline_ms, full || withdraw, withdraw, emit, context, NULL, 0, GIM_OK};
    size_t index;

    pthread_mutex_lock(&presence->lock);
    round.done = calloc(presence->apps.count > 0 ? presence->apps.count : 1, sizeof(void *));
    if (round.done == NULL) {
        pthread_mutex_unlock(&presence->lock);
        return GIM_ERR_NO_MEMORY;
    }
    string_map_each(&presence->apps, visit_app, &round);
    for (index = 0; index < round.done_count; index++) {
        struct presence_app *app = round.done[index];
        if (app->sockets == 0) {
            string_map_remove_if(&presence->apps, app->name, app);
            free_app(app, NULL);
            continue;
        }
        prune_map(&app->users, offsetof(struct presence_count, count), free_count);
        string_map_each(&app->channels, prune_channel_users, NULL);
        prune_map(&app->channels, offsetof(struct presence_channel, sockets), free_channel);
    }
    free(round.done);
    presence->dirty = false;
    string_map_each(&presence->apps, visit_still_dirty, presence);
    pthread_mutex_unlock(&presence->lock);
    return round.status;
}
