/*
 * test_comet_push_job.c: unit tests of how a push job is handed to comet's loops and answered
 * (comet/worker.c worker_post_push_job, comet/push_job.c push_job_start / push_job_answer /
 * push_job_loop_done / push_job_deadline_passed, comet/inbox.c reservations): answered exactly
 * once, by nobody waiting, and all or nothing, so that job's retry of a refused or timed-out push
 * never delivers it twice.
 *
 * Three loops made by worker_create, driven by this thread with event_loop_run_once (no loop
 * thread runs), each with one authenticated client in the same room on a socketpair; the test
 * reads what each client received from the other end. A loop "that does not run in time" is
 * simply one the test has not run yet, and a deadline that passes is the deadline queue driven
 * by hand (deadline_queue_expire_due at a time past every deadline: no thread, no clock).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "comet/comet.h"
#include "comet/connection.h"
#include "comet/deadline_queue.h"
#include "comet/listener.h"
#include "comet/push_job.h"
#include "comet/worker.h"
#include "common/frame.h"
#include "common/status.h"

#define LOOPS     3
#define ROOM      "live://7"
#define OPERATION 1000

struct harness {
    struct comet_config config;
    struct comet comet;
    struct comet_worker *workers[LOOPS];
    int peers[LOOPS];                /* each loop's client end of its socketpair */
    struct deadline_queue deadlines; /* no thread: expired by hand (deadline_passes) */
};

/* What a job was answered: how many times, and the last status. */
struct answers {
    int count;
    int status;
};

static void record_answer(struct push_job *job, int status)
{
    struct answers *answers = job->answer_context;

    answers->count++;
    answers->status = status;
}

/* Three loops, each with one authenticated client in ROOM. */
static struct harness *harness_new(void)
{
    struct harness *harness = calloc(1, sizeof(*harness));
    struct sockaddr_un peer_address = {.sun_family = AF_UNIX};
    int32_t operation = OPERATION;
    int index;

    assert_non_null(harness);
    harness->config.host = "push-job-test";
    harness->config.tcp_bind = "127.0.0.1:0";
    harness->config.websocket_bind = "";
    harness->config.handshake_timeout_ms = 60000;
    harness->config.max_output_bytes = 1 << 20;
    harness->comet.config = &harness->config;
    harness->comet.worker_count = LOOPS;
    harness->comet.workers = harness->workers;
    assert_int_equal(deadline_queue_init(&harness->deadlines, 1000, push_job_deadline_passed, NULL),
                     GIM_OK);
    ip_counter_init(&harness->comet.client_addresses);
    comet_online_init(&harness->comet.online);
    for (index = 0; index < LOOPS; index++)
        assert_int_equal(worker_create(&harness->workers[index], &harness->comet, index), GIM_OK);
    for (index = 0; index < LOOPS; index++) {
        struct connection_identity identity = {0};
        char key[32];
        int pair[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair),
                         0);
        assert_int_equal(connection_accept(&harness->workers[index]->connections, pair[0],
                                           (struct sockaddr *)&peer_address, &comet_route_goim_tcp,
                                           COMET_TRANSPORT_TCP, false),
                         GIM_OK);
        harness->peers[index] = pair[1];
        snprintf(key, sizeof(key), "key-%d", index);
        identity.mid = index + 1;
        identity.key = key;
        identity.accepts = &operation;
        identity.accept_count = 1;
        identity.room = ROOM;
        assert_int_equal(
            connection_authenticate(harness->workers[index]->connections.live, &identity), GIM_OK);
    }
    for (index = 0; index < LOOPS; index++) /* the key claims each authentication posted */
        assert_int_equal(event_loop_run_once(harness->workers[index]->loop, 0), GIM_OK);
    return harness;
}

static void harness_free(struct harness *harness)
{
    int index;

    for (index = 0; index < LOOPS; index++) {
        struct comet_connection *connection = harness->workers[index]->connections.live;
        if (connection != NULL) /* "replaced": the one close that does not call logic */
            connection_close(connection, CONNECTION_CLOSE_REPLACED);
        close(harness->peers[index]);
        worker_destroy(harness->workers[index]); /* runs what is left in its inbox */
    }
    assert_int_equal(deadline_queue_expire_due(&harness->deadlines, 0), -1); /* none left */
    deadline_queue_destroy(&harness->deadlines);
    ip_counter_destroy(&harness->comet.client_addresses);
    comet_online_destroy(&harness->comet.online);
    free(harness);
}

/* A room push whose sequence tells it apart, answered into *answers, its deadline queued on
 * the harness's queue; the caller holds one reference (the deadline another). */
static struct push_job *room_push(struct harness *harness, int32_t sequence,
                                  struct answers *answers)
{
    static const uint8_t body[] = "room push";
    struct comet_push push = {.version = 1,
                              .operation = OPERATION,
                              .sequence = sequence,
                              .body = body,
                              .body_length = sizeof(body) - 1};
    struct push_job *job = push_job_new(LOOPS, PUSH_TO_ROOM, &push, NULL);

