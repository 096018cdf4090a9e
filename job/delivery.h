/*
 * delivery.h: job's delivery core, single-threaded: records in, comet
 * calls out, records reported finished.
 *
 * A record accepted here joins its lane (job/batcher.h): a lane with
 * nothing in flight sends at once, a busy lane merges what arrives (at most
 * room.batch frames, BROADCAST never; only records of an equal merge key,
 * job_lane_merge_key_of, e.g. a PUSH's operation) into the next OpRaw body,
 * sent once the batch before it is done. A batch is delivered in rounds: one call per
 * unfinished target (job/target.h), all in parallel; when the round's
 * calls have all completed, the batch is done, or waits comet.retryBackoff
 * (doubling up to comet.retryBackoffMax) for the next round. After
 * comet.retries failed retries it is given up (logged as GIVING UP). A
 * ROOM/BROADCAST with no comet registered waits up to comet.waitForComets.
 * A done batch reports each of its records finished, in lane order.
 *
 * Everything but job_deliveries_reserve and job_deliveries_has_room runs on
 * one thread, the owner's; the outside world (registry, comet calls, clock)
 * comes through job/delivery_ops.h, so tests drive the core on a fake
 * clock. A call's completion arrives on any thread through the call_done
 * given at creation; the owner hands it back on its thread with
 * job_deliveries_call_done.
 *
 * Bounds: records are counted from job_deliveries_reserve until they are
 * finished or dropped; job_deliveries_has_room says no at
 * dispatch.maxRecords records, or while some comet has comet.queue calls in
 * flight. The owner stops taking records then (back-pressure, nothing
 * dropped).
 */
#ifndef JOB_DELIVERY_H
#define JOB_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "job/config.h"
#include "job/delivery_ops.h"
#include "job/metrics.h"
#include "job/record.h"
#include "job/target.h"

struct job_deliveries;

/*
 * Creates an idle core. config, ops (and what it points to) and metrics
 * stay the caller's and must outlive the core. finished(owner, ticket)
 * reports each finished record, on the owner's thread. call_done is what
 * every comet call completes through (ops->call's done), with user a
 * struct job_delivery_call whose owner field is call_owner. On GIM_OK
 * *core is the caller's (job_deliveries_destroy). Returns GIM_OK or
 * GIM_ERR_NO_MEMORY.
 */
int job_deliveries_create(struct job_deliveries **core, const struct job_config *config,
                          const struct job_delivery_ops *ops, const struct job_metrics *metrics,
                          job_record_finished_fn finished, void *owner, gim_rpc_done_fn call_done,
                          void *call_owner);

/* Counts one record against dispatch.maxRecords before it is accepted or dropped. Any thread. */
void job_deliveries_reserve(struct job_deliveries *core);

/* True when there is room for one more record (see Bounds above). Any thread. */
bool job_deliveries_has_room(const struct job_deliveries *core);

/*
 * Takes a reserved record (now the core's): it joins its lane and its
 * calls start now or after the lane's batch in flight. A record whose
 * message cannot be framed is finished at once as skipped.
 */
void job_deliveries_accept(struct job_deliveries *core, struct job_record *record);

/* Frees a reserved record that is not accepted (the owner stops): unreported, uncommitted. */
void job_deliveries_drop(struct job_deliveries *core, struct job_record *record);

/*
 * The completion of a call (call is the user given to call_done), with
 * its status; the reply was the owner's to free. May end the round: then
 * records are reported finished or the batch waits for its next round.
 */
void job_deliveries_call_done(struct job_deliveries *core, struct job_delivery_call *call,
                              int status);

/*
 * Starts the rounds that are due by ops->now_ms. Returns the earliest due
 * time of a round still waiting (ops->now_ms milliseconds), or -1 when
 * none waits.
 */
int64_t job_deliveries_run_due(struct job_deliveries *core);

/*
 * From now on no call or round starts: a round that ends with a target
 * unfinished drops its records unreported, and batches that would start
 * are dropped. Calls in flight still complete through call_done.
 */
void job_deliveries_stop(struct job_deliveries *core);

/* Calls started and not yet handed back with job_deliveries_call_done. */
size_t job_deliveries_calls_in_flight(const struct job_deliveries *core);

/*
 * Frees the core; no call may be in flight. Batches waiting for a round or
 * queued in a lane are dropped unreported (they stay uncommitted). NULL is
 * allowed.
 */
void job_deliveries_destroy(struct job_deliveries *core);

#endif
