/* latch.c: countdown latch on a mutex and a monotonic condition variable (see latch.h). */
#include "comet/latch.h"

#include <stdint.h>
#include <time.h>

#include "common/clock.h"

void latch_init(struct latch *latch, int count)
{
    gim_cond_init_monotonic(&latch->zero);
    pthread_mutex_init(&latch->lock, NULL);
    latch->count = count;
}

void latch_destroy(struct latch *latch)
{
    pthread_cond_destroy(&latch->zero);
    pthread_mutex_destroy(&latch->lock);
}

void latch_count_down(struct latch *latch)
{
    pthread_mutex_lock(&latch->lock);
    if (latch->count > 0 && --latch->count == 0)
        pthread_cond_broadcast(&latch->zero);
    pthread_mutex_unlock(&latch->lock);
}

bool latch_wait(struct latch *latch, int64_t timeout_ms)
{
    struct timespec deadline;
    bool reached;

    gim_deadline_after_ms(&deadline, timeout_ms);
    pthread_mutex_lock(&latch->lock);
    while (latch->count > 0) {
        if (pthread_cond_timedwait(&latch->zero, &latch->lock, &deadline) != 0)
            break;
    }
    reached = latch->count == 0;
    pthread_mutex_unlock(&latch->lock);
    return reached;
}
