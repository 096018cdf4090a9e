/* test_rpc.c: unit tests of the nng RPC layer (common/rpc.c) over a real ipc socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "common/frame.h"
#include "common/rpc.h"
#include "common/status.h"
#include "logic.pb-c.h"

static char server_url[128];

/* Answers Connect by echoing the token's length as mid; fails Disconnect; ignores the rest. */
static void echo_handler(void *user, uint32_t method, const uint8_t *request, size_t length,
                         struct gim_rpc_reply *reply)
{
    (void)user;
    if (method == GIM_RPC_LOGIC_CONNECT) {
        Goim__Logic__ConnectReq *connect = goim__logic__connect_req__unpack(NULL, length, request);
        Goim__Logic__ConnectReply answer = GOIM__LOGIC__CONNECT_REPLY__INIT;
        int32_t accepts[2] = {1000, 1001};
        if (connect == NULL) {
            gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad request");
            return;
        }
        answer.mid = (int64_t)connect->token.len;
        answer.key = connect->server;
        answer.n_accepts = 2;
        answer.accepts = accepts;
        answer.heartbeat = 480000000000LL;
        gim_rpc_reply_message(reply, &answer.base);
        goim__logic__connect_req__free_unpacked(connect, NULL);
    } else if (method == GIM_RPC_LOGIC_DISCONNECT) {
        gim_rpc_reply_error(reply, GIM_ERR_UNAVAILABLE, "redis is down");
    } else if (method == GIM_RPC_LOGIC_HEARTBEAT) {
        usleep(300 * 1000); /* slower than the caller's timeout */
        Goim__Logic__HeartbeatReply answer = GOIM__LOGIC__HEARTBEAT_REPLY__INIT;
        gim_rpc_reply_message(reply, &answer.base);
    }
    /* any other method: no answer, the layer must say "no reply" */
}

static int setup(void **state)
{
    struct gim_rpc_server *server;

    snprintf(server_url, sizeof(server_url), "ipc:///tmp/goim-rpc-test-%d", (int)getpid());
    assert_int_equal(gim_rpc_server_start(&server, server_url, 2, echo_handler, NULL), GIM_OK);
    *state = server;
    return 0;
}

static int teardown(void **state)
{
    gim_rpc_server_stop(*state);
    return 0;
}

static void test_call_round_trips_protobuf(void **state)
{
    struct gim_rpc_client *client;
    Goim__Logic__ConnectReq request = GOIM__LOGIC__CONNECT_REQ__INIT;
    ProtobufCMessage *reply = NULL;
    Goim__Logic__ConnectReply *connect;

    (void)state;
    assert_int_equal(gim_rpc_client_open(&client, server_url), GIM_OK);
    request.server = "comet-1";
    request.token.data = (uint8_t *)"{\"mid\":123}";
    request.token.len = 11;
    assert_int_equal(gim_rpc_call(client, GIM_RPC_LOGIC_CONNECT, &request.base,
                                  &goim__logic__connect_reply__descriptor, 2000, &reply),
                     GIM_OK);
    connect = (Goim__Logic__ConnectReply *)reply;
    assert_int_equal(connect->mid, 11);
    assert_string_equal(connect->key, "comet-1");
    assert_int_equal(connect->n_accepts, 2);
    assert_int_equal(connect->accepts[1], 1001);
    assert_true(connect->heartbeat == 480000000000LL);
    protobuf_c_message_free_unpacked(reply, NULL);
    gim_rpc_client_close(client);
}

static void test_remote_error_and_missing_reply(void **state)
{
    struct gim_rpc_client *client;
    Goim__Logic__DisconnectReq request = GOIM__LOGIC__DISCONNECT_REQ__INIT;
    ProtobufCMessage *reply = (ProtobufCMessage *)&request;

    (void)state;
    assert_int_equal(gim_rpc_client_open(&client, server_url), GIM_OK);
    assert_int_equal(gim_rpc_call(client, GIM_RPC_LOGIC_DISCONNECT, &request.base,
                                  &goim__logic__disconnect_reply__descriptor, 2000, &reply),
                     GIM_ERR_REMOTE);
    assert_null(reply);
    assert_int_equal(gim_rpc_call(client, 9999, &request.base,
                                  &goim__logic__disconnect_reply__descriptor, 2000, &reply),
                     GIM_ERR_REMOTE);
    gim_rpc_client_close(client);
}

