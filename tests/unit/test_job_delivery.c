/*
 * test_job_delivery.c: unit tests of job's delivery core (job/delivery.c) on a fake registry,
 * fake comet calls and a fake clock: retries and backoff, a comet gone from the registry,
 * giving up, per-lane order, merging into one OpRaw, the back-pressure bounds, and what a
 * partition may commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "comet.pb-c.h"
#include "common/frame.h"
#include "common/status.h"
#include "job/delivery.h"
#include "job/offset_tracker.h"
#include "logic.pb-c.h"

#define MAX_COMETS   4
#define MAX_CALLS    64
#define MAX_FINISHED 64

/* One call the core started: what it sent, and how to complete it. */
struct fake_call {
    struct job_comet *comet;
    uint32_t method;
    uint8_t *request; /* packed */
    size_t request_length;
    gim_rpc_done_fn done;
    void *user;
    bool completed;
};

struct harness {
    struct job_config config;
    struct job_metrics *metrics;
    struct job_delivery_ops ops;
    struct job_deliveries *core;

    int64_t now_ms;
    struct job_comet comets[MAX_COMETS];
    bool registered[MAX_COMETS];
    uint64_t reads_completed; /* fake registry reads; a ticket is the number of the next one */
    size_t refreshes_requested;
    int refuse_calls_with; /* GIM_OK, or the status ops->call answers */

    struct fake_call calls[MAX_CALLS];
    size_t call_count;
    int64_t finished[MAX_FINISHED]; /* offsets, in the order they were reported */
    size_t finished_count;
    struct job_offset_tracker *tracker; /* when set, finished records are marked in it */
};

/* ---- the fake outside world ---- */

static struct job_comet *fake_find(void *context, const char *hostname)
{
    struct harness *harness = context;

    for (int index = 0; index < MAX_COMETS; index++)
        if (harness->registered[index] && strcmp(harness->comets[index].hostname, hostname) == 0) {
            atomic_fetch_add(&harness->comets[index].references, 1);
            return &harness->comets[index];
        }
    return NULL;
}

static int fake_snapshot(void *context, struct job_comet ***list, size_t *count)
{
    struct harness *harness = context;

    *list = calloc(MAX_COMETS, sizeof(**list));
    assert_non_null(*list);
    *count = 0;
    for (int index = 0; index < MAX_COMETS; index++)
        if (harness->registered[index]) {
            atomic_fetch_add(&harness->comets[index].references, 1);
            (*list)[(*count)++] = &harness->comets[index];
        }
    return GIM_OK;
}

static void fake_release(void *context, struct job_comet *comet)
{
    (void)context;
    assert_true(atomic_fetch_sub(&comet->references, 1) > 1); /* the table keeps its own */
}

static uint64_t fake_request_refresh(void *context)
{
    struct harness *harness = context;

    harness->refreshes_requested++;
    return harness->reads_completed + 1;
}

static bool fake_fresh_since(void *context, uint64_t ticket)
{
    struct harness *harness = context;

    return harness->reads_completed >= ticket;
}

static int fake_call(void *context, struct job_comet *comet, uint32_t method,
                     const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
                     int timeout_ms, gim_rpc_done_fn done, void *user)
{
    struct harness *harness = context;
    struct fake_call *call;

    (void)reply_type;
    assert_int_equal(timeout_ms, harness->config.comet_timeout);
    if (harness->refuse_calls_with != GIM_OK)
        return harness->refuse_calls_with;
    assert_true(harness->call_count < MAX_CALLS);
    call = &harness->calls[harness->call_count++];
    call->comet = comet;
    call->method = method;
    call->request_length = protobuf_c_message_get_packed_size(request);
    call->request = malloc(call->request_length + 1);
    assert_non_null(call->request);
    protobuf_c_message_pack(request, call->request);
    call->done = done;
    call->user = user;
    return GIM_OK;
}

static int64_t fake_now(void *context)
{
    return ((struct harness *)context)->now_ms;
}

/* The core's call_done: in these tests completions come back on the test's own thread. */
static void harness_call_done(void *user, int status, ProtobufCMessage *reply)
{
    struct job_delivery_call *call = user;
    struct harness *harness = call->owner;

    assert_null(reply);
    job_deliveries_call_done(harness->core, call, status);
}

