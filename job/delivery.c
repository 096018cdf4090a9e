/* delivery.c: lane-ordered delivery of records to comets, round after round (see delivery.h). */
#include "job/delivery.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "comet.pb-c.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/status.h"
#include "job/batcher.h"
#include "job/lane.h"

/* One batch on its way to its targets, round after round. */
struct job_delivery {
    struct job_deliveries *core;
    struct job_batch *batch; /* owned; items are job_records */
    const char *lane;        /* the first record's lane */
    Goim__Logic__PushMsg__Type kind;
    struct job_target *targets; /* owned */
    size_t target_count;
    bool targets_known;
    int64_t rounds;
    int64_t backoff_ms;
    int64_t retry_at_ms;
    int64_t waited_for_comets_ms;
    size_t calls_in_flight;
    struct job_delivery *next_waiting;
};

struct job_deliveries {
    const struct job_config *config;
    const struct job_delivery_ops *ops;
    const struct job_metrics *metrics;
    job_record_finished_fn finished;
    void *owner;
    gim_rpc_done_fn call_done;
    void *call_owner;

    atomic_size_t records;      /* reserved and not yet finished or dropped */
    atomic_int comets_at_bound; /* comets with comet.queue calls in flight */

    /* the owner's thread only */
    struct job_batcher *batcher;
    struct job_delivery *waiting; /* deliveries waiting for their next round */
    size_t calls_in_flight;
    bool stopping;
};

/* ---- records ---- */

static void record_free_item(void *item)
{
    job_record_free(item);
}

/* Reports a record finished and frees it. Its place is given back first, so that whoever
 * learns of the finish also sees the room it left. */
static void record_finish(struct job_deliveries *core, struct job_record *record)
{
    atomic_fetch_sub(&core->records, 1);
    core->finished(core->owner, &record->ticket);
    job_record_free(record);
}

void job_deliveries_drop(struct job_deliveries *core, struct job_record *record)
{
    job_record_free(record);
    atomic_fetch_sub(&core->records, 1);
}

/* ---- deliveries ---- */

static void delivery_round_start(struct job_deliveries *core, struct job_delivery *delivery);
static void delivery_start(struct job_deliveries *core, struct job_batch *batch);

static struct job_record *delivery_first(const struct job_delivery *delivery)
{
    return delivery->batch->items[0];
}

static const char *delivery_kind(const struct job_delivery *delivery)
{
    return job_record_kind_name(delivery->kind);
}

static void delivery_free(struct job_delivery *delivery)
{
    job_targets_free(delivery->targets, delivery->target_count);
    job_batch_free(delivery->batch);
    free(delivery);
}

/* The batch is done (delivered, skipped or given up): finish its records
 * and start the lane's next batch, if any. */
static void delivery_complete(struct job_deliveries *core, struct job_delivery *delivery)
{
    struct job_batch *next;
    char *lane = strdup(delivery->lane);
    size_t index;

    for (index = 0; index < delivery->batch->item_count; index++)
        record_finish(core, delivery->batch->items[index]);
    delivery->batch->item_count = 0;
    delivery_free(delivery);
    if (lane == NULL) {
        /* Cannot name the lane: it stays busy and its queue waits for a restart. */
        gim_log_error("dispatch: out of memory; a lane stalls until restart");
        return;
    }
    next = job_batcher_done(core->batcher, lane);
    free(lane);
    if (next != NULL)
        delivery_start(core, next);
}

/* Drops a delivery at stop: its records stay uncommitted. */
static void delivery_abandon(struct job_deliveries *core, struct job_delivery *delivery)
{
    size_t index;

    for (index = 0; index < delivery->batch->item_count; index++)
        job_deliveries_drop(core, delivery->batch->items[index]);
    delivery->batch->item_count = 0;
    delivery_free(delivery);
}

static void delivery_wait(struct job_deliveries *core, struct job_delivery *delivery,
                          int64_t delay_ms)
{
    delivery->retry_at_ms = core->ops->now_ms(core->ops->context) + delay_ms;
    delivery->next_waiting = core->waiting;
    core->waiting = delivery;
}

/* ---- rounds ---- */

