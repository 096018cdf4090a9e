/*
 * test_comet_deadline_queue.c: unit tests of comet/deadline_queue.c, the FIFO of equal-delay
 * deadlines whose thread answers the push jobs their loops have not answered in time: entries
 * fall due in the order they were added, delay_ms after it, never before; a removed entry never
 * expires; the thread expires what falls due (woken from an empty queue by the add). Time is
 * given by hand (deadline_queue_expire_due) except in the thread's test, which waits for the
 * callback and asserts no duration.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "comet/deadline_queue.h"
#include "common/clock.h"
#include "common/status.h"

#define DELAY_MS 100

/* The entries expired, in order. */
struct expired_log {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    struct deadline_entry *entries[8];
    int count;
};

static void log_expired(struct deadline_entry *entry, void *context)
{
    struct expired_log *log = context;

    pthread_mutex_lock(&log->lock);
    assert_false(entry->queued); /* out of the queue before its callback */
    assert_true(log->count < 8);
    log->entries[log->count++] = entry;
    pthread_cond_broadcast(&log->changed);
    pthread_mutex_unlock(&log->lock);
}

static void log_init(struct expired_log *log)
{
    *log = (struct expired_log){.count = 0};
    pthread_mutex_init(&log->lock, NULL);
    pthread_cond_init(&log->changed, NULL);
}

static void log_destroy(struct expired_log *log)
{
    pthread_cond_destroy(&log->changed);
    pthread_mutex_destroy(&log->lock);
}

/* Entries fall due delay_ms after they are added, in order, not a millisecond before; the wait
 * returned is the time to the next one, -1 when none is queued. */
static void test_entries_fall_due_in_order_after_the_delay(void **state)
{
    struct deadline_queue queue;
    struct expired_log log;
    struct deadline_entry first = {0}, second = {0}, third = {0};

    (void)state;
    log_init(&log);
    assert_int_equal(deadline_queue_init(&queue, DELAY_MS, log_expired, &log), GIM_OK);
    assert_int_equal(deadline_queue_expire_due(&queue, 0), -1);
    deadline_queue_add(&queue, &first, 1000);
    deadline_queue_add(&queue, &second, 1010);
    deadline_queue_add(&queue, &third, 1005); /* a clock read a little late: due with second */
    assert_int_equal(third.due_ms, 1010 + DELAY_MS);
    assert_int_equal(deadline_queue_expire_due(&queue, 1000 + DELAY_MS - 1), 1);
    assert_int_equal(log.count, 0);
    assert_int_equal(deadline_queue_expire_due(&queue, 1000 + DELAY_MS), 10);
    assert_int_equal(log.count, 1);
    assert_ptr_equal(log.entries[0], &first);
    assert_int_equal(deadline_queue_expire_due(&queue, 1010 + DELAY_MS), -1);
    assert_int_equal(log.count, 3);
    assert_ptr_equal(log.entries[1], &second);
    assert_ptr_equal(log.entries[2], &third);
    deadline_queue_destroy(&queue);
    log_destroy(&log);
}

/* A removed entry never expires, wherever it was in the queue; removing it twice, or an entry
 * that expired, says it was not queued (its callback is someone else's business). */
static void test_removed_entries_never_expire(void **state)
{
    struct deadline_queue queue;
    struct expired_log log;
    struct deadline_entry entries[4] = {{0}};
    int index;

    (void)state;
    log_init(&log);
    assert_int_equal(deadline_queue_init(&queue, DELAY_MS, log_expired, &log), GIM_OK);
    for (index = 0; index < 4; index++)
        deadline_queue_add(&queue, &entries[index], index);
    assert_true(deadline_queue_remove(&queue, &entries[0]));  /* the head */
    assert_true(deadline_queue_remove(&queue, &entries[2]));  /* the middle */
    assert_true(deadline_queue_remove(&queue, &entries[3]));  /* the tail */
    assert_false(deadline_queue_remove(&queue, &entries[3])); /* not any more */
    assert_int_equal(deadline_queue_expire_due(&queue, INT64_MAX), -1);
    assert_int_equal(log.count, 1);
    assert_ptr_equal(log.entries[0], &entries[1]);
    assert_false(deadline_queue_remove(&queue, &entries[1])); /* expired: not queued */
    deadline_queue_add(&queue, &entries[0], 10);              /* the queue works on after */
    assert_int_equal(deadline_queue_expire_due(&queue, 10), DELAY_MS);
    assert_true(deadline_queue_remove(&queue, &entries[0]));
    deadline_queue_destroy(&queue);
    log_destroy(&log);
}

/* The thread, asleep with nothing queued, is woken by an add and expires the entry once it falls
 * due (a delay of 1 ms: the test waits for the callback, no duration is asserted). */
static void test_thread_expires_what_falls_due(void **state)
{
    struct deadline_queue queue;
    struct expired_log log;
    struct deadline_entry first = {0}, second = {0};

    (void)state;
    log_init(&log);
    assert_int_equal(deadline_queue_init(&queue, 1, log_expired, &log), GIM_OK);
    assert_int_equal(deadline_queue_start(&queue), GIM_OK);
    deadline_queue_add(&queue, &first, gim_monotonic_ms());
    pthread_mutex_lock(&log.lock);
    while (log.count < 1)
        pthread_cond_wait(&log.changed, &log.lock);
    pthread_mutex_unlock(&log.lock);
    deadline_queue_add(&queue, &second, gim_monotonic_ms()); /* asleep again, or about to be */
    pthread_mutex_lock(&log.lock);
    while (log.count < 2)
        pthread_cond_wait(&log.changed, &log.lock);
    pthread_mutex_unlock(&log.lock);
    assert_ptr_equal(log.entries[0], &first);
    assert_ptr_equal(log.entries[1], &second);
    deadline_queue_stop(&queue);
    deadline_queue_destroy(&queue); /* stopped already: no-op stop */
    log_destroy(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entries_fall_due_in_order_after_the_delay),
        cmocka_unit_test(test_removed_entries_never_expire),
        cmocka_unit_test(test_thread_expires_what_falls_due),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
