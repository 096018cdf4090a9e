/* dispatch.c: from a PushMsg record to acknowledged comet RPCs (see dispatch.h). */
#include "job/dispatch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comet.pb-c.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "job/opraw.h"
#include "logic.pb-c.h"

/* Backoff sleeps are cut in slices this long so that a stop is seen quickly. */
#define STOP_CHECK_SLICE_MS 50

struct job_dispatch {
    const struct job_config *config;
    struct job_comets *comets;
    const atomic_bool *stopping;
};

/* One comet a record must reach. */
struct delivery_target {
    const char *hostname;    /* points into the record or into a held job_comet */
    struct job_comet *comet; /* held during one round, NULL otherwise */
    bool finished;           /* acknowledged, or gone from the registry */
    int status;              /* result of the last call */
    struct delivery_round *round;
};

/* The calls of one round, all in flight at once; the dispatcher waits for all. */
struct delivery_round {
    pthread_mutex_t lock;
    pthread_cond_t all_done;
    size_t outstanding;
};

/* One RPC to send to every target of a record. */
struct delivery_request {
    uint32_t method;
    const ProtobufCMessage *request;
    const ProtobufCMessageDescriptor *reply_type;
    const char *kind;   /* "push", "room", "broadcast" for log lines */
    const char *origin; /* topic/partition/offset */
};

int job_dispatch_create(struct job_dispatch **out, const struct job_config *config,
                        struct job_comets *comets, const atomic_bool *stopping)
{
    struct job_dispatch *dispatch = calloc(1, sizeof(*dispatch));

    *out = NULL;
    if (dispatch == NULL)
        return GIM_ERR_NO_MEMORY;
    dispatch->config = config;
    dispatch->comets = comets;
    dispatch->stopping = stopping;
    *out = dispatch;
    return GIM_OK;
}

void job_dispatch_destroy(struct job_dispatch *dispatch)
{
    free(dispatch);
}

static bool dispatch_stopping(const struct job_dispatch *dispatch)
{
    return atomic_load(dispatch->stopping);
}

/* Sleeps milliseconds, waking early on stop. Returns false if stopping. */
static bool dispatch_sleep(const struct job_dispatch *dispatch, int64_t milliseconds)
{
    while (milliseconds > 0 && !dispatch_stopping(dispatch)) {
        int64_t slice = milliseconds < STOP_CHECK_SLICE_MS ? milliseconds : STOP_CHECK_SLICE_MS;
        struct timespec pause = {.tv_sec = 0, .tv_nsec = (long)slice * 1000000L};
        nanosleep(&pause, NULL);
        milliseconds -= slice;
    }
    return !dispatch_stopping(dispatch);
}

/* How long one forced registry read may take before the round goes on without it. */
static int dispatch_refresh_timeout(const struct job_dispatch *dispatch)
{
    return (int)(2 * dispatch->config->redis_timeout + dispatch->config->registry_refresh);
}

/* Completion of one asynchronous call (an nng thread): record and signal. */
static void delivery_done(void *user, int status, ProtobufCMessage *reply)
{
    struct delivery_target *target = user;
    struct delivery_round *round = target->round;

    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    pthread_mutex_lock(&round->lock);
    target->status = status;
    if (--round->outstanding == 0)
        pthread_cond_signal(&round->all_done);
    pthread_mutex_unlock(&round->lock);
}

/*
 * Looks up every unfinished target. A target missing from the table is
 * checked against a fresh registry read; if it is still missing, it has
 * left and is finished without delivery (logged). If the registry cannot
 * be read, the target stays unfinished with a failed status for this round.
 */
static void delivery_resolve(struct job_dispatch *dispatch, const struct delivery_request *what,
                             struct delivery_target *targets, size_t count)
{
    size_t index;
    bool missing = false;
    int refresh_status = GIM_OK;

