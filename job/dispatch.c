/* dispatch.c: concurrent, lane-ordered delivery of PushMsg records to comets (see dispatch.h). */
#include "job/dispatch.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comet.pb-c.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "job/batcher.h"
#include "logic.pb-c.h"

/* One record inside the dispatcher (an item of a job_batch). */
struct dispatch_record {
    struct job_record_ticket ticket;
    Goim__Logic__PushMsg *message; /* decoded, owned */
    char *lane;                    /* owned */
    struct dispatch_record *next_in_inbox;
};

struct delivery;

/* One comet a batch must reach. */
struct delivery_target {
    struct delivery *delivery;
    char *hostname;          /* owned */
    struct job_comet *comet; /* held while a call is in flight */
    bool finished;           /* acknowledged, or gone from the registry */
    bool missing;            /* not in the table; gone once a read after refresh_ticket agrees */
    uint64_t refresh_ticket;
    int status; /* result of the last call */
    struct delivery_target *next_completed;
};

/* One batch on its way to its targets, round after round. */
struct delivery {
    struct job_dispatch *dispatch;
    struct job_batch *batch; /* owned; items are dispatch_records */
    const char *lane;        /* the first record's lane */
    Goim__Logic__PushMsg__Type kind;
    struct delivery_target *targets;
    size_t target_count;
    bool targets_known;
    int64_t rounds;
    int64_t backoff_ms;
    int64_t retry_at_ms;
    int64_t waited_for_comets_ms;
    size_t calls_in_flight;
    struct delivery *next_waiting;
};

struct job_dispatch {
    const struct job_config *config;
    struct job_comets *comets;
    const struct job_metrics *metrics;
    job_record_finished_fn finished;
    void *owner;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* under lock: the inbox (bounded by dispatch.maxRecords through `records`),
     * completed calls (bounded by the calls in flight) and the stop flag */
    struct dispatch_record *inbox_head, *inbox_tail;
    struct delivery_target *completed;
    bool stop_requested;

    atomic_size_t records;      /* taken and not yet finished or dropped */
    atomic_int comets_at_bound; /* comets with comet.queue calls in flight */

    /* dispatcher thread only */
    struct job_batcher *batcher;
    struct delivery *waiting; /* deliveries waiting for their next round */
    size_t calls_in_flight;
    bool stopping;
};

static void record_free(struct dispatch_record *record)
{
    if (record == NULL)
        return;
    if (record->message != NULL)
        goim__logic__push_msg__free_unpacked(record->message, NULL);
    free(record->lane);
    free(record);
}

static void record_free_item(void *item)
{
    record_free(item);
}

/* Reports a record finished and frees it. */
static void record_finish(struct job_dispatch *dispatch, struct dispatch_record *record)
{
    dispatch->finished(dispatch->owner, &record->ticket);
    record_free(record);
    atomic_fetch_sub(&dispatch->records, 1);
}

/* Drops a record unreported (stop): it stays uncommitted. */
static void record_drop(struct job_dispatch *dispatch, struct dispatch_record *record)
{
    record_free(record);
    atomic_fetch_sub(&dispatch->records, 1);
}

/* ---- lanes ---- */

/* Appends text and a separator to a growing string. Returns false on allocation failure. */
static bool lane_append(char **lane, size_t *length, const char *text)
{
    size_t add = strlen(text) + 1;
    char *grown = realloc(*lane, *length + add + 1);

    if (grown == NULL)
        return false;
    memcpy(grown + *length, text, add - 1);
    grown[*length + add - 1] = '\x1f';
    grown[*length + add] = '\0';
    *lane = grown;
    *length += add;
    return true;
}

