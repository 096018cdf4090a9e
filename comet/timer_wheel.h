/*
 * timer_wheel.h: coarse per-loop deadlines (handshake, heartbeat).
 *
 * One wheel per event loop, owned by that loop's thread (no locking). Ticks
 * are TIMER_WHEEL_TICK_MS long and the wheel has TIMER_WHEEL_SLOTS slots; a
 * deadline further away than one turn stays in its slot and is skipped until
 * its tick comes round. Entries are intrusive (embedded in the connection),
 * so arming, re-arming and cancelling are O(1) and allocate nothing. A
 * deadline fires on the first tick boundary at or after it, so up to one
 * tick late, never early.
 */
#ifndef COMET_TIMER_WHEEL_H
#define COMET_TIMER_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#define TIMER_WHEEL_TICK_MS 1000
#define TIMER_WHEEL_SLOTS   256 /* power of two */

struct timer_entry {
    struct timer_entry *prev, *next; /* NULL when not armed */
    uint64_t expire_tick;
};

struct timer_wheel {
    struct timer_entry slots[TIMER_WHEEL_SLOTS]; /* circular list heads */
    uint64_t current_tick;                       /* every tick up to here has fired */
};

/* Prepares an empty wheel whose clock reads now_ms (monotonic milliseconds). */
void timer_wheel_init(struct timer_wheel *wheel, int64_t now_ms);

/* Prepares an entry that is not armed. */
void timer_entry_init(struct timer_entry *entry);

/* True if the entry is armed. */
bool timer_entry_armed(const struct timer_entry *entry);

/* Arms (or re-arms) entry to fire at deadline_ms (monotonic milliseconds). */
void timer_wheel_arm(struct timer_wheel *wheel, struct timer_entry *entry, int64_t deadline_ms);

/* Disarms entry; nothing happens if it is not armed. */
void timer_entry_cancel(struct timer_entry *entry);

/*
 * Fires every entry whose deadline is at or before now_ms: each is disarmed,
 * then expired(entry, context) runs. expired may arm or cancel any entry,
 * including those that have not fired yet.
 */
void timer_wheel_advance(struct timer_wheel *wheel, int64_t now_ms,
                         void (*expired)(struct timer_entry *entry, void *context), void *context);

/* Milliseconds from now_ms to the next tick boundary (1..TIMER_WHEEL_TICK_MS). */
int timer_wheel_wait_ms(const struct timer_wheel *wheel, int64_t now_ms);

#endif
