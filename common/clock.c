/* clock.c: monotonic time helpers (see clock.h). */
#include "common/clock.h"

#include "common/status.h"

int64_t gim_monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int64_t gim_monotonic_us(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

void gim_deadline_after_ms(struct timespec *deadline, int64_t milliseconds)
{
    clock_gettime(CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += (time_t)(milliseconds / 1000);
    deadline->tv_nsec += (long)(milliseconds % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000L;
    }
}

void gim_deadline_at_ms(struct timespec *deadline, int64_t monotonic_milliseconds)
{
    /* gim_monotonic_ms() counts from CLOCK_MONOTONIC's origin. */
    deadline->tv_sec = (time_t)(monotonic_milliseconds / 1000);
    deadline->tv_nsec = (long)(monotonic_milliseconds % 1000) * 1000000L;
}

int gim_cond_init_monotonic(pthread_cond_t *condition)
{
    pthread_condattr_t attributes;
    int result = pthread_condattr_init(&attributes);

    if (result != 0)
        return GIM_ERR_NO_MEMORY;
    result = pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    if (result == 0)
        result = pthread_cond_init(condition, &attributes);
    pthread_condattr_destroy(&attributes);
    return result == 0 ? GIM_OK : GIM_ERR_NO_MEMORY;
}
