/*
 * inbox.h: a loop's inbound queue, filled by other threads, drained by the loop.
 *
 * A mutex-protected intrusive list plus an eventfd the loop polls. A poster
 * signals the eventfd only when the list goes from empty to non-empty, so a
 * burst of posts costs one wake-up. Items are embedded in the poster's own
 * structures (no allocation here); the loop takes the whole list at once.
 *
 * Bound: inbox_post_bounded refuses an item when `limit` items are already
 * waiting (callers that can answer "busy", such as pushes from the RPC
 * server, use it). inbox_post never refuses: it is for items whose number
 * is already bounded by something else (one auth result per connection in
 * flight, one key claim per authentication).
 */
#ifndef COMET_INBOX_H
#define COMET_INBOX_H

#include <pthread.h>
#include <stddef.h>

struct event_loop;

struct inbox_item {
    struct inbox_item *next;
    /* what the loop calls for the item, on its thread; the item's owner frees it there if it
     * must (the item is not touched afterwards). loop->stopping tells a loop that is stopping. */
    void (*run)(struct inbox_item *item, struct event_loop *loop);
};

struct inbox {
    pthread_mutex_t lock;
    struct inbox_item *head, *tail;
    size_t waiting;
    int event_fd; /* readable when the list is not empty */
};

/* Creates the eventfd and an empty list. Returns GIM_OK or GIM_ERR_IO. */
int inbox_init(struct inbox *inbox);

/* Closes the eventfd. Items still queued are not touched (drain first). */
void inbox_destroy(struct inbox *inbox);

/* Appends item (still owned by the poster's structure) and wakes the loop if needed. */
void inbox_post(struct inbox *inbox, struct inbox_item *item);

/* Same, unless `limit` items are already waiting: then returns GIM_ERR_AGAIN and queues nothing. */
int inbox_post_bounded(struct inbox *inbox, struct inbox_item *item, size_t limit);

/* Loop side: clears the eventfd and returns every queued item in order (NULL if none). */
struct inbox_item *inbox_take_all(struct inbox *inbox);

#endif