static void harness_finished(void *owner, const struct job_record_ticket *ticket)
{
    struct harness *harness = owner;

    assert_true(harness->finished_count < MAX_FINISHED);
    harness->finished[harness->finished_count++] = ticket->offset;
    if (harness->tracker != NULL)
        assert_int_equal(job_offset_tracker_finish(harness->tracker, ticket->offset), GIM_OK);
}

/* ---- set-up ---- */

static int harness_setup(void **state)
{
    static const char *names[MAX_COMETS] = {"comet-a", "comet-b", "comet-c", "comet-d"};
    struct harness *harness = calloc(1, sizeof(*harness));

    assert_non_null(harness);
    harness->config.comet_timeout = 1000;
    harness->config.comet_retries = 3;
    harness->config.comet_retry_backoff = 100;
    harness->config.comet_retry_backoff_max = 250;
    harness->config.comet_wait_for_comets = 300;
    harness->config.registry_refresh = 100;
    harness->config.comet_queue = 3;
    harness->config.room_batch = 20;
    harness->config.dispatch_max_records = 100;
    harness->now_ms = 1000000;
    for (int index = 0; index < MAX_COMETS; index++) {
        harness->comets[index].hostname = (char *)names[index];
        atomic_init(&harness->comets[index].references, 1); /* the fake table's */
    }
    harness->registered[0] = true;
    harness->ops = (struct job_delivery_ops){
        .context = harness,
        .find = fake_find,
        .snapshot = fake_snapshot,
        .release = fake_release,
        .request_refresh = fake_request_refresh,
        .fresh_since = fake_fresh_since,
        .call = fake_call,
        .now_ms = fake_now,
    };
    assert_int_equal(job_metrics_create(&harness->metrics), GIM_OK);
    assert_int_equal(job_deliveries_create(&harness->core, &harness->config, &harness->ops,
                                           harness->metrics, harness_finished, harness,
                                           harness_call_done, harness),
                     GIM_OK);
    *state = harness;
    return 0;
}

static int harness_teardown(void **state)
{
    struct harness *harness = *state;

    assert_int_equal(job_deliveries_calls_in_flight(harness->core), 0);
    job_deliveries_destroy(harness->core);
    for (int index = 0; index < MAX_COMETS; index++) {
        assert_int_equal(atomic_load(&harness->comets[index].references), 1); /* all released */
        assert_int_equal(harness->comets[index].calls_in_flight, 0);
    }
    for (size_t index = 0; index < harness->call_count; index++)
        free(harness->calls[index].request);
    job_metrics_destroy(harness->metrics);
    free(harness);
    return 0;
}

/* Builds the record at offset and hands it to the core, as job/dispatch.c does. */
static void submit(struct harness *harness, const Goim__Logic__PushMsg *message, int64_t offset)
{
    struct job_record_ticket ticket = {.partition = 0, .offset = offset};
    struct job_record *record;
    size_t length = goim__logic__push_msg__get_packed_size(message);
    uint8_t *packed = malloc(length + 1);

    assert_non_null(packed);
    goim__logic__push_msg__pack(message, packed);
    snprintf(ticket.origin, sizeof(ticket.origin), "goim-push-topic/0@%lld", (long long)offset);
    assert_int_equal(job_record_decode(packed, length, &ticket, &record), GIM_OK);
    free(packed);
    job_deliveries_reserve(harness->core);
    job_deliveries_accept(harness->core, record);
}

static void submit_push_operation(struct harness *harness, const char *server, const char *key,
                                  int32_t operation, const char *body, int64_t offset)
{
    Goim__Logic__PushMsg message = GOIM__LOGIC__PUSH_MSG__INIT;
    char *keys[1] = {(char *)key};

    message.type = GOIM__LOGIC__PUSH_MSG__TYPE__PUSH;
    message.operation = operation;
    message.server = (char *)server;
    message.n_keys = 1;
    message.keys = keys;
    message.msg.data = (uint8_t *)body;
    message.msg.len = strlen(body);
    submit(harness, &message, offset);
}

static void submit_push(struct harness *harness, const char *server, const char *key,
                        const char *body, int64_t offset)
{
    submit_push_operation(harness, server, key, 1000, body, offset);
}

