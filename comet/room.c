/* room.c: the per-loop room index with multi-room memberships (see room.h). */
#include "comet/room.h"

#include <stdlib.h>
#include <string.h>

#include "comet/online.h"
#include "common/status.h"

void room_index_init(struct room_index *index)
{
    string_map_init(&index->rooms);
    index->online = NULL;
    index->counted = NULL;
}

/* Tells the comet-wide counts of a join (+1) or a leave (-1) of connection, if it counts. */
static void room_count_online(const struct room_index *index,
                              const struct comet_connection *connection, const char *id, int delta)
{
    if (index->online != NULL && (index->counted == NULL || index->counted(connection)))
        comet_online_add(index->online, id, delta);
}

static void room_free_visit(void *value, void *context)
{
    struct room *room = value;
    (void)context;
    free(room->id);
    free(room);
}

void room_index_destroy(struct room_index *index)
{
    string_map_each(&index->rooms, room_free_visit, NULL);
    string_map_destroy(&index->rooms);
}

struct room *room_find(const struct room_index *index, const char *id)
{
    return string_map_get(&index->rooms, id);
}

int room_join(struct room_index *index, struct comet_connection *connection,
              struct room_member **memberships, const char *id)
{
    struct room_member *member;
    struct room *room;

    for (member = *memberships; member != NULL; member = member->next_of_connection) {
        if (strcmp(member->room->id, id) == 0)
            return GIM_OK;
    }
    member = calloc(1, sizeof(*member));
    if (member == NULL)
        return GIM_ERR_NO_MEMORY;
    room = string_map_get(&index->rooms, id);
    if (room == NULL) {
        room = calloc(1, sizeof(*room));
        if (room == NULL || (room->id = strdup(id)) == NULL ||
            string_map_put(&index->rooms, room->id, room, NULL) != GIM_OK) {
            if (room != NULL)
                free(room->id);
            free(room);
            free(member);
            return GIM_ERR_NO_MEMORY;
        }
    }
    member->room = room;
    member->connection = connection;
    member->next_in_room = room->members;
    if (room->members != NULL)
        room->members->prev_in_room = member;
    room->members = member;
    room->online++;
    room_count_online(index, connection, room->id, 1);
    member->next_of_connection = *memberships;
    *memberships = member;
    return GIM_OK;
}

/* Unlinks member from its room (freeing the room when it empties) and frees it; the caller
 * unlinks it from its connection's list. */
static void room_member_remove(struct room_index *index, struct room_member *member)
{
    struct room *room = member->room;

    if (member->prev_in_room != NULL)
        member->prev_in_room->next_in_room = member->next_in_room;
    else
        room->members = member->next_in_room;
    if (member->next_in_room != NULL)
        member->next_in_room->prev_in_room = member->prev_in_room;
    room_count_online(index, member->connection, room->id, -1);
    free(member);
    if (--room->online == 0) {
        string_map_remove_if(&index->rooms, room->id, room);
        free(room->id);
        free(room);
    }
}

void room_leave_all(struct room_index *index, struct room_member **memberships)
{
    struct room_member *member = *memberships, *next;

    for (; member != NULL; member = next) {
        next = member->next_of_connection;
        room_member_remove(index, member);
    }
    *memberships = NULL;
}

bool room_leave(struct room_index *index, struct room_member **memberships, const char *id)
{
    struct room_member **link;

    for (link = memberships; *link != NULL; link = &(*link)->next_of_connection) {
        struct room_member *member = *link;
        if (strcmp(member->room->id, id) == 0) {
            *link = member->next_of_connection;
            room_member_remove(index, member);
            return true;
        }
    }
    return false;
}
