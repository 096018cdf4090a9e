/*
 * latch.h: a countdown latch with a bounded wait.
 *
 * The RPC handler that hands a push to N loops waits here until every loop
 * has counted down (queued the push to its connections), or until a
 * deadline, so that the RPC is acknowledged only after delivery is queued.
 */
#ifndef COMET_LATCH_H
#define COMET_LATCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct latch {
    pthread_mutex_t lock;
    pthread_cond_t zero;
    int count;
};

/* Prepares a latch that opens after `count` count-downs. */
void latch_init(struct latch *latch, int count);

/* Releases the latch's resources (no waiter may remain). */
void latch_destroy(struct latch *latch);

/* Counts down by one; wakes the waiter at zero. Safe from any thread. */
void latch_count_down(struct latch *latch);

/* Waits until the count is zero or timeout_ms has passed. Returns true if it reached zero. */
bool latch_wait(struct latch *latch, int64_t timeout_ms);

#endif