static void submit_room(struct harness *harness, const char *room, const char *body, int64_t offset)
{
    Goim__Logic__PushMsg message = GOIM__LOGIC__PUSH_MSG__INIT;

    message.type = GOIM__LOGIC__PUSH_MSG__TYPE__ROOM;
    message.operation = 1000;
    message.room = (char *)room;
    message.msg.data = (uint8_t *)body;
    message.msg.len = strlen(body);
    submit(harness, &message, offset);
}

static void submit_broadcast(struct harness *harness, int32_t speed, const char *body,
                             int64_t offset)
{
    Goim__Logic__PushMsg message = GOIM__LOGIC__PUSH_MSG__INIT;

    message.type = GOIM__LOGIC__PUSH_MSG__TYPE__BROADCAST;
    message.operation = 1000;
    message.speed = speed;
    message.msg.data = (uint8_t *)body;
    message.msg.len = strlen(body);
    submit(harness, &message, offset);
}

/* Completes call number index (in the order the core started them) with status. */
static void complete(struct harness *harness, size_t index, int status)
{
    struct fake_call *call = &harness->calls[index];

    assert_true(index < harness->call_count);
    assert_false(call->completed);
    call->completed = true;
    call->done(call->user, status, NULL);
}

/* Advances the fake clock to at and runs what is due; returns the next due time. */
static int64_t advance_to(struct harness *harness, int64_t at)
{
    harness->now_ms = at;
    return job_deliveries_run_due(harness->core);
}

/* The OpRaw body of a call and the key, room or speed it was sent with. */
struct sent {
    uint32_t method;
    const char *comet;
    char bodies[8][32]; /* the frames' bodies, in order */
    size_t frame_count;
    char key_or_room[64];
    int32_t speed;
    int32_t operation; /* every frame's; for a PUSH and a BROADCAST also the request's protoOp */
};

static void sent_of(const struct harness *harness, size_t index, struct sent *sent)
{
    const struct fake_call *call = &harness->calls[index];
    const Goim__Protocol__Proto *proto = NULL;
    ProtobufCMessage *request = NULL;
    size_t offset = 0;
    int32_t operation = 1000; /* a ROOM request has no protoOp: these tests send 1000 */

    memset(sent, 0, sizeof(*sent));
    sent->method = call->method;
    sent->comet = call->comet->hostname;
    switch (call->method) {
    case GIM_RPC_COMET_PUSH_MSG: {
        Goim__Comet__PushMsgReq *push =
            goim__comet__push_msg_req__unpack(NULL, call->request_length, call->request);
        assert_non_null(push);
        assert_int_equal(push->n_keys, 1);
        snprintf(sent->key_or_room, sizeof(sent->key_or_room), "%s", push->keys[0]);
        operation = push->protoop;
        proto = push->proto;
        request = &push->base;
        break;
    }
    case GIM_RPC_COMET_BROADCAST_ROOM: {
        Goim__Comet__BroadcastRoomReq *room =
            goim__comet__broadcast_room_req__unpack(NULL, call->request_length, call->request);
        assert_non_null(room);
        snprintf(sent->key_or_room, sizeof(sent->key_or_room), "%s", room->roomid);
        proto = room->proto;
        request = &room->base;
        break;
    }
    default: {
        Goim__Comet__BroadcastReq *broadcast =
            goim__comet__broadcast_req__unpack(NULL, call->request_length, call->request);
        assert_non_null(broadcast);
        assert_int_equal(call->method, GIM_RPC_COMET_BROADCAST);
        sent->speed = broadcast->speed;
        operation = broadcast->protoop;
        proto = broadcast->proto;
        request = &broadcast->base;
        break;
    }
    }
    assert_non_null(proto);
    assert_int_equal(proto->op, GIM_OP_RAW);
    while (offset < proto->body.len) {
        struct gim_frame_header header;
        size_t body_length;

        assert_int_equal(gim_frame_decode_header(proto->body.data + offset,
                                                 proto->body.len - offset, 1u << 20, &header),
                         GIM_OK);
        assert_int_equal(header.operation, operation); /* one operation per request */
        assert_true(sent->frame_count < 8);
        body_length = header.packet_length - GIM_FRAME_HEADER_SIZE;
        assert_true(body_length < sizeof(sent->bodies[0]));
        memcpy(sent->bodies[sent->frame_count++], proto->body.data + offset + GIM_FRAME_HEADER_SIZE,
               body_length);
        offset += header.packet_length;
    }
    assert_int_equal(offset, proto->body.len);
    sent->operation = operation;
    protobuf_c_message_free_unpacked(request, NULL);
}

