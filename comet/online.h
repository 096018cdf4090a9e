/*
 * online.h: comet-wide room counts, local and cluster-wide (goim's online view).
 *
 * One table per comet, shared by every loop and the operations thread and
 * guarded by one mutex (held only for a hash lookup or update, never across
 * I/O, so a loop never waits on anything slow). Each entry is a goim room with
 * members on this comet (gusher's channels and gopusher's apps are not goim's
 * rooms: the room index leaves them out, comet/room.h's `counted`): `local` =
 * members summed over all loops (loops call
 * comet_online_add on join / leave through their room index), `all` = the room's
 * cluster-wide count from logic's last RenewOnline answer (0 = unknown).
 * An entry is freed when its local count reaches 0. The table's size is
 * bounded by the rooms joined on this comet (one room per connection).
 */
#ifndef COMET_ONLINE_H
#define COMET_ONLINE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "comet/string_map.h"

struct comet_online {
    pthread_mutex_t lock;
    struct string_map rooms; /* room id -> struct comet_online_room (owned) */
};

/* One room and its count, as copied out by comet_online_snapshot. */
struct comet_online_count {
    char *room; /* owned by the snapshot */
    int32_t count;
};

/* Initialises an empty table. */
void comet_online_init(struct comet_online *online);

/* Frees the table and its entries. No thread may use it any more. */
void comet_online_destroy(struct comet_online *online);

/*
 * Adds delta (+1 join, -1 leave) to room's local count, creating the entry on
 * a join and freeing it when the count reaches 0. A leave of an unknown room
 * is ignored; a join that cannot allocate is dropped (the count is then one
 * low until the room empties). online may be NULL (nothing is counted). Any thread.
 */
void comet_online_add(struct comet_online *online, const char *room, int delta);

/*
 * The count a heartbeat reports for room: its cluster-wide count when known
 * and > 0, else its comet-wide local count; 0 if room is NULL or unknown. Any thread.
 */
uint32_t comet_online_room_count(struct comet_online *online, const char *room);

/* Rooms with members on this comet (entries of the table). Any thread. */
size_t comet_online_room_total(struct comet_online *online);

/*
 * Copies every room with its local count into a new array (*out, *count; NULL / 0 when
 * empty). Free it with comet_online_snapshot_free. Returns GIM_OK or GIM_ERR_NO_MEMORY.
 */
int comet_online_snapshot(struct comet_online *online, struct comet_online_count **out,
                          size_t *count);

/* Frees a snapshot from comet_online_snapshot. */
void comet_online_snapshot_free(struct comet_online_count *counts, size_t count);

/*
 * Replaces the cluster-wide counts: rooms in counts[] get theirs, every other
 * room back to unknown (0). Rooms without local members are not kept. Any thread.
 */
void comet_online_set_all(struct comet_online *online, const struct comet_online_count *counts,
                          size_t count);

#endif
