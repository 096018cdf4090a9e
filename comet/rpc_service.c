/* rpc_service.c: PushMsg / BroadcastRoom / Broadcast / Rooms handlers (see rpc_service.h). */
#include "comet/rpc_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet.pb-c.h"
#include "comet/comet.h"
#include "comet/deadline_queue.h"
#include "comet/push_job.h"
#include "comet/worker.h"
#include "common/clock.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/tag_pattern.h"

/* The push a proto carries (its body stays in the request the job owns). */
static struct comet_push push_of(const Goim__Protocol__Proto *proto)
{
    struct comet_push push = {proto->ver,      proto->op, proto->seq, proto->body.data,
                              proto->body.len, false,     false,      NULL};
    return push;
}

struct comet_rpc_service {
    struct comet *comet;
    struct gim_rpc_server *server;
    struct deadline_queue deadlines; /* every push's rpcServer.timeout, push_job_deadline_passed */
};

/* The answers of the push methods when the push is done: each an empty message. */
static const Goim__Comet__PushMsgReply push_msg_done = GOIM__COMET__PUSH_MSG_REPLY__INIT;
static const Goim__Comet__BroadcastRoomReply broadcast_room_done =
    GOIM__COMET__BROADCAST_ROOM_REPLY__INIT;
static const Goim__Comet__BroadcastReply broadcast_done = GOIM__COMET__BROADCAST_REPLY__INIT;

/* A push job's answer (push_job_answer_fn): its deferred RPC answer, on whichever thread
 * settled the job (a loop, the RPC worker, the deadline thread); sending does not block. */
static void answer_push(struct push_job *job, int status)
{
    struct gim_rpc_deferred *deferred = job->answer_context;

    if (status == GIM_OK) {
        const ProtobufCMessage *done = job->kind == PUSH_TO_KEYS   ? &push_msg_done.base
                                       : job->kind == PUSH_TO_ROOM ? &broadcast_room_done.base
                                                                   : &broadcast_done.base;
        gim_rpc_deferred_message(deferred, done);
    } else if (status == GIM_ERR_AGAIN) {
        gim_rpc_deferred_error(deferred, GIM_ERR_AGAIN,
                               "comet busy: push queue full, nothing queued");
    } else {
        gim_rpc_deferred_error(deferred, GIM_ERR_TIMEOUT,
                               "comet loops did not start the push in time, cancelled");
    }
}

/*
 * Posts job to every loop or to none, its answer deferred: the last loop to queue it answers
 * done, so that no RPC worker waits for the loops. The answer is all or nothing, so that job's
 * retry of a push answered with an error delivers it once: refused when a loop's inbox is full
 * (nothing posted), cancelled at rpcServer.timeout if no loop has started it (push_job.h).
 * Consumes the caller's reference to job. Answers reply (deferred).
 */
static void deliver(struct comet_rpc_service *service, struct push_job *job,
                    struct gim_rpc_reply *reply)
{
    push_job_expect_answer(job, answer_push, gim_rpc_reply_defer(reply), &service->deadlines,
                           gim_monotonic_ms());
    if (worker_post_push_job(service->comet, job) != GIM_OK)
        push_job_answer(job, GIM_ERR_AGAIN); /* no loop has it */
    push_job_unref(job);
}

/*
 * The job of one PushMsgReq, which it takes (freed here on failure). Returns GIM_OK and *job, or
 * GIM_ERR_INVALID / GIM_ERR_NO_MEMORY with *error saying why.
 */
static int push_msg_job(struct comet *comet, Goim__Comet__PushMsgReq *message,
                        struct push_job **job, const char **error)
{
    struct comet_push push;