/* ---- tests ---- */

static void test_push_goes_to_its_server_and_finishes_once_acknowledged(void **state)
{
    struct harness *harness = *state;
    struct sent sent;

    submit_push(harness, "comet-a", "key-1", "hello", 10);
    assert_int_equal(harness->call_count, 1);
    sent_of(harness, 0, &sent);
    assert_int_equal(sent.method, GIM_RPC_COMET_PUSH_MSG);
    assert_string_equal(sent.comet, "comet-a");
    assert_string_equal(sent.key_or_room, "key-1");
    assert_int_equal(sent.frame_count, 1);
    assert_string_equal(sent.bodies[0], "hello");
    assert_int_equal(harness->finished_count, 0); /* not before the acknowledgement */
    assert_true(job_deliveries_has_room(harness->core));

    complete(harness, 0, GIM_OK);
    assert_int_equal(harness->finished_count, 1);
    assert_int_equal(harness->finished[0], 10);
    assert_int_equal(gim_counter_value(harness->metrics->delivered), 1);
    assert_int_equal(gim_gauge_value(harness->metrics->calls_in_flight), 0);
    assert_true(advance_to(harness, harness->now_ms + 100000) == -1); /* nothing waits */
}

static void test_failed_call_is_retried_after_a_doubling_capped_backoff(void **state)
{
    struct harness *harness = *state;
    const int64_t start = harness->now_ms;

    submit_push(harness, "comet-a", "key-1", "hello", 10);
    complete(harness, 0, GIM_ERR_TIMEOUT);
    assert_int_equal(harness->finished_count, 0);
    /* first retry comet.retryBackoff (100 ms) later, not before */
    assert_true(advance_to(harness, start + 99) == start + 100);
    assert_int_equal(harness->call_count, 1);
    assert_true(advance_to(harness, start + 100) == -1);
    assert_int_equal(harness->call_count, 2);
    /* then doubled: 200 ms */
    complete(harness, 1, GIM_ERR_REMOTE);
    assert_true(advance_to(harness, start + 299) == start + 300);
    assert_int_equal(harness->call_count, 2);
    advance_to(harness, start + 300);
    assert_int_equal(harness->call_count, 3);
    /* then capped by comet.retryBackoffMax (250 ms, not 400) */
    complete(harness, 2, GIM_ERR_CLOSED);
    assert_true(advance_to(harness, start + 549) == start + 550);
    assert_int_equal(harness->call_count, 3);
    advance_to(harness, start + 550);
    assert_int_equal(harness->call_count, 4);
    /* a retry that succeeds finishes the record */
    complete(harness, 3, GIM_OK);
    assert_int_equal(harness->finished_count, 1);
    assert_int_equal(gim_counter_value(harness->metrics->retries), 3);
    assert_int_equal(gim_counter_value(harness->metrics->delivered), 1);
    assert_int_equal(gim_counter_value(harness->metrics->given_up_retries), 0);
}

static void test_gives_up_after_comet_retries_and_commits(void **state)
{
    struct harness *harness = *state;
    size_t attempt;

    harness->config.comet_retries = 2;
    submit_push(harness, "comet-a", "key-1", "hello", 10);
    for (attempt = 0; attempt < 3; attempt++) { /* the first try and 2 retries */
        assert_int_equal(harness->call_count, attempt + 1);
        assert_int_equal(harness->finished_count, 0);
        complete(harness, attempt, GIM_ERR_TIMEOUT);
        advance_to(harness, harness->now_ms + 1000);
    }
    assert_int_equal(harness->call_count, 3); /* no fourth call */
    assert_int_equal(harness->finished_count, 1);
    assert_int_equal(harness->finished[0], 10);
    assert_int_equal(gim_counter_value(harness->metrics->given_up_retries), 1);
    assert_int_equal(gim_counter_value(harness->metrics->retries), 2);
    assert_int_equal(gim_counter_value(harness->metrics->delivered), 0);
    assert_true(advance_to(harness, harness->now_ms + 100000) == -1);
}

