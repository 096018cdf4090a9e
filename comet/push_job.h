/*
 * push_job.h: one delivery request handed from an RPC worker to every loop (layer 5).
 *
 * The RPC worker wraps the request in a push_job with one inbox item per
 * loop, says how the job is answered (push_job_expect_answer: a callback, and
 * the job's deadline in a deadline_queue), and posts the items to every loop
 * or to none (worker_post_push_job); then it goes on with other requests. The
 * job is answered exactly once, without anyone waiting for it: by the loop
 * that runs its item last (done), by the poster when no loop took it
 * (push_job_answer, "busy"), or by the deadline queue's thread when its
 * deadline passes first (push_job_deadline_passed). What the RPC answers is
 * all or nothing, so that the caller's retry never delivers twice: the first
 * loop that runs its item starts the job for every loop (push_job_start), and
 * a deadline that passes cancels the job only if no loop has started it
 * (answered as failed); if one has, the job is answered done at the deadline
 * and the other loops still deliver it. A cancelled job's items still run, but
 * deliver nothing. The push is encoded lazily, once per wire (framing and
 * protocol pair, connection_route.wire) present among its targets, by the
 * first loop that meets a target on that wire; every other target on it
 * shares that buffer. The job is reference counted (atomically): one
 * reference per loop it was posted to, one while its deadline is queued, plus
 * its creator's, so whoever answers or drops out never frees what another
 * thread still reads. The job owns the unpacked request its push, keys and
 * room point into.
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
#include "comet/deadline_queue.h"
#include "comet/protocol.h"
#include "common/shared_buffer.h"

enum push_kind {
    PUSH_TO_KEYS,  /* connections with one of keys[] that watch operation */
    PUSH_TO_ROOM,  /* every connection in room (no operation filter, as goim) */
    PUSH_BROADCAST /* every connection that watches operation */
};

struct push_job;

/*
 * How a job is answered (exactly once, push_job_expect_answer): status GIM_OK (every loop
 * queued it, or one had started it when the deadline passed), GIM_ERR_AGAIN (refused before any
 * loop had it) or GIM_ERR_TIMEOUT (cancelled at the deadline: no loop delivered it, none will).
 * Runs on a loop thread, on the poster's thread or on the deadline queue's thread; it must not
 * block. The job stays valid during the call (the caller holds a reference).
 */
typedef void (*push_job_answer_fn)(struct push_job *job, int status);

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
    atomic_int state;          /* enum push_job_state: POSTED, then STARTED or CANCELLED, once */
    atomic_int loops_left;     /* items not run yet: counted down once by each loop */
    atomic_bool answered;      /* the answer is taken (by whoever set it first) */
    push_job_answer_fn answer; /* or NULL: nobody is answered */
    void *answer_context;      /* the answer's own (comet's RPC: the deferred answer) */
    struct deadline_queue *deadlines; /* where deadline is queued, or NULL */
    struct deadline_entry deadline;   /* queued on deadlines until it passes or is answered */
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
 * loops_left at loop_count, no answer expected yet, push copied (its body must live as long as the
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
 * only counts itself out, push_job_loop_done, and drops its reference). Any thread.
 */
bool push_job_start(struct push_job *job);

/*
 * Before the job is posted: it will be answered exactly once through answer(job, status), with
 * context kept in job->answer_context, and its deadline is queued on deadlines now (now_ms: the
 * monotonic clock), holding a reference to the job until it passes or the job is answered. The
 * queue's callback for its entries must be push_job_deadline_passed. deadlines must outlive the
 * job's answer (not the job: it is not touched once the job is answered).
 */
void push_job_expect_answer(struct push_job *job, push_job_answer_fn answer, void *context,
                            struct deadline_queue *deadlines, int64_t now_ms);

/*
 * Answers the job with status now, unless it was answered already (then nothing happens): its
 * deadline is taken out of the queue first. The poster's refusal (GIM_ERR_AGAIN, nothing
 * posted) and the last loop's done (push_job_loop_done) come here. Any thread.
 */
void push_job_answer(struct push_job *job, int status);

/*
 * Loop side, after the loop ran its item (delivered it, or found it cancelled): counts the loop
 * out; the last loop answers GIM_OK (push_job_answer). The caller still holds its reference.
 * Any thread.
 */
void push_job_loop_done(struct push_job *job);

/*
 * The deadline queue's callback (deadline_expired_fn) for a job's deadline: unless the job was
 * answered, cancels it if no loop has started it (answered GIM_ERR_TIMEOUT: no loop delivered it
 * and none will, the caller may send it again), else answers GIM_OK (the loops that have not run
 * it hold it in their inboxes and will deliver it). Drops the deadline's reference. Must not be
 * called with anything but a push job's deadline entry.
 */
void push_job_deadline_passed(struct deadline_entry *entry, void *context);

/* Takes one more reference. */
void push_job_ref(struct push_job *job);

/* Drops one reference; the last frees the encodings, the request and the job. */
void push_job_unref(struct push_job *job);

#endif
