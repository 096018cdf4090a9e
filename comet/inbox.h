/*
 * inbox.h: a loop's inbound queue, filled by other threads, drained by the loop.
 *
 * A mutex-protected intrusive list plus an eventfd the loop polls. A poster
 * signals the eventfd only when the list goes from empty to non-empty, so a
 * burst of posts costs one wake-up. Items are embedded in the poster's own
 * structures (no allocation here); the loop takes the whole list at once.
 *
 * Bound: inbox_reserve takes a place for one item unless `limit` items are
 * already waiting or reserved (callers that can answer "busy", such as pushes
 * from the RPC server, use it); inbox_post_reserved then queues the item in
 * that place and cannot fail, and inbox_unreserve gives an unused place back.
 * Reserving first lets a caller that posts one item to several inboxes
 * refuse before it has queued anywhere (all or none). inbox_post never
 * refuses: it is for items whose number is already bounded by something else
 * (one auth result per connection in flight, one key claim per
 * authentication).
 */
#ifndef COMET_INBOX_H
#define COMET_INBOX_H

#include <pthread.h>
#include <stddef.h>

struct event_loop;

struct inbox_item {
    struct inbox_item *next;
    /* what the loop calls for the item, on its thread; the item's owner frees it there if it
     * must (the item is not touched afterwards). loop->stopping tells a loop that is stopping.
     * A batch taken at once runs in order, and while an item runs its next still links the
     * items of the batch not yet run (read-only). */
    void (*run)(struct inbox_item *item, struct event_loop *loop);
};

struct inbox {
    pthread_mutex_t lock;
    struct inbox_item *head, *tail;
    size_t waiting;  /* items in the list */
    size_t reserved; /* places taken by inbox_reserve, not yet posted or given back */
    int event_fd;    /* readable when the list is not empty */
};

/* Creates the eventfd and an empty list. Returns GIM_OK or GIM_ERR_IO. */
int inbox_init(struct inbox *inbox);

/* Closes the eventfd. Items still queued are not touched (drain first). */
void inbox_destroy(struct inbox *inbox);

/* Appends item (still owned by the poster's structure) and wakes the loop if needed. */
void inbox_post(struct inbox *inbox, struct inbox_item *item);

/* Takes a place for one item unless `limit` items are already waiting or reserved: then returns
 * GIM_ERR_AGAIN and takes nothing. GIM_OK obliges the caller to inbox_post_reserved or
 * inbox_unreserve exactly once. Any thread. */
int inbox_reserve(struct inbox *inbox, size_t limit);

/* Gives back a place taken by inbox_reserve (nothing is queued). Any thread. */
void inbox_unreserve(struct inbox *inbox);

/* Queues item (still owned by the poster's structure) in a place taken by inbox_reserve and wakes
 * the loop if needed. Never refuses. Any thread. */
void inbox_post_reserved(struct inbox *inbox, struct inbox_item *item);

/* Loop side: clears the eventfd and returns every queued item in order (NULL if none). */
struct inbox_item *inbox_take_all(struct inbox *inbox);

#endif
