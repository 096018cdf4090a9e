/*
 * delivery_ops.h: what job's delivery core (job/delivery.h) needs from
 * outside, as a table of functions: the registry lookup, the comet call
 * and the clock. job/dispatch.c fills it with the comet table
 * (job/comets.h), gim_rpc_call_async (common/rpc.h) and the monotonic
 * clock (common/clock.h); tests fill it with fakes.
 *
 * Every function is called on the core's thread only; context is the
 * table's own pointer, passed back as it is.
 */
#ifndef JOB_DELIVERY_OPS_H
#define JOB_DELIVERY_OPS_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/rpc.h"
#include "job/comets.h"

struct job_delivery_ops {
    void *context;

    /* As job_comets_find: the comet named hostname, held (give it back with release), or
     * NULL when it is not in the table. */
    struct job_comet *(*find)(void *context, const char *hostname);
    /* As job_comets_snapshot: every comet, held; *list is malloc'd (the caller frees it after
     * releasing each). Returns GIM_OK or GIM_ERR_NO_MEMORY. */
    int (*snapshot)(void *context, struct job_comet ***list, size_t *count);
    /* Gives back a comet taken by find or snapshot. */
    void (*release)(void *context, struct job_comet *comet);
    /* As job_comets_request_refresh: asks for a registry read, returns its ticket. */
    uint64_t (*request_refresh)(void *context);
    /* As job_comets_fresh_since: has a read numbered ticket or later succeeded? */
    bool (*fresh_since)(void *context, uint64_t ticket);

    /*
     * As gim_rpc_call_async on comet's client (comet is held by the caller
     * until done runs; a PushMsg as gim_rpc_call_coalesced, which may carry
     * it in a batch with others): sends request as method. On GIM_OK done(user, ...)
     * runs exactly once later, on any thread; otherwise (GIM_ERR_AGAIN:
     * the client's queue is full, GIM_ERR_CLOSED, GIM_ERR_NO_MEMORY) never.
     */
    int (*call)(void *context, struct job_comet *comet, uint32_t method,
                const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
                int timeout_ms, gim_rpc_done_fn done, void *user);

    /* Milliseconds on a monotonic clock (gim_monotonic_ms in production). */
    int64_t (*now_ms)(void *context);
};

#endif