/* All calls of a round have completed: done, give up, or schedule a retry. */
static void delivery_round_end(struct job_deliveries *core, struct job_delivery *delivery)
{
    const struct job_config *config = core->config;
    const char *origin = delivery_first(delivery)->ticket.origin;
    const char *kind = delivery_kind(delivery);
    size_t index, unfinished = 0, merged = delivery->batch->item_count - 1;

    for (index = 0; index < delivery->target_count; index++)
        unfinished += !delivery->targets[index].finished;
    if (unfinished == 0) {
        gim_counter_add(core->metrics->delivered, delivery->batch->item_count);
        delivery_complete(core, delivery);
        return;
    }
    if (core->stopping) {
        delivery_abandon(core, delivery);
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
        gim_counter_add(core->metrics->given_up_retries, delivery->batch->item_count);
        delivery_complete(core, delivery);
        return;
    }
    for (index = 0; index < delivery->target_count; index++)
        if (!delivery->targets[index].finished)
            gim_log_warn(
                "%s %s (+%zu merged): comet \"%s\" failed (%s); retry %lld/%lld in %lld ms", kind,
                origin, merged, delivery->targets[index].hostname,
                gim_strerror(delivery->targets[index].status), (long long)delivery->rounds,
                (long long)config->comet_retries, (long long)delivery->backoff_ms);
    gim_counter_add(core->metrics->retries, unfinished);
    delivery_wait(core, delivery, delivery->backoff_ms);
    delivery->backoff_ms *= 2;
    if (delivery->backoff_ms > config->comet_retry_backoff_max)
        delivery->backoff_ms = config->comet_retry_backoff_max;
}

/* The comet of a call that is over (completed or refused) gives its place back. */
static void target_call_over(struct job_deliveries *core, struct job_target *target)
{
    struct job_comet *comet = target->comet;

    if (comet->calls_in_flight-- == (int)core->config->comet_queue)
        atomic_fetch_sub(&core->comets_at_bound, 1);
    gim_gauge_add(core->metrics->calls_in_flight, -1);
    core->ops->release(core->ops->context, comet); /* may close a departed comet's client */
    target->comet = NULL;
    target->delivery->calls_in_flight--;
    core->calls_in_flight--;
}

void job_deliveries_call_done(struct job_deliveries *core, struct job_delivery_call *call,
                              int status)
{
    struct job_target *target = (struct job_target *)call; /* call is its first member */
    struct job_delivery *delivery = target->delivery;

    target->status = status;
    target_call_over(core, target);
    if (status == GIM_OK) {
        target->finished = true;
        gim_log_debug("%s %s: delivered to %s", delivery_kind(delivery),
                      delivery_first(delivery)->ticket.origin, target->hostname);
    }
    if (delivery->calls_in_flight == 0)
        delivery_round_end(core, delivery);
}

/*
 * Fixes the targets of a ROOM/BROADCAST: every live comet now. With none,
 * waits (re-reading the registry) up to comet.waitForComets. Returns true
 * when the targets are known; false when the delivery was completed or put
 * back to wait.
 */
static bool delivery_find_all_comets(struct job_deliveries *core, struct job_delivery *delivery)
{
    const struct job_config *config = core->config;
    const char *origin = delivery_first(delivery)->ticket.origin;
    size_t index;
    int status;

    status = job_targets_all(core->ops, &delivery->targets, &delivery->target_count);
    if (status == GIM_ERR_NOT_FOUND) {
        if (delivery->waited_for_comets_ms >= config->comet_wait_for_comets) {
            gim_log_warn("%s %s: no comet registered after %lld ms; committed without delivery",
                         delivery_kind(delivery), origin,
                         (long long)delivery->waited_for_comets_ms);
            gim_counter_add(core->metrics->given_up_no_comet, delivery->batch->item_count);
            delivery_complete(core, delivery);
            return false;
        }
        if (delivery->waited_for_comets_ms == 0)
            gim_log_notice("%s %s: no comet registered; waiting up to %lld ms",
                           delivery_kind(delivery), origin,
                           (long long)config->comet_wait_for_comets);
        core->ops->request_refresh(core->ops->context);
        delivery->waited_for_comets_ms += config->registry_refresh;
        delivery_wait(core, delivery, config->registry_refresh);
        return false;
    }
    if (status != GIM_OK) {
        gim_log_error("%s %s: out of memory; retried", delivery_kind(delivery), origin);
        delivery_wait(core, delivery, config->comet_retry_backoff);
        return false;
    }
    for (index = 0; index < delivery->target_count; index++)
        delivery->targets[index].delivery = delivery;
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
                                                   const struct job_delivery *delivery)
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
        request->push.protoop = message->operation; /* the batch's (job_lane_merge_key_of) */
        request->method = GIM_RPC_COMET_PUSH_MSG;
        request->reply_type = &goim__comet__push_msg_reply__descriptor;
        return &request->push.base;
    case GOIM__LOGIC__PUSH_MSG__TYPE__ROOM:
        request->room = (Goim__Comet__BroadcastRoomReq)GOIM__COMET__BROADCAST_ROOM_REQ__INIT;
        request->room.roomid = message->room;
        request->room.proto = &request->proto;
        /* Every record of the batch has these (job_lane_merge_key_of). */
        request->room.usertagpattern = message->usertagpattern;
        request->room.text = message->text;
        request->room.closeroom = message->closeroom;
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

