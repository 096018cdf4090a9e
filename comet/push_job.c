/* push_job.c: the refcounted delivery request shared by the loops (see push_job.h). */
#include "comet/push_job.h"

#include <stddef.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/tag_pattern.h"
#include "common/status.h"

struct push_job *push_job_new(int loop_count, enum push_kind kind, const struct comet_push *push,
                              ProtobufCMessage *request)
{
    struct push_job *job =
        calloc(1, sizeof(*job) + (size_t)loop_count * sizeof(struct push_job_item));
    int index;

    if (job == NULL) {
        if (request != NULL)
            protobuf_c_message_free_unpacked(request, NULL);
        gim_tag_pattern_free(push->user_tag_pattern);
        return NULL;
    }
    atomic_init(&job->references, 1);
    atomic_init(&job->state, PUSH_JOB_POSTED);
    atomic_init(&job->loops_left, loop_count);
    atomic_init(&job->answered, false);
    pthread_mutex_init(&job->encode_lock, NULL);
    for (index = 0; index < CONNECTION_WIRES; index++)
        atomic_init(&job->encoded[index], NULL);
    job->kind = kind;
    job->push = *push;
    job->request = request;
    job->item_count = loop_count;
    for (index = 0; index < loop_count; index++)
        job->items[index].job = job;
    return job;
}

struct gim_shared_buffer *push_job_encoding(struct push_job *job,
                                            const struct connection_route *route)
{
    struct gim_shared_buffer *buffer =
        atomic_load_explicit(&job->encoded[route->wire], memory_order_acquire);
    const struct client_protocol *protocol = route->protocol;

    if (buffer != NULL || protocol == NULL)
        return buffer;
    pthread_mutex_lock(&job->encode_lock);
    buffer = atomic_load_explicit(&job->encoded[route->wire], memory_order_relaxed);
    if (buffer == NULL && !job->encode_failed[route->wire]) {
        buffer = protocol->encode_push(&job->push, (const struct framing *)route->framing);
        if (buffer == NULL) {
            job->encode_failed[route->wire] = true;
            gim_log_warn("push of %zu bytes cannot be encoded for %s clients",
                         job->push.body_length, protocol->name);
        } else {
            atomic_store_explicit(&job->encoded[route->wire], buffer, memory_order_release);
        }
    }
    pthread_mutex_unlock(&job->encode_lock);
    return buffer;
}

int push_job_deliver(struct push_job *job, struct comet_connection *connection)
{
    const struct client_protocol *protocol = protocol_of(connection);
    struct gim_shared_buffer *buffer;

    if (connection->state == CONNECTION_CLOSED || connection->close_after_flush)
        return GIM_ERR_CLOSED;
    if (protocol == NULL)
        return GIM_OK;
    if (protocol->accept_push != NULL) {
        enum protocol_push_action action = protocol->accept_push(connection, &job->push);
        if (action != PROTOCOL_PUSH_DELIVER)
            return GIM_OK;
    } else if (job->push.text || job->push.close_room) {
        return GIM_OK;
    }
    buffer = push_job_encoding(job, connection->route);
    if (buffer == NULL)
        return GIM_ERR_NO_MEMORY;
    return connection_push(connection, buffer);
}

bool push_job_start(struct push_job *job)
{
    int expected = PUSH_JOB_POSTED;

    /* POSTED -> STARTED, or already STARTED by another loop; CANCELLED stays */
    if (atomic_compare_exchange_strong_explicit(&job->state, &expected, PUSH_JOB_STARTED,
                                                memory_order_acq_rel, memory_order_acquire))
        return true;
    return expected == PUSH_JOB_STARTED;
}

void push_job_expect_answer(struct push_job *job, push_job_answer_fn answer, void *context,
                            struct deadline_queue *deadlines, int64_t now_ms)
{
    job->answer = answer;
    job->answer_context = context;
    job->deadlines = deadlines;
    push_job_ref(job); /* the deadline's, dropped by whoever takes it out of the queue */
    deadline_queue_add(deadlines, &job->deadline, now_ms);
}

/* Takes the answer: true for the one caller that answers. */
static bool push_job_take_answer(struct push_job *job)
{
    return job->answer != NULL &&
           !atomic_exchange_explicit(&job->answered, true, memory_order_acq_rel);
}

void push_job_answer(struct push_job *job, int status)
{
    if (!push_job_take_answer(job))
        return;
    /* out of the queue before the answer: once answered, the queue may be gone (comet's stop
     * waits for every answer, then frees it) */
    if (job->deadlines != NULL && deadline_queue_remove(job->deadlines, &job->deadline))
        push_job_unref(job); /* the deadline's; the caller holds another */
    job->answer(job, status);
}

void push_job_loop_done(struct push_job *job)
{
    if (atomic_fetch_sub_explicit(&job->loops_left, 1, memory_order_acq_rel) == 1)
        push_job_answer(job, GIM_OK);
}

void push_job_deadline_passed(struct deadline_entry *entry, void *context)
{
    struct push_job *job = (struct push_job *)((char *)entry - offsetof(struct push_job, deadline));
    int expected = PUSH_JOB_POSTED;

    (void)context;
    if (push_job_take_answer(job)) {
        /* cancel unless a loop started it (then every loop will deliver it: done) */
        bool cancelled = atomic_compare_exchange_strong_explicit(
            &job->state, &expected, PUSH_JOB_CANCELLED, memory_order_acq_rel, memory_order_acquire);
        job->answer(job, cancelled ? GIM_ERR_TIMEOUT : GIM_OK);
    }
    push_job_unref(job); /* the deadline's: the queue gave the entry to this call */
}

void push_job_ref(struct push_job *job)
{
    atomic_fetch_add_explicit(&job->references, 1, memory_order_relaxed);
}

void push_job_unref(struct push_job *job)
{
    int index;

    if (atomic_fetch_sub_explicit(&job->references, 1, memory_order_acq_rel) != 1)
        return;
    for (index = 0; index < CONNECTION_WIRES; index++) {
        struct gim_shared_buffer *buffer =
            atomic_load_explicit(&job->encoded[index], memory_order_relaxed);
        if (buffer != NULL)
            gim_shared_buffer_unref(buffer);
    }
    if (job->request != NULL)
        protobuf_c_message_free_unpacked(job->request, NULL);
    gim_tag_pattern_free(job->push.user_tag_pattern);
    pthread_mutex_destroy(&job->encode_lock);
    free(job);
}