/* The lane of a validated record (malloc'd), or NULL when out of memory. */
static char *lane_of(const Goim__Logic__PushMsg *message)
{
    char number[48];
    char *lane = NULL;
    size_t length = 0, index;
    bool ok;

    switch (message->type) {
    case GOIM__LOGIC__PUSH_MSG__TYPE__PUSH:
        snprintf(number, sizeof(number), "%" PRId32, message->operation);
        ok = lane_append(&lane, &length, "p") && lane_append(&lane, &length, message->server) &&
             lane_append(&lane, &length, number);
        for (index = 0; ok && index < message->n_keys; index++)
            ok = lane_append(&lane, &length, message->keys[index]);
        break;
    case GOIM__LOGIC__PUSH_MSG__TYPE__ROOM:
        ok = lane_append(&lane, &length, "r") && lane_append(&lane, &length, message->room);
        break;
    default:
        snprintf(number, sizeof(number), "%" PRId32 "/%" PRId32, message->operation,
                 message->speed);
        ok = lane_append(&lane, &length, "b") && lane_append(&lane, &length, number);
        break;
    }
    if (!ok) {
        free(lane);
        return NULL;
    }
    return lane;
}

/* ---- rounds ---- */

static void delivery_round_start(struct job_dispatch *dispatch, struct delivery *delivery);
static void delivery_start(struct job_dispatch *dispatch, struct job_batch *batch);

static struct dispatch_record *delivery_first(const struct delivery *delivery)
{
    return delivery->batch->items[0];
}

static const char *kind_name(Goim__Logic__PushMsg__Type kind)
{
    return kind == GOIM__LOGIC__PUSH_MSG__TYPE__PUSH   ? "push"
           : kind == GOIM__LOGIC__PUSH_MSG__TYPE__ROOM ? "room"
                                                       : "broadcast";
}

static void delivery_free(struct delivery *delivery)
{
    size_t index;

    for (index = 0; index < delivery->target_count; index++)
        free(delivery->targets[index].hostname);
    free(delivery->targets);
    job_batch_free(delivery->batch);
    free(delivery);
}

/* The batch is done (delivered, skipped or given up): finish its records
 * and start the lane's next batch, if any. */
static void delivery_complete(struct job_dispatch *dispatch, struct delivery *delivery)
{
    struct job_batch *next;
    char *lane = strdup(delivery->lane);
    size_t index;

    for (index = 0; index < delivery->batch->item_count; index++)
        record_finish(dispatch, delivery->batch->items[index]);
    delivery->batch->item_count = 0;
    delivery_free(delivery);
    if (lane == NULL) {
        /* Cannot name the lane: it stays busy and its queue waits for a restart. */
        gim_log_error("dispatch: out of memory; a lane stalls until restart");
        return;
    }
    next = job_batcher_done(dispatch->batcher, lane);
    free(lane);
    if (next != NULL)
        delivery_start(dispatch, next);
}

/* Drops a delivery at stop: its records stay uncommitted. */
static void delivery_abandon(struct job_dispatch *dispatch, struct delivery *delivery)
{
    size_t index;

    for (index = 0; index < delivery->batch->item_count; index++)
        record_drop(dispatch, delivery->batch->items[index]);
    delivery->batch->item_count = 0;
    delivery_free(delivery);
}

static void delivery_wait(struct job_dispatch *dispatch, struct delivery *delivery,
                          int64_t delay_ms)
{
    delivery->retry_at_ms = gim_monotonic_ms() + delay_ms;
    delivery->next_waiting = dispatch->waiting;
    dispatch->waiting = delivery;
}