/* Starts one call per unfinished target, all in parallel. */
static void delivery_round_start(struct job_deliveries *core, struct job_delivery *delivery)
{
    const struct job_delivery_ops *ops = core->ops;
    const char *origin = delivery_first(delivery)->ticket.origin;
    struct round_request request;
    const ProtobufCMessage *message;
    size_t index;

    if (!delivery->targets_known && !delivery_find_all_comets(core, delivery))
        return;
    message = round_request_build(&request, delivery);
    delivery->rounds++;
    for (index = 0; index < delivery->target_count; index++) {
        struct job_target *target = &delivery->targets[index];
        struct job_comet *comet;
        int status;

        if (target->finished)
            continue;
        comet = job_target_resolve(target, ops, delivery_kind(delivery), origin);
        if (comet == NULL)
            continue;
        target->comet = comet;
        target->call.owner = core->call_owner;
        delivery->calls_in_flight++;
        core->calls_in_flight++;
        if (++comet->calls_in_flight == (int)core->config->comet_queue)
            atomic_fetch_add(&core->comets_at_bound, 1);
        gim_gauge_add(core->metrics->calls_in_flight, 1);
        status = ops->call(ops->context, comet, request.method, message, request.reply_type,
                           (int)core->config->comet_timeout, core->call_done, &target->call);
        if (status != GIM_OK) {
            /* GIM_ERR_AGAIN: the client's pending queue is full; retried like a failure.
             * Completions are handed back on this thread only, so nothing ends the round
             * before this loop does. */
            target->status = status;
            target_call_over(core, target);
        }
    }
    if (delivery->calls_in_flight == 0)
        delivery_round_end(core, delivery);
}

/* A batch goes out: a new delivery, first round now. */
static void delivery_start(struct job_deliveries *core, struct job_batch *batch)
{
    struct job_record *first = batch->items[0];
    struct job_delivery *delivery;
    size_t index;

    if (core->stopping) {
        for (index = 0; index < batch->item_count; index++)
            job_deliveries_drop(core, batch->items[index]);
        job_batch_free(batch);
        return;
    }
    delivery = calloc(1, sizeof(*delivery));
    if (delivery == NULL) {
        /* The records stay unfinished: their offsets are not committed. */
        gim_log_error("%s: out of memory; %zu records stay uncommitted", first->ticket.origin,
                      batch->item_count);
        for (index = 0; index < batch->item_count; index++)
            job_record_free(batch->items[index]);
        job_batch_free(batch);
        return;
    }
    delivery->core = core;
    delivery->batch = batch;
    delivery->lane = first->lane;
    delivery->kind = first->message->type;
    delivery->backoff_ms = core->config->comet_retry_backoff;
    if (delivery->kind == GOIM__LOGIC__PUSH_MSG__TYPE__PUSH) {
        if (job_targets_one(first->message->server, &delivery->targets, &delivery->target_count) !=
            GIM_OK) {
            gim_log_error("%s: out of memory; retried", first->ticket.origin);
            delivery_wait(core, delivery, core->config->comet_retry_backoff);
            return;
        }
        delivery->targets[0].delivery = delivery;
        delivery->targets_known = true;
    }
    if (batch->item_count > 1)
        gim_log_debug("%s %s: %zu messages in one body", delivery_kind(delivery),
                      first->ticket.origin, batch->item_count);
    delivery_round_start(core, delivery);
}

