/*
 * event_loop.h: one worker thread's epoll loop and everything it owns.
 *
 * Each loop owns its client connections outright: its listeners (one
 * SO_REUSEPORT socket per tcp.bind / websocket.bind / websocket.tlsBind
 * address per loop, so the kernel spreads
 * new connections over the loops and no hand-off is needed), its key ->
 * connection index, its room index, its timer wheel and a read scratch
 * buffer. Other threads reach a loop only through its inbox (inbox.h):
 * auth results from nng threads, push jobs from RPC workers, key claims
 * from other loops, and the stop request. No blocking call is ever made on
 * a loop thread; calls to logic are asynchronous.
 *
 * Closed connections are not freed where they close: they go to a reap list
 * freed at the end of the loop iteration (or when their last in-flight
 * reference returns), so no object is freed inside its own callback.
 */
#ifndef COMET_EVENT_LOOP_H
#define COMET_EVENT_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "comet/inbox.h"
#include "comet/metrics.h"
#include "comet/room.h"
#include "comet/string_map.h"
#include "comet/timer_wheel.h"

struct comet;
struct comet_connection;
struct paced_broadcast;

/* What an epoll registration points at: the first member of its owner. */
enum loop_handle_type { HANDLE_LISTENER, HANDLE_INBOX, HANDLE_CONNECTION };

struct loop_handle {
    enum loop_handle_type type;
    int fd;
};

/* A listening socket; what it accepts is an enum listener_kind (connection.h). */
struct loop_listener {
    struct loop_handle handle; /* first: epoll data points here */
    int kind;
};

/* Inbox item kinds handled by the loop. */
enum loop_item_kind {
    LOOP_ITEM_STOP,
    LOOP_ITEM_AUTH_DONE,
    LOOP_ITEM_PUSH_JOB,
    LOOP_ITEM_KEY_CLAIM,
    LOOP_ITEM_DRAIN
};

/* Push jobs allowed to wait in one inbox; beyond it the RPC answers "busy". */
#define LOOP_MAX_WAITING_JOBS 4096

/* Read scratch: one per loop; a connection keeps only an unfinished frame. */
#define LOOP_SCRATCH_SIZE (64 * 1024)

struct event_loop {
    struct comet *comet;
    int index;
    pthread_t thread;
    bool thread_started;
    int epoll_fd;
    struct loop_listener *listeners; /* tcp.bind, websocket.bind, websocket.tlsBind */
    int listener_count;
    struct inbox inbox;
    struct loop_handle inbox_handle;
    struct inbox_item stop_item;
    bool stopping;
    struct inbox_item drain_item;
    /* draining (event_loop_drain): no listener; connections closed spread over the period */
    bool draining;
    int64_t drain_start_ms, drain_period_ms;
    long drain_initial, drain_closed;
    atomic_bool drained; /* draining and no connection left (read by main) */

    struct string_map keys; /* connection key -> authenticated connection */
    struct room_index rooms;
    struct timer_wheel wheel;
    int64_t now_ms;                /* monotonic clock, read once per iteration */
    struct comet_connection *live; /* every open connection (doubly linked) */
    struct comet_connection *reap; /* closed, waiting to be released */
    uint8_t *scratch;
    struct paced_broadcast *paced; /* broadcasts delivered at a speed (broadcast_pacer.h) */
    int paced_count;

    atomic_long authenticated;    /* read by the operations thread */
    atomic_ullong dropped_pushes; /* pushes refused by a full connection output */
    /* this thread's events, summed when /metrics is scraped (metrics.h) */
    struct comet_loop_counters counters;
};

/*
 * Creates loop number index: epoll, inbox, listeners on every tcp.bind,
 * websocket.bind and (websocket.tlsOpen) websocket.tlsBind address. On GIM_OK *loop is the caller's
 * (event_loop_destroy). Returns GIM_ERR_IO (a listener cannot bind; logged) or GIM_ERR_NO_MEMORY.
 */
int event_loop_create(struct event_loop **loop, struct comet *comet, int index);

/*
 * Runs one iteration of the loop on the calling thread: waits for events at
 * most until the next deadline (timer wheel, paced broadcast) and at most
 * max_wait_ms (-1: no extra bound), then handles ready sockets, inbox items
 * and expired deadlines, and releases connections closed meanwhile. The
 * loop's thread calls it until the loop stops; a harness that never starts
 * the thread (tests/fuzz) drives the loop with it instead. Returns GIM_OK,
 * or GIM_ERR_IO when epoll fails (logged).
 */
int event_loop_run_once(struct event_loop *loop, int max_wait_ms);

/* Starts the loop's thread (which runs event_loop_run_once until stopped). Returns GIM_OK or
 * GIM_ERR_IO. */
int event_loop_start(struct event_loop *loop);

/*
 * Asks the loop to stop: it closes its listeners and every connection
 * (logic Disconnect sent for authenticated ones), then its thread returns.
 */
void event_loop_stop(struct event_loop *loop);

/*
 * Asks the loop to drain (main thread, once): it closes its listeners, then
 * closes the connections it holds at that moment spread evenly over
 * period_ms (the first at once), delivering pushes to the others meanwhile.
 * event_loop_drained tells when none is left.
 */
void event_loop_drain(struct event_loop *loop, int64_t period_ms);

/* True once a draining loop holds no connection. Any thread. */
bool event_loop_drained(struct event_loop *loop);

/* Waits for the loop's thread to return. */
void event_loop_join(struct event_loop *loop);

/*
 * Releases everything the loop owns. Call after event_loop_join and after
 * the logic client is closed (so no auth completion can still arrive):
 * items still in the inbox are completed and released here.
 */
void event_loop_destroy(struct event_loop *loop);

/* Posts a push job item; GIM_ERR_AGAIN if LOOP_MAX_WAITING_JOBS are already waiting. */
int event_loop_post_job(struct event_loop *loop, struct inbox_item *item);

/* Posts an item that is bounded elsewhere (see inbox.h). Any thread. */
void event_loop_post(struct event_loop *loop, struct inbox_item *item);

/* Loop thread: tells the other loops that key now belongs to a connection authenticated
 * with sequence `sequence`; they close older connections with that key. */
void event_loop_claim_key(struct event_loop *loop, const char *key, uint64_t sequence);

/* Loop thread: puts a closed connection on the reap list (called by connection_close). */
void event_loop_defer_release(struct event_loop *loop, struct comet_connection *connection);

#endif
