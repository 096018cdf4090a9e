/*
 * room.h: one loop's room index, room key -> the loop's connections in it.
 *
 * Room keys are opaque strings ("live://1000" today, "app/<key>/<channel>"
 * later). A connection may belong to several rooms: each membership is a
 * room_member node linked both into the room's member list and into the
 * connection's own list, so joining and leaving are O(1) and goim's change
 * room is leave-all then join-one. A room is created on first join and freed
 * when its last member leaves. Owned and used by one loop thread only.
 */
#ifndef COMET_ROOM_H
#define COMET_ROOM_H

#include <stdbool.h>
#include <stdint.h>

#include "comet/string_map.h"

struct comet_connection;
struct comet_online;
struct room;

struct room_member {
    struct room *room;
    struct comet_connection *connection;
    struct room_member *prev_in_room, *next_in_room;
    struct room_member *next_of_connection;
};

struct room {
    char *id;        /* owned; also the key in the index */
    uint32_t online; /* members in this loop */
    struct room_member *members;
};

struct room_index {
    struct string_map rooms;     /* id -> struct room */
    struct comet_online *online; /* comet-wide counts told of a join / leave; NULL = none */
    /*
     * Whether a connection's memberships are told to online (goim's online view holds goim's
     * rooms only, not gusher's channels or gopusher's apps); NULL = every connection's. It must
     * answer the same for a connection from its first join to its last leave.
     */
    bool (*counted)(const struct comet_connection *connection);
};

/* Initialises an empty index (online and counted NULL; the owner may set them before the first
 * join). */
void room_index_init(struct room_index *index);

/* Frees the index; every connection must have left its rooms already. */
void room_index_destroy(struct room_index *index);

/*
 * Adds connection to room id (copied), creating the room if needed, and
 * links the membership into *memberships (the connection's list head).
 * Joining a room the connection is already in does nothing.
 * Returns GIM_OK or GIM_ERR_NO_MEMORY.
 */
int room_join(struct room_index *index, struct comet_connection *connection,
              struct room_member **memberships, const char *id);

/* Removes the connection from every room in *memberships (left empty). */
void room_leave_all(struct room_index *index, struct room_member **memberships);

/* Removes the connection from room id, if it is in it; returns whether it was. */
bool room_leave(struct room_index *index, struct room_member **memberships, const char *id);

/* Returns the room with this id in the loop, or NULL. */
struct room *room_find(const struct room_index *index, const char *id);

#endif
