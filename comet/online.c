/* online.c: the comet-wide local and cluster-wide room counts (see online.h). */
#include "comet/online.h"

#include <stdlib.h>
#include <string.h>

#include "common/status.h"

struct comet_online_room {
    char *id; /* owned; also the key in the map */
    uint32_t local;
    int32_t all;
};

void comet_online_init(struct comet_online *online)
{
    pthread_mutex_init(&online->lock, NULL);
    string_map_init(&online->rooms);
}

static void free_room_visit(void *value, void *context)
{
    struct comet_online_room *room = value;
    (void)context;
    free(room->id);
    free(room);
}

void comet_online_destroy(struct comet_online *online)
{
    string_map_each(&online->rooms, free_room_visit, NULL);
    string_map_destroy(&online->rooms);
    pthread_mutex_destroy(&online->lock);
}

void comet_online_add(struct comet_online *online, const char *id, int delta)
{
    struct comet_online_room *room;

    if (online == NULL || id == NULL)
        return;
    pthread_mutex_lock(&online->lock);
    room = string_map_get(&online->rooms, id);
    if (delta > 0) {
        if (room == NULL) {
            room = calloc(1, sizeof(*room));
            if (room == NULL || (room->id = strdup(id)) == NULL ||
                string_map_put(&online->rooms, room->id, room, NULL) != GIM_OK) {
                if (room != NULL)
                    free(room->id);
                free(room);
                room = NULL;
            }
        }
        if (room != NULL)
            room->local += (uint32_t)delta;
    } else if (room != NULL) {
        uint32_t minus = (uint32_t)-delta;
        room->local = room->local > minus ? room->local - minus : 0;
        if (room->local == 0) {
            string_map_remove_if(&online->rooms, room->id, room);
            free(room->id);
            free(room);
        }
    }
    pthread_mutex_unlock(&online->lock);
}

uint32_t comet_online_room_count(struct comet_online *online, const char *id)
{
    struct comet_online_room *room;
    uint32_t count = 0;

    if (online == NULL || id == NULL)
        return 0;
    pthread_mutex_lock(&online->lock);
    room = string_map_get(&online->rooms, id);
    if (room != NULL)
        count = room->all > 0 ? (uint32_t)room->all : room->local;
    pthread_mutex_unlock(&online->lock);
    return count;
}

struct snapshot_context {
    struct comet_online_count *counts;
    size_t count;
    int status;
};

static void snapshot_visit(void *value, void *argument)
{
    struct comet_online_room *room = value;
    struct snapshot_context *context = argument;
    struct comet_online_count *slot = &context->counts[context->count];

    if (context->status != GIM_OK)
        return;
    slot->room = strdup(room->id);
    if (slot->room == NULL) {
        context->status = GIM_ERR_NO_MEMORY;
        return;
    }
    slot->count = room->local > INT32_MAX ? INT32_MAX : (int32_t)room->local;
    context->count++;
}

int comet_online_snapshot(struct comet_online *online, struct comet_online_count **out,
                          size_t *count)
{
    struct snapshot_context context = {NULL, 0, GIM_OK};

    *out = NULL;
    *count = 0;
    pthread_mutex_lock(&online->lock);
    if (online->rooms.count > 0) {
        context.counts = calloc(online->rooms.count, sizeof(*context.counts));
        if (context.counts == NULL)
            context.status = GIM_ERR_NO_MEMORY;
        else
            string_map_each(&online->rooms, snapshot_visit, &context);
    }
    pthread_mutex_unlock(&online->lock);
    if (context.status != GIM_OK) {
        comet_online_snapshot_free(context.counts, context.count);
        return context.status;
    }
    *out = context.counts;
    *count = context.count;
    return GIM_OK;
}

void comet_online_snapshot_free(struct comet_online_count *counts, size_t count)
{
    size_t index;

    for (index = 0; index < count; index++)
        free(counts[index].room);
    free(counts);
}

static void clear_all_visit(void *value, void *context)
{
    struct comet_online_room *room = value;
    (void)context;
    room->all = 0;
}

void comet_online_set_all(struct comet_online *online, const struct comet_online_count *counts,
                          size_t count)
{
    size_t index;

    pthread_mutex_lock(&online->lock);
    string_map_each(&online->rooms, clear_all_visit, NULL);
    for (index = 0; index < count; index++) {
        struct comet_online_room *room = string_map_get(&online->rooms, counts[index].room);
        if (room != NULL)
            room->all = counts[index].count;
    }
    pthread_mutex_unlock(&online->lock);
}

size_t comet_online_room_total(struct comet_online *online)
{
    size_t total;

    pthread_mutex_lock(&online->lock);
    total = online->rooms.count;
    pthread_mutex_unlock(&online->lock);
    return total;
}
