/*
 * push.h: turning a push request into PushMsg records on Kafka.
 *
 * The transport-free part of logic's push API: look the targets up in
 * Redis, group connection keys by comet server (logic/push_group.h), build
 * goim's PushMsg (proto/logic.proto) and produce it; the caller learns of
 * Kafka's acknowledgement through a completion.
 * Record keys are goim's: PUSH -> keys[0], ROOM -> the room key,
 * BROADCAST -> the operation in decimal.
 *
 * Every function calls done(user, status, error) exactly once
 * (producer.h's producer_done_fn): GIM_OK once Kafka has acknowledged
 * every record (or there was nothing to send); GIM_ERR_INVALID for a bad
 * argument; GIM_ERR_UNAVAILABLE / GIM_ERR_REMOTE for Redis trouble;
 * GIM_ERR_UNAVAILABLE / GIM_ERR_TIMEOUT for Kafka trouble;
 * GIM_ERR_NO_MEMORY; error says why. The Redis lookup runs on the calling
 * thread (one pooled connection, its commands pipelined); nothing waits
 * for Kafka: done runs on the producer's poll thread, or on the calling
 * thread before the function returns when nothing is in flight by then.
 * All pointers stay the caller's (they are copied before the function
 * returns).
 */
#ifndef LOGIC_PUSH_H
#define LOGIC_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "logic/producer.h"
#include "logic/session.h"

struct logic_context;

/*
 * Pushes message[0..length) with operation to the connections keys[0..count):
 * one PUSH record per comet server holding some of them. Keys without a
 * session are skipped. count == 0 is GIM_ERR_INVALID (goim fails too).
 */
void push_keys(const struct logic_context *logic, int32_t operation, const char *const *keys,
               size_t count, const uint8_t *message, size_t length, producer_done_fn done,
               void *user);

/*
 * Pushes message[0..length) with operation to every connection of the users
 * mids[0..count): one PUSH record per comet server. No mids, or no user
 * online, is GIM_OK with nothing sent.
 */
void push_mids(const struct logic_context *logic, int32_t operation, const int64_t *mids,
               size_t count, const uint8_t *message, size_t length, producer_done_fn done,
               void *user);

/*
 * Pushes message[0..length) with operation to every connection in room
 * room_key ("<type>://<room>"): one ROOM record, record key = room_key.
 */
void push_room(const struct logic_context *logic, int32_t operation, const char *room_key,
               const uint8_t *message, size_t length, producer_done_fn done, void *user);

/*
 * Pushes message[0..length), UTF-8 text, to the connections in room
 * room_key whose user_tag user_tag_pattern matches (NULL or "": all of
 * them): one ROOM record with goim-c's fields text = true and
 * userTagPattern (proto/logic.proto), operation 0, record key = room_key.
 * gopusher's push (logic/gopusher_api.h); the pattern is checked by the
 * caller.
 */
void push_room_text(const struct logic_context *logic, const char *room_key,
                    const char *user_tag_pattern, const uint8_t *message, size_t length,
                    producer_done_fn done, void *user);

/*
 * Asks every comet to close every connection in room room_key: one ROOM
 * record with closeRoom = true, an empty msg, record key = room_key (so it
 * comes after the room's earlier pushes). gopusher's unregister.
 */
void push_room_close(const struct logic_context *logic, const char *room_key, producer_done_fn done,
                     void *user);

/*
 * Pushes message[0..length) with operation to the connections of routes
 * (connection key -> comet server, looked up by the caller): one PUSH
 * record per distinct server, with that server's keys in routes' order
 * (logic/push_group.h). No routes: GIM_OK with nothing sent.
 */
void push_routes(const struct logic_context *logic, int32_t operation,
                 const struct session_routes *routes, const uint8_t *message, size_t length,
                 producer_done_fn done, void *user);

/* One ROOM record of push_rooms_text; every pointer stays the caller's. */
struct push_text_room {
    const char *room_key; /* the room and the record key */
    const uint8_t *message;
    size_t length;
};

/*
 * Pushes rooms[0..count), each its message with operation and text = true
 * (UTF-8 for protocols that send pushes as WebSocket text messages), as one
 * ROOM record per room with record key = the room, all produced together;
 * done once every record has its report (count 0: GIM_OK). gusher's
 * channel, pattern and batch pushes (logic/gusher_api.h).
 */
void push_rooms_text(const struct logic_context *logic, int32_t operation,
                     const struct push_text_room *rooms, size_t count, producer_done_fn done,
                     void *user);

/*
 * Pushes message[0..length) with operation to every connection of every
 * comet: one BROADCAST record with speed (job's per-second rate, 0 =
 * unlimited), record key = the operation in decimal.
 */
void push_all(const struct logic_context *logic, int32_t operation, int32_t speed,
              const uint8_t *message, size_t length, producer_done_fn done, void *user);

#endif
