/* deadline_queue.c: equal-delay deadlines kept by one thread (see deadline_queue.h). */
#include "comet/deadline_queue.h"

#include <time.h>

#include "common/clock.h"
#include "common/status.h"

int deadline_queue_init(struct deadline_queue *queue, int64_t delay_ms, deadline_expired_fn expired,
                        void *context)
{
    *queue = (struct deadline_queue){.delay_ms = delay_ms, .expired = expired, .context = context};
    if (gim_cond_init_monotonic(&queue->wake) != GIM_OK)
        return GIM_ERR_NO_MEMORY;
    if (pthread_mutex_init(&queue->lock, NULL) != 0) {
        pthread_cond_destroy(&queue->wake);
        return GIM_ERR_NO_MEMORY;
    }
    return GIM_OK;
}

/* Unlinks entry (queued), under lock. */
static void deadline_unlink_locked(struct deadline_queue *queue, struct deadline_entry *entry)
{
    if (entry->prev != NULL)
        entry->prev->next = entry->next;
    else
        queue->head = entry->next;
    if (entry->next != NULL)
        entry->next->prev = entry->prev;
    else
        queue->tail = entry->prev;
    entry->prev = entry->next = NULL;
    entry->queued = false;
}

void deadline_queue_add(struct deadline_queue *queue, struct deadline_entry *entry, int64_t now_ms)
{
    int64_t due_ms = now_ms + queue->delay_ms;
    bool wake;

    pthread_mutex_lock(&queue->lock);
    if (queue->tail != NULL && queue->tail->due_ms > due_ms)
        due_ms = queue->tail->due_ms; /* another thread's clock read was a little later */
    entry->due_ms = due_ms;
    entry->next = NULL;
    entry->prev = queue->tail;
    if (queue->tail != NULL)
        queue->tail->next = entry;
    else
        queue->head = entry;
    queue->tail = entry;
    entry->queued = true;
    wake = queue->idle;
    queue->idle = false;
    if (wake)
        pthread_cond_signal(&queue->wake);
    pthread_mutex_unlock(&queue->lock);
}

bool deadline_queue_remove(struct deadline_queue *queue, struct deadline_entry *entry)
{
    bool queued;

    pthread_mutex_lock(&queue->lock);
    queued = entry->queued;
    if (queued)
        deadline_unlink_locked(queue, entry);
    pthread_mutex_unlock(&queue->lock);
    return queued;
}

int64_t deadline_queue_expire_due(struct deadline_queue *queue, int64_t now_ms)
{
    int64_t wait_ms;

    for (;;) {
        struct deadline_entry *entry;

        pthread_mutex_lock(&queue->lock);
        entry = queue->head;
        if (entry == NULL || entry->due_ms > now_ms) {
            wait_ms = entry != NULL ? entry->due_ms - now_ms : -1;
            pthread_mutex_unlock(&queue->lock);
            return wait_ms;
        }
        deadline_unlink_locked(queue, entry);
        pthread_mutex_unlock(&queue->lock);
        queue->expired(entry, queue->context); /* the entry is the callback's now */
    }
}

static void *deadline_queue_thread(void *argument)
{
    struct deadline_queue *queue = argument;

    for (;;) {
        int64_t now_ms = gim_monotonic_ms();
        int64_t wait_ms = deadline_queue_expire_due(queue, now_ms);

        pthread_mutex_lock(&queue->lock);
        if (queue->stopping) {
            pthread_mutex_unlock(&queue->lock);
            return NULL;
        }
        if (queue->head == NULL) {
            queue->idle = true; /* the next add wakes this thread */
            pthread_cond_wait(&queue->wake, &queue->lock);
        } else if (wait_ms > 0 && queue->head->due_ms > now_ms) {
            struct timespec deadline;
            gim_deadline_at_ms(&deadline, queue->head->due_ms);
            pthread_cond_timedwait(&queue->wake, &queue->lock, &deadline);
        }
        queue->idle = false;
        pthread_mutex_unlock(&queue->lock);
    }
}

int deadline_queue_start(struct deadline_queue *queue)
{
    if (pthread_create(&queue->thread, NULL, deadline_queue_thread, queue) != 0)
        return GIM_ERR_IO;
    queue->thread_started = true;
    return GIM_OK;
}

void deadline_queue_stop(struct deadline_queue *queue)
{
    if (!queue->thread_started)
        return;
    pthread_mutex_lock(&queue->lock);
    queue->stopping = true;
    pthread_cond_signal(&queue->wake);
    pthread_mutex_unlock(&queue->lock);
    pthread_join(queue->thread, NULL);
    queue->thread_started = false;
}

void deadline_queue_destroy(struct deadline_queue *queue)
{
    deadline_queue_stop(queue);
    pthread_cond_destroy(&queue->wake);
    pthread_mutex_destroy(&queue->lock);
}
