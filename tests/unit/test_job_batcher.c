/* test_job_batcher.c: unit tests of per-lane ordering and room batching (job/batcher.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/frame.h"
#include "common/status.h"
#include "job/batcher.h"

static int items[100];

static struct job_batch *add(struct job_batcher *batcher, const char *lane, size_t max_frames,
                             int index)
{
    struct job_batch *ready = NULL;
    char body[16];

    snprintf(body, sizeof(body), "m%d", index);
    assert_int_equal(job_batcher_add(batcher, lane, max_frames, 1000, (const uint8_t *)body,
                                     strlen(body), &items[index], &ready),
                     GIM_OK);
    return ready;
}

static void test_idle_lane_sends_at_once(void **state)
{
    struct job_batcher *batcher;
    struct job_batch *ready;

    (void)state;
    assert_int_equal(job_batcher_create(&batcher), GIM_OK);
    ready = add(batcher, "r/live://1000", 20, 0);
    assert_non_null(ready);
    assert_int_equal(ready->item_count, 1);
    assert_ptr_equal(ready->items[0], &items[0]);
    assert_int_equal(ready->frames.length, GIM_FRAME_HEADER_SIZE + 2);
    /* another lane is independent */
    struct job_batch *other = add(batcher, "r/live://2000", 20, 1);
    assert_non_null(other);
    assert_int_equal(job_batcher_busy_lanes(batcher), 2);
    assert_null(job_batcher_done(batcher, "r/live://1000"));
    assert_null(job_batcher_done(batcher, "r/live://2000"));
    assert_int_equal(job_batcher_busy_lanes(batcher), 0);
    job_batch_free(ready);
    job_batch_free(other);
    job_batcher_destroy(batcher, NULL);
}

static void test_busy_lane_merges_up_to_max_frames_in_order(void **state)
{
    struct job_batcher *batcher;
    struct job_batch *first, *second, *third;
    int index;

    (void)state;
    assert_int_equal(job_batcher_create(&batcher), GIM_OK);
    first = add(batcher, "room", 3, 0);
    assert_non_null(first);
    for (index = 1; index <= 5; index++)
        assert_null(add(batcher, "room", 3, index));
    second = job_batcher_done(batcher, "room");
    assert_non_null(second);
    assert_int_equal(second->item_count, 3);
    for (index = 0; index < 3; index++)
        assert_ptr_equal(second->items[index], &items[1 + index]);
    assert_int_equal(second->frames.length, 3 * (GIM_FRAME_HEADER_SIZE + 2));
    assert_memory_equal(second->frames.data + GIM_FRAME_HEADER_SIZE, "m1", 2);
    /* a message arriving now joins the queued batch (2 items) */
    assert_null(add(batcher, "room", 3, 6));
    third = job_batcher_done(batcher, "room");
    assert_non_null(third);
    assert_int_equal(third->item_count, 3);
    assert_ptr_equal(third->items[0], &items[4]);
    assert_ptr_equal(third->items[2], &items[6]);
    /* nothing queued any more: the lane goes idle, the next message goes at once */
    assert_null(job_batcher_done(batcher, "room"));
    struct job_batch *again = add(batcher, "room", 3, 7);
    assert_non_null(again);
    job_batch_free(first);
    job_batch_free(second);
    job_batch_free(third);
    job_batch_free(again);
    job_batcher_destroy(batcher, NULL);
}

static int freed;
static void count_free(void *item)
{
    (void)item;
    freed++;
}

static void test_destroy_frees_queued_items(void **state)
{
    struct job_batcher *batcher;
    struct job_batch *first;

    (void)state;
    assert_int_equal(job_batcher_create(&batcher), GIM_OK);
    first = add(batcher, "p", 1, 0);
    assert_null(add(batcher, "p", 1, 1));
    assert_null(add(batcher, "p", 1, 2));
    freed = 0;
    job_batcher_destroy(batcher, count_free);
    assert_int_equal(freed, 2);
    job_batch_free(first);
}

static struct job_batch *add_keyed(struct job_batcher *batcher, const char *key, int index)
{
    struct job_batch *ready = NULL;

    assert_int_equal(job_batcher_add_keyed(batcher, "r/gopusher/app", key, 20, 0,
                                           (const uint8_t *)"x", 1, &items[index], &ready),
                     GIM_OK);
    return ready;
}

/* Messages with different merge keys keep the lane's order but never share a batch. */
static void test_merge_key_splits_batches_in_order(void **state)
{
    struct job_batcher *batcher;
    struct job_batch *first, *batch;

    (void)state;
    assert_int_equal(job_batcher_create(&batcher), GIM_OK);
    first = add_keyed(batcher, "tA:1", 0);
    assert_non_null(first);
    assert_null(add_keyed(batcher, "tA:1", 1)); /* queued: the lane is busy */
    assert_null(add_keyed(batcher, "tA:1", 2)); /* merged with 1 */
    assert_null(add_keyed(batcher, "t", 3));    /* another key: a batch of its own */
    assert_null(add_keyed(batcher, NULL, 4));   /* NULL is "": goim's records */
    assert_null(add_keyed(batcher, "", 5));     /* merged with 4 */
    assert_null(add_keyed(batcher, "tA:1", 6)); /* after 4/5: not merged with 1/2 */

    batch = job_batcher_done(batcher, "r/gopusher/app");
    assert_int_equal(batch->item_count, 2);
    assert_ptr_equal(batch->items[0], &items[1]);
    assert_ptr_equal(batch->items[1], &items[2]);
    assert_string_equal(batch->merge_key, "tA:1");
    job_batch_free(batch);
    batch = job_batcher_done(batcher, "r/gopusher/app");
    assert_int_equal(batch->item_count, 1);
    assert_ptr_equal(batch->items[0], &items[3]);
    job_batch_free(batch);
    batch = job_batcher_done(batcher, "r/gopusher/app");
    assert_int_equal(batch->item_count, 2);
    assert_ptr_equal(batch->items[0], &items[4]);
    assert_ptr_equal(batch->items[1], &items[5]);
    job_batch_free(batch);
    batch = job_batcher_done(batcher, "r/gopusher/app");
    assert_int_equal(batch->item_count, 1);
    assert_ptr_equal(batch->items[0], &items[6]);
    job_batch_free(batch);
    assert_null(job_batcher_done(batcher, "r/gopusher/app"));
    job_batch_free(first);
    job_batcher_destroy(batcher, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_lane_sends_at_once),
        cmocka_unit_test(test_busy_lane_merges_up_to_max_frames_in_order),
        cmocka_unit_test(test_destroy_frees_queued_items),
        cmocka_unit_test(test_merge_key_splits_batches_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