static void test_comet_gone_from_registry_is_finished_after_a_fresh_read(void **state)
{
    struct harness *harness = *state;

    submit_push(harness, "comet-z", "key-1", "hello", 10); /* not in the table */
    assert_int_equal(harness->call_count, 0);
    assert_int_equal(harness->refreshes_requested, 1);
    assert_int_equal(harness->finished_count, 0);
    /* the retry comes before any registry read: not given up on yet */
    advance_to(harness, harness->now_ms + 100);
    assert_int_equal(harness->finished_count, 0);
    assert_int_equal(harness->refreshes_requested, 1); /* one read asked for, not one per round */
    /* a read after the miss still does not list it: gone, not delivered, committed */
    harness->reads_completed++;
    advance_to(harness, harness->now_ms + 200);
    assert_int_equal(harness->call_count, 0);
    assert_int_equal(harness->finished_count, 1);
    assert_int_equal(gim_counter_value(harness->metrics->given_up_retries), 0);
}

static void test_comet_back_in_the_registry_is_delivered_to(void **state)
{
    struct harness *harness = *state;

    submit_push(harness, "comet-b", "key-1", "hello", 10); /* not registered yet */
    assert_int_equal(harness->call_count, 0);
    harness->registered[1] = true;
    harness->reads_completed++;
    advance_to(harness, harness->now_ms + 100);
    assert_int_equal(harness->call_count, 1);
    assert_string_equal(harness->calls[0].comet->hostname, "comet-b");
    complete(harness, 0, GIM_OK);
    assert_int_equal(harness->finished_count, 1);
    assert_int_equal(gim_counter_value(harness->metrics->delivered), 1);
}

static void test_room_retries_only_the_comet_that_failed(void **state)
{
    struct harness *harness = *state;

    harness->registered[1] = harness->registered[2] = true;
    submit_room(harness, "live://1000", "hello", 10);
    assert_int_equal(harness->call_count, 3); /* every comet at once */
    complete(harness, 0, GIM_OK);
    complete(harness, 1, GIM_ERR_TIMEOUT);
    harness->registered[2] = false; /* comet-c leaves while its call is out */
    complete(harness, 2, GIM_ERR_CLOSED);
    advance_to(harness, harness->now_ms + 100);
    assert_int_equal(harness->call_count, 4); /* comet-b again; comet-c is missing */
    assert_string_equal(harness->calls[3].comet->hostname, "comet-b");
    complete(harness, 3, GIM_OK);
    assert_int_equal(harness->finished_count, 0); /* comet-c not confirmed gone yet */
    harness->reads_completed++;
    advance_to(harness, harness->now_ms + 200);
    assert_int_equal(harness->call_count, 4);
    assert_int_equal(harness->finished_count, 1);
}

static void test_lane_keeps_order_while_other_lanes_run(void **state)
{
    struct harness *harness = *state;
    struct sent sent;

    submit_push(harness, "comet-a", "key-1", "a1", 10);
    submit_push(harness, "comet-a", "key-2", "b1", 11); /* another key set: another lane */
    submit_push(harness, "comet-a", "key-1", "a2", 12);
    assert_int_equal(harness->call_count, 2); /* a1 and b1; a2 waits behind a1 */
    sent_of(harness, 1, &sent);
    assert_string_equal(sent.bodies[0], "b1");
    complete(harness, 0, GIM_ERR_TIMEOUT); /* a1 fails: a2 must still wait */
    complete(harness, 1, GIM_OK);
    assert_int_equal(harness->finished_count, 1);
    assert_int_equal(harness->finished[0], 11);
    advance_to(harness, harness->now_ms + 100);
    assert_int_equal(harness->call_count, 3);
    sent_of(harness, 2, &sent);
    assert_string_equal(sent.bodies[0], "a1");
    complete(harness, 2, GIM_OK);
    assert_int_equal(harness->call_count, 4);
    sent_of(harness, 3, &sent);
    assert_int_equal(sent.frame_count, 1);
    assert_string_equal(sent.bodies[0], "a2");
    complete(harness, 3, GIM_OK);
    assert_int_equal(harness->finished_count, 3);
    assert_int_equal(harness->finished[1], 10);
    assert_int_equal(harness->finished[2], 12);
}

