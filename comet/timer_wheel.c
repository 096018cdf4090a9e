/* timer_wheel.c: the per-loop coarse timer wheel (see timer_wheel.h). */
#include "comet/timer_wheel.h"

#include <stddef.h>

static void list_init(struct timer_entry *head)
{
    head->prev = head->next = head;
}

static void list_append(struct timer_entry *head, struct timer_entry *entry)
{
    entry->prev = head->prev;
    entry->next = head;
    head->prev->next = entry;
    head->prev = entry;
}

void timer_wheel_init(struct timer_wheel *wheel, int64_t now_ms)
{
    int index;

    for (index = 0; index < TIMER_WHEEL_SLOTS; index++)
        list_init(&wheel->slots[index]);
    wheel->current_tick = (uint64_t)(now_ms / TIMER_WHEEL_TICK_MS);
}

void timer_entry_init(struct timer_entry *entry)
{
    entry->prev = entry->next = NULL;
    entry->expire_tick = 0;
}

bool timer_entry_armed(const struct timer_entry *entry)
{
    return entry->next != NULL;
}

void timer_entry_cancel(struct timer_entry *entry)
{
    if (entry->next == NULL)
        return;
    entry->prev->next = entry->next;
    entry->next->prev = entry->prev;
    entry->prev = entry->next = NULL;
}

void timer_wheel_arm(struct timer_wheel *wheel, struct timer_entry *entry, int64_t deadline_ms)
{
    uint64_t tick;

    timer_entry_cancel(entry);
    if (deadline_ms < 0)
        deadline_ms = 0;
    tick = (uint64_t)((deadline_ms + TIMER_WHEEL_TICK_MS - 1) / TIMER_WHEEL_TICK_MS);
    if (tick <= wheel->current_tick)
        tick = wheel->current_tick + 1;
    entry->expire_tick = tick;
    list_append(&wheel->slots[tick & (TIMER_WHEEL_SLOTS - 1)], entry);
}

void timer_wheel_advance(struct timer_wheel *wheel, int64_t now_ms,
                         void (*expired)(struct timer_entry *entry, void *context), void *context)
{
    uint64_t target = (uint64_t)(now_ms / TIMER_WHEEL_TICK_MS);

    while (wheel->current_tick < target) {
        struct timer_entry due, *entry, *next;
        struct timer_entry *slot;

        wheel->current_tick++;
        slot = &wheel->slots[wheel->current_tick & (TIMER_WHEEL_SLOTS - 1)];
        /* Move the due entries to a private list first, so that callbacks may
         * cancel or re-arm anything, including entries still in `due`. */
        list_init(&due);
        for (entry = slot->next; entry != slot; entry = next) {
            next = entry->next;
            if (entry->expire_tick <= wheel->current_tick) {
                entry->prev->next = entry->next;
                entry->next->prev = entry->prev;
                list_append(&due, entry);
            }
        }
        while (due.next != &due) {
            entry = due.next;
            timer_entry_cancel(entry);
            expired(entry, context);
        }
    }
}

int timer_wheel_wait_ms(const struct timer_wheel *wheel, int64_t now_ms)
{
    int64_t next_boundary = (int64_t)(wheel->current_tick + 1) * TIMER_WHEEL_TICK_MS;
    int64_t wait = next_boundary - now_ms;

    if (wait < 1)
        return 1;
    if (wait > TIMER_WHEEL_TICK_MS)
        return TIMER_WHEEL_TICK_MS;
    return (int)wait;
}
