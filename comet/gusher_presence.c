/* gusher_presence.c: the comet-wide gusher presence table and its Redis rounds (see
 * gusher_presence.h). */
#include "comet/gusher_presence.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
};

void gusher_presence_init(struct gusher_presence *presence)
{
    pthread_mutex_init(&presence->lock, NULL);
    string_map_init(&presence->apps);
    presence->writer = NULL;
    presence->server = NULL;
}

static void free_count(void *value, void *context)
{
    struct presence_count *count = value;
    (void)context;
    free(count->name);
    free(count);
}

/* Frees a map of presence_counts (an app's or a channel's users). */
static void destroy_counts(struct string_map *counts)
{
    string_map_each(counts, free_count, NULL);
    string_map_destroy(counts);
}

static void free_channel(void *value, void *context)
{
    struct presence_channel *channel = value;
    (void)context;
    destroy_counts(&channel->users);
    free(channel->name);
    free(channel);
}

static void free_app(void *value, void *context)
{
    struct presence_app *app = value;
    (void)context;
    destroy_counts(&app->users);
    string_map_each(&app->channels, free_channel, NULL);
    string_map_destroy(&app->channels);
    free(app->name);
    free(app);
}

void gusher_presence_destroy(struct gusher_presence *presence)
{
    string_map_each(&presence->apps, free_app, NULL);
    string_map_destroy(&presence->apps);
    free(presence->server);
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

static void mark(struct gusher_presence *presence, const char *app_key);

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
    bool changed = false;

    pthread_mutex_lock(&presence->lock);
    app = app_entry(presence, app_key, delta > 0);
    if (app != NULL) {
        add(&app->sockets, delta);
        user = entry(&app->users, user_id, sizeof(*user), delta > 0);
        if (user != NULL)
            add(&user->count, delta);
        changed = true;
    }
    pthread_mutex_unlock(&presence->lock);
    if (changed)
        mark(presence, app_key);
}

void gusher_presence_channel(struct gusher_presence *presence, const char *app_key,
                             const char *user_id, const char *channel_name, int delta)
{
    struct presence_app *app;
    struct presence_channel *channel;
    struct presence_count *user;
    bool changed = false;

    pthread_mutex_lock(&presence->lock);
    app = app_entry(presence, app_key, delta > 0);
    channel = app ? entry(&app->channels, channel_name, sizeof(*channel), delta > 0) : NULL;
    if (channel != NULL) {
        add(&channel->sockets, delta);
        user = entry(&channel->users, user_id, sizeof(*user), delta > 0);
        if (user != NULL)
            add(&user->count, delta);
        changed = true;
    }
    pthread_mutex_unlock(&presence->lock);
    if (changed)
        mark(presence, app_key);
}

/* ---- writing -------------------------------------------------------------------------- */

/* A command's arguments, grown as needed (strings owned). */
struct command {
    char **argv;
    int argc, capacity;
    bool failed;
};

static void argument(struct command *command, const char *text)
{
    char *copy;

    if (command->failed)
        return;
    if (command->argc == command->capacity) {
        int capacity = command->capacity ? command->capacity * 2 : 8;
        char **grown = realloc(command->argv, (size_t)capacity * sizeof(*grown));
        if (grown == NULL) {
            command->failed = true;
            return;
        }
        command->argv = grown;
        command->capacity = capacity;
    }
    if ((copy = strdup(text)) == NULL) {
        command->failed = true;
        return;
    }
    command->argv[command->argc++] = copy;
}

static void number(struct command *command, int64_t value)
{
    char text[24];

    snprintf(text, sizeof(text), "%" PRId64, value);
    argument(command, text);
}

/* Where the commands of one build go. */
struct sink {
    gusher_presence_command_fn command;
    void *context;
    int status;
};

/* Empties command without passing it. */
static void discard(struct command *command)
{
    int index;

    for (index = 0; index < command->argc; index++)
        free(command->argv[index]);
    command->argc = 0;
    command->failed = false;
}

/* Passes command to the sink (unless a previous one failed) and empties it. */
static void flush(struct sink *sink, struct command *command)
{
    if (sink->status == GIM_OK) {
        if (command->failed)
            sink->status = GIM_ERR_NO_MEMORY;
        else if (command->argc > 0)
            sink->status =
                sink->command(sink->context, command->argc, (const char *const *)command->argv);
    }
    discard(command);
}

static void simple(struct sink *sink, struct command *command, const char *name, const char *key)
{
    argument(command, name);
    if (key != NULL)
        argument(command, key);
    flush(sink, command);
}

