/*
 * lane.h: what must stay in order among PushMsg records (job/batcher.h).
 *
 * A lane is a string: a ROOM's lane is its room, a PUSH's lane is its key
 * set (server and keys, whatever the operation: a gusher reload, 2001, and
 * a message, 2000, to the same sockets stay in order), a BROADCAST's lane
 * is the stream of its operation and speed. Records of one lane are
 * delivered in Kafka order; records of different lanes run in parallel.
 */
#ifndef JOB_LANE_H
#define JOB_LANE_H

#include "logic.pb-c.h"

/*
 * The lane of message, which has what its type needs (job/record.h checks
 * that: a PUSH has keys and a server, a ROOM a room). Returns a malloc'd
 * string, the caller's (free), or NULL when out of memory. message stays
 * the caller's.
 */
char *job_lane_of(const Goim__Logic__PushMsg *message);

/*
 * What a record's batch shares besides its lane, so that one comet request
 * can carry it: a PUSH's operation (PushMsgReq has one protoOp, which comet
 * filters connections by); a ROOM's goim-c userTagPattern, text and
 * closeRoom (proto/logic.proto), "" for goim's ROOM records; "" for every
 * BROADCAST (its lane already names its operation). Records merge into one
 * body only with an equal key (job_batcher_add_keyed); records of one lane
 * with different keys go in separate bodies, still in order. Returns a
 * malloc'd string, the caller's (free), or NULL when out of memory.
 */
char *job_lane_merge_key_of(const Goim__Logic__PushMsg *message);

#endif
