/*
 * test_job_dispatch.c: unit tests of the dispatcher thread around job's delivery core
 * (job/dispatch.c) on fake ops: submit's back-pressure answer, a skipped record reported
 * inside submit, completions handed from another thread, stop.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/status.h"
#include "job/dispatch.h"
#include "logic.pb-c.h"

#define MAX_CALLS 8
#define WAIT_MS   30000 /* a guard against a hang, never a measure */

struct harness {
    struct job_config config;
    struct job_metrics *metrics;
    struct job_delivery_ops ops;
    struct job_dispatch *dispatch;
    struct job_comet comet;

    pthread_mutex_t lock; /* the dispatcher thread and the test share what follows */
    pthread_cond_t changed;
    gim_rpc_done_fn done[MAX_CALLS];
    void *user[MAX_CALLS];
    bool completed[MAX_CALLS];
    size_t call_count;
    bool closing; /* teardown: refuse new calls */
    int64_t finished[MAX_CALLS];
    size_t finished_count;
};

static struct job_comet *fake_find(void *context, const char *hostname)
{
    struct harness *harness = context;

    if (strcmp(hostname, harness->comet.hostname) != 0)
        return NULL;
    atomic_fetch_add(&harness->comet.references, 1);
    return &harness->comet;
}

static int fake_snapshot(void *context, struct job_comet ***list, size_t *count)
{
    struct harness *harness = context;

    *list = calloc(1, sizeof(**list));
    if (*list == NULL)
        return GIM_ERR_NO_MEMORY;
    atomic_fetch_add(&harness->comet.references, 1);
    (*list)[0] = &harness->comet;
    *count = 1;
    return GIM_OK;
}

static void fake_release(void *context, struct job_comet *comet)
{
    (void)context;
    atomic_fetch_sub(&comet->references, 1);
}

static uint64_t fake_request_refresh(void *context)
{
    (void)context;
    return 1;
}

static bool fake_fresh_since(void *context, uint64_t ticket)
{
    (void)context;
    (void)ticket;
    return false;
}

static int fake_call(void *context, struct job_comet *comet, uint32_t method,
                     const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
                     int timeout_ms, gim_rpc_done_fn done, void *user)
{
    struct harness *harness = context;

    (void)comet;
    (void)method;
    (void)request;
    (void)reply_type;
    (void)timeout_ms;
    pthread_mutex_lock(&harness->lock);
    if (harness->closing || harness->call_count == MAX_CALLS) {
        pthread_mutex_unlock(&harness->lock);
        return GIM_ERR_CLOSED;
    }
    harness->done[harness->call_count] = done;
    harness->user[harness->call_count] = user;
    harness->call_count++;
    pthread_cond_broadcast(&harness->changed);
    pthread_mutex_unlock(&harness->lock);
    return GIM_OK;
}

static int64_t fake_now(void *context)
{
    (void)context;
    return gim_monotonic_ms(); /* job_dispatch_create_with_ops wants the monotonic clock */
}

static void harness_finished(void *owner, const struct job_record_ticket *ticket)
{
    struct harness *harness = owner;

    pthread_mutex_lock(&harness->lock);
    assert_true(harness->finished_count < MAX_CALLS);
    harness->finished[harness->finished_count++] = ticket->offset;
    pthread_cond_broadcast(&harness->changed);
    pthread_mutex_unlock(&harness->lock);
}

/* Waits until *counter reaches at_least (under the harness lock). */
static void wait_for(struct harness *harness, const size_t *counter, size_t at_least)
{
    struct timespec deadline;

    gim_deadline_after_ms(&deadline, WAIT_MS);
    pthread_mutex_lock(&harness->lock);
    while (*counter < at_least)
        assert_int_equal(pthread_cond_timedwait(&harness->changed, &harness->lock, &deadline), 0);
    pthread_mutex_unlock(&harness->lock);
}

static void complete(struct harness *harness, size_t index, int status);

static int harness_setup(void **state)
{
    struct harness *harness = calloc(1, sizeof(*harness));

    assert_non_null(harness);
    harness->config.comet_timeout = 1000;
    harness->config.comet_retries = 3;
    harness->config.comet_retry_backoff = 100;
    harness->config.comet_retry_backoff_max = 1000;
    harness->config.comet_wait_for_comets = 1000;
    harness->config.registry_refresh = 100;
    harness->config.comet_queue = 100;
    harness->config.room_batch = 20;
    harness->config.dispatch_max_records = 2;
    harness->comet.hostname = "comet-a";
    atomic_init(&harness->comet.references, 1);
    pthread_mutex_init(&harness->lock, NULL);
    gim_cond_init_monotonic(&harness->changed);
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
    assert_int_equal(job_dispatch_create_with_ops(&harness->dispatch, &harness->config,
                                                  &harness->ops, harness->metrics, harness_finished,
                                                  harness),
                     GIM_OK);
    *state = harness;
    return 0;
}

