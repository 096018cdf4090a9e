/*
 * dispatch.h: turns one Kafka PushMsg record into comet RPCs and decides
 * when the record is finished (its offset may be committed).
 *
 *   PUSH      -> PushMsg{keys, OpRaw proto, protoOp = operation} to the comet `server`
 *   ROOM      -> BroadcastRoom{roomID = room, OpRaw proto} to every live comet
 *   BROADCAST -> Broadcast{protoOp = operation, OpRaw proto, speed / comets} to every live comet
 *
 * At-least-once: a record is finished only when every target comet has
 * acknowledged it, or has left the registry (checked by a fresh registry
 * read), or the bounded retries ran out (logged at error level). Calls to
 * several comets run in parallel; failed targets alone are retried, with a
 * doubling backoff.
 *
 * This skeleton handles one record at a time, in order, on the consumer's
 * thread; room batching, concurrency and back-pressure grow here.
 */
#ifndef JOB_DISPATCH_H
#define JOB_DISPATCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "job/comets.h"
#include "job/config.h"

struct job_dispatch;

/*
 * Creates a dispatcher. config, comets and stopping stay the caller's and
 * must outlive it; *stopping becoming true makes a record in progress stop
 * between attempts. On GIM_OK *dispatch is the caller's
 * (job_dispatch_destroy). Returns GIM_OK or GIM_ERR_NO_MEMORY.
 */
int job_dispatch_create(struct job_dispatch **dispatch, const struct job_config *config,
                        struct job_comets *comets, const atomic_bool *stopping);

/* Frees the dispatcher (no record may be in progress). NULL is allowed. */
void job_dispatch_destroy(struct job_dispatch *dispatch);

/*
 * Delivers one record whose value is value[0..length) (stays the
 * caller's); origin ("topic/partition/offset") is used in log lines.
 * Blocks until the record is finished. Returns GIM_OK when its offset may
 * be committed: delivered, skipped with a log line (undecodable value,
 * unknown type, missing keys/room/server, target comet gone, no comet for a
 * ROOM/BROADCAST within comet.waitForComets) or given up after
 * comet.retries (logged at error level). Returns GIM_ERR_CLOSED when
 * *stopping turned true first: the record is not finished, do not commit
 * it (it is delivered again after a restart). Returns GIM_ERR_NO_MEMORY if
 * the request could not be built: not finished either.
 */
int job_dispatch_record(struct job_dispatch *dispatch, const uint8_t *value, size_t length,
                        const char *origin);

#endif