static void test_timeout_when_peer_is_slow_or_absent(void **state)
{
    struct gim_rpc_client *client;
    Goim__Logic__HeartbeatReq request = GOIM__LOGIC__HEARTBEAT_REQ__INIT;
    ProtobufCMessage *reply;

    (void)state;
    assert_int_equal(gim_rpc_client_open(&client, server_url), GIM_OK);
    assert_int_equal(gim_rpc_call(client, GIM_RPC_LOGIC_HEARTBEAT, &request.base,
                                  &goim__logic__heartbeat_reply__descriptor, 100, &reply),
                     GIM_ERR_TIMEOUT);
    gim_rpc_client_close(client);
    assert_int_equal(gim_rpc_client_open(&client, "ipc:///tmp/goim-rpc-test-nobody"), GIM_OK);
    assert_int_equal(gim_rpc_call(client, GIM_RPC_LOGIC_HEARTBEAT, &request.base,
                                  &goim__logic__heartbeat_reply__descriptor, 100, &reply),
                     GIM_ERR_TIMEOUT);
    gim_rpc_client_close(client);
}

struct async_result {
    pthread_mutex_t lock;
    pthread_cond_t done;
    int finished;
    int status;
    int64_t mid;
};

static void async_done(void *user, int status, ProtobufCMessage *reply)
{
    struct async_result *result = user;

    pthread_mutex_lock(&result->lock);
    result->status = status;
    if (reply != NULL) {
        result->mid = ((Goim__Logic__ConnectReply *)reply)->mid;
        protobuf_c_message_free_unpacked(reply, NULL);
    }
    result->finished++;
    pthread_cond_signal(&result->done);
    pthread_mutex_unlock(&result->lock);
}

static void test_async_call_completes_once(void **state)
{
    struct gim_rpc_client *client;
    Goim__Logic__ConnectReq request = GOIM__LOGIC__CONNECT_REQ__INIT;
    struct async_result result = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1, 0};

    (void)state;
    assert_int_equal(gim_rpc_client_open(&client, server_url), GIM_OK);
    request.server = "x";
    request.token.data = (uint8_t *)"abcd";
    request.token.len = 4;
    assert_int_equal(gim_rpc_call_async(client, GIM_RPC_LOGIC_CONNECT, &request.base,
                                        &goim__logic__connect_reply__descriptor, 2000, async_done,
                                        &result),
                     GIM_OK);
    pthread_mutex_lock(&result.lock);
    while (!result.finished)
        pthread_cond_wait(&result.done, &result.lock);
    pthread_mutex_unlock(&result.lock);
    assert_int_equal(result.status, GIM_OK);
    assert_int_equal(result.mid, 4);
    gim_rpc_client_close(client);
    assert_int_equal(result.finished, 1);
}

static void test_close_finishes_calls_in_flight(void **state)
{
    struct gim_rpc_client *client;
    Goim__Logic__HeartbeatReq request = GOIM__LOGIC__HEARTBEAT_REQ__INIT;
    struct async_result result = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1, 0};

    (void)state;
    assert_int_equal(gim_rpc_client_open(&client, "ipc:///tmp/goim-rpc-test-nobody"), GIM_OK);
    assert_int_equal(gim_rpc_call_async(client, GIM_RPC_LOGIC_HEARTBEAT, &request.base,
                                        &goim__logic__heartbeat_reply__descriptor, 60000,
                                        async_done, &result),
                     GIM_OK);
    gim_rpc_client_close(client); /* must not return before the callback ran */
    assert_int_equal(result.finished, 1);
    assert_int_equal(result.status, GIM_ERR_CLOSED);
}

/* Holds Receive requests unanswered (their handles in held[]) and answers Connect at once. */
static struct gim_rpc_deferred *held[4];
static int held_count;