/* All calls of a round have completed: done, give up, or schedule a retry. */
static void delivery_round_end(struct job_dispatch *dispatch, struct delivery *delivery)
{
    const struct job_config *config = dispatch->config;
    const char *origin = delivery_first(delivery)->ticket.origin;
    const char *kind = kind_name(delivery->kind);
    size_t index, unfinished = 0, merged = delivery->batch->item_count - 1;

    for (index = 0; index < delivery->target_count; index++)
        unfinished += !delivery->targets[index].finished;
    if (unfinished == 0) {
        gim_counter_add(dispatch->metrics->delivered, delivery->batch->item_count);
        delivery_complete(dispatch, delivery);
        return;
    }
    if (dispatch->stopping) {
        delivery_abandon(dispatch, delivery);
        return;
    }
    if (delivery->rounds > config->comet_retries) {
        for (index = 0; index < delivery->target_count; index++)
            if (!delivery->targets[index].finished)
                gim_log_error("%s %s (+%zu merged): GIVING UP on comet \"%s\" after %lld attempts "
                              "(%s); the records are committed without this delivery",
                              kind, origin, merged, delivery->targets[index].hostname,
                              (long long)delivery->rounds,
                              gim_strerror(delivery->targets[index].status));
        gim_counter_add(dispatch->metrics->given_up_retries, delivery->batch->item_count);
        delivery_complete(dispatch, delivery);
        return;
    }
    for (index = 0; index < delivery->target_count; index++)
        if (!delivery->targets[index].finished)
            gim_log_warn(
                "%s %s (+%zu merged): comet \"%s\" failed (%s); retry %lld/%lld in %lld ms", kind,
                origin, merged, delivery->targets[index].hostname,
                gim_strerror(delivery->targets[index].status), (long long)delivery->rounds,
                (long long)config->comet_retries, (long long)delivery->backoff_ms);
    gim_counter_add(dispatch->metrics->retries, unfinished);
    delivery_wait(dispatch, delivery, delivery->backoff_ms);
    delivery->backoff_ms *= 2;
    if (delivery->backoff_ms > config->comet_retry_backoff_max)
        delivery->backoff_ms = config->comet_retry_backoff_max;
}

/* Completion of one call (an nng thread): queue it for the dispatcher thread. */
static void delivery_call_done(void *user, int status, ProtobufCMessage *reply)
{
    struct delivery_target *target = user;
    struct job_dispatch *dispatch = target->delivery->dispatch;

    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    pthread_mutex_lock(&dispatch->lock);
    target->status = status;
    target->next_completed = dispatch->completed;
    dispatch->completed = target;
    pthread_cond_signal(&dispatch->wake);
    pthread_mutex_unlock(&dispatch->lock);
}

/* A completed call, on the dispatcher thread. */
static void delivery_call_finished(struct job_dispatch *dispatch, struct delivery_target *target)
{
    struct delivery *delivery = target->delivery;
    struct job_comet *comet = target->comet;

    if (comet->calls_in_flight-- == (int)dispatch->config->comet_queue)
        atomic_fetch_sub(&dispatch->comets_at_bound, 1);
    gim_gauge_add(dispatch->metrics->calls_in_flight, -1);
    job_comet_release(comet); /* may close a departed comet's client: not on an nng thread */
    target->comet = NULL;
    if (target->status == GIM_OK) {
        target->finished = true;
        gim_log_debug("%s %s: delivered to %s", kind_name(delivery->kind),
                      delivery_first(delivery)->ticket.origin, target->hostname);
    }
    dispatch->calls_in_flight--;
    if (--delivery->calls_in_flight == 0)
        delivery_round_end(dispatch, delivery);
}

/*
 * Fixes the targets of a ROOM/BROADCAST: every live comet now. With none,
 * waits (re-reading the registry) up to comet.waitForComets. Returns true
 * when the targets are known; false when the delivery was completed or put
 * back to wait.
 */
static bool delivery_find_all_comets(struct job_dispatch *dispatch, struct delivery *delivery)
{
    const struct job_config *config = dispatch->config;
    const char *origin = delivery_first(delivery)->ticket.origin;
    struct job_comet **list = NULL;
    size_t count = 0, index;

    if (job_comets_snapshot(dispatch->comets, &list, &count) != GIM_OK || count == 0) {
        if (delivery->waited_for_comets_ms >= config->comet_wait_for_comets) {
            gim_log_warn("%s %s: no comet registered after %lld ms; committed without delivery",
                         kind_name(delivery->kind), origin,
                         (long long)delivery->waited_for_comets_ms);
            gim_counter_add(dispatch->metrics->given_up_no_comet, delivery->batch->item_count);
            delivery_complete(dispatch, delivery);
            return false;
        }
        if (delivery->waited_for_comets_ms == 0)
            gim_log_notice("%s %s: no comet registered; waiting up to %lld ms",
                           kind_name(delivery->kind), origin,
                           (long long)config->comet_wait_for_comets);
        job_comets_request_refresh(dispatch->comets);
        delivery->waited_for_comets_ms += config->registry_refresh;
        delivery_wait(dispatch, delivery, config->registry_refresh);
        return false;
    }
    delivery->targets = calloc(count, sizeof(*delivery->targets));
    for (index = 0; delivery->targets != NULL && index < count; index++) {
        delivery->targets[index].delivery = delivery;
        delivery->targets[index].hostname = strdup(list[index]->hostname);
        if (delivery->targets[index].hostname == NULL)
            break;
    }
    delivery->target_count = delivery->targets ? index : 0;
    for (index = 0; index < count; index++)
        job_comet_release(list[index]);
    free(list);
    if (delivery->target_count < count) {
        gim_log_error("%s %s: out of memory; retried", kind_name(delivery->kind), origin);
        delivery_wait(dispatch, delivery, config->comet_retry_backoff);
        return false;
    }
    delivery->targets_known = true;
    return true;
}

