/*
 * broadcast_pacer.h: one worker's broadcasts delivered at a bounded speed (layer 5, delivery).
 *
 * goim's Broadcast RPC carries `speed`, connections per second for this
 * comet (0 = at once). A loop delivers its share at speed / loops per
 * second without ever sleeping: when the job arrives it snapshots its
 * matching connections (each referenced, so a closed one stays readable
 * and is skipped), delivers the first at once and the rest as they fall
 * due; the loop's epoll timeout wakes it for the next slice (at least
 * PACER_SLICE_MS apart, so a high speed costs one wake-up per slice, not
 * per connection). The push RPC is acknowledged once the snapshot is taken.
 *
 * Bound: at most PACER_MAX_ACTIVE paced broadcasts per loop; past that (or
 * without memory for the snapshot) pacer_start refuses and the caller
 * delivers at once, as goim with speed 0: never dropped, only unpaced.
 * Loop thread only.
 */
#ifndef COMET_BROADCAST_PACER_H
#define COMET_BROADCAST_PACER_H

#include <stdint.h>

struct comet_worker;
struct push_job;
struct paced_broadcast;

#define PACER_MAX_ACTIVE 64
#define PACER_SLICE_MS   10

/*
 * Starts delivering job (PUSH_BROADCAST) to the worker's matching connections at
 * per_second (> 0) connections per second, from now_ms. Takes a reference to
 * job. Returns GIM_OK, GIM_ERR_AGAIN (PACER_MAX_ACTIVE reached) or
 * GIM_ERR_NO_MEMORY; on error nothing is kept and the caller delivers itself.
 */
int pacer_start(struct comet_worker *worker, struct push_job *job, double per_second,
                int64_t now_ms);

/*
 * Delivers every due connection of every paced broadcast and frees the
 * finished ones. Returns the ms until the loop should call again, or -1
 * when nothing is paced.
 */
int pacer_run(struct comet_worker *worker, int64_t now_ms);

/* Drops every paced broadcast undelivered (loop stopping): releases connections and jobs. */
void pacer_clear(struct comet_worker *worker);

#endif