static void deferring_handler(void *user, uint32_t method, const uint8_t *request, size_t length,
                              struct gim_rpc_reply *reply)
{
    (void)user;
    if (method == GIM_RPC_LOGIC_RECEIVE) {
        assert_true(held_count < 4);
        held[held_count++] = gim_rpc_reply_defer(reply); /* the worker goes on at once */
        return;
    }
    echo_handler(NULL, method, request, length, reply);
}

/* async_done for replies that are not ConnectReply: status only. */
static void status_done(void *user, int status, ProtobufCMessage *reply)
{
    struct async_result *result = user;

    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    pthread_mutex_lock(&result->lock);
    result->status = status;
    result->finished++;
    pthread_cond_signal(&result->done);
    pthread_mutex_unlock(&result->lock);
}

static void wait_finished(struct async_result *result, int count)
{
    pthread_mutex_lock(&result->lock);
    while (result->finished < count)
        pthread_cond_wait(&result->done, &result->lock);
    pthread_mutex_unlock(&result->lock);
}

static void test_deferred_answers_leave_the_worker_free(void **state)
{
    struct gim_rpc_server *server;
    struct gim_rpc_client *client;
    char url[128];
    Goim__Logic__ReceiveReq receive = GOIM__LOGIC__RECEIVE_REQ__INIT;
    Goim__Logic__ReceiveReply received = GOIM__LOGIC__RECEIVE_REPLY__INIT;
    Goim__Logic__ConnectReq connect = GOIM__LOGIC__CONNECT_REQ__INIT;
    struct async_result first = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1, 0};
    struct async_result second = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1, 0};
    ProtobufCMessage *reply = NULL;

    (void)state;
    held_count = 0;
    snprintf(url, sizeof(url), "ipc:///tmp/goim-rpc-defer-test-%d", (int)getpid());
    /* one worker: a held request must not keep it from serving the next one */
    assert_int_equal(gim_rpc_server_start(&server, url, 1, deferring_handler, NULL), GIM_OK);
    assert_int_equal(gim_rpc_client_open(&client, url), GIM_OK);
    assert_int_equal(gim_rpc_call_async(client, GIM_RPC_LOGIC_RECEIVE, &receive.base,
                                        &goim__logic__receive_reply__descriptor, 10000, status_done,
                                        &first),
                     GIM_OK);
    assert_int_equal(gim_rpc_call_async(client, GIM_RPC_LOGIC_RECEIVE, &receive.base,
                                        &goim__logic__receive_reply__descriptor, 10000, status_done,
                                        &second),
                     GIM_OK);
    connect.server = "after";
    connect.token.data = (uint8_t *)"xyz";
    connect.token.len = 3;
    assert_int_equal(gim_rpc_call(client, GIM_RPC_LOGIC_CONNECT, &connect.base,
                                  &goim__logic__connect_reply__descriptor, 10000, &reply),
                     GIM_OK);
    assert_int_equal(((Goim__Logic__ConnectReply *)reply)->mid, 3);
    protobuf_c_message_free_unpacked(reply, NULL);
    /* both Receives were taken by the one worker and are still unanswered */
    assert_int_equal(held_count, 2);
    assert_int_equal(first.finished + second.finished, 0);
    /* answered later, from this thread, in the other order */
    gim_rpc_deferred_error(held[1], GIM_ERR_UNAVAILABLE, "later");
    gim_rpc_deferred_message(held[0], &received.base);
    wait_finished(&first, 1);
    wait_finished(&second, 1);
    /* one got the message, the other the error (the two may have crossed on the way in) */
    assert_true((first.status == GIM_OK && second.status == GIM_ERR_REMOTE) ||
                (first.status == GIM_ERR_REMOTE && second.status == GIM_OK));
    gim_rpc_client_close(client);
    gim_rpc_server_stop(server);
}

/* The held Receives of the batch test, counted under a lock (the worker adds, the test reads). */
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;

static int held_now(void)
{
    int count;

    pthread_mutex_lock(&held_lock);
    count = held_count;
    pthread_mutex_unlock(&held_lock);
    return count;
}