/* The request of this round, built on the stack of the caller. */
struct round_request {
    uint32_t method;
    const ProtobufCMessageDescriptor *reply_type;
    Goim__Protocol__Proto proto;
    Goim__Comet__PushMsgReq push;
    Goim__Comet__BroadcastRoomReq room;
    Goim__Comet__BroadcastReq broadcast;
};

static const ProtobufCMessage *round_request_build(struct round_request *request,
                                                   const struct delivery *delivery)
{
    const Goim__Logic__PushMsg *message = delivery_first(delivery)->message;

    request->proto = (Goim__Protocol__Proto)GOIM__PROTOCOL__PROTO__INIT;
    request->proto.ver = 1;
    request->proto.op = GIM_OP_RAW;
    request->proto.body.data = delivery->batch->frames.data;
    request->proto.body.len = delivery->batch->frames.length;
    switch (delivery->kind) {
    case GOIM__LOGIC__PUSH_MSG__TYPE__PUSH:
        request->push = (Goim__Comet__PushMsgReq)GOIM__COMET__PUSH_MSG_REQ__INIT;
        request->push.n_keys = message->n_keys;
        request->push.keys = message->keys;
        request->push.proto = &request->proto;
        request->push.protoop = message->operation;
        request->method = GIM_RPC_COMET_PUSH_MSG;
        request->reply_type = &goim__comet__push_msg_reply__descriptor;
        return &request->push.base;
    case GOIM__LOGIC__PUSH_MSG__TYPE__ROOM:
        request->room = (Goim__Comet__BroadcastRoomReq)GOIM__COMET__BROADCAST_ROOM_REQ__INIT;
        request->room.roomid = message->room;
        request->room.proto = &request->proto;
        request->method = GIM_RPC_COMET_BROADCAST_ROOM;
        request->reply_type = &goim__comet__broadcast_room_reply__descriptor;
        return &request->room.base;
    default:
        request->broadcast = (Goim__Comet__BroadcastReq)GOIM__COMET__BROADCAST_REQ__INIT;
        request->broadcast.protoop = message->operation;
        request->broadcast.proto = &request->proto;
        /* goim: the cluster-wide speed is shared by the comets. Unlike goim's
         * integer division, a positive speed never becomes 0 (= unthrottled). */
        request->broadcast.speed =
            message->speed > 0 ? message->speed / (int32_t)delivery->target_count : 0;
        if (message->speed > 0 && request->broadcast.speed == 0)
            request->broadcast.speed = 1;
        request->method = GIM_RPC_COMET_BROADCAST;
        request->reply_type = &goim__comet__broadcast_reply__descriptor;
        return &request->broadcast.base;
    }
}

/*
 * Resolves one unfinished target. A target missing from the table asks for
 * a registry read; once a read after that request still misses it, it has
 * left and is finished without delivery (logged). Returns the held comet
 * or NULL (the target is finished, or failed this round).
 */
static struct job_comet *target_resolve(struct job_dispatch *dispatch,
                                        struct delivery_target *target)
{
    struct job_comet *comet = job_comets_find(dispatch->comets, target->hostname);

