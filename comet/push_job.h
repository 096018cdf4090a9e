/*
 * push_job.h: one delivery request handed from an RPC worker to every loop (layer 5).
 *
 * The RPC worker wraps the request in a push_job with one inbox item per
 * loop, posts the items to every loop or to none (worker_post_push_job), and
 * waits on the latch until each loop has queued the push to its matching
 * connections (push_job_wait). What the RPC answers is all or nothing, so
 * that the caller's retry never delivers twice: the first loop that runs its
 * item starts the job for every loop (push_job_start), and a wait that runs
 * out of time cancels the job only if no loop has started it; a cancelled
 * job's items still run, but deliver nothing. The push is encoded lazily, once per
 * wire (framing and protocol pair, connection_route.wire) present among its
 * targets, by the first loop that meets a target on that wire; every other
 * target on it shares that buffer. The job is reference counted
 * (atomically): one reference per loop it was posted to plus the RPC
 * worker's, so a worker that stops waiting (timeout) never frees what a loop
 * still reads. The job owns the unpacked request its push, keys and room
 * point into.
 */
#ifndef COMET_PUSH_JOB_H
#define COMET_PUSH_JOB_H

#include <protobuf-c/protobuf-c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comet/connection.h"
#include "comet/inbox.h"
#include "comet/latch.h"
#include "comet/protocol.h"
#include "common/shared_buffer.h"

enum push_kind {
    PUSH_TO_KEYS,  /* connections with one of keys[] that watch operation */
    PUSH_TO_ROOM,  /* every connection in room (no operation filter, as goim) */
    PUSH_BROADCAST /* every connection that watches operation */
};

struct push_job;

struct push_job_item {
    struct inbox_item item; /* run by the worker (worker.c) */
    struct push_job *job;
};

enum push_job_state {
    PUSH_JOB_POSTED,   /* no loop has started it yet */
    PUSH_JOB_STARTED,  /* a loop has started it: every loop delivers it */
    PUSH_JOB_CANCELLED /* the wait ran out first: no loop delivers it */
};

struct push_job {
    atomic_int references;
    atomic_int state;       /* enum push_job_state: POSTED, then STARTED or CANCELLED, once */
    struct latch delivered; /* counted down once by each loop */
    enum push_kind kind;
    int32_t operation;
    int32_t speed; /* PUSH_BROADCAST: connections per second for this comet, 0 = at once */
    struct comet_push push;
    pthread_mutex_t encode_lock; /* taken only to encode for a wire met the first time */
    struct gim_shared_buffer *_Atomic encoded[CONNECTION_WIRES]; /* owned, NULL until needed */
    bool encode_failed[CONNECTION_WIRES];                        /* under encode_lock */
    ProtobufCMessage *request; /* owned; push, keys and room point into it */
    char **keys;
    size_t key_count;
    const char *room;
    int item_count;
    struct push_job_item items[]; /* one per loop */
};

/*
 * Allocates a job for loop_count loops with references = 1 (the caller's),
 * the latch at loop_count, push copied (its body must live as long as the
 * job: inside request, or the caller's; its user_tag_pattern, if any, becomes
 * the job's), and takes ownership of request (freed with
 * protobuf_c_message_free_unpacked; may be NULL). Returns NULL if memory is
 * short (request and the pattern are then released).
 */
struct push_job *push_job_new(int loop_count, enum push_kind kind, const struct comet_push *push,
                              ProtobufCMessage *request);

/*
 * The push as bytes for connections on route (its protocol's encode_push on its framing),
 * encoded on the first call for route's wire and shared afterwards; owned by the job (valid
 * while the caller holds a reference). NULL if it cannot be encoded (logged once). Any loop.
 */
struct gim_shared_buffer *push_job_encoding(struct push_job *job,
                                            const struct connection_route *route);

/* Queues the push to connection (encoded for its route) when its protocol accepts it
 * (client_protocol.accept_push). Returns connection_push's status (GIM_OK also when the
 * protocol skipped or handled the push), or GIM_ERR_NO_MEMORY when the push cannot be encoded
 * for it. Loop thread. */
int push_job_deliver(struct push_job *job, struct comet_connection *connection);

/*
 * Loop side, before delivering: returns true if the loop must deliver the job (the first call
 * moves it from POSTED to STARTED, for every loop), false if the job was cancelled (the loop
 * only counts down and drops its reference). Any thread.
 */
bool push_job_start(struct push_job *job);

/*
 * RPC worker side, after the items are posted: waits until every loop has run its item, at
 * most timeout_ms. When the time is up, cancels the job unless a loop has started it. Returns
 * GIM_OK when every loop has queued the push, or when a loop had started it (the others hold it
 * in their inboxes and will queue it: answered as done), or GIM_ERR_TIMEOUT when it was
 * cancelled (no loop queued it and none will: the caller may send it again).
 */
int push_job_wait(struct push_job *job, int64_t timeout_ms);

/* Takes one more reference. */
void push_job_ref(struct push_job *job);

/* Drops one reference; the last frees the encodings, the request and the job. */
void push_job_unref(struct push_job *job);

#endif