static void locked_deferring_handler(void *user, uint32_t method, const uint8_t *request,
                                     size_t length, struct gim_rpc_reply *reply)
{
    pthread_mutex_lock(&held_lock);
    deferring_handler(user, method, request, length, reply);
    pthread_mutex_unlock(&held_lock);
}

/* Starts two coalesced Receive calls (done with first_user, then second_user) and waits until
 * the deferring server holds both: the client's next coalesced calls wait. */
static void hold_two_receives(struct gim_rpc_client *client, int timeout_ms, gim_rpc_done_fn done,
                              void *first_user, void *second_user)
{
    Goim__Logic__ReceiveReq receive = GOIM__LOGIC__RECEIVE_REQ__INIT;
    void *users[2] = {first_user, second_user};
    int index;

    for (index = 0; index < 2; index++)
        assert_int_equal(gim_rpc_call_coalesced(client, GIM_RPC_LOGIC_RECEIVE, &receive.base,
                                                &goim__logic__receive_reply__descriptor, timeout_ms,
                                                done, users[index]),
                         GIM_OK);
    while (held_now() < 2)
        usleep(1000);
}

#define BATCH_CONNECTS 50

static void test_coalesced_calls_leave_in_one_batch_each_answered_on_its_own(void **state)
{
    struct gim_rpc_server *server;
    struct gim_rpc_client *client;
    char url[128], token[BATCH_CONNECTS];
    Goim__Logic__ReceiveReq receive = GOIM__LOGIC__RECEIVE_REQ__INIT;
    Goim__Logic__ReceiveReply received = GOIM__LOGIC__RECEIVE_REPLY__INIT;
    Goim__Logic__ConnectReq connect = GOIM__LOGIC__CONNECT_REQ__INIT;
    Goim__Logic__DisconnectReq disconnect = GOIM__LOGIC__DISCONNECT_REQ__INIT;
    struct async_result alone[2], connects[BATCH_CONNECTS], refused, held_in_batch;
    int index, finished;

    (void)state;
    held_count = 0;
    memset(token, 'x', sizeof(token));
    for (index = 0; index < 2; index++)
        alone[index] =
            (struct async_result){PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1, 0};
    for (index = 0; index < BATCH_CONNECTS; index++)
        connects[index] =
            (struct async_result){PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1, 0};
    refused = held_in_batch = alone[0];
    snprintf(url, sizeof(url), "ipc:///tmp/goim-rpc-batch-test-%d", (int)getpid());
    assert_int_equal(gim_rpc_server_start(&server, url, 1, locked_deferring_handler, NULL), GIM_OK);
    assert_int_equal(gim_rpc_client_open(&client, url), GIM_OK);
    /* Two calls out (held by the server): the next ones wait. */
    /* two out, held: the next ones wait */
    hold_two_receives(client, 10000, status_done, &alone[0], &alone[1]);
    connect.server = "batch";
    connect.token.data = (uint8_t *)token;
    for (index = 0; index < BATCH_CONNECTS; index++) {
        connect.token.len = (size_t)index + 1;
        assert_int_equal(gim_rpc_call_coalesced(client, GIM_RPC_LOGIC_CONNECT, &connect.base,
                                                &goim__logic__connect_reply__descriptor, 10000,
                                                async_done, &connects[index]),
                         GIM_OK);
    }
    assert_int_equal(gim_rpc_call_coalesced(client, GIM_RPC_LOGIC_DISCONNECT, &disconnect.base,
                                            &goim__logic__disconnect_reply__descriptor, 10000,
                                            status_done, &refused),
                     GIM_OK);
    assert_int_equal(gim_rpc_call_coalesced(client, GIM_RPC_LOGIC_RECEIVE, &receive.base,
                                            &goim__logic__receive_reply__descriptor, 10000,
                                            status_done, &held_in_batch),
                     GIM_OK);
    /* One call back: every waiting call leaves as one batch, served call by call; its Receive
     * is held, so the batch is not answered yet. */
    gim_rpc_deferred_message(held[0], &received.base);
    wait_finished(&alone[0], 1);
    while (held_now() < 3)
        usleep(1000);
    finished = refused.finished;
    for (index = 0; index < BATCH_CONNECTS; index++)
        finished += connects[index].finished;
    assert_int_equal(finished, 0); /* the batch answers when its last call has its answer */
    gim_rpc_deferred_error(held[2], GIM_ERR_UNAVAILABLE, "held in the batch");
    for (index = 0; index < BATCH_CONNECTS; index++) {
        wait_finished(&connects[index], 1);
        assert_int_equal(connects[index].status, GIM_OK);
        assert_int_equal(connects[index].mid, index + 1); /* each its own answer, in order */
    }
    wait_finished(&refused, 1);
    assert_int_equal(refused.status, GIM_ERR_REMOTE);
    wait_finished(&held_in_batch, 1);
    assert_int_equal(held_in_batch.status, GIM_ERR_REMOTE);
    gim_rpc_deferred_message(held[1], &received.base);
    wait_finished(&alone[1], 1);
    assert_int_equal(alone[1].status, GIM_OK);
    gim_rpc_client_close(client);
    gim_rpc_server_stop(server);
}

