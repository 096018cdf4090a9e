/*
 * record.h: one Kafka record on its way through job: the decoded PushMsg,
 * the ticket that names it to its consumer, and its lane (job/lane.h).
 *
 * A record is checked when it is decoded: a value that is not a PushMsg,
 * an unknown type, a PUSH without keys or server, a ROOM without room
 * cannot be delivered and is refused here (logged with its origin); the
 * caller reports it finished as skipped.
 */
#ifndef JOB_RECORD_H
#define JOB_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "logic.pb-c.h"

/* Identifies a record to its consumer; copied by the dispatcher. */
struct job_record_ticket {
    int32_t partition;
    int64_t offset;
    uint64_t generation; /* the consumer's incarnation of the partition's assignment */
    char origin[160];    /* "topic/partition@offset", for log lines */
};

/*
 * Called exactly once per record taken by the dispatcher when it is
 * finished (job/dispatch.h says from which thread). ticket is valid during
 * the call only. Must not call back into the dispatcher.
 */
typedef void (*job_record_finished_fn)(void *owner, const struct job_record_ticket *ticket);

/* A decoded, deliverable record. */
struct job_record {
    struct job_record_ticket ticket;
    Goim__Logic__PushMsg *message; /* owned */
    char *lane;                    /* owned, job_lane_of(message) */
    struct job_record *next;       /* free for the owner's queue (the dispatcher's inbox) */
};

/*
 * Decodes value[0..length) (the bytes stay the caller's) into a new record
 * with a copy of ticket. Returns GIM_OK with *record the caller's
 * (job_record_free), GIM_ERR_INVALID when the record cannot be delivered
 * (logged with ticket->origin: not a PushMsg, unknown type, missing
 * keys/server/room; *record NULL) or GIM_ERR_NO_MEMORY (*record NULL).
 */
int job_record_decode(const uint8_t *value, size_t length, const struct job_record_ticket *ticket,
                      struct job_record **record);

/* Frees record and what it owns. NULL is allowed. */
void job_record_free(struct job_record *record);

/* "push", "room" or "broadcast", for log lines (static). */
const char *job_record_kind_name(Goim__Logic__PushMsg__Type kind);

#endif
