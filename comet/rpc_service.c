/* rpc_service.c: PushMsg / BroadcastRoom / Broadcast handlers (see rpc_service.h). */
#include "comet/rpc_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet.pb-c.h"
#include "comet/comet.h"
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

/*
 * Posts job to every loop or to none and waits until each has queued it, so that the answer is
 * all or nothing: an error means no loop delivered the push and none will (job's retry delivers
 * it once). Consumes the caller's reference to job. Answers reply.
 */
static void deliver(struct comet *comet, struct push_job *job, ProtobufCMessage *ok_reply,
                    struct gim_rpc_reply *reply)
{
    int status = worker_post_push_job(comet, job);

    if (status == GIM_OK)
        status = push_job_wait(job, comet->config->rpc_server_timeout_ms);
    push_job_unref(job);
    if (status == GIM_ERR_AGAIN)
        gim_rpc_reply_error(reply, GIM_ERR_AGAIN, "comet busy: push queue full, nothing queued");
    else if (status != GIM_OK)
        gim_rpc_reply_error(reply, GIM_ERR_TIMEOUT,
                            "comet loops did not start the push in time, cancelled");
    else
        gim_rpc_reply_message(reply, ok_reply);
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

static void handle_push_msg(struct comet *comet, const uint8_t *request, size_t length,
                            struct gim_rpc_reply *reply)
{
    Goim__Comet__PushMsgReq *message = goim__comet__push_msg_req__unpack(NULL, length, request);
    Goim__Comet__PushMsgReply answer = GOIM__COMET__PUSH_MSG_REPLY__INIT;
    struct push_job *job;
    const char *error;
    int status;

    if (message == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad PushMsgReq");
        return;
    }
    status = push_msg_job(comet, message, &job, &error);
    if (status != GIM_OK) {
        gim_rpc_reply_error(reply, status, error);
        return;
    }
    deliver(comet, job, &answer.base, reply);
}

/*
 * PushMsgs: the PushMsg calls job coalesced under load. Every item is posted first (a loop is
 * woken once for all of them: its inbox signals only when it was empty), then each is waited
 * for, so the whole call costs about one wake-up per loop and one answer. Each item is answered
 * on its own, all or nothing as a PushMsg call would be (deliver): status 0, or the error its
 * own call would have had. A malformed item fails alone (GIM_ERR_INVALID); a malformed outer
 * request fails the call.
 */
static void handle_push_msgs(struct comet *comet, const uint8_t *request, size_t length,
                             struct gim_rpc_reply *reply)
{
    Goim__Comet__PushMsgsReq *message = goim__comet__push_msgs_req__unpack(NULL, length, request);
    Goim__Comet__PushMsgsReply answer = GOIM__COMET__PUSH_MSGS_REPLY__INIT;
    struct push_job **jobs = NULL;
    int32_t *statuses = NULL;
    int64_t deadline;
    size_t index;

    if (message == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad PushMsgsReq");
        return;
    }
    if (message->n_items > 0) {
        jobs = calloc(message->n_items, sizeof(*jobs));
        statuses = calloc(message->n_items, sizeof(*statuses));
    }
    if (message->n_items > 0 && (jobs == NULL || statuses == NULL)) {
        free(jobs);
        free(statuses);
        goim__comet__push_msgs_req__free_unpacked(message, NULL);
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "out of memory");
        return;
    }
    for (index = 0; index < message->n_items; index++) {
        const ProtobufCBinaryData *item = &message->items[index];
        Goim__Comet__PushMsgReq *push =
            goim__comet__push_msg_req__unpack(NULL, item->len, item->data);
        const char *error;
        int status =
            push == NULL ? GIM_ERR_INVALID : push_msg_job(comet, push, &jobs[index], &error);

        if (status == GIM_OK) {
            status = worker_post_push_job(comet, jobs[index]);
            if (status != GIM_OK) { /* GIM_ERR_AGAIN: a full loop, nothing of it queued */
                push_job_unref(jobs[index]);
                jobs[index] = NULL;
            }
        }
        statuses[index] = status;
    }
    deadline = gim_monotonic_ms() + comet->config->rpc_server_timeout_ms;
    for (index = 0; index < message->n_items; index++) {
        int64_t left = deadline - gim_monotonic_ms();

        if (jobs[index] == NULL)
            continue;
        statuses[index] = push_job_wait(jobs[index], left > 0 ? left : 0);
        push_job_unref(jobs[index]);
    }
    answer.n_status = message->n_items;
    answer.status = statuses;
    gim_rpc_reply_message(reply, &answer.base); /* packed here: the arrays can go */
    free(statuses);
    free(jobs);
    goim__comet__push_msgs_req__free_unpacked(message, NULL);
}

static void handle_broadcast_room(struct comet *comet, const uint8_t *request, size_t length,
                                  struct gim_rpc_reply *reply)
{
    Goim__Comet__BroadcastRoomReq *message =
        goim__comet__broadcast_room_req__unpack(NULL, length, request);
    Goim__Comet__BroadcastRoomReply answer = GOIM__COMET__BROADCAST_ROOM_REPLY__INIT;
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
    job = push_job_new(comet->worker_count, PUSH_TO_ROOM, &push, &message->base);
    if (job == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "out of memory");
        return;
    }
    job->room = message->roomid;
    deliver(comet, job, &answer.base, reply);
}

static void handle_broadcast(struct comet *comet, const uint8_t *request, size_t length,
                             struct gim_rpc_reply *reply)
{
    Goim__Comet__BroadcastReq *message = goim__comet__broadcast_req__unpack(NULL, length, request);
    Goim__Comet__BroadcastReply answer = GOIM__COMET__BROADCAST_REPLY__INIT;
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
    job = push_job_new(comet->worker_count, PUSH_BROADCAST, &push, &message->base);
    if (job == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "out of memory");
        return;
    }
    job->operation = message->protoop;
    job->speed = message->speed; /* paced by each loop (broadcast_pacer.h) */
    deliver(comet, job, &answer.base, reply);
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
    case GIM_RPC_COMET_PUSH_MSGS:
        return COMET_RPC_PUSH_MSGS;
    default:
        return COMET_RPC_UNKNOWN;
    }
}

static void comet_rpc_handler(void *user, uint32_t method, const uint8_t *request,
                              size_t request_length, struct gim_rpc_reply *reply)
{
    struct comet *comet = user;

    gim_counter_increment(&comet->counters.rpc_calls[rpc_class(method)]);
    switch (method) {
    case GIM_RPC_COMET_PUSH_MSG:
        handle_push_msg(comet, request, request_length, reply);
        break;
    case GIM_RPC_COMET_BROADCAST_ROOM:
        handle_broadcast_room(comet, request, request_length, reply);
        break;
    case GIM_RPC_COMET_BROADCAST:
        handle_broadcast(comet, request, request_length, reply);
        break;
    case GIM_RPC_COMET_ROOMS:
        handle_rooms(comet, reply);
        break;
    case GIM_RPC_COMET_PUSH_MSGS:
        handle_push_msgs(comet, request, request_length, reply);
        break;
    default:
        gim_rpc_reply_error(reply, GIM_ERR_NOT_FOUND, "unknown method");
        break;
    }
}

int rpc_service_start(struct comet *comet, struct gim_rpc_server **server)
{
    char url[256];
    int status = gim_rpc_url(comet->config->rpc_server_addr, true, url, sizeof(url));

    if (status != GIM_OK)
        return status;
    return gim_rpc_server_start(server, url, (int)comet->config->rpc_server_workers,
                                comet_rpc_handler, comet);
}
