/*
 * clock.h: monotonic time for timeouts and deadlines, in one place.
 *
 * Deadlines are measured on CLOCK_MONOTONIC so that a wall-clock jump never
 * fires or delays a timeout; condition variables that wait for a deadline
 * are created on the same clock.
 */
#ifndef GIM_CLOCK_H
#define GIM_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock (an arbitrary origin; only differences mean anything). */
int64_t gim_monotonic_ms(void);

/* Microseconds on the same clock and origin as gim_monotonic_ms (times 1000, finer). */
int64_t gim_monotonic_us(void);

/* Writes into *deadline the absolute monotonic time milliseconds from now (for
 * pthread_cond_timedwait on a condition created by gim_cond_init_monotonic). */
void gim_deadline_after_ms(struct timespec *deadline, int64_t milliseconds);

/* Writes into *deadline the absolute monotonic time of a gim_monotonic_ms() reading (a wake time
 * computed in those milliseconds), for pthread_cond_timedwait on a condition created by
 * gim_cond_init_monotonic. A time already past gives a deadline that has expired. */
void gim_deadline_at_ms(struct timespec *deadline, int64_t monotonic_milliseconds);

/* Initialises *condition to wait against the monotonic clock. Returns GIM_OK or
 * GIM_ERR_NO_MEMORY (pthread ran out of resources). */
int gim_cond_init_monotonic(pthread_cond_t *condition);

#endif