#define LARGE_CALLS       20
#define LARGE_CALL_LENGTH (1024 * 1024)

/* Calls of 1 MiB each wait behind two held ones: 20 MiB in all, more than a request may be
 * (GIM_RPC_MAX_MESSAGE), so they must leave in several batches of at most
 * GIM_RPC_BATCH_MAX_BYTES; each is answered on its own, none refused or timed out. */
static void test_coalesced_large_calls_leave_in_batches_within_the_byte_bound(void **state)
{
    struct gim_rpc_server *server;
    struct gim_rpc_client *client;
    char url[128];
    uint8_t *token = malloc(LARGE_CALL_LENGTH + LARGE_CALLS);
    Goim__Logic__ReceiveReply received = GOIM__LOGIC__RECEIVE_REPLY__INIT;
    Goim__Logic__ConnectReq connect = GOIM__LOGIC__CONNECT_REQ__INIT;
    struct async_result alone[2], large[LARGE_CALLS];
    int index;

    (void)state;
    assert_non_null(token);
    memset(token, 'x', LARGE_CALL_LENGTH + LARGE_CALLS);
    held_count = 0;
    for (index = 0; index < 2; index++)
        alone[index] =
            (struct async_result){PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1, 0};
    for (index = 0; index < LARGE_CALLS; index++)
        large[index] =
            (struct async_result){PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1, 0};
    snprintf(url, sizeof(url), "ipc:///tmp/goim-rpc-large-test-%d", (int)getpid());
    assert_int_equal(gim_rpc_server_start(&server, url, 1, locked_deferring_handler, NULL), GIM_OK);
    assert_int_equal(gim_rpc_client_open(&client, url), GIM_OK);
    /* two out, held: the next ones wait */
    hold_two_receives(client, 60000, status_done, &alone[0], &alone[1]);
    connect.server = "large";
    connect.token.data = token;
    for (index = 0; index < LARGE_CALLS; index++) {
        connect.token.len = (size_t)LARGE_CALL_LENGTH + (size_t)index;
        assert_int_equal(gim_rpc_call_coalesced(client, GIM_RPC_LOGIC_CONNECT, &connect.base,
                                                &goim__logic__connect_reply__descriptor, 60000,
                                                async_done, &large[index]),
                         GIM_OK);
    }
    gim_rpc_deferred_message(held[0], &received.base);
    gim_rpc_deferred_message(held[1], &received.base);
    for (index = 0; index < LARGE_CALLS; index++) {
        wait_finished(&large[index], 1);
        assert_int_equal(large[index].status, GIM_OK);
        assert_int_equal(large[index].mid, LARGE_CALL_LENGTH + index);
    }
    wait_finished(&alone[0], 1);
    wait_finished(&alone[1], 1);
    gim_rpc_client_close(client);
    gim_rpc_server_stop(server);
    free(token);
}