    *job = NULL;
    if (message->n_keys == 0 || message->proto == NULL) {
        goim__comet__push_msg_req__free_unpacked(message, NULL);
        *error = "rpc pushmsg arg error";
        return GIM_ERR_INVALID;
    }
    push = push_of(message->proto);
    *job = push_job_new(comet->worker_count, PUSH_TO_KEYS, &push, &message->base);
    if (*job == NULL) {
        *error = "out of memory";
        return GIM_ERR_NO_MEMORY;
    }
    (*job)->operation = message->protoop;
    (*job)->keys = message->keys;
    (*job)->key_count = message->n_keys;
    return GIM_OK;
}

static void handle_push_msg(struct comet_rpc_service *service, const uint8_t *request,
                            size_t length, struct gim_rpc_reply *reply)
{
    Goim__Comet__PushMsgReq *message = goim__comet__push_msg_req__unpack(NULL, length, request);
    struct push_job *job;
    const char *error;
    int status;

    if (message == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad PushMsgReq");
        return;
    }
    status = push_msg_job(service->comet, message, &job, &error);
    if (status != GIM_OK) {
        gim_rpc_reply_error(reply, status, error);
        return;
    }
    deliver(service, job, reply);
}

static void handle_broadcast_room(struct comet_rpc_service *service, const uint8_t *request,
                                  size_t length, struct gim_rpc_reply *reply)
{
    Goim__Comet__BroadcastRoomReq *message =
        goim__comet__broadcast_room_req__unpack(NULL, length, request);
    struct comet_push push;
    struct push_job *job;

    if (message == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad BroadcastRoomReq");
        return;
    }
    if (message->proto == NULL || message->roomid == NULL || message->roomid[0] == '\0') {
        goim__comet__broadcast_room_req__free_unpacked(message, NULL);
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "rpc broadcast room arg error");
        return;
    }
    push = push_of(message->proto);
    push.text = message->text;
    push.close_room = message->closeroom;
    if (message->usertagpattern != NULL && message->usertagpattern[0] != '\0') {
        char error[256];
        /* compiled once per request, matched by every loop (gim_tag_pattern_matches_shared) */
        if (gim_tag_pattern_compile(&push.user_tag_pattern, message->usertagpattern,
                                    strlen(message->usertagpattern), error,
                                    sizeof(error)) != GIM_OK) {
            char text[320];
            snprintf(text, sizeof(text), "userTagPattern: %s", error);
            goim__comet__broadcast_room_req__free_unpacked(message, NULL);
            gim_rpc_reply_error(reply, GIM_ERR_INVALID, text);
            return;
        }
    }
    job = push_job_new(service->comet->worker_count, PUSH_TO_ROOM, &push, &message->base);
    if (job == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "out of memory");
        return;
    }
    job->room = message->roomid;
    deliver(service, job, reply);
}

static void handle_broadcast(struct comet_rpc_service *service, const uint8_t *request,
                             size_t length, struct gim_rpc_reply *reply)
{
    Goim__Comet__BroadcastReq *message = goim__comet__broadcast_req__unpack(NULL, length, request);
    struct comet_push push;
    struct push_job *job;

    if (message == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad BroadcastReq");
        return;
    }
    if (message->proto == NULL) {
        goim__comet__broadcast_req__free_unpacked(message, NULL);
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "rpc broadcast arg error");
        return;
    }
    push = push_of(message->proto);
    job = push_job_new(service->comet->worker_count, PUSH_BROADCAST, &push, &message->base);
    if (job == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "out of memory");
        return;
    }
    job->operation = message->protoop;
    job->speed = message->speed; /* paced by each loop (broadcast_pacer.h) */
    deliver(service, job, reply);
}