    for (index = 0; index < count; index++) {
        if (targets[index].finished)
            continue;
        targets[index].comet = job_comets_find(dispatch->comets, targets[index].hostname);
        missing |= targets[index].comet == NULL;
    }
    if (!missing)
        return;
    refresh_status = job_comets_refresh(dispatch->comets, dispatch_refresh_timeout(dispatch));
    for (index = 0; index < count; index++) {
        struct delivery_target *target = &targets[index];

        if (target->finished || target->comet != NULL)
            continue;
        target->comet = job_comets_find(dispatch->comets, target->hostname);
        if (target->comet != NULL)
            continue;
        if (refresh_status == GIM_OK) {
            gim_log_warn("%s %s: comet \"%s\" is not in the registry; not delivered there",
                         what->kind, what->origin, target->hostname);
            target->finished = true;
        } else {
            target->status = refresh_status;
        }
    }
}

/* Runs one round: one call per resolved unfinished target, all in parallel. */
static void delivery_round_run(struct job_dispatch *dispatch, const struct delivery_request *what,
                               struct delivery_target *targets, size_t count)
{
    struct delivery_round round;
    size_t index;

    pthread_mutex_init(&round.lock, NULL);
    pthread_cond_init(&round.all_done, NULL);
    round.outstanding = 0;
    for (index = 0; index < count; index++) {
        struct delivery_target *target = &targets[index];
        int status;

        if (target->finished || target->comet == NULL)
            continue;
        target->round = &round;
        pthread_mutex_lock(&round.lock);
        round.outstanding++;
        pthread_mutex_unlock(&round.lock);
        status =
            gim_rpc_call_async(target->comet->client, what->method, what->request, what->reply_type,
                               (int)dispatch->config->comet_timeout, delivery_done, target);
        if (status != GIM_OK) {
            pthread_mutex_lock(&round.lock);
            round.outstanding--;
            target->status = status;
            pthread_mutex_unlock(&round.lock);
        }
    }
    /* Every started call completes (each carries the comet.timeout deadline). */
    pthread_mutex_lock(&round.lock);
    while (round.outstanding > 0)
        pthread_cond_wait(&round.all_done, &round.lock);
    pthread_mutex_unlock(&round.lock);
    pthread_cond_destroy(&round.all_done);
    pthread_mutex_destroy(&round.lock);
    for (index = 0; index < count; index++) {
        struct delivery_target *target = &targets[index];

        if (target->comet == NULL)
            continue;
        if (target->status == GIM_OK) {
            target->finished = true;
            gim_log_debug("%s %s: delivered to %s", what->kind, what->origin, target->hostname);
        }
        job_comet_release(target->comet);
        target->comet = NULL;
    }
}

/*
 * Delivers what to every target, retrying the failed ones. The bound:
 * 1 + comet.retries rounds, with a backoff doubling from comet.retryBackoff
 * up to comet.retryBackoffMax between them; then the record is given up
 * (logged at error level) so that one dead comet cannot stall the topic
 * forever. Returns GIM_OK (finished or given up) or GIM_ERR_CLOSED (stop).
 */
static int delivery_run(struct job_dispatch *dispatch, const struct delivery_request *what,
                        struct delivery_target *targets, size_t count)
{
    int64_t backoff = dispatch->config->comet_retry_backoff;
    int64_t attempt;