/* Counts completions and their statuses (any thread). */
struct tally {
    pthread_mutex_t lock;
    pthread_cond_t done;
    int finished, remote_errors;
};

static void tally_done(void *user, int status, ProtobufCMessage *reply)
{
    struct tally *tally = user;

    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    pthread_mutex_lock(&tally->lock);
    tally->finished++;
    tally->remote_errors += status == GIM_ERR_REMOTE;
    pthread_cond_signal(&tally->done);
    pthread_mutex_unlock(&tally->lock);
}

#define COALESCED_WAITING_BOUND 65536 /* rpc.h: at most this many coalesced calls wait */

static void test_coalesced_calls_waiting_are_bounded(void **state)
{
    struct gim_rpc_server *server;
    struct gim_rpc_client *client;
    char url[128];
    Goim__Logic__ReceiveReply received = GOIM__LOGIC__RECEIVE_REPLY__INIT;
    Goim__Logic__DisconnectReq disconnect = GOIM__LOGIC__DISCONNECT_REQ__INIT;
    struct tally alone = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    struct tally waiting = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int index;

    (void)state;
    held_count = 0;
    snprintf(url, sizeof(url), "ipc:///tmp/goim-rpc-bound-test-%d", (int)getpid());
    assert_int_equal(gim_rpc_server_start(&server, url, 1, locked_deferring_handler, NULL), GIM_OK);
    assert_int_equal(gim_rpc_client_open(&client, url), GIM_OK);
    /* two out, held: the next ones wait */
    hold_two_receives(client, 60000, tally_done, &alone, &alone);
    for (index = 0; index < COALESCED_WAITING_BOUND; index++)
        assert_int_equal(gim_rpc_call_coalesced(client, GIM_RPC_LOGIC_DISCONNECT, &disconnect.base,
                                                &goim__logic__disconnect_reply__descriptor, 60000,
                                                tally_done, &waiting),
                         GIM_OK);
    /* one more than the bound is refused at once, its done never called */
    assert_int_equal(gim_rpc_call_coalesced(client, GIM_RPC_LOGIC_DISCONNECT, &disconnect.base,
                                            &goim__logic__disconnect_reply__descriptor, 60000,
                                            tally_done, &waiting),
                     GIM_ERR_AGAIN);
    gim_rpc_deferred_message(held[0], &received.base);
    gim_rpc_deferred_message(held[1], &received.base);
    pthread_mutex_lock(&waiting.lock);
    while (waiting.finished < COALESCED_WAITING_BOUND)
        pthread_cond_wait(&waiting.done, &waiting.lock);
    pthread_mutex_unlock(&waiting.lock);
    /* every waiting call left in a batch and got its own answer (Disconnect's error) */
    assert_int_equal(waiting.remote_errors, COALESCED_WAITING_BOUND);
    /* and the room is back: a call waits again when two are out, or leaves alone */
    assert_int_equal(gim_rpc_call_coalesced(client, GIM_RPC_LOGIC_DISCONNECT, &disconnect.base,
                                            &goim__logic__disconnect_reply__descriptor, 60000,
                                            tally_done, &waiting),
                     GIM_OK);
    pthread_mutex_lock(&waiting.lock);
    while (waiting.finished < COALESCED_WAITING_BOUND + 1)
        pthread_cond_wait(&waiting.done, &waiting.lock);
    pthread_mutex_unlock(&waiting.lock);
    gim_rpc_client_close(client);
    assert_int_equal(alone.finished, 2);
    gim_rpc_server_stop(server);
}

/* Sends body as one raw request to server_url; returns the reply's status word. */
static int32_t raw_request(const uint8_t *body, size_t length)
{
    nng_socket socket;
    nng_msg *message;
    int32_t status;

    assert_int_equal(nng_req0_open(&socket), 0);
    nng_socket_set_ms(socket, NNG_OPT_RECVTIMEO, 5000);
    assert_int_equal(nng_dial(socket, server_url, NULL, 0), 0);
    assert_int_equal(nng_msg_alloc(&message, 0), 0);
    assert_int_equal(nng_msg_append(message, body, length), 0);
    assert_int_equal(nng_sendmsg(socket, message, 0), 0);
    assert_int_equal(nng_recvmsg(socket, &message, 0), 0);
    assert_true(nng_msg_len(message) >= 4);
    status = (int32_t)gim_read_u32(nng_msg_body(message));
    nng_msg_free(message);
    nng_close(socket);
    return status;
}