static int harness_teardown(void **state)
{
    struct harness *harness = *state;
    size_t count;

    /* A test that failed half-way leaves calls out: close them, or the stop would wait. */
    pthread_mutex_lock(&harness->lock);
    harness->closing = true;
    count = harness->call_count;
    pthread_mutex_unlock(&harness->lock);
    for (size_t index = 0; index < count; index++)
        if (!harness->completed[index])
            complete(harness, index, GIM_ERR_CLOSED);
    job_dispatch_destroy(harness->dispatch);
    assert_int_equal(atomic_load(&harness->comet.references), 1);
    job_metrics_destroy(harness->metrics);
    pthread_cond_destroy(&harness->changed);
    pthread_mutex_destroy(&harness->lock);
    free(harness);
    return 0;
}

static int submit_push(struct harness *harness, const char *key, int64_t offset)
{
    Goim__Logic__PushMsg message = GOIM__LOGIC__PUSH_MSG__INIT;
    struct job_record_ticket ticket = {.partition = 0, .offset = offset};
    char *keys[1] = {(char *)key};
    uint8_t packed[256];
    size_t length;

    message.type = GOIM__LOGIC__PUSH_MSG__TYPE__PUSH;
    message.operation = 1000;
    message.server = "comet-a";
    message.n_keys = 1;
    message.keys = keys;
    message.msg.data = (uint8_t *)"hi";
    message.msg.len = 2;
    length = goim__logic__push_msg__get_packed_size(&message);
    assert_true(length <= sizeof(packed));
    goim__logic__push_msg__pack(&message, packed);
    snprintf(ticket.origin, sizeof(ticket.origin), "t/0@%lld", (long long)offset);
    return job_dispatch_submit(harness->dispatch, packed, length, &ticket);
}

/* Completes call index from this (non-dispatcher) thread, as nng would. */
static void complete(struct harness *harness, size_t index, int status)
{
    gim_rpc_done_fn done;
    void *user;

    pthread_mutex_lock(&harness->lock);
    assert_false(harness->completed[index]);
    harness->completed[index] = true;
    done = harness->done[index];
    user = harness->user[index];
    pthread_mutex_unlock(&harness->lock);
    done(user, status, NULL);
}

static void test_undeliverable_record_is_finished_inside_submit(void **state)
{
    struct harness *harness = *state;
    struct job_record_ticket ticket = {.partition = 0, .offset = 7, .origin = "t/0@7"};
    const uint8_t garbage[] = {0xff, 0xff, 0xff};

    assert_int_equal(job_dispatch_submit(harness->dispatch, garbage, sizeof(garbage), &ticket),
                     GIM_OK);
    pthread_mutex_lock(&harness->lock);
    assert_int_equal(harness->finished_count, 1); /* before submit returned */
    assert_int_equal(harness->finished[0], 7);
    pthread_mutex_unlock(&harness->lock);
    assert_int_equal(gim_counter_value(harness->metrics->skipped), 1);
    assert_int_equal(gim_counter_value(harness->metrics->consumed), 1);
}

static void test_submit_answers_again_at_max_records_until_one_finishes(void **state)
{
    struct harness *harness = *state;

    assert_int_equal(submit_push(harness, "key-1", 10), GIM_OK);
    assert_int_equal(submit_push(harness, "key-2", 11), GIM_OK);
    assert_false(job_dispatch_has_room(harness->dispatch));
    assert_int_equal(submit_push(harness, "key-3", 12), GIM_ERR_AGAIN); /* nothing taken */
    wait_for(harness, &harness->call_count, 2);
    complete(harness, 1, GIM_OK);
    wait_for(harness, &harness->finished_count, 1);
    assert_int_equal(harness->finished[0], 11);
    assert_true(job_dispatch_has_room(harness->dispatch));
    assert_int_equal(submit_push(harness, "key-3", 12), GIM_OK);
    wait_for(harness, &harness->call_count, 3);
    complete(harness, 0, GIM_OK);
    complete(harness, 2, GIM_OK);
    wait_for(harness, &harness->finished_count, 3);
    assert_int_equal(gim_counter_value(harness->metrics->delivered), 3);
}

static void *stop_dispatch(void *argument)
{
    job_dispatch_stop(argument);
    return NULL;
}

static void test_stop_waits_for_calls_in_flight_and_refuses_new_records(void **state)
{
    struct harness *harness = *state;
    pthread_t stopper;

    assert_int_equal(submit_push(harness, "key-1", 10), GIM_OK);
    wait_for(harness, &harness->call_count, 1);
    assert_int_equal(pthread_create(&stopper, NULL, stop_dispatch, harness->dispatch), 0);
    complete(harness, 0, GIM_OK); /* the call in flight still finishes its record */
    assert_int_equal(pthread_join(stopper, NULL), 0);
    assert_int_equal(harness->finished_count, 1);
    assert_int_equal(submit_push(harness, "key-2", 11), GIM_ERR_CLOSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_undeliverable_record_is_finished_inside_submit,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_submit_answers_again_at_max_records_until_one_finishes,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_stop_waits_for_calls_in_flight_and_refuses_new_records,
                                        harness_setup, harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
