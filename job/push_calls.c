/* push_calls.c: PushMsg calls to one comet, coalesced under load (see push_calls.h). */
#include "job/push_calls.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/status.h"

/* One push waiting for a call: its packed PushMsgReq and its completion. */
struct push_item {
    struct push_item *next;
    gim_rpc_done_fn done;
    void *user;
    int timeout_ms;
    size_t length;
    uint8_t packed[];
};

/* One call out: the pushes it carries, in the order of the request's items. */
struct push_call {
    struct job_push_calls *calls;
    size_t count;
    struct push_item *items; /* owned; count of them */
    bool batched;            /* a PushMsgs call (else one PushMsg) */
};

struct job_push_calls {
    struct gim_rpc_client *client;
    pthread_mutex_t lock;
    int in_flight;                    /* calls out, at most JOB_PUSH_CALLS_IN_FLIGHT */
    struct push_item *waiting, *tail; /* FIFO of pushes for the next call, under lock */
};

int job_push_calls_create(struct job_push_calls **out, struct gim_rpc_client *client)
{
    struct job_push_calls *calls = calloc(1, sizeof(*calls));

    *out = NULL;
    if (calls == NULL)
        return GIM_ERR_NO_MEMORY;
    calls->client = client;
    pthread_mutex_init(&calls->lock, NULL);
    *out = calls;
    return GIM_OK;
}

void job_push_calls_destroy(struct job_push_calls *calls)
{
    if (calls == NULL)
        return;
    if (calls->waiting != NULL || calls->in_flight != 0)
        gim_log_error("push calls: destroyed with pushes waiting or in flight");
    pthread_mutex_destroy(&calls->lock);
    free(calls);
}

/* Runs every item's completion with status, freeing the items. */
static void push_items_complete(struct push_item *items, int status)
{
    while (items != NULL) {
        struct push_item *next = items->next;
        items->done(items->user, status, NULL);
        free(items);
        items = next;
    }
}

/* Takes the next call's pushes off the waiting list (at least one, within the bounds), under
 * lock. Returns them as a list and their count in *count. */
static struct push_item *push_calls_take_locked(struct job_push_calls *calls, size_t *count)
{
    struct push_item *first = calls->waiting, *last = first;
    size_t bytes = first->length;

    *count = 1;
    while (last->next != NULL && *count < JOB_PUSH_CALLS_MAX_ITEMS &&
           bytes + last->next->length <= JOB_PUSH_CALLS_MAX_BYTES) {
        last = last->next;
        bytes += last->length;
        (*count)++;
    }
    calls->waiting = last->next;
    if (calls->waiting == NULL)
        calls->tail = NULL;
    last->next = NULL;
    return first;
}

static void push_call_done(void *user, int status, ProtobufCMessage *reply);

/*
 * Sends items (count of them) as one PushMsgs call, its place in in_flight already taken.
 * Returns GIM_OK, or the refusal (the items are the caller's again, the place still taken).
 */
static int push_call_start(struct job_push_calls *calls, struct push_item *items, size_t count)
{
    Goim__Comet__PushMsgsReq request = GOIM__COMET__PUSH_MSGS_REQ__INIT;
    struct push_call *call = malloc(sizeof(*call));
    ProtobufCBinaryData *bodies = malloc(count * sizeof(*bodies));
    struct push_item *item;
    size_t index = 0;
    int status;

    if (call == NULL || bodies == NULL) {
        free(call);
        free(bodies);
        return GIM_ERR_NO_MEMORY;
    }
    *call = (struct push_call){.calls = calls, .count = count, .items = items, .batched = true};
    for (item = items; item != NULL; item = item->next, index++) {
        bodies[index].data = item->packed;
        bodies[index].len = item->length;
    }
    request.n_items = count;
    request.items = bodies;
    status = gim_rpc_call_async(calls->client, GIM_RPC_COMET_PUSH_MSGS, &request.base,
                                &goim__comet__push_msgs_reply__descriptor, items->timeout_ms,
                                push_call_done, call);
    free(bodies);
    if (status != GIM_OK)
        free(call);
    return status;
}

