/*
 * test_rpc_stop.c: an RPC server (common/rpc.c) stops while callers keep connecting and calling.
 *
 * nng 1.5.2 (Debian 12) could wait for ever in the close of a server socket whose listener
 * accepted a connection as it closed (a comet that did not exit after SIGTERM), and crashed when
 * the socket was closed under a worker still answering on one of its contexts. gim_rpc_server_stop
 * must return, and cleanly, whatever the callers do.
 *
 * Its own binary: under that churn nng 1.5.2 itself loses some listener and pipe objects it tears
 * down (unreachable cycles, allocated inside libnng; seen before this stop order as well), so this
 * binary suppresses leaks allocated in libnng, and test_rpc.c keeps the full leak check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/rpc.h"
#include "common/status.h"
#include "logic.pb-c.h"

/* LeakSanitizer's hook for built-in suppressions (this binary only; see the top comment). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libnng.so\n";
}

/* Answers every request with an empty ConnectReply. */
static void answer_handler(void *user, uint32_t method, const uint8_t *request, size_t length,
                           struct gim_rpc_reply *reply)
{
    Goim__Logic__ConnectReply answer = GOIM__LOGIC__CONNECT_REPLY__INIT;

    (void)user;
    (void)method;
    (void)request;
    (void)length;
    gim_rpc_reply_message(reply, &answer.base);
}

/* Callers that keep connecting and calling while a server stops (see churn_caller). */
struct churn {
    const char *url;
    pthread_mutex_t lock;
    pthread_cond_t answered_cond;
    int answered; /* calls answered by the server */
    int stop;
};

/* Opens a client, makes one call, closes it, again and again: connections arrive all the
 * time, as a job's or a comet's reconnecting dialers do while a daemon stops. */
static void *churn_caller(void *argument)
{
    struct churn *churn = argument;
    Goim__Logic__ConnectReq connect = GOIM__LOGIC__CONNECT_REQ__INIT;

    connect.server = "churn";
    for (;;) {
        struct gim_rpc_client *client;
        ProtobufCMessage *reply = NULL;
        int status, stop;

        pthread_mutex_lock(&churn->lock);
        stop = churn->stop;
        pthread_mutex_unlock(&churn->lock);
        if (stop)
            break;
        if (gim_rpc_client_open(&client, churn->url) != GIM_OK)
            continue;
        status = gim_rpc_call(client, GIM_RPC_LOGIC_CONNECT, &connect.base,
                              &goim__logic__connect_reply__descriptor, 200, &reply);
        if (reply != NULL)
            protobuf_c_message_free_unpacked(reply, NULL);
        gim_rpc_client_close(client);
        pthread_mutex_lock(&churn->lock);
        churn->answered += status == GIM_OK;
        pthread_cond_broadcast(&churn->answered_cond);
        pthread_mutex_unlock(&churn->lock);
    }
    return NULL;
}

/* Each round waits for answered calls first (3 to 12), so that the stop meets live traffic. */
static void test_stop_returns_while_callers_keep_connecting(void **state)
{
    enum { CALLERS = 4, ROUNDS = 12 };
    struct churn churn = {.lock = PTHREAD_MUTEX_INITIALIZER,
                          .answered_cond = PTHREAD_COND_INITIALIZER};
    char url[128];

    (void)state;
    churn.url = url;
    for (int round = 0; round < ROUNDS; round++) {
        struct gim_rpc_server *server;
        pthread_t callers[CALLERS];

        /* a path per round: an abandoned close may still hold the last one */
        snprintf(url, sizeof(url), "ipc:///tmp/goim-rpc-stop-test-%d-%d", (int)getpid(), round);

        assert_int_equal(gim_rpc_server_start(&server, url, 2, answer_handler, NULL), GIM_OK);
        churn.stop = 0;
        churn.answered = 0;
        for (int index = 0; index < CALLERS; index++)
            assert_int_equal(pthread_create(&callers[index], NULL, churn_caller, &churn), 0);
        pthread_mutex_lock(&churn.lock);
        while (churn.answered < 3 * (round % 4 + 1))
            pthread_cond_wait(&churn.answered_cond, &churn.lock);
        pthread_mutex_unlock(&churn.lock);
        gim_rpc_server_stop(server); /* returns: the test would hang here otherwise */
        pthread_mutex_lock(&churn.lock);
        churn.stop = 1;
        pthread_mutex_unlock(&churn.lock);
        for (int index = 0; index < CALLERS; index++)
            pthread_join(callers[index], NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_returns_while_callers_keep_connecting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