    for (attempt = 0;; attempt++) {
        size_t index, unfinished = 0;

        for (index = 0; index < count; index++) {
            targets[index].status = GIM_ERR_UNAVAILABLE;
            targets[index].comet = NULL;
        }
        delivery_resolve(dispatch, what, targets, count);
        delivery_round_run(dispatch, what, targets, count);
        for (index = 0; index < count; index++)
            unfinished += !targets[index].finished;
        if (unfinished == 0)
            return GIM_OK;
        if (attempt >= dispatch->config->comet_retries) {
            for (index = 0; index < count; index++)
                if (!targets[index].finished)
                    gim_log_error("%s %s: GIVING UP on comet \"%s\" after %lld attempts (%s); "
                                  "the record is committed without this delivery",
                                  what->kind, what->origin, targets[index].hostname,
                                  (long long)attempt + 1, gim_strerror(targets[index].status));
            return GIM_OK;
        }
        for (index = 0; index < count; index++)
            if (!targets[index].finished)
                gim_log_warn("%s %s: comet \"%s\" failed (%s); retry %lld/%lld in %lld ms",
                             what->kind, what->origin, targets[index].hostname,
                             gim_strerror(targets[index].status), (long long)attempt + 1,
                             (long long)dispatch->config->comet_retries, (long long)backoff);
        if (!dispatch_sleep(dispatch, backoff))
            return GIM_ERR_CLOSED;
        backoff *= 2;
        if (backoff > dispatch->config->comet_retry_backoff_max)
            backoff = dispatch->config->comet_retry_backoff_max;
    }
}

/*
 * Takes the comets a ROOM/BROADCAST goes to. With none registered, waits up
 * to comet.waitForComets (re-reading the registry) so that a record
 * produced while comets restart is not lost; then gives up (GIM_OK with
 * *count 0). Returns GIM_OK, GIM_ERR_CLOSED (stop) or GIM_ERR_NO_MEMORY.
 */
static int dispatch_live_comets(struct job_dispatch *dispatch, const char *kind, const char *origin,
                                struct job_comet ***list, size_t *count)
{
    int64_t waited = 0;
    int status;

    for (;;) {
        status = job_comets_snapshot(dispatch->comets, list, count);
        if (status != GIM_OK || *count > 0)
            return status;
        if (waited >= dispatch->config->comet_wait_for_comets) {
            gim_log_warn("%s %s: no comet registered after %lld ms; record committed without "
                         "delivery",
                         kind, origin, (long long)waited);
            return GIM_OK;
        }
        if (waited == 0)
            gim_log_notice("%s %s: no comet registered; waiting up to %lld ms", kind, origin,
                           (long long)dispatch->config->comet_wait_for_comets);
        if (!dispatch_sleep(dispatch, dispatch->config->registry_refresh))
            return GIM_ERR_CLOSED;
        waited += dispatch->config->registry_refresh;
    }
}

/* Delivers to every live comet (ROOM and BROADCAST). */
static int dispatch_to_all(struct job_dispatch *dispatch, struct delivery_request *what,
                           struct job_comet **list, size_t count)
{
    struct delivery_target *targets = calloc(count, sizeof(*targets));
    size_t index;
    int status;

    if (targets == NULL)
        return GIM_ERR_NO_MEMORY;
    for (index = 0; index < count; index++)
        targets[index].hostname = list[index]->hostname; /* list holds them until the end */
    status = delivery_run(dispatch, what, targets, count);
    free(targets);
    return status;
}

static void release_list(struct job_comet **list, size_t count)
{
    size_t index;

    for (index = 0; index < count; index++)
        job_comet_release(list[index]);
    free(list);
}

static int dispatch_push(struct job_dispatch *dispatch, const Goim__Logic__PushMsg *record,
                         Goim__Protocol__Proto *proto, const char *origin)
{
    Goim__Comet__PushMsgReq request = GOIM__COMET__PUSH_MSG_REQ__INIT;
    struct delivery_request what = {GIM_RPC_COMET_PUSH_MSG, &request.base,
                                    &goim__comet__push_msg_reply__descriptor, "push", origin};
    struct delivery_target target = {.hostname = record->server};

    if (record->n_keys == 0 || record->server == NULL || record->server[0] == '\0') {
        gim_log_warn("push %s: no keys or no server; record skipped", origin);
        return GIM_OK;
    }
    request.n_keys = record->n_keys;
    request.keys = record->keys;
    request.proto = proto;
    request.protoop = record->operation;
    return delivery_run(dispatch, &what, &target, 1);
}