/* Asserts that call index is a PushMsg of operation to key carrying bodies (NULL-ended). */
static void assert_push_sent(const struct harness *harness, size_t index, const char *key,
                             int32_t operation, const char *const *bodies)
{
    struct sent sent;
    size_t count = 0;

    sent_of(harness, index, &sent);
    assert_int_equal(sent.method, GIM_RPC_COMET_PUSH_MSG);
    assert_string_equal(sent.key_or_room, key);
    assert_int_equal(sent.operation, operation);
    for (; bodies[count] != NULL; count++) {
        assert_true(count < sent.frame_count);
        assert_string_equal(sent.bodies[count], bodies[count]);
    }
    assert_int_equal(sent.frame_count, count);
}

/* gusher: a reload (2001) then messages (2000) to the same sockets, queued behind a busy lane,
 * come out in Kafka order: one request per run of one operation, never one body of both. */
static void test_push_operations_to_one_key_set_keep_kafka_order(void **state)
{
    struct harness *harness = *state;
    static const char *const first[] = {"m0", NULL}, *const reload[] = {"reload", NULL},
                             *const messages[] = {"m1", "m2", NULL}, *const add[] = {"add", NULL},
                             *const last[] = {"m3", NULL}, *const other[] = {"x", NULL};

    submit_push_operation(harness, "comet-a", "k", 2000, "m0", 10);
    submit_push_operation(harness, "comet-a", "k", 2001, "reload", 11);
    submit_push_operation(harness, "comet-a", "k", 2000, "m1", 12);
    submit_push_operation(harness, "comet-a", "k", 2000, "m2", 13);
    submit_push_operation(harness, "comet-a", "k", 2002, "add", 14);
    submit_push_operation(harness, "comet-a", "k", 2000, "m3", 15);
    submit_push_operation(harness, "comet-a", "other", 2001, "x", 16); /* another key set */
    assert_int_equal(harness->call_count, 2); /* m0 and x; the rest waits behind m0 */
    assert_push_sent(harness, 0, "k", 2000, first);
    assert_push_sent(harness, 1, "other", 2001, other);
    complete(harness, 1, GIM_OK);

    complete(harness, 0, GIM_OK);
    assert_int_equal(harness->call_count, 3);
    assert_push_sent(harness, 2, "k", 2001, reload);
    complete(harness, 2, GIM_ERR_TIMEOUT); /* the reload fails: the messages still wait */
    assert_int_equal(harness->call_count, 3);
    advance_to(harness, harness->now_ms + 100);
    assert_int_equal(harness->call_count, 4);
    assert_push_sent(harness, 3, "k", 2001, reload);
    complete(harness, 3, GIM_OK);
    assert_int_equal(harness->call_count, 5);
    assert_push_sent(harness, 4, "k", 2000, messages);
    complete(harness, 4, GIM_OK);
    assert_push_sent(harness, 5, "k", 2002, add);
    complete(harness, 5, GIM_OK);
    assert_push_sent(harness, 6, "k", 2000, last);
    complete(harness, 6, GIM_OK);
    assert_int_equal(harness->call_count, 7);
    assert_int_equal(harness->finished_count, 7);
    assert_int_equal(harness->finished[0], 16);
    for (size_t index = 1; index < 7; index++)
        assert_int_equal(harness->finished[index], 9 + (int64_t)index);
}

static void test_busy_room_merges_into_one_opraw_body(void **state)
{
    struct harness *harness = *state;
    struct sent sent;

    harness->config.room_batch = 3;
    submit_room(harness, "live://1000", "m0", 10);
    submit_room(harness, "live://1000", "m1", 11);
    submit_room(harness, "live://1000", "m2", 12);
    submit_room(harness, "live://1000", "m3", 13);
    submit_room(harness, "live://1000", "m4", 14);
    assert_int_equal(harness->call_count, 1); /* the lane is busy with m0 */
    complete(harness, 0, GIM_OK);
    assert_int_equal(harness->call_count, 2);
    sent_of(harness, 1, &sent);
    assert_int_equal(sent.method, GIM_RPC_COMET_BROADCAST_ROOM);
    assert_string_equal(sent.key_or_room, "live://1000");
    assert_int_equal(sent.frame_count, 3); /* room.batch frames in one body, in order */
    assert_string_equal(sent.bodies[0], "m1");
    assert_string_equal(sent.bodies[1], "m2");
    assert_string_equal(sent.bodies[2], "m3");
    complete(harness, 1, GIM_OK);
    sent_of(harness, 2, &sent);
    assert_int_equal(sent.frame_count, 1);
    assert_string_equal(sent.bodies[0], "m4");
    complete(harness, 2, GIM_OK);
    assert_int_equal(harness->finished_count, 5);
    for (size_t index = 0; index < 5; index++)
        assert_int_equal(harness->finished[index], 10 + (int64_t)index);
    assert_int_equal(gim_counter_value(harness->metrics->delivered), 5);
}