struct hash_fields {
    struct command *command;
    bool skip_empty_name; /* the users hash leaves user_id "" out */
};

static void visit_count(void *value, void *context)
{
    struct presence_count *count = value;
    struct hash_fields *fields = context;

    if (count->count == 0 || (fields->skip_empty_name && count->name[0] == '\0'))
        return;
    argument(fields->command, count->name);
    number(fields->command, count->count);
}

static void visit_channel_count(void *value, void *context)
{
    struct presence_channel *channel = value;
    struct presence_count as_count = {channel->name, channel->sockets};

    visit_count(&as_count, context);
}

/* DEL key, then (unless gone or nothing counts) HSET key field count ... and PEXPIREAT. */
static void write_hash(struct sink *sink, struct command *command, const char *key,
                       const struct string_map *map, void (*visit)(void *, void *),
                       bool skip_empty_name, int64_t deadline_ms, bool gone)
{
    struct hash_fields fields = {command, skip_empty_name};

    simple(sink, command, "DEL", key);
    if (gone)
        return;
    argument(command, "HSET");
    argument(command, key);
    string_map_each(map, visit, &fields);
    if (command->argc == 2 && !command->failed) {
        discard(command); /* no field: nothing to write */
        return;
    }
    flush(sink, command);
    argument(command, "PEXPIREAT");
    argument(command, key);
    number(command, deadline_ms);
    flush(sink, command);
}

struct channel_hashes {
    struct sink *sink;
    struct command *command;
    const char *prefix; /* gusher/presence/<app>/<server> */
    int64_t deadline_ms;
    bool gone;
};

static void visit_channel_hash(void *value, void *context)
{
    struct presence_channel *channel = value;
    struct channel_hashes *hashes = context;
    char *key;

    if (asprintf(&key, "%s/channel/%s", hashes->prefix, channel->name) < 0) {
        hashes->command->failed = true;
        flush(hashes->sink, hashes->command);
        return;
    }
    write_hash(hashes->sink, hashes->command, key, &channel->users, visit_count, false,
               hashes->deadline_ms, hashes->gone || channel->sockets == 0);
    free(key);
}

/* Collects the entries of a map whose count is zero. */
struct prune {
    void **items;
    size_t count;
    size_t offset; /* of the uint32_t count inside an entry */
};

