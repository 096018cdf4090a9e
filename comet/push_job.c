/* push_job.c: the refcounted delivery request shared by the loops (see push_job.h). */
#include "comet/push_job.h"

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
    latch_init(&job->delivered, loop_count);
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

int push_job_wait(struct push_job *job, int64_t timeout_ms)
{
    int expected = PUSH_JOB_POSTED;

    if (latch_wait(&job->delivered, timeout_ms))
        return GIM_OK;
    /* out of time: cancel unless a loop started it (then every loop will deliver it) */
    if (atomic_compare_exchange_strong_explicit(&job->state, &expected, PUSH_JOB_CANCELLED,
                                                memory_order_acq_rel, memory_order_acquire))
        return GIM_ERR_TIMEOUT;
    return GIM_OK;
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
    latch_destroy(&job->delivered);
    free(job);
}
