/*
 * target.h: the comets one batch of records must reach, and the state of
 * each: acknowledged, gone from the registry, or still to be tried.
 *
 * A PUSH has one target, its record's server; a ROOM or BROADCAST has
 * every comet in the registry when its first round starts. A target that
 * is missing from the table is not given up at once: it asks for a
 * registry read and counts as gone only once a read that started after
 * the miss still does not list it.
 */
#ifndef JOB_TARGET_H
#define JOB_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "job/comets.h"
#include "job/delivery_ops.h"

struct job_delivery;

/* One call started by the delivery core: the `user` of the call's completion. */
struct job_delivery_call {
    void *owner;                    /* the call owner given to job_deliveries_create */
    int status;                     /* free for the owner: the status it queues */
    struct job_delivery_call *next; /* free for the owner: its queue of completions */
};

/* One comet a batch must reach. */
struct job_target {
    struct job_delivery_call call; /* the token of this target's call in flight */
    struct job_delivery *delivery; /* the batch's delivery (set by its owner) */
    char *hostname;                /* owned */
    struct job_comet *comet;       /* held while a call is in flight */
    bool finished;                 /* acknowledged, or gone from the registry */
    bool missing; /* not in the table; gone once a read after refresh_ticket agrees */
    uint64_t refresh_ticket;
    int status; /* result of the last call (or of the lookup) */
};

/*
 * Makes one target, hostname (copied). On GIM_OK *targets is a malloc'd
 * array of 1 (job_targets_free). Returns GIM_OK or GIM_ERR_NO_MEMORY.
 */
int job_targets_one(const char *hostname, struct job_target **targets, size_t *count);

/*
 * Makes one target per comet in the registry now (ops->snapshot). On
 * GIM_OK *targets is a malloc'd array of *count > 0 (job_targets_free).
 * Returns GIM_OK, GIM_ERR_NOT_FOUND (no comet registered) or
 * GIM_ERR_NO_MEMORY.
 */
int job_targets_all(const struct job_delivery_ops *ops, struct job_target **targets, size_t *count);

/*
 * Finds target's comet for the next call. Returns it held (ops->release
 * gives it back), or NULL: then target->finished is true when the comet
 * has left the registry (logged with kind and origin), else
 * target->status is GIM_ERR_NOT_FOUND and a registry read was asked for.
 */
struct job_comet *job_target_resolve(struct job_target *target, const struct job_delivery_ops *ops,
                                     const char *kind, const char *origin);

/* Frees targets[0..count) (no comet may be held any more). NULL is allowed. */
void job_targets_free(struct job_target *targets, size_t count);

#endif
