/* push_job.c: the refcounted delivery request shared by the loops (see push_job.h). */
#include "comet/push_job.h"

#include <stdlib.h>

struct push_job *push_job_new(int loop_count, enum push_kind kind, struct gim_shared_buffer *data,
                              ProtobufCMessage *request)
{
    struct push_job *job =
        calloc(1, sizeof(*job) + (size_t)loop_count * sizeof(struct push_job_item));
    int index;

    if (job == NULL) {
        gim_shared_buffer_unref(data);
        protobuf_c_message_free_unpacked(request, NULL);
        return NULL;
    }
    atomic_init(&job->references, 1);
    latch_init(&job->delivered, loop_count);
    job->kind = kind;
    job->data = data;
    job->request = request;
    job->item_count = loop_count;
    for (index = 0; index < loop_count; index++)
        job->items[index].job = job;
    return job;
}

void push_job_ref(struct push_job *job)
{
    atomic_fetch_add_explicit(&job->references, 1, memory_order_relaxed);
}

void push_job_unref(struct push_job *job)
{
    if (atomic_fetch_sub_explicit(&job->references, 1, memory_order_acq_rel) != 1)
        return;
    gim_shared_buffer_unref(job->data);
    if (job->websocket_data != NULL)
        gim_shared_buffer_unref(job->websocket_data);
    protobuf_c_message_free_unpacked(job->request, NULL);
    latch_destroy(&job->delivered);
    free(job);
}
