/* dispatch.c: the dispatcher thread around job's delivery core (see dispatch.h). */
#include "job/dispatch.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "job/delivery.h"

struct job_dispatch {
    const struct job_metrics *metrics;
    job_record_finished_fn finished;
    void *owner;
    struct job_delivery_ops comet_ops; /* job_dispatch_create's: the comet table */
    struct job_deliveries *core;       /* the dispatcher thread's, once it runs */

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* under lock: the inbox (bounded by dispatch.maxRecords through the core's
     * reservations), completed calls (bounded by the calls in flight) and the stop flag */
    struct job_record *inbox_head, *inbox_tail;
    struct job_delivery_call *completed;
    bool stop_requested;
};

/* ---- production ops: the comet table, nng calls, the monotonic clock ---- */

static struct job_comet *comets_find(void *context, const char *hostname)
{
    return job_comets_find(context, hostname);
}

static int comets_snapshot(void *context, struct job_comet ***list, size_t *count)
{
    return job_comets_snapshot(context, list, count);
}

static void comets_release(void *context, struct job_comet *comet)
{
    (void)context;
    job_comet_release(comet);
}

static uint64_t comets_request_refresh(void *context)
{
    return job_comets_request_refresh(context);
}

static bool comets_fresh_since(void *context, uint64_t ticket)
{
    return job_comets_fresh_since(context, ticket);
}

static int comet_call(void *context, struct job_comet *comet, uint32_t method,
                      const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
                      int timeout_ms, gim_rpc_done_fn done, void *user)
{
    (void)context;
    /* A PushMsg (a push/mids record, keys of its own) is coalesced under load: while two
     * requests carrying PushMsg calls are out to this comet, the next calls wait and leave
     * together in one batch, each answered on its own (common/rpc.h) */
    if (method == GIM_RPC_COMET_PUSH_MSG)
        return gim_rpc_call_coalesced(comet->client, method, request, reply_type, timeout_ms, done,
                                      user);
    return gim_rpc_call_async(comet->client, method, request, reply_type, timeout_ms, done, user);
}

static int64_t monotonic_now(void *context)
{
    (void)context;
    return gim_monotonic_ms();
}

/* ---- the thread ---- */

/* Completion of one call (an nng thread): queue it for the dispatcher thread. */
static void dispatch_call_done(void *user, int status, ProtobufCMessage *reply)
{
    struct job_delivery_call *call = user;
    struct job_dispatch *dispatch = call->owner;

    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    pthread_mutex_lock(&dispatch->lock);
    call->status = status;
    call->next = dispatch->completed;
    dispatch->completed = call;
    pthread_cond_signal(&dispatch->wake);
    pthread_mutex_unlock(&dispatch->lock);
}

static void *dispatch_thread(void *argument)
{
    struct job_dispatch *dispatch = argument;
    int64_t next_due = -1;

    for (;;) {
        struct job_record *inbox;
        struct job_delivery_call *completed;
        bool stop;

        pthread_mutex_lock(&dispatch->lock);
        for (;;) {
            if (dispatch->inbox_head != NULL || dispatch->completed != NULL)
                break;
            if (dispatch->stop_requested && job_deliveries_calls_in_flight(dispatch->core) == 0)
                break;
            if (!dispatch->stop_requested && next_due >= 0) {
                struct timespec deadline;
                if (next_due <= gim_monotonic_ms())
                    break;
                gim_deadline_at_ms(&deadline, next_due);
                pthread_cond_timedwait(&dispatch->wake, &dispatch->lock, &deadline);
                if (next_due <= gim_monotonic_ms())
                    break;
            } else {
                pthread_cond_wait(&dispatch->wake, &dispatch->lock);
            }
        }
        inbox = dispatch->inbox_head;
        dispatch->inbox_head = dispatch->inbox_tail = NULL;
        completed = dispatch->completed;
        dispatch->completed = NULL;
        stop = dispatch->stop_requested;
        pthread_mutex_unlock(&dispatch->lock);

        if (stop)
            job_deliveries_stop(dispatch->core);
        while (completed != NULL) {
            struct job_delivery_call *call = completed;
            completed = call->next;
            job_deliveries_call_done(dispatch->core, call, call->status);
        }
        while (inbox != NULL) {
            struct job_record *record = inbox;
            inbox = record->next;
            if (stop)
                job_deliveries_drop(dispatch->core, record);
            else
                job_deliveries_accept(dispatch->core, record);
        }
        if (stop) {
            if (job_deliveries_calls_in_flight(dispatch->core) == 0)
                break;
        } else {
            next_due = job_deliveries_run_due(dispatch->core);
        }
    }
    /* Stopped with no call in flight: what waits for a retry stays uncommitted
     * (job_dispatch_destroy frees it with the core). */
    return NULL;
}