    assert_non_null(job);
    job->room = ROOM;
    push_job_expect_answer(job, record_answer, answers, &harness->deadlines, 0);
    return job;
}

/* Posts job as comet's RPC service does: to every loop, or answered "busy" at once. */
static int post(struct harness *harness, struct push_job *job)
{
    int status = worker_post_push_job(&harness->comet, job);

    if (status != GIM_OK)
        push_job_answer(job, status);
    return status;
}

/* Every queued deadline passes (the deadline thread's work, done here). */
static void deadline_passes(struct harness *harness)
{
    assert_int_equal(deadline_queue_expire_due(&harness->deadlines, INT64_MAX), -1);
}

/* Runs loop index twice: the first iteration runs its inbox, the second's flush pass writes. */
static void run_loop(struct harness *harness, int index)
{
    assert_int_equal(event_loop_run_once(harness->workers[index]->loop, 0), GIM_OK);
    assert_int_equal(event_loop_run_once(harness->workers[index]->loop, 0), GIM_OK);
}

static void run_every_loop(struct harness *harness)
{
    int index;

    for (index = 0; index < LOOPS; index++)
        run_loop(harness, index);
}

/* The sequences of the frames client index has received since the last call, in order. */
static size_t received(struct harness *harness, int index, int32_t *sequences, size_t capacity)
{
    uint8_t buffer[4096];
    size_t length = 0, offset = 0, count = 0;
    ssize_t got;

    while ((got = read(harness->peers[index], buffer + length, sizeof(buffer) - length)) > 0) {
        length += (size_t)got;
        assert_true(length < sizeof(buffer));
    }
    assert_true(got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    while (offset < length) {
        struct gim_frame_header header;
        assert_int_equal(gim_frame_decode_header(buffer + offset, length - offset,
                                                 GIM_FRAME_MAX_CLIENT_BODY, &header),
                         GIM_OK);
        assert_true(offset + header.packet_length <= length);
        assert_int_equal(header.operation, OPERATION);
        assert_true(count < capacity);
        sequences[count++] = header.sequence;
        offset += header.packet_length;
    }
    return count;
}

/* Every client has received exactly the pushes in `expected` since the last check. */
static void assert_every_client_received(struct harness *harness, const int32_t *expected,
                                         size_t expected_count)
{
    int index;

    for (index = 0; index < LOOPS; index++) {
        int32_t sequences[16];
        size_t count = received(harness, index, sequences, 16), at;
        assert_int_equal(count, expected_count);
        for (at = 0; at < count; at++)
            assert_int_equal(sequences[at], expected[at]);
    }
}

static size_t inbox_used(struct harness *harness, int index)
{
    struct inbox *inbox = &harness->workers[index]->loop->inbox;
    size_t used;

    pthread_mutex_lock(&inbox->lock);
    used = inbox->waiting + inbox->reserved;
    pthread_mutex_unlock(&inbox->lock);
    return used;
}

/* A push every loop runs in time is answered done once, by the last loop to run it (not
 * before), reaches every client once, and leaves nothing queued: its deadline is gone. */
static void test_push_run_by_every_loop_is_answered_done_by_the_last(void **state)
{
    struct harness *harness = harness_new();
    struct answers answers = {0};
    struct push_job *job = room_push(harness, 1, &answers);
    const int32_t expected[] = {1};

    (void)state;
    assert_int_equal(post(harness, job), GIM_OK);
    run_loop(harness, 0);
    run_loop(harness, 1);
    assert_int_equal(answers.count, 0); /* loop 2 has not queued it yet */
    run_loop(harness, 2);
    assert_int_equal(answers.count, 1);
    assert_int_equal(answers.status, GIM_OK);
    assert_int_equal(atomic_load(&job->references), 1); /* the loops' and the deadline's gone */
    deadline_passes(harness); /* nothing was queued any more: no second answer */
    assert_int_equal(answers.count, 1);
    push_job_unref(job);
    assert_every_client_received(harness, expected, 1);
    harness_free(harness);
}

/* One full inbox refuses the push before any loop has it: answered "busy" at once, no place
 * stays taken, no loop delivers it, and job's retry (a new call once there is room) reaches
 * every client exactly once. */
static void test_full_inbox_on_one_loop_refuses_before_queuing_anywhere(void **state)
{
    struct harness *harness = harness_new();
    struct event_loop *full = harness->workers[1]->loop;
    struct answers refused = {0}, retried = {0};
    struct push_job *job = room_push(harness, 2, &refused), *retry;
    const int32_t expected[] = {2};
    int taken;

    (void)state;
    for (taken = 0; taken < LOOP_MAX_WAITING_JOBS; taken++)
        assert_int_equal(event_loop_reserve(full), GIM_OK);
    assert_int_equal(event_loop_reserve(full), GIM_ERR_AGAIN);

    assert_int_equal(post(harness, job), GIM_ERR_AGAIN);
    assert_int_equal(refused.count, 1);
    assert_int_equal(refused.status, GIM_ERR_AGAIN);
    assert_int_equal(inbox_used(harness, 0), 0); /* loop 0 reserved first, then gave it back */
    assert_int_equal(inbox_used(harness, 1), LOOP_MAX_WAITING_JOBS);
    assert_int_equal(inbox_used(harness, 2), 0);
    assert_int_equal(atomic_load(&job->references), 1); /* no loop, no deadline holds it */
    push_job_unref(job);

    event_loop_unreserve(full); /* one place free again: job's retry */
    retry = room_push(harness, 2, &retried);
    assert_int_equal(post(harness, retry), GIM_OK);
    assert_int_equal(inbox_used(harness, 1), LOOP_MAX_WAITING_JOBS);
    run_every_loop(harness);
    assert_int_equal(retried.count, 1);
    assert_int_equal(retried.status, GIM_OK);
    assert_int_equal(refused.count, 1);
    push_job_unref(retry);
    assert_every_client_received(harness, expected, 1);

    for (taken = 0; taken < LOOP_MAX_WAITING_JOBS - 1; taken++)
        event_loop_unreserve(full);
    assert_int_equal(inbox_used(harness, 1), 0);
    harness_free(harness);
}

/* No loop has started the push when its deadline passes: it is cancelled and answered as timed
 * out, at the deadline, and no loop delivers it when it does run (nor answers it again); the
 * retry (a later push) reaches every client. */
static void test_deadline_before_any_loop_started_cancels_everywhere(void **state)
{
    struct harness *harness = harness_new();
    struct answers first_answers = {0}, retry_answers = {0};
    struct push_job *first = room_push(harness, 3, &first_answers);
    struct push_job *retry;
    const int32_t expected[] = {4};

    (void)state;
    assert_int_equal(post(harness, first), GIM_OK);
    deadline_passes(harness);
    assert_int_equal(first_answers.count, 1);
    assert_int_equal(first_answers.status, GIM_ERR_TIMEOUT);
    push_job_unref(first); /* the RPC is answered; the loops still hold the job */
    retry = room_push(harness, 4, &retry_answers);
    assert_int_equal(post(harness, retry), GIM_OK);
    run_every_loop(harness); /* runs the cancelled push, then the retry */
    assert_int_equal(first_answers.count, 1);
    assert_int_equal(retry_answers.count, 1);
    assert_int_equal(retry_answers.status, GIM_OK);
    push_job_unref(retry);
    assert_every_client_received(harness, expected, 1);
    harness_free(harness);
}

/* One loop has started the push when its deadline passes: it is answered done at the deadline
 * (no retry), and the loops that run it later still deliver it without answering again, so
 * every client has it exactly once. */
static void test_deadline_after_one_loop_started_is_done_everywhere(void **state)
{
    struct harness *harness = harness_new();
    struct answers answers = {0};
    struct push_job *job = room_push(harness, 5, &answers);
    const int32_t expected[] = {5};

    (void)state;
    assert_int_equal(post(harness, job), GIM_OK);
    run_loop(harness, 0);
    assert_int_equal(answers.count, 0);
    deadline_passes(harness);
    assert_int_equal(answers.count, 1);
    assert_int_equal(answers.status, GIM_OK);
    push_job_unref(job); /* the RPC has answered; loops 1 and 2 still hold the job */
    run_loop(harness, 1);
    run_loop(harness, 2);
    assert_int_equal(answers.count, 1);
    assert_every_client_received(harness, expected, 1);
    harness_free(harness);
}

/* Pushes answered in an order of their own: each by its last loop, whatever the others do. */
static void test_each_push_is_answered_on_its_own(void **state)
{
    struct harness *harness = harness_new();
    struct answers first_answers = {0}, second_answers = {0};
    struct push_job *first = room_push(harness, 6, &first_answers);
    struct push_job *second = room_push(harness, 7, &second_answers);
    const int32_t expected[] = {6, 7};

    (void)state;
    assert_int_equal(post(harness, first), GIM_OK);
    assert_int_equal(post(harness, second), GIM_OK);
    run_loop(harness, 0);
    run_loop(harness, 1);
    assert_int_equal(first_answers.count + second_answers.count, 0);
    run_loop(harness, 2); /* one inbox batch: both, in order */
    assert_int_equal(first_answers.count, 1);
    assert_int_equal(second_answers.count, 1);
    assert_int_equal(first_answers.status, GIM_OK);
    assert_int_equal(second_answers.status, GIM_OK);
    push_job_unref(first);
    push_job_unref(second);
    assert_every_client_received(harness, expected, 2);
    harness_free(harness);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_push_run_by_every_loop_is_answered_done_by_the_last),
        cmocka_unit_test(test_full_inbox_on_one_loop_refuses_before_queuing_anywhere),
        cmocka_unit_test(test_deadline_before_any_loop_started_cancels_everywhere),
        cmocka_unit_test(test_deadline_after_one_loop_started_is_done_everywhere),
        cmocka_unit_test(test_each_push_is_answered_on_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
