/* latch.c: countdown latch on a mutex and a monotonic condition variable (see latch.h). */
#include "comet/latch.h"

#include <stdint.h>
#include <time.h>

void latch_init(struct latch *latch, int count)
{
    pthread_condattr_t attributes;

    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&latch->zero, &attributes);
    pthread_condattr_destroy(&attributes);
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

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&latch->lock);
    while (latch->count > 0) {
        if (pthread_cond_timedwait(&latch->zero, &latch->lock, &deadline) != 0)
            break;
    }
    reached = latch->count == 0;
    pthread_mutex_unlock(&latch->lock);
    return reached;
}