/*
 * A call's place is free again: the waiting pushes leave, call after call while a call is
 * refused at once (their completions run here with the refusal), or the place is given back.
 */
static void push_calls_next(struct job_push_calls *calls)
{
    for (;;) {
        struct push_item *items;
        size_t count;
        int status;

        pthread_mutex_lock(&calls->lock);
        if (calls->waiting == NULL) {
            calls->in_flight--;
            pthread_mutex_unlock(&calls->lock);
            return;
        }
        items = push_calls_take_locked(calls, &count);
        pthread_mutex_unlock(&calls->lock);
        status = push_call_start(calls, items, count);
        if (status == GIM_OK)
            return;
        push_items_complete(items, status);
    }
}

/* A call is over (an nng thread): the next call leaves first, then each push learns its
 * status, last, since a completion may let the owner free calls (push_calls.h). */
static void push_call_done(void *user, int status, ProtobufCMessage *reply)
{
    struct push_call *call = user;
    struct push_item *item = call->items;
    size_t index;

    push_calls_next(call->calls);
    if (status == GIM_OK && call->batched) {
        const Goim__Comet__PushMsgsReply *answer = (const Goim__Comet__PushMsgsReply *)reply;
        for (index = 0; item != NULL; index++) {
            struct push_item *next = item->next;
            /* a status the comet left out is a malformed answer: that push failed */
            int item_status = index < answer->n_status ? answer->status[index] : GIM_ERR_INVALID;
            if (item_status != GIM_OK) /* what the comet's error answer to a PushMsg call is */
                item_status = GIM_ERR_REMOTE;
            item->done(item->user, item_status, NULL);
            free(item);
            item = next;
        }
    } else {
        push_items_complete(item, status);
    }
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    free(call);
}

int job_push_calls_send(struct job_push_calls *calls, const Goim__Comet__PushMsgReq *request,
                        int timeout_ms, gim_rpc_done_fn done, void *user)
{
    struct push_item *item;
    struct push_call *call;
    bool now;
    int status;

    pthread_mutex_lock(&calls->lock);
    now = calls->in_flight < JOB_PUSH_CALLS_IN_FLIGHT;
    if (now)
        calls->in_flight++;
    pthread_mutex_unlock(&calls->lock);
    if (!now) {
        /* Packed now: the request is the caller's. Appended under the lock again: a call that
         * ended meanwhile left in_flight below the bound with nothing waiting, and this push
         * then leaves at once after all. */
        size_t length = goim__comet__push_msg_req__get_packed_size(request);
        item = malloc(sizeof(*item) + length);
        if (item == NULL)
            return GIM_ERR_NO_MEMORY;
        *item = (struct push_item){.done = done, .user = user, .timeout_ms = timeout_ms};
        item->length = goim__comet__push_msg_req__pack(request, item->packed);
        pthread_mutex_lock(&calls->lock);
        now = calls->in_flight < JOB_PUSH_CALLS_IN_FLIGHT;
        if (now) {
            calls->in_flight++;
        } else {
            if (calls->tail != NULL)
                calls->tail->next = item;
            else
                calls->waiting = item;
            calls->tail = item;
        }
        pthread_mutex_unlock(&calls->lock);
        if (!now)
            return GIM_OK;
        free(item);
    }
    /* At once, alone, as the PushMsg it is. */
    item = malloc(sizeof(*item));
    call = malloc(sizeof(*call));
    if (item == NULL || call == NULL) {
        free(item);
        free(call);
        push_calls_next(calls); /* the place taken goes to the waiting pushes, if any */
        return GIM_ERR_NO_MEMORY;
    }
    *item = (struct push_item){.done = done, .user = user, .timeout_ms = timeout_ms};
    *call = (struct push_call){.calls = calls, .count = 1, .items = item, .batched = false};
    status = gim_rpc_call_async(calls->client, GIM_RPC_COMET_PUSH_MSG, &request->base,
                                &goim__comet__push_msg_reply__descriptor, timeout_ms,
                                push_call_done, call);
    if (status == GIM_OK)
        return GIM_OK;
    /* refused at once: this push is the caller's failure; its place goes to the waiting ones */
    free(item);
    free(call);
    push_calls_next(calls);
    return status;
}
