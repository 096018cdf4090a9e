/*
 * deadline_queue.h: deadlines that are all the same delay away, kept by one thread of their own.
 *
 * comet's push RPCs answer from the loop that delivers a push last (rpc_service.h), so nothing
 * waits for the loops; what a waiting RPC worker used to do at rpcServer.timeout (cancel a push
 * no loop has started, push_job.h) is done here instead, off every loop and every RPC worker.
 * Every entry is due `delay_ms` after it is added, so the entries are due in the order they are
 * added: the queue is a FIFO (adding and removing are O(1), under one mutex) and the thread
 * sleeps until the head is due. The entries are intrusive (embedded in their owner), so the
 * queue allocates nothing and bounds nothing: it holds what its owners added and have not
 * removed (comet's push jobs, each bounded by the loops' inboxes and the RPC exchanges).
 *
 * The thread is woken by an add only when it sleeps with nothing queued (an add to a queue whose
 * head it already waits for needs no wake-up), so a stream of pushes costs it nothing but the
 * mutex.
 */
#ifndef COMET_DEADLINE_QUEUE_H
#define COMET_DEADLINE_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct deadline_entry {
    struct deadline_entry *prev, *next; /* in the queue, under its lock */
    int64_t due_ms;                     /* monotonic milliseconds */
    bool queued;                        /* under the queue's lock */
};

/*
 * What the queue calls for an entry that fell due, on the queue's thread (or on the thread of
 * deadline_queue_expire_due), without the queue's lock and after taking the entry out of the
 * queue: the entry is the callback's (its owner's) from then on. It must not block.
 */
typedef void (*deadline_expired_fn)(struct deadline_entry *entry, void *context);

struct deadline_queue {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* monotonic */
    struct deadline_entry *head, *tail;
    int64_t delay_ms;
    deadline_expired_fn expired;
    void *context;
    bool idle;     /* the thread sleeps with nothing queued: the next add wakes it */
    bool stopping; /* under lock */
    bool thread_started;
    pthread_t thread;
};

/* Prepares an empty queue whose entries fall due delay_ms after they are added, each passed to
 * expired(entry, context). No thread yet (deadline_queue_start). Returns GIM_OK or
 * GIM_ERR_NO_MEMORY. */
int deadline_queue_init(struct deadline_queue *queue, int64_t delay_ms, deadline_expired_fn expired,
                        void *context);

/* Starts the queue's thread, which expires each entry when it falls due. Returns GIM_OK or
 * GIM_ERR_IO. */
int deadline_queue_start(struct deadline_queue *queue);

/* Stops and joins the thread (entries still queued stay queued, never expired). Any thread but
 * the queue's own; no-op without a thread. */
void deadline_queue_stop(struct deadline_queue *queue);

/* Releases the queue (stopped first). Entries still queued are left to their owners. */
void deadline_queue_destroy(struct deadline_queue *queue);

/* Queues entry (not queued now; it stays the caller's memory), due delay_ms after now_ms, and
 * never before the entry queued last (the FIFO stays in order). Any thread. */
void deadline_queue_add(struct deadline_queue *queue, struct deadline_entry *entry, int64_t now_ms);

/* Takes entry out of the queue if it is still there. Returns true if it was (it will not
 * expire), false if it was not queued (never added, removed already, or taken by the thread to
 * expire: its callback runs or has run). Any thread. */
bool deadline_queue_remove(struct deadline_queue *queue, struct deadline_entry *entry);

/* Expires every entry due at or before now_ms (what the thread does). Returns the milliseconds
 * from now_ms until the next entry is due, or -1 when none is queued. Any thread (a harness
 * without the thread drives the queue with it). */
int64_t deadline_queue_expire_due(struct deadline_queue *queue, int64_t now_ms);

#endif
