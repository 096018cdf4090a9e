/* test_job_offset_tracker.c: unit tests of the per-partition offset tracker (job/offset_tracker.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/status.h"
#include "job/offset_tracker.h"

static void test_nothing_committable_until_the_first_record_finishes(void **state)
{
    struct job_offset_tracker tracker;

    (void)state;
    job_offset_tracker_init(&tracker, 0);
    assert_true(job_offset_tracker_committable(&tracker) == -1);
    assert_int_equal(job_offset_tracker_add(&tracker, 10), GIM_OK);
    assert_int_equal(job_offset_tracker_add(&tracker, 11), GIM_OK);
    assert_int_equal(job_offset_tracker_finish(&tracker, 11), GIM_OK);
    assert_true(job_offset_tracker_committable(&tracker) == -1); /* 10 still open */
    assert_int_equal(job_offset_tracker_finish(&tracker, 10), GIM_OK);
    assert_true(job_offset_tracker_committable(&tracker) == 12);
    assert_int_equal(job_offset_tracker_outstanding(&tracker), 0);
    job_offset_tracker_clear(&tracker);
}

static void test_out_of_order_with_gaps_commits_only_the_finished_prefix(void **state)
{
    struct job_offset_tracker tracker;
    static const int64_t offsets[] = {3, 4, 7, 8, 20};

    (void)state;
    job_offset_tracker_init(&tracker, 0);
    for (size_t index = 0; index < 5; index++)
        assert_int_equal(job_offset_tracker_add(&tracker, offsets[index]), GIM_OK);
    assert_int_equal(job_offset_tracker_finish(&tracker, 8), GIM_OK);
    assert_int_equal(job_offset_tracker_finish(&tracker, 3), GIM_OK);
    assert_true(job_offset_tracker_committable(&tracker) == 4);
    assert_int_equal(job_offset_tracker_finish(&tracker, 20), GIM_OK);
    assert_int_equal(job_offset_tracker_finish(&tracker, 4), GIM_OK);
    assert_true(job_offset_tracker_committable(&tracker) == 5); /* 7 open */
    assert_int_equal(job_offset_tracker_finish(&tracker, 7), GIM_OK);
    assert_true(job_offset_tracker_committable(&tracker) == 21);
    assert_int_equal(job_offset_tracker_finish(&tracker, 7), GIM_ERR_NOT_FOUND);
    assert_int_equal(job_offset_tracker_finish(&tracker, 5), GIM_ERR_NOT_FOUND);
    job_offset_tracker_clear(&tracker);
}

static void test_offsets_must_increase(void **state)
{
    struct job_offset_tracker tracker;

    (void)state;
    job_offset_tracker_init(&tracker, 0);
    assert_int_equal(job_offset_tracker_add(&tracker, 5), GIM_OK);
    assert_int_equal(job_offset_tracker_add(&tracker, 5), GIM_ERR_INVALID);
    assert_int_equal(job_offset_tracker_add(&tracker, 4), GIM_ERR_INVALID);
    assert_int_equal(job_offset_tracker_finish(&tracker, 5), GIM_OK);
    assert_int_equal(job_offset_tracker_add(&tracker, 5), GIM_ERR_INVALID);
    assert_int_equal(job_offset_tracker_add(&tracker, 6), GIM_OK);
    job_offset_tracker_clear(&tracker);
}

static void test_bound_refuses_until_the_oldest_finishes_and_ring_wraps(void **state)
{
    struct job_offset_tracker tracker;
    int64_t offset;

    (void)state;
    job_offset_tracker_init(&tracker, 300); /* grows 256 -> 300 */
    for (offset = 0; offset < 300; offset++)
        assert_int_equal(job_offset_tracker_add(&tracker, offset), GIM_OK);
    assert_true(job_offset_tracker_full(&tracker));
    assert_int_equal(job_offset_tracker_add(&tracker, 300), GIM_ERR_AGAIN);
    for (offset = 1; offset < 300; offset++) /* everything but the oldest */
        assert_int_equal(job_offset_tracker_finish(&tracker, offset), GIM_OK);
    assert_int_equal(job_offset_tracker_add(&tracker, 300), GIM_ERR_AGAIN);
    assert_int_equal(job_offset_tracker_finish(&tracker, 0), GIM_OK);
    assert_true(job_offset_tracker_committable(&tracker) == 300);
    /* the ring wraps: many rounds through it, finishing in reverse */
    for (int round = 0; round < 10; round++) {
        int64_t base = 300 + round * 250;
        for (offset = base; offset < base + 250; offset++)
            assert_int_equal(job_offset_tracker_add(&tracker, offset), GIM_OK);
        for (offset = base + 249; offset >= base; offset--) {
            assert_int_equal(job_offset_tracker_finish(&tracker, offset), GIM_OK);
            assert_true(job_offset_tracker_committable(&tracker) ==
                        (offset == base ? base + 250 : base));
        }
    }
    job_offset_tracker_clear(&tracker);
}