    if (comet != NULL) {
        target->missing = false;
        return comet;
    }
    if (target->missing && job_comets_fresh_since(dispatch->comets, target->refresh_ticket)) {
        gim_log_warn("%s %s: comet \"%s\" is not in the registry; not delivered there",
                     kind_name(target->delivery->kind),
                     delivery_first(target->delivery)->ticket.origin, target->hostname);
        target->finished = true;
        return NULL;
    }
    if (!target->missing) {
        target->missing = true;
        target->refresh_ticket = job_comets_request_refresh(dispatch->comets);
    }
    target->status = GIM_ERR_NOT_FOUND;
    return NULL;
}

/* Starts one call per unfinished target, all in parallel. */
static void delivery_round_start(struct job_dispatch *dispatch, struct delivery *delivery)
{
    struct round_request request;
    const ProtobufCMessage *message;
    size_t index;

    if (!delivery->targets_known && !delivery_find_all_comets(dispatch, delivery))
        return;
    message = round_request_build(&request, delivery);
    delivery->rounds++;
    for (index = 0; index < delivery->target_count; index++) {
        struct delivery_target *target = &delivery->targets[index];
        struct job_comet *comet;
        int status;

        if (target->finished)
            continue;
        comet = target_resolve(dispatch, target);
        if (comet == NULL)
            continue;
        target->comet = comet;
        delivery->calls_in_flight++;
        dispatch->calls_in_flight++;
        if (++comet->calls_in_flight == (int)dispatch->config->comet_queue)
            atomic_fetch_add(&dispatch->comets_at_bound, 1);
        gim_gauge_add(dispatch->metrics->calls_in_flight, 1);
        status =
            gim_rpc_call_async(comet->client, request.method, message, request.reply_type,
                               (int)dispatch->config->comet_timeout, delivery_call_done, target);
        if (status != GIM_OK) {
            /* GIM_ERR_AGAIN: the client's pending queue is full; retried like a failure.
             * Completions are handled on this thread only, so nothing ends the round
             * before this loop does. */
            target->status = status;
            if (comet->calls_in_flight-- == (int)dispatch->config->comet_queue)
                atomic_fetch_sub(&dispatch->comets_at_bound, 1);
            gim_gauge_add(dispatch->metrics->calls_in_flight, -1);
            job_comet_release(comet);
            target->comet = NULL;
            delivery->calls_in_flight--;
            dispatch->calls_in_flight--;
        }
    }
    if (delivery->calls_in_flight == 0)
        delivery_round_end(dispatch, delivery);
}

/* A batch goes out: a new delivery, first round now. */
static void delivery_start(struct job_dispatch *dispatch, struct job_batch *batch)
{
    struct dispatch_record *first = batch->items[0];
    struct delivery *delivery;
    size_t index;

    if (dispatch->stopping) {
        for (index = 0; index < batch->item_count; index++)
            record_drop(dispatch, batch->items[index]);
        job_batch_free(batch);
        return;
    }
    delivery = calloc(1, sizeof(*delivery));
    if (delivery == NULL) {
        /* The records stay unfinished: their offsets are not committed. */
        gim_log_error("%s: out of memory; %zu records stay uncommitted", first->ticket.origin,
                      batch->item_count);
        for (index = 0; index < batch->item_count; index++)
            record_free(batch->items[index]);
        job_batch_free(batch);
        return;
    }
    delivery->dispatch = dispatch;
    delivery->batch = batch;
    delivery->lane = first->lane;
    delivery->kind = first->message->type;
    delivery->backoff_ms = dispatch->config->comet_retry_backoff;
    if (delivery->kind == GOIM__LOGIC__PUSH_MSG__TYPE__PUSH) {
        delivery->targets = calloc(1, sizeof(*delivery->targets));
        if (delivery->targets != NULL) {
            delivery->targets[0].delivery = delivery;
            delivery->targets[0].hostname = strdup(first->message->server);
            delivery->target_count = delivery->targets[0].hostname ? 1 : 0;
        }
        delivery->targets_known = delivery->target_count == 1;
        if (!delivery->targets_known) {
            gim_log_error("%s: out of memory; retried", first->ticket.origin);
            delivery_wait(dispatch, delivery, dispatch->config->comet_retry_backoff);
            return;
        }
    }
    if (batch->item_count > 1)
        gim_log_debug("%s %s: %zu messages in one body", kind_name(delivery->kind),
                      first->ticket.origin, batch->item_count);
    delivery_round_start(dispatch, delivery);
}