/* Creates the dispatcher on ops, or, with ops NULL, on its own ops over comets. */
static int dispatch_open(struct job_dispatch **out, const struct job_config *config,
                         const struct job_delivery_ops *ops, struct job_comets *comets,
                         const struct job_metrics *metrics, job_record_finished_fn finished,
                         void *owner)
{
    struct job_dispatch *dispatch = calloc(1, sizeof(*dispatch));
    int status;

    *out = NULL;
    if (dispatch == NULL)
        return GIM_ERR_NO_MEMORY;
    dispatch->metrics = metrics;
    dispatch->finished = finished;
    dispatch->owner = owner;
    if (ops == NULL) {
        dispatch->comet_ops = (struct job_delivery_ops){
            .context = comets,
            .find = comets_find,
            .snapshot = comets_snapshot,
            .release = comets_release,
            .request_refresh = comets_request_refresh,
            .fresh_since = comets_fresh_since,
            .call = comet_call,
            .now_ms = monotonic_now,
        };
        ops = &dispatch->comet_ops;
    }
    status = job_deliveries_create(&dispatch->core, config, ops, metrics, finished, owner,
                                   dispatch_call_done, dispatch);
    if (status != GIM_OK) {
        free(dispatch);
        return status;
    }
    pthread_mutex_init(&dispatch->lock, NULL);
    gim_cond_init_monotonic(&dispatch->wake);
    if (pthread_create(&dispatch->thread, NULL, dispatch_thread, dispatch) != 0) {
        job_dispatch_destroy(dispatch);
        return GIM_ERR_IO;
    }
    dispatch->thread_started = true;
    *out = dispatch;
    return GIM_OK;
}

int job_dispatch_create(struct job_dispatch **dispatch, const struct job_config *config,
                        struct job_comets *comets, const struct job_metrics *metrics,
                        job_record_finished_fn finished, void *owner)
{
    return dispatch_open(dispatch, config, NULL, comets, metrics, finished, owner);
}

int job_dispatch_create_with_ops(struct job_dispatch **dispatch, const struct job_config *config,
                                 const struct job_delivery_ops *ops,
                                 const struct job_metrics *metrics, job_record_finished_fn finished,
                                 void *owner)
{
    return dispatch_open(dispatch, config, ops, NULL, metrics, finished, owner);
}

bool job_dispatch_has_room(const struct job_dispatch *dispatch)
{
    return job_deliveries_has_room(dispatch->core);
}

int job_dispatch_submit(struct job_dispatch *dispatch, const uint8_t *value, size_t length,
                        const struct job_record_ticket *ticket)
{
    struct job_record *record;
    bool stopping;
    int status;

    pthread_mutex_lock(&dispatch->lock);
    stopping = dispatch->stop_requested;
    pthread_mutex_unlock(&dispatch->lock);
    if (stopping)
        return GIM_ERR_CLOSED;
    if (!job_deliveries_has_room(dispatch->core))
        return GIM_ERR_AGAIN;
    status = job_record_decode(value, length, ticket, &record);
    if (status == GIM_ERR_INVALID) {
        /* logged by job_record_decode */
        gim_counter_increment(dispatch->metrics->consumed);
        gim_counter_increment(dispatch->metrics->skipped);
        dispatch->finished(dispatch->owner, ticket);
        return GIM_OK;
    }
    if (status != GIM_OK)
        return status;
    job_deliveries_reserve(dispatch->core);
    gim_counter_increment(dispatch->metrics->consumed);
    pthread_mutex_lock(&dispatch->lock);
    if (dispatch->inbox_tail != NULL)
        dispatch->inbox_tail->next = record;
    else
        dispatch->inbox_head = record;
    dispatch->inbox_tail = record;
    pthread_cond_signal(&dispatch->wake);
    pthread_mutex_unlock(&dispatch->lock);
    return GIM_OK;
}

void job_dispatch_stop(struct job_dispatch *dispatch)
{
    if (dispatch == NULL || !dispatch->thread_started)
        return;
    pthread_mutex_lock(&dispatch->lock);
    dispatch->stop_requested = true;
    pthread_cond_signal(&dispatch->wake);
    pthread_mutex_unlock(&dispatch->lock);
    pthread_join(dispatch->thread, NULL);
    dispatch->thread_started = false;
}

void job_dispatch_destroy(struct job_dispatch *dispatch)
{
    struct job_record *record;

    if (dispatch == NULL)
        return;
    job_dispatch_stop(dispatch);
    while ((record = dispatch->inbox_head) != NULL) {
        dispatch->inbox_head = record->next;
        job_record_free(record);
    }
    job_deliveries_destroy(dispatch->core);
    pthread_cond_destroy(&dispatch->wake);
    pthread_mutex_destroy(&dispatch->lock);
    free(dispatch);
}