static void test_stall_reported_once_for_the_record_holding_the_commit_back(void **state)
{
    struct job_offset_tracker tracker;
    struct job_offset_tracker_entry oldest;
    int64_t since = -1;

    (void)state;
    job_offset_tracker_init(&tracker, 0);
    assert_false(job_offset_tracker_stalled(&tracker, 0, 100, &oldest, &since)); /* empty */
    for (int64_t offset = 10; offset < 14; offset++)
        assert_int_equal(job_offset_tracker_add(&tracker, offset), GIM_OK);
    assert_int_equal(job_offset_tracker_mark_handed(&tracker, 11), GIM_OK);
    assert_int_equal(job_offset_tracker_mark_handed(&tracker, 12), GIM_OK);
    assert_int_equal(job_offset_tracker_finish(&tracker, 12), GIM_OK);
    assert_false(job_offset_tracker_stalled(&tracker, 1000, 100, &oldest, &since)); /* seen */
    assert_false(job_offset_tracker_stalled(&tracker, 1099, 100, &oldest, &since));
    assert_true(job_offset_tracker_stalled(&tracker, 1100, 100, &oldest, &since));
    assert_true(oldest.offset == 10);
    assert_false(oldest.handed); /* tracked, never handed on */
    assert_true(since == 1000);
    assert_false(job_offset_tracker_stalled(&tracker, 5000, 100, &oldest, &since)); /* once */
    /* 10 finishes: 11 holds the commit back now, its watch starts anew */
    assert_int_equal(job_offset_tracker_finish(&tracker, 10), GIM_OK);
    assert_false(job_offset_tracker_stalled(&tracker, 6000, 100, &oldest, &since));
    assert_true(job_offset_tracker_stalled(&tracker, 6100, 100, &oldest, &since));
    assert_true(oldest.offset == 11);
    assert_true(oldest.handed);
    assert_true(since == 6000);
    /* marking a record already committable finds nothing */
    assert_int_equal(job_offset_tracker_finish(&tracker, 11), GIM_OK);
    assert_true(job_offset_tracker_committable(&tracker) == 13);
    assert_int_equal(job_offset_tracker_mark_handed(&tracker, 12), GIM_ERR_NOT_FOUND);
    assert_int_equal(job_offset_tracker_finish(&tracker, 13), GIM_OK);
    assert_false(job_offset_tracker_stalled(&tracker, 9000, 100, &oldest, &since)); /* empty */
    job_offset_tracker_clear(&tracker);
}

static void test_next_expected_is_one_past_the_last_registered(void **state)
{
    struct job_offset_tracker tracker;

    (void)state;
    job_offset_tracker_init(&tracker, 0);
    assert_true(job_offset_tracker_next_expected(&tracker) == -1); /* nothing registered */
    assert_int_equal(job_offset_tracker_add(&tracker, 100), GIM_OK);
    assert_true(job_offset_tracker_next_expected(&tracker) == 101);
    assert_int_equal(job_offset_tracker_add(&tracker, 101), GIM_OK);
    assert_true(job_offset_tracker_next_expected(&tracker) == 102);
    assert_int_equal(job_offset_tracker_finish(&tracker, 101), GIM_OK);
    assert_true(job_offset_tracker_next_expected(&tracker) == 102); /* 100 still open */
    assert_int_equal(job_offset_tracker_finish(&tracker, 100), GIM_OK);
    assert_true(job_offset_tracker_next_expected(&tracker) == 102);  /* empty again */
    assert_int_equal(job_offset_tracker_add(&tracker, 106), GIM_OK); /* a jump: 102..105 */
    assert_true(job_offset_tracker_next_expected(&tracker) == 107);
    job_offset_tracker_clear(&tracker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_committable_until_the_first_record_finishes),
        cmocka_unit_test(test_out_of_order_with_gaps_commits_only_the_finished_prefix),
        cmocka_unit_test(test_offsets_must_increase),
        cmocka_unit_test(test_bound_refuses_until_the_oldest_finishes_and_ring_wraps),
        cmocka_unit_test(test_stall_reported_once_for_the_record_holding_the_commit_back),
        cmocka_unit_test(test_next_expected_is_one_past_the_last_registered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