static void test_broadcast_is_never_merged_and_shares_its_speed(void **state)
{
    struct harness *harness = *state;
    struct sent sent;

    harness->registered[1] = harness->registered[2] = true;
    submit_broadcast(harness, 10, "b0", 10);
    submit_broadcast(harness, 10, "b1", 11);
    submit_broadcast(harness, 10, "b2", 12);
    assert_int_equal(harness->call_count, 3); /* b0 to three comets */
    sent_of(harness, 0, &sent);
    assert_int_equal(sent.speed, 3); /* 10 shared by 3 comets */
    for (size_t index = 0; index < 3; index++)
        complete(harness, index, GIM_OK);
    assert_int_equal(harness->call_count, 6);
    sent_of(harness, 3, &sent);
    assert_int_equal(sent.frame_count, 1); /* b1 alone, never merged with b2 */
    assert_string_equal(sent.bodies[0], "b1");
    for (size_t index = 3; index < 6; index++)
        complete(harness, index, GIM_OK);
    for (size_t index = 6; index < 9; index++)
        complete(harness, index, GIM_OK);
    assert_int_equal(harness->finished_count, 3);
}

static void test_room_without_comets_waits_then_is_committed(void **state)
{
    struct harness *harness = *state;

    harness->registered[0] = false;
    submit_room(harness, "live://1000", "hello", 10);
    assert_int_equal(harness->call_count, 0);
    assert_int_equal(harness->refreshes_requested, 1);
    advance_to(harness, harness->now_ms + 100);
    advance_to(harness, harness->now_ms + 100);
    assert_int_equal(harness->finished_count, 0); /* 200 ms < comet.waitForComets */
    advance_to(harness, harness->now_ms + 100);
    assert_int_equal(harness->finished_count, 1);
    assert_int_equal(gim_counter_value(harness->metrics->given_up_no_comet), 1);
    assert_int_equal(harness->call_count, 0);
}

static void test_room_waiting_for_comets_goes_to_one_that_registers(void **state)
{
    struct harness *harness = *state;

    harness->registered[0] = false;
    submit_room(harness, "live://1000", "hello", 10);
    harness->registered[3] = true;
    advance_to(harness, harness->now_ms + 100);
    assert_int_equal(harness->call_count, 1);
    assert_string_equal(harness->calls[0].comet->hostname, "comet-d");
    complete(harness, 0, GIM_OK);
    assert_int_equal(harness->finished_count, 1);
    assert_int_equal(gim_counter_value(harness->metrics->given_up_no_comet), 0);
}

static void test_no_room_at_comet_queue_calls_or_max_records(void **state)
{
    struct harness *harness = *state;

    /* comet.queue (3) calls in flight to one comet: no room */
    submit_push(harness, "comet-a", "key-1", "m", 10);
    submit_push(harness, "comet-a", "key-2", "m", 11);
    assert_true(job_deliveries_has_room(harness->core));
    submit_push(harness, "comet-a", "key-3", "m", 12);
    assert_int_equal(harness->call_count, 3);
    assert_false(job_deliveries_has_room(harness->core));
    complete(harness, 1, GIM_OK);
    assert_true(job_deliveries_has_room(harness->core));
    complete(harness, 0, GIM_OK);
    complete(harness, 2, GIM_OK);

    /* dispatch.maxRecords records reserved and unfinished: no room */
    harness->config.dispatch_max_records = 5;
    for (int64_t offset = 20; offset < 24; offset++)
        submit_room(harness, "live://1000", "m", offset); /* one call, three queued */
    assert_true(job_deliveries_has_room(harness->core));
    submit_room(harness, "live://1000", "m", 24);
    assert_false(job_deliveries_has_room(harness->core));
    complete(harness, 3, GIM_OK); /* finishes 20, sends 21..24 in one body */
    assert_true(job_deliveries_has_room(harness->core));
    complete(harness, 4, GIM_OK);
    assert_int_equal(harness->finished_count, 8);
}