/* A record from the inbox enters its lane. */
static void dispatch_accept(struct job_dispatch *dispatch, struct dispatch_record *record)
{
    const Goim__Logic__PushMsg *message = record->message;
    size_t max_frames = message->type == GOIM__LOGIC__PUSH_MSG__TYPE__BROADCAST
                            ? 1
                            : (size_t)dispatch->config->room_batch;
    struct job_batch *ready = NULL;
    int status;

    status = job_batcher_add(dispatch->batcher, record->lane, max_frames, message->operation,
                             message->msg.data, message->msg.len, record, &ready);
    if (status == GIM_ERR_TOO_LARGE) {
        gim_log_error("record %s: message of %zu bytes cannot be framed; skipped",
                      record->ticket.origin, message->msg.len);
        gim_counter_increment(dispatch->metrics->skipped);
        record_finish(dispatch, record);
        return;
    }
    if (status != GIM_OK) {
        gim_log_error("record %s: out of memory; it stays uncommitted", record->ticket.origin);
        record_free(record); /* still counted in `records`: reading stays bounded */
        return;
    }
    if (ready != NULL)
        delivery_start(dispatch, ready);
}

/* Starts the rounds that are due; returns the earliest later due time, or -1. */
static int64_t dispatch_run_due(struct job_dispatch *dispatch)
{
    struct delivery **link = &dispatch->waiting, *due = NULL;
    int64_t now = gim_monotonic_ms(), next = -1;

    while (*link != NULL) {
        struct delivery *delivery = *link;
        if (delivery->retry_at_ms <= now) {
            *link = delivery->next_waiting;
            delivery->next_waiting = due;
            due = delivery;
        } else {
            if (next < 0 || delivery->retry_at_ms < next)
                next = delivery->retry_at_ms;
            link = &delivery->next_waiting;
        }
    }
    while (due != NULL) {
        struct delivery *delivery = due;
        due = delivery->next_waiting;
        delivery->next_waiting = NULL;
        delivery_round_start(dispatch, delivery);
    }
    /* Rounds started above may have put deliveries back to wait. */
    for (struct delivery *delivery = dispatch->waiting; delivery != NULL;
         delivery = delivery->next_waiting)
        if (next < 0 || delivery->retry_at_ms < next)
            next = delivery->retry_at_ms;
    return next;
}