static void visit_prune(void *value, void *context)
{
    struct prune *prune = context;
    uint32_t *counter = (uint32_t *)((char *)value + prune->offset);

    if (*counter != 0)
        return;
    if (prune->items != NULL)
        prune->items[prune->count] = value;
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

int gusher_presence_build(struct gusher_presence *presence, const char *app_key, const char *server,
                          int64_t deadline_ms, bool withdraw, gusher_presence_command_fn command_fn,
                          void *context)
{
    struct sink sink = {command_fn, context, GIM_OK};
    struct command command = {0};
    struct presence_app *app;
    char *prefix = NULL, *index_key = NULL, *key = NULL;
    bool gone;

    pthread_mutex_lock(&presence->lock);
    app = string_map_get(&presence->apps, app_key);
    if (app == NULL) {
        pthread_mutex_unlock(&presence->lock);
        return GIM_OK;
    }
    gone = withdraw || app->sockets == 0;
    if (asprintf(&prefix, "gusher/presence/%s/%s", app->name, server) < 0 ||
        asprintf(&index_key, "gusher/presence/%s", app->name) < 0) {
        free(prefix);
        pthread_mutex_unlock(&presence->lock);
        return GIM_ERR_NO_MEMORY;
    }
    simple(&sink, &command, "MULTI", NULL);
    if (asprintf(&key, "%s/users", prefix) >= 0) {
        write_hash(&sink, &command, key, &app->users, visit_count, true, deadline_ms, gone);
        free(key);
    } else {
        sink.status = GIM_ERR_NO_MEMORY;
    }
    if (asprintf(&key, "%s/channels", prefix) >= 0) {
        write_hash(&sink, &command, key, &app->channels, visit_channel_count, false, deadline_ms,
                   gone);
        free(key);
    } else {
        sink.status = GIM_ERR_NO_MEMORY;
    }
    string_map_each(&app->channels, visit_channel_hash,
                    &(struct channel_hashes){&sink, &command, prefix, deadline_ms, gone});
    argument(&command, gone ? "ZREM" : "ZADD");
    argument(&command, index_key);
    if (!gone)
        number(&command, deadline_ms);
    argument(&command, server);
    flush(&sink, &command);
    simple(&sink, &command, "EXEC", NULL);
    free(command.argv);
    free(prefix);
    free(index_key);
    if (sink.status == GIM_OK) {
        if (app->sockets == 0 || withdraw) {
            string_map_remove_if(&presence->apps, app->name, app);
            free_app(app, NULL);
        } else {
            prune_map(&app->users, offsetof(struct presence_count, count), free_count);
            string_map_each(&app->channels, prune_channel_users, NULL);
            prune_map(&app->channels, offsetof(struct presence_channel, sockets), free_channel);
        }
    }
    pthread_mutex_unlock(&presence->lock);
    return sink.status;
}

struct app_visit {
    void (*visit)(const char *app_key, void *context);
    void *context;
};

static void visit_app_name(void *value, void *context)
{
    struct app_visit *visit = context;

    visit->visit(((struct presence_app *)value)->name, visit->context);
}

void gusher_presence_each_app(struct gusher_presence *presence,
                              void (*visit)(const char *app_key, void *context), void *context)
{
    pthread_mutex_lock(&presence->lock);
    string_map_each(&presence->apps, visit_app_name, &(struct app_visit){visit, context});
    pthread_mutex_unlock(&presence->lock);
}

/* ---- through the Redis writer ------------------------------------------------------------ */

#define MARK_PREFIX "gusher/presence/"
#define DEADLINE_MS 30000 /* the refresh comes every 10 s: two may fail before keys expire */

static int add_to_batch(void *context, int argc, const char *const *argv)
{
    return redis_batch_add(context, argc, argv, NULL);
}

static int64_t unix_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* The writer's build for key "gusher/presence/<app>". */
static int build_marked(void *context, const char *key, struct redis_batch *batch)
{
    struct gusher_presence *presence = context;

    if (strncmp(key, MARK_PREFIX, strlen(MARK_PREFIX)) != 0)
        return GIM_ERR_INVALID;
    return gusher_presence_build(presence, key + strlen(MARK_PREFIX), presence->server,
                                 unix_ms() + DEADLINE_MS, false, add_to_batch, batch);
}

static void mark(struct gusher_presence *presence, const char *app_key)
{
    char *key;

    if (presence->writer == NULL || asprintf(&key, MARK_PREFIX "%s", app_key) < 0)
        return;
    redis_writer_mark(presence->writer, key, build_marked, presence); /* a drop: the refresh */
    free(key);
}

int gusher_presence_attach(struct gusher_presence *presence, struct redis_writer *writer,
                           const char *server)
{
    if ((presence->server = strdup(server)) == NULL)
        return GIM_ERR_NO_MEMORY;
    presence->writer = writer;
    return GIM_OK;
}

struct app_names {
    char **names;
    size_t count, capacity;
};

static void collect_name(const char *app_key, void *context)
{
    struct app_names *names = context;

    if (names->count < names->capacity && (names->names[names->count] = strdup(app_key)) != NULL)
        names->count++;
}

/* The names of every app (a copy: marking and building take the lock themselves). */
static struct app_names app_names(struct gusher_presence *presence)
{
    struct app_names names = {NULL, 0, 0};

    pthread_mutex_lock(&presence->lock);
    names.capacity = presence->apps.count;
    names.names = calloc(names.capacity > 0 ? names.capacity : 1, sizeof(char *));
    if (names.names != NULL)
        string_map_each(&presence->apps, visit_app_name, &(struct app_visit){collect_name, &names});
    pthread_mutex_unlock(&presence->lock);
    return names;
}

static void free_names(struct app_names *names)
{
    size_t index;

    for (index = 0; index < names->count; index++)
        free(names->names[index]);
    free(names->names);
}

void gusher_presence_refresh(struct gusher_presence *presence)
{
    struct app_names names = app_names(presence);
    size_t index;

    for (index = 0; index < names.count; index++)
        mark(presence, names.names[index]);
    free_names(&names);
}

int gusher_presence_withdraw_all(void *context, const char *key, struct redis_batch *batch)
{
    struct gusher_presence *presence = context;
    struct app_names names = app_names(presence);
    size_t index;
    int status = GIM_OK;

    (void)key;
    for (index = 0; index < names.count && status == GIM_OK; index++)
        status = gusher_presence_build(presence, names.names[index], presence->server, 0, true,
                                       add_to_batch, batch);
    free_names(&names);
    return status;
}