static void test_call_refused_with_again_is_retried(void **state)
{
    struct harness *harness = *state;

    harness->refuse_calls_with = GIM_ERR_AGAIN; /* the client's pending queue is full */
    submit_push(harness, "comet-a", "key-1", "hello", 10);
    assert_int_equal(harness->call_count, 0);
    assert_int_equal(job_deliveries_calls_in_flight(harness->core), 0);
    assert_int_equal(harness->comets[0].calls_in_flight, 0);
    assert_int_equal(gim_gauge_value(harness->metrics->calls_in_flight), 0);
    assert_int_equal(harness->finished_count, 0); /* not lost, not given up */
    harness->refuse_calls_with = GIM_OK;
    advance_to(harness, harness->now_ms + 100);
    assert_int_equal(harness->call_count, 1);
    complete(harness, 0, GIM_OK);
    assert_int_equal(harness->finished_count, 1);
    assert_int_equal(gim_counter_value(harness->metrics->retries), 1);
}

static void test_commit_stops_at_the_lowest_unacknowledged_offset(void **state)
{
    struct harness *harness = *state;
    struct job_offset_tracker tracker;

    job_offset_tracker_init(&tracker, 0);
    harness->tracker = &tracker;
    for (int64_t offset = 10; offset < 13; offset++) {
        char key[32];
        snprintf(key, sizeof(key), "key-%lld", (long long)offset);
        assert_int_equal(job_offset_tracker_add(&tracker, offset), GIM_OK);
        submit_push(harness, "comet-a", key, "m", offset); /* three lanes, three calls */
    }
    complete(harness, 2, GIM_OK); /* 12 acknowledged */
    complete(harness, 1, GIM_OK); /* 11 acknowledged */
    assert_int_equal(harness->finished_count, 2);
    assert_true(job_offset_tracker_committable(&tracker) == -1); /* 10 still out */
    complete(harness, 0, GIM_ERR_TIMEOUT);
    assert_true(job_offset_tracker_committable(&tracker) == -1); /* failed, not finished */
    advance_to(harness, harness->now_ms + 100);
    complete(harness, 3, GIM_OK);
    assert_true(job_offset_tracker_committable(&tracker) == 13);
    job_offset_tracker_clear(&tracker);
}

static void test_stop_drops_unfinished_records_unreported(void **state)
{
    struct harness *harness = *state;

    submit_push(harness, "comet-a", "key-1", "a", 10);
    submit_push(harness, "comet-a", "key-2", "b", 11);
    submit_push(harness, "comet-a", "key-1", "c", 12); /* queued behind a */
    complete(harness, 1, GIM_ERR_TIMEOUT);             /* b waits for a retry */
    job_deliveries_stop(harness->core);
    assert_true(advance_to(harness, harness->now_ms + 1000) == -1); /* no retry after stop */
    assert_int_equal(harness->call_count, 2);
    complete(harness, 0, GIM_ERR_TIMEOUT); /* a fails: dropped, c never starts */
    assert_int_equal(harness->call_count, 2);
    assert_int_equal(harness->finished_count, 0);
    /* teardown destroys the core with b waiting and c queued: both dropped, freed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_push_goes_to_its_server_and_finishes_once_acknowledged,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_failed_call_is_retried_after_a_doubling_capped_backoff,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_gives_up_after_comet_retries_and_commits,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_comet_gone_from_registry_is_finished_after_a_fresh_read, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(test_comet_back_in_the_registry_is_delivered_to,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_room_retries_only_the_comet_that_failed, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_lane_keeps_order_while_other_lanes_run, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_push_operations_to_one_key_set_keep_kafka_order,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_busy_room_merges_into_one_opraw_body, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_broadcast_is_never_merged_and_shares_its_speed,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_room_without_comets_waits_then_is_committed,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_room_waiting_for_comets_goes_to_one_that_registers,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_no_room_at_comet_queue_calls_or_max_records,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_call_refused_with_again_is_retried, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_commit_stops_at_the_lowest_unacknowledged_offset,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_stop_drops_unfinished_records_unreported,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