static void *dispatch_thread(void *argument)
{
    struct job_dispatch *dispatch = argument;
    int64_t next_due = -1;

    for (;;) {
        struct dispatch_record *inbox;
        struct delivery_target *completed;
        bool stop;

        pthread_mutex_lock(&dispatch->lock);
        for (;;) {
            if (dispatch->inbox_head != NULL || dispatch->completed != NULL)
                break;
            if (dispatch->stop_requested && dispatch->calls_in_flight == 0)
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

        dispatch->stopping = stop;
        while (completed != NULL) {
            struct delivery_target *target = completed;
            completed = target->next_completed;
            delivery_call_finished(dispatch, target);
        }
        while (inbox != NULL) {
            struct dispatch_record *record = inbox;
            inbox = record->next_in_inbox;
            if (stop)
                record_drop(dispatch, record);
            else
                dispatch_accept(dispatch, record);
        }
        if (stop) {
            if (dispatch->calls_in_flight == 0)
                break;
        } else {
            next_due = dispatch_run_due(dispatch);
        }
    }
    /* Stopped with no call in flight: what waits for a retry stays uncommitted. */
    while (dispatch->waiting != NULL) {
        struct delivery *delivery = dispatch->waiting;
        dispatch->waiting = delivery->next_waiting;
        delivery_abandon(dispatch, delivery);
    }
    return NULL;
}

int job_dispatch_create(struct job_dispatch **out, const struct job_config *config,
                        struct job_comets *comets, const struct job_metrics *metrics,
                        job_record_finished_fn finished, void *owner)
{
    struct job_dispatch *dispatch = calloc(1, sizeof(*dispatch));

    *out = NULL;
    if (dispatch == NULL)
        return GIM_ERR_NO_MEMORY;
    dispatch->config = config;
    dispatch->comets = comets;
    dispatch->metrics = metrics;
    dispatch->finished = finished;
    dispatch->owner = owner;
    atomic_init(&dispatch->records, 0);
    atomic_init(&dispatch->comets_at_bound, 0);
    if (job_batcher_create(&dispatch->batcher) != GIM_OK) {
        free(dispatch);
        return GIM_ERR_NO_MEMORY;
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

bool job_dispatch_has_room(const struct job_dispatch *dispatch)
{
    return atomic_load(&dispatch->records) < (size_t)dispatch->config->dispatch_max_records &&
           atomic_load(&dispatch->comets_at_bound) == 0;
}

/* Checks what a record's type needs. Returns false (logged) when it cannot be delivered. */
static bool record_is_deliverable(const Goim__Logic__PushMsg *message, const char *origin)
{
    switch (message->type) {
    case GOIM__LOGIC__PUSH_MSG__TYPE__PUSH:
        if (message->n_keys == 0 || message->server == NULL || message->server[0] == '\0') {
            gim_log_warn("push %s: no keys or no server; record skipped", origin);
            return false;
        }
        return true;
    case GOIM__LOGIC__PUSH_MSG__TYPE__ROOM:
        if (message->room == NULL || message->room[0] == '\0') {
            gim_log_warn("room %s: no room; record skipped", origin);
            return false;
        }
        return true;
    case GOIM__LOGIC__PUSH_MSG__TYPE__BROADCAST:
        return true;
    default:
        gim_log_error("record %s: unknown PushMsg type %d; skipped", origin, (int)message->type);
        return false;
    }
}

int job_dispatch_submit(struct job_dispatch *dispatch, const uint8_t *value, size_t length,
                        const struct job_record_ticket *ticket)
{
    struct dispatch_record *record;
    Goim__Logic__PushMsg *message;
    bool stopping;

    pthread_mutex_lock(&dispatch->lock);
    stopping = dispatch->stop_requested;
    pthread_mutex_unlock(&dispatch->lock);
    if (stopping)
        return GIM_ERR_CLOSED;
    if (!job_dispatch_has_room(dispatch))
        return GIM_ERR_AGAIN;
    message = goim__logic__push_msg__unpack(NULL, length, value);
    if (message == NULL) {
        gim_log_error("record %s: not a PushMsg (%zu bytes); skipped", ticket->origin, length);
        gim_counter_increment(dispatch->metrics->consumed);
        gim_counter_increment(dispatch->metrics->skipped);
        dispatch->finished(dispatch->owner, ticket);
        return GIM_OK;
    }
    if (!record_is_deliverable(message, ticket->origin)) {
        goim__logic__push_msg__free_unpacked(message, NULL);
        gim_counter_increment(dispatch->metrics->consumed);
        gim_counter_increment(dispatch->metrics->skipped);
        dispatch->finished(dispatch->owner, ticket);
        return GIM_OK;
    }
    record = calloc(1, sizeof(*record));
    if (record == NULL || (record->lane = lane_of(message)) == NULL) {
        free(record);
        goim__logic__push_msg__free_unpacked(message, NULL);
        return GIM_ERR_NO_MEMORY;
    }
    record->ticket = *ticket;
    record->message = message;
    atomic_fetch_add(&dispatch->records, 1);
    gim_counter_increment(dispatch->metrics->consumed);
    pthread_mutex_lock(&dispatch->lock);
    if (dispatch->inbox_tail != NULL)
        dispatch->inbox_tail->next_in_inbox = record;
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
    struct dispatch_record *record;

    if (dispatch == NULL)
        return;
    job_dispatch_stop(dispatch);
    while ((record = dispatch->inbox_head) != NULL) {
        dispatch->inbox_head = record->next_in_inbox;
        record_free(record);
    }
    job_batcher_destroy(dispatch->batcher, record_free_item);
    pthread_cond_destroy(&dispatch->wake);
    pthread_mutex_destroy(&dispatch->lock);
    free(dispatch);
}
