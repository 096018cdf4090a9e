/*
 * event_loop.h: one worker thread's epoll loop (layer 1 of comet, see docs/internals.md).
 *
 * The loop knows file descriptors, deadlines and inbox items, nothing of what
 * they belong to: every registered fd is a struct loop_handle that carries the
 * function called for its events, every inbox item (inbox.h) the function
 * called to run it, and the timer wheel's expiries and the loop's own phases
 * (before waiting, after each iteration, on stop) go to the hooks given at
 * creation. Whoever creates the loop (comet/worker.h) owns what those hooks
 * and handles point at. Other threads reach a loop only through its inbox.
 * No blocking call is ever made on a loop thread.
 */
#ifndef COMET_EVENT_LOOP_H
#define COMET_EVENT_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "comet/inbox.h"
#include "comet/timer_wheel.h"

/* What an epoll registration points at; embed it in the owner (first member or container_of). */
struct loop_handle {
    /* called on the loop thread with the epoll events of fd */
    void (*on_events)(struct loop_handle *handle, uint32_t events);
    int fd;
};

/* Calls up from the loop, set at creation; context is handed back to each. Any may be NULL. */
struct event_loop_hooks {
    void *context;
    /* a deadline of the loop's wheel fell due (the entry is disarmed already) */
    void (*timer_expired)(struct timer_entry *entry, void *context);
    /* before each wait: returns the ms until it wants to run again, or -1 for no wish */
    int (*before_wait)(void *context);
    /* after each iteration's events and deadlines: a safe point to free what closed */
    void (*after_iteration)(void *context);
    /* the loop stops (its thread ends, or event_loop_destroy without a thread): close all */
    void (*stopped)(void *context);
};

/* Pushes and other items allowed to wait or be reserved in one inbox (event_loop_reserve). */
#define LOOP_MAX_WAITING_JOBS 4096

/* Read scratch: one per loop; a connection keeps only an unfinished frame. */
#define LOOP_SCRATCH_SIZE (64 * 1024)

struct event_loop {
    int index;
    pthread_t thread;
    bool thread_started;
    int epoll_fd;
    struct inbox inbox;
    struct loop_handle inbox_handle;
    struct inbox_item stop_item;
    bool stopping; /* a stop was asked: items still run, but should deliver nothing new */
    struct timer_wheel wheel;
    int64_t now_ms; /* monotonic clock, read once per iteration */
    uint8_t *scratch;
    struct event_loop_hooks hooks;
};

/*
 * Creates loop number index (epoll, inbox, wheel, scratch) with hooks (copied).
 * On GIM_OK *loop is the caller's (event_loop_destroy). Returns GIM_ERR_IO or GIM_ERR_NO_MEMORY.
 */
int event_loop_create(struct event_loop **loop, int index, const struct event_loop_hooks *hooks);

/* Registers handle->fd for events (EPOLLIN, EPOLLOUT); the loop calls handle->on_events.
 * Returns GIM_OK or GIM_ERR_IO. */
int event_loop_watch(struct event_loop *loop, struct loop_handle *handle, uint32_t events);

/* Changes the events watched for handle (logged on failure). */
void event_loop_modify(struct event_loop *loop, struct loop_handle *handle, uint32_t events);

/* Stops watching handle->fd (it stays open: the caller closes it). */
void event_loop_forget(struct event_loop *loop, struct loop_handle *handle);

/*
 * Runs one iteration on the calling thread: waits for events at most until
 * the next deadline (wheel, hooks.before_wait) and at most max_wait_ms (-1:
 * no extra bound), then calls the ready handles, the inbox items and the
 * expired deadlines, then hooks.after_iteration. The loop's thread calls it
 * until the loop stops; a harness without the thread (tests/fuzz) drives
 * the loop with it instead. Returns GIM_OK, or GIM_ERR_IO when epoll fails.
 */
int event_loop_run_once(struct event_loop *loop, int max_wait_ms);

/* Starts the loop's thread (event_loop_run_once until stopped, then hooks.stopped and
 * hooks.after_iteration). Returns GIM_OK or GIM_ERR_IO. */
int event_loop_start(struct event_loop *loop);

/* Asks the loop to stop (any thread); its thread returns after hooks.stopped. */
void event_loop_stop(struct event_loop *loop);

/* Waits for the loop's thread to return. */
void event_loop_join(struct event_loop *loop);

/*
 * Releases the loop. Call after event_loop_join and once no other thread can
 * post any more: items still in the inbox are run here (loop->stopping set),
 * then hooks.stopped and hooks.after_iteration. NULL is ignored.
 */
void event_loop_destroy(struct event_loop *loop);

/* Takes a place in the inbox (inbox_reserve) unless LOOP_MAX_WAITING_JOBS items already wait or
 * are reserved: then GIM_ERR_AGAIN. GIM_OK obliges the caller to event_loop_post_reserved or
 * event_loop_unreserve once. Any thread. */
int event_loop_reserve(struct event_loop *loop);

/* Gives back a place taken by event_loop_reserve. Any thread. */
void event_loop_unreserve(struct event_loop *loop);

/* Posts an item in a place taken by event_loop_reserve; never refuses. Any thread. */
void event_loop_post_reserved(struct event_loop *loop, struct inbox_item *item);

/* Posts an item that is bounded elsewhere (see inbox.h). Any thread. */
void event_loop_post(struct event_loop *loop, struct inbox_item *item);

#endif
