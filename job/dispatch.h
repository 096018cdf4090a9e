/*
 * dispatch.h: turns Kafka PushMsg records into comet RPCs, concurrently,
 * and reports each record finished (its offset may be committed).
 *
 *   PUSH      -> PushMsg{keys, OpRaw proto, protoOp = operation} to the comet `server`
 *   ROOM      -> BroadcastRoom{roomID = room, OpRaw proto} to every live comet
 *   BROADCAST -> Broadcast{protoOp = operation, OpRaw proto, speed / comets} to every live comet
 *
 * The thread around job's delivery core (job/delivery.h): records are
 * decoded on the consumer's thread (job/record.h) and queued in an inbox;
 * one dispatcher thread owns the core, feeds it the inbox and the RPC
 * completions (which come back from nng threads through a list and a
 * condition variable), and sleeps until the next retry is due. Records are
 * ordered by lane (job/lane.h, job/batcher.h); different lanes run in
 * parallel, many calls per comet (the client's nng contexts).
 *
 * At-least-once: a record is finished only when every target comet has
 * acknowledged the batch holding it, or has left the registry (confirmed by
 * a registry read after the miss), or the bounded retries (comet.retries,
 * doubling backoff) ran out (logged as GIVING UP). A ROOM/BROADCAST with no
 * comet registered waits up to comet.waitForComets.
 *
 * Back-pressure: job_dispatch_submit refuses (GIM_ERR_AGAIN) while
 * dispatch.maxRecords records are unfinished or some comet has comet.queue
 * calls in flight; the consumer then stops reading Kafka.
 */
#ifndef JOB_DISPATCH_H
#define JOB_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job/comets.h"
#include "job/config.h"
#include "job/delivery_ops.h"
#include "job/metrics.h"
#include "job/record.h"

struct job_dispatch;

/*
 * Creates a dispatcher and starts its thread. config, comets and metrics
 * (where records, retries and calls are counted, job/metrics.h) stay the
 * caller's and must outlive it; finished(owner, ...) reports records, from
 * the dispatcher thread or from inside job_dispatch_submit (a record that
 * is skipped). On GIM_OK *dispatch is the caller's (job_dispatch_stop, then
 * job_dispatch_destroy). Returns GIM_OK, GIM_ERR_NO_MEMORY or GIM_ERR_IO.
 */
int job_dispatch_create(struct job_dispatch **dispatch, const struct job_config *config,
                        struct job_comets *comets, const struct job_metrics *metrics,
                        job_record_finished_fn finished, void *owner);

/*
 * As job_dispatch_create, with the registry, the comet calls and the clock
 * taken from ops instead (tests). ops->now_ms must read the monotonic clock
 * of common/clock.h: the thread sleeps on it until a retry is due. ops
 * stays the caller's and must outlive the dispatcher.
 */
int job_dispatch_create_with_ops(struct job_dispatch **dispatch, const struct job_config *config,
                                 const struct job_delivery_ops *ops,
                                 const struct job_metrics *metrics, job_record_finished_fn finished,
                                 void *owner);

/*
 * Hands over one record whose value is value[0..length) (decoded here; the
 * bytes stay the caller's). Returns GIM_OK: taken, finished() follows once
 * (perhaps before this returns, for a record that is skipped with a log
 * line: undecodable, unknown type, missing keys/server/room, frame too
 * large), unless the dispatcher stops first. GIM_ERR_AGAIN: no room now
 * (back-pressure), nothing taken, try again after job_dispatch_has_room.
 * GIM_ERR_CLOSED (stopping) or GIM_ERR_NO_MEMORY: nothing taken.
 */
int job_dispatch_submit(struct job_dispatch *dispatch, const uint8_t *value, size_t length,
                        const struct job_record_ticket *ticket);

/* True when job_dispatch_submit would not answer GIM_ERR_AGAIN. Any thread. */
bool job_dispatch_has_room(const struct job_dispatch *dispatch);

/*
 * Stops: no new call or retry starts; waits for the calls in flight (each
 * bounded by comet.timeout), reporting the records they finish; records
 * still unfinished are dropped unreported (they stay uncommitted and come
 * again after a restart). Joins the thread. Idempotent.
 */
void job_dispatch_stop(struct job_dispatch *dispatch);

/* Stops if needed and frees the dispatcher. NULL is allowed. */
void job_dispatch_destroy(struct job_dispatch *dispatch);

#endif