static int dispatch_room(struct job_dispatch *dispatch, const Goim__Logic__PushMsg *record,
                         Goim__Protocol__Proto *proto, const char *origin)
{
    Goim__Comet__BroadcastRoomReq request = GOIM__COMET__BROADCAST_ROOM_REQ__INIT;
    struct delivery_request what = {GIM_RPC_COMET_BROADCAST_ROOM, &request.base,
                                    &goim__comet__broadcast_room_reply__descriptor, "room", origin};
    struct job_comet **list;
    size_t count;
    int status;

    if (record->room == NULL || record->room[0] == '\0') {
        gim_log_warn("room %s: no room; record skipped", origin);
        return GIM_OK;
    }
    request.roomid = record->room;
    request.proto = proto;
    status = dispatch_live_comets(dispatch, "room", origin, &list, &count);
    if (status != GIM_OK || count == 0)
        return status;
    status = dispatch_to_all(dispatch, &what, list, count);
    release_list(list, count);
    return status;
}

static int dispatch_broadcast(struct job_dispatch *dispatch, const Goim__Logic__PushMsg *record,
                              Goim__Protocol__Proto *proto, const char *origin)
{
    Goim__Comet__BroadcastReq request = GOIM__COMET__BROADCAST_REQ__INIT;
    struct delivery_request what = {GIM_RPC_COMET_BROADCAST, &request.base,
                                    &goim__comet__broadcast_reply__descriptor, "broadcast", origin};
    struct job_comet **list;
    size_t count;
    int status;

    status = dispatch_live_comets(dispatch, "broadcast", origin, &list, &count);
    if (status != GIM_OK || count == 0)
        return status;
    request.protoop = record->operation;
    request.proto = proto;
    /* goim: the cluster-wide speed is shared by the comets. Unlike goim's
     * integer division, a positive speed never becomes 0 (= unthrottled). */
    request.speed = record->speed > 0 ? record->speed / (int32_t)count : 0;
    if (record->speed > 0 && request.speed == 0)
        request.speed = 1;
    status = dispatch_to_all(dispatch, &what, list, count);
    release_list(list, count);
    return status;
}

int job_dispatch_record(struct job_dispatch *dispatch, const uint8_t *value, size_t length,
                        const char *origin)
{
    Goim__Logic__PushMsg *record;
    Goim__Protocol__Proto proto = GOIM__PROTOCOL__PROTO__INIT;
    struct job_opraw frames = {0};
    int status;

    record = goim__logic__push_msg__unpack(NULL, length, value);
    if (record == NULL) {
        gim_log_error("record %s: not a PushMsg (%zu bytes); skipped", origin, length);
        return GIM_OK;
    }
    status = job_opraw_append(&frames, record->operation, record->msg.data, record->msg.len);
    if (status != GIM_OK) {
        gim_log_error("record %s: message of %zu bytes cannot be framed (%s); skipped", origin,
                      record->msg.len, gim_strerror(status));
        goim__logic__push_msg__free_unpacked(record, NULL);
        return status == GIM_ERR_NO_MEMORY ? GIM_ERR_NO_MEMORY : GIM_OK;
    }
    proto.ver = 1;
    proto.op = GIM_OP_RAW;
    proto.body.data = frames.data;
    proto.body.len = frames.length;
    switch (record->type) {
    case GOIM__LOGIC__PUSH_MSG__TYPE__PUSH:
        status = dispatch_push(dispatch, record, &proto, origin);
        break;
    case GOIM__LOGIC__PUSH_MSG__TYPE__ROOM:
        status = dispatch_room(dispatch, record, &proto, origin);
        break;
    case GOIM__LOGIC__PUSH_MSG__TYPE__BROADCAST:
        status = dispatch_broadcast(dispatch, record, &proto, origin);
        break;
    default:
        gim_log_error("record %s: unknown PushMsg type %d; skipped", origin, (int)record->type);
        status = GIM_OK;
        break;
    }
    job_opraw_clear(&frames);
    goim__logic__push_msg__free_unpacked(record, NULL);
    return status;
}