/* Rooms: every room with members on this comet, each mapped to true (goim's answer). */
static void handle_rooms(struct comet *comet, struct gim_rpc_reply *reply)
{
    Goim__Comet__RoomsReply answer = GOIM__COMET__ROOMS_REPLY__INIT;
    Goim__Comet__RoomsReply__RoomsEntry *entries = NULL, **pointers = NULL;
    struct comet_online_count *counts;
    size_t count, index;

    if (comet_online_snapshot(&comet->online, &counts, &count) != GIM_OK) {
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "out of memory");
        return;
    }
    if (count > 0) {
        entries = calloc(count, sizeof(*entries));
        pointers = calloc(count, sizeof(*pointers));
        if (entries == NULL || pointers == NULL) {
            free(entries);
            free(pointers);
            comet_online_snapshot_free(counts, count);
            gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "out of memory");
            return;
        }
    }
    for (index = 0; index < count; index++) {
        goim__comet__rooms_reply__rooms_entry__init(&entries[index]);
        entries[index].key = counts[index].room;
        entries[index].value = 1;
        pointers[index] = &entries[index];
    }
    answer.n_rooms = count;
    answer.rooms = pointers;
    gim_rpc_reply_message(reply, &answer.base); /* packed here: the arrays can go */
    free(entries);
    free(pointers);
    comet_online_snapshot_free(counts, count);
}

/* The method label of an RPC call (comet/metrics.h). */
static enum comet_rpc_class rpc_class(uint32_t method)
{
    switch (method) {
    case GIM_RPC_COMET_PUSH_MSG:
        return COMET_RPC_PUSH_MSG;
    case GIM_RPC_COMET_BROADCAST:
        return COMET_RPC_BROADCAST;
    case GIM_RPC_COMET_BROADCAST_ROOM:
        return COMET_RPC_BROADCAST_ROOM;
    case GIM_RPC_COMET_ROOMS:
        return COMET_RPC_ROOMS;
    default:
        return COMET_RPC_UNKNOWN;
    }
}

static void comet_rpc_handler(void *user, uint32_t method, const uint8_t *request,
                              size_t request_length, struct gim_rpc_reply *reply)
{
    struct comet_rpc_service *service = user;

    gim_counter_increment(&service->comet->counters.rpc_calls[rpc_class(method)]);
    switch (method) {
    case GIM_RPC_COMET_PUSH_MSG:
        handle_push_msg(service, request, request_length, reply);
        break;
    case GIM_RPC_COMET_BROADCAST_ROOM:
        handle_broadcast_room(service, request, request_length, reply);
        break;
    case GIM_RPC_COMET_BROADCAST:
        handle_broadcast(service, request, request_length, reply);
        break;
    case GIM_RPC_COMET_ROOMS:
        handle_rooms(service->comet, reply);
        break;
    default:
        gim_rpc_reply_error(reply, GIM_ERR_NOT_FOUND, "unknown method");
        break;
    }
}

int rpc_service_start(struct comet *comet, struct comet_rpc_service **out)
{
    struct comet_rpc_service *service;
    char url[256];
    int status = gim_rpc_url(comet->config->rpc_server_addr, true, url, sizeof(url));

    *out = NULL;
    if (status != GIM_OK)
        return status;
    service = calloc(1, sizeof(*service));
    if (service == NULL)
        return GIM_ERR_NO_MEMORY;
    service->comet = comet;
    status = deadline_queue_init(&service->deadlines, comet->config->rpc_server_timeout_ms,
                                 push_job_deadline_passed, NULL);
    if (status != GIM_OK) {
        free(service);
        return status;
    }
    status = deadline_queue_start(&service->deadlines);
    if (status == GIM_OK)
        status = gim_rpc_server_start(&service->server, url, (int)comet->config->rpc_server_workers,
                                      comet_rpc_handler, service);
    if (status != GIM_OK) {
        deadline_queue_destroy(&service->deadlines);
        free(service);
        return status;
    }
    *out = service;
    return GIM_OK;
}

void rpc_service_stop(struct comet_rpc_service *service)
{
    if (service == NULL)
        return;
    /* the server's stop waits for every deferred answer: the deadline thread (still running)
     * gives each push job its answer by its deadline at the latest, so none is left queued */
    gim_rpc_server_stop(service->server);
    deadline_queue_destroy(&service->deadlines);
    free(service);
}
