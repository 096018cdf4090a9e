/* inbox.c: the loop's inbound queue with an eventfd wake-up (see inbox.h). */
#include "comet/inbox.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/status.h"

int inbox_init(struct inbox *inbox)
{
    inbox->head = inbox->tail = NULL;
    inbox->waiting = 0;
    inbox->reserved = 0;
    inbox->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (inbox->event_fd < 0)
        return GIM_ERR_IO;
    pthread_mutex_init(&inbox->lock, NULL);
    return GIM_OK;
}

void inbox_destroy(struct inbox *inbox)
{
    if (inbox->event_fd >= 0) {
        close(inbox->event_fd);
        pthread_mutex_destroy(&inbox->lock);
    }
    inbox->event_fd = -1;
}

static void inbox_wake(struct inbox *inbox)
{
    uint64_t one = 1;
    /* Only fails with EAGAIN when the counter is saturated: still readable. */
    if (write(inbox->event_fd, &one, sizeof(one)) < 0) {
    }
}

/* Appends item; the caller holds the lock. Returns true if the list was empty (wake the loop). */
static bool inbox_append_locked(struct inbox *inbox, struct inbox_item *item)
{
    bool was_empty = inbox->head == NULL;

    item->next = NULL;
    if (was_empty)
        inbox->head = item;
    else
        inbox->tail->next = item;
    inbox->tail = item;
    inbox->waiting++;
    return was_empty;
}

void inbox_post(struct inbox *inbox, struct inbox_item *item)
{
    bool was_empty;

    pthread_mutex_lock(&inbox->lock);
    was_empty = inbox_append_locked(inbox, item);
    pthread_mutex_unlock(&inbox->lock);
    if (was_empty)
        inbox_wake(inbox);
}

int inbox_reserve(struct inbox *inbox, size_t limit)
{
    int status = GIM_OK;

    pthread_mutex_lock(&inbox->lock);
    if (inbox->waiting + inbox->reserved >= limit)
        status = GIM_ERR_AGAIN;
    else
        inbox->reserved++;
    pthread_mutex_unlock(&inbox->lock);
    return status;
}

void inbox_unreserve(struct inbox *inbox)
{
    pthread_mutex_lock(&inbox->lock);
    inbox->reserved--;
    pthread_mutex_unlock(&inbox->lock);
}

void inbox_post_reserved(struct inbox *inbox, struct inbox_item *item)
{
    bool was_empty;

    pthread_mutex_lock(&inbox->lock);
    inbox->reserved--;
    was_empty = inbox_append_locked(inbox, item);
    pthread_mutex_unlock(&inbox->lock);
    if (was_empty)
        inbox_wake(inbox);
}

struct inbox_item *inbox_take_all(struct inbox *inbox)
{
    struct inbox_item *list;
    uint64_t count;

    /* Read the eventfd before taking the list: a post after the take sees an
     * empty list and signals again, so no item is left without a wake-up. */
    if (read(inbox->event_fd, &count, sizeof(count)) < 0) {
    }
    pthread_mutex_lock(&inbox->lock);
    list = inbox->head;
    inbox->head = inbox->tail = NULL;
    inbox->waiting = 0;
    pthread_mutex_unlock(&inbox->lock);
    return list;
}