static void test_malformed_batches_are_refused_whole(void **state)
{
    uint8_t body[16 + 8 * (GIM_RPC_BATCH_MAX_CALLS + 1)];
    size_t index;

    (void)state;
    gim_write_u32(body, GIM_RPC_BATCH);
    /* a call whose length runs past the payload */
    gim_write_u32(body + 4, GIM_RPC_LOGIC_CONNECT);
    gim_write_u32(body + 8, 1000);
    assert_int_equal(raw_request(body, 16), GIM_ERR_INVALID);
    /* a batch inside a batch */
    gim_write_u32(body + 4, GIM_RPC_BATCH);
    gim_write_u32(body + 8, 0);
    assert_int_equal(raw_request(body, 12), GIM_ERR_INVALID);
    /* one call more than a batch may carry (each an empty Disconnect) */
    for (index = 0; index <= GIM_RPC_BATCH_MAX_CALLS; index++) {
        gim_write_u32(body + 4 + 8 * index, GIM_RPC_LOGIC_DISCONNECT);
        gim_write_u32(body + 8 + 8 * index, 0);
    }
    assert_int_equal(raw_request(body, 4 + 8 * (GIM_RPC_BATCH_MAX_CALLS + 1)), GIM_ERR_INVALID);
    /* an empty batch, and a truncated call header */
    assert_int_equal(raw_request(body, 4), GIM_ERR_INVALID);
    assert_int_equal(raw_request(body, 4 + 5), GIM_ERR_INVALID);
    /* the most a batch may carry is served: each Disconnect answered with its error */
    assert_int_equal(raw_request(body, 4 + 8 * GIM_RPC_BATCH_MAX_CALLS), GIM_OK);
}

static void test_url_forms(void **state)
{
    char url[64];

    (void)state;
    assert_int_equal(gim_rpc_url(":3109", true, url, sizeof(url)), GIM_OK);
    assert_string_equal(url, "tcp://0.0.0.0:3109");
    assert_int_equal(gim_rpc_url(":3119", false, url, sizeof(url)), GIM_OK);
    assert_string_equal(url, "tcp://127.0.0.1:3119");
    assert_int_equal(gim_rpc_url("10.0.0.1:3109", false, url, sizeof(url)), GIM_OK);
    assert_string_equal(url, "tcp://10.0.0.1:3109");
    assert_int_equal(gim_rpc_url("ipc:///tmp/x", true, url, sizeof(url)), GIM_OK);
    assert_string_equal(url, "ipc:///tmp/x");
    assert_int_equal(gim_rpc_url("nohost", true, url, sizeof(url)), GIM_ERR_INVALID);
    assert_int_equal(gim_rpc_url("", true, url, sizeof(url)), GIM_ERR_INVALID);
    assert_int_equal(gim_rpc_url("127.0.0.1:3109", true, url, 8), GIM_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call_round_trips_protobuf),
        cmocka_unit_test(test_remote_error_and_missing_reply),
        cmocka_unit_test(test_timeout_when_peer_is_slow_or_absent),
        cmocka_unit_test(test_async_call_completes_once),
        cmocka_unit_test(test_close_finishes_calls_in_flight),
        cmocka_unit_test(test_deferred_answers_leave_the_worker_free),
        cmocka_unit_test(test_coalesced_calls_leave_in_one_batch_each_answered_on_its_own),
        cmocka_unit_test(test_malformed_batches_are_refused_whole),
        cmocka_unit_test(test_coalesced_calls_waiting_are_bounded),
        cmocka_unit_test(test_coalesced_large_calls_leave_in_batches_within_the_byte_bound),
        cmocka_unit_test(test_url_forms),
    };
    return cmocka_run_group_tests_name("rpc", tests, setup, teardown);
}