/* ---- the core ---- */

int job_deliveries_create(struct job_deliveries **out, const struct job_config *config,
                          const struct job_delivery_ops *ops, const struct job_metrics *metrics,
                          job_record_finished_fn finished, void *owner, gim_rpc_done_fn call_done,
                          void *call_owner)
{
    struct job_deliveries *core = calloc(1, sizeof(*core));

    *out = NULL;
    if (core == NULL)
        return GIM_ERR_NO_MEMORY;
    core->config = config;
    core->ops = ops;
    core->metrics = metrics;
    core->finished = finished;
    core->owner = owner;
    core->call_done = call_done;
    core->call_owner = call_owner;
    atomic_init(&core->records, 0);
    atomic_init(&core->comets_at_bound, 0);
    if (job_batcher_create(&core->batcher) != GIM_OK) {
        free(core);
        return GIM_ERR_NO_MEMORY;
    }
    *out = core;
    return GIM_OK;
}

void job_deliveries_reserve(struct job_deliveries *core)
{
    atomic_fetch_add(&core->records, 1);
}

bool job_deliveries_has_room(const struct job_deliveries *core)
{
    return atomic_load(&core->records) < (size_t)core->config->dispatch_max_records &&
           atomic_load(&core->comets_at_bound) == 0;
}

void job_deliveries_accept(struct job_deliveries *core, struct job_record *record)
{
    const Goim__Logic__PushMsg *message = record->message;
    size_t max_frames = message->type == GOIM__LOGIC__PUSH_MSG__TYPE__BROADCAST
                            ? 1
                            : (size_t)core->config->room_batch;
    struct job_batch *ready = NULL;
    char *merge_key = job_lane_merge_key_of(message);
    int status;

    if (merge_key == NULL) {
        gim_log_error("record %s: out of memory; it stays uncommitted", record->ticket.origin);
        job_record_free(record); /* still counted in `records`: reading stays bounded */
        return;
    }
    status = job_batcher_add_keyed(core->batcher, record->lane, merge_key, max_frames,
                                   message->operation, message->msg.data, message->msg.len, record,
                                   &ready);
    free(merge_key);
    if (status == GIM_ERR_TOO_LARGE) {
        gim_log_error("record %s: message of %zu bytes cannot be framed; skipped",
                      record->ticket.origin, message->msg.len);
        gim_counter_increment(core->metrics->skipped);
        record_finish(core, record);
        return;
    }
    if (status != GIM_OK) {
        gim_log_error("record %s: out of memory; it stays uncommitted", record->ticket.origin);
        job_record_free(record); /* still counted in `records`: reading stays bounded */
        return;
    }
    if (ready != NULL)
        delivery_start(core, ready);
}

int64_t job_deliveries_run_due(struct job_deliveries *core)
{
    struct job_delivery **link = &core->waiting, *due = NULL;
    int64_t now = core->ops->now_ms(core->ops->context), next = -1;

    if (core->stopping)
        return -1;
    while (*link != NULL) {
        struct job_delivery *delivery = *link;
        if (delivery->retry_at_ms <= now) {
            *link = delivery->next_waiting;
            delivery->next_waiting = due;
            due = delivery;
        } else {
            link = &delivery->next_waiting;
        }
    }
    while (due != NULL) {
        struct job_delivery *delivery = due;
        due = delivery->next_waiting;
        delivery->next_waiting = NULL;
        delivery_round_start(core, delivery);
    }
    /* Rounds started above may have put deliveries back to wait. */
    for (struct job_delivery *delivery = core->waiting; delivery != NULL;
         delivery = delivery->next_waiting)
        if (next < 0 || delivery->retry_at_ms < next)
            next = delivery->retry_at_ms;
    return next;
}

void job_deliveries_stop(struct job_deliveries *core)
{
    core->stopping = true;
}

size_t job_deliveries_calls_in_flight(const struct job_deliveries *core)
{
    return core->calls_in_flight;
}

void job_deliveries_destroy(struct job_deliveries *core)
{
    if (core == NULL)
        return;
    while (core->waiting != NULL) {
        struct job_delivery *delivery = core->waiting;
        core->waiting = delivery->next_waiting;
        delivery_abandon(core, delivery);
    }
    job_batcher_destroy(core->batcher, record_free_item);
    free(core);
}
