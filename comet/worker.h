/*
 * worker.h: one comet worker thread: its loop and what runs on it (layer 5 of comet, delivery).
 *
 * A worker owns an event loop (layer 1), that loop's connections (layer 2,
 * with the key and room indexes), its listeners, and the delivery state:
 * push jobs from the RPC workers (run here against the indexes), paced
 * broadcasts (broadcast_pacer.h), key claims between loops (same-key
 * replacement) and the drain. It gives the loop its hooks (deadlines go to
 * the connections, the safe point reaps them, stop closes everything) and
 * each inbox item its function. Other threads reach it only through
 * worker_post_push_job, worker_stop, worker_drain and the atomics it exposes.
 */
#ifndef COMET_WORKER_H
#define COMET_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "comet/connection.h"
#include "comet/event_loop.h"
#include "comet/listener.h"

struct comet;
struct paced_broadcast;
struct push_job;

struct comet_worker {
    struct comet *comet;
    int index;
    struct event_loop *loop;
    struct connection_set connections;
    struct comet_listeners listeners;
    struct paced_broadcast *paced; /* broadcasts delivered at a speed (broadcast_pacer.h) */
    int paced_count;
    struct inbox_item drain_item;
    /* draining (worker_drain): no listener; connections closed spread over the period */
    bool draining;
    int64_t drain_start_ms, drain_period_ms;
    long drain_initial, drain_closed;
    atomic_bool drained; /* draining and no connection left (read by main) */
};

/*
 * Creates worker number index of comet: its loop, connection set and
 * listeners on every configured address. On GIM_OK *worker is the caller's
 * (worker_destroy). Returns GIM_ERR_IO (a listener cannot bind; logged) or
 * GIM_ERR_NO_MEMORY.
 */
int worker_create(struct comet_worker **worker, struct comet *comet, int index);

/* Starts the worker's thread. Returns GIM_OK or GIM_ERR_IO. */
int worker_start(struct comet_worker *worker);

/* Asks the worker to stop: it closes its listeners and every connection (logic Disconnect
 * sent for authenticated goim ones), then its thread returns. Any thread. */
void worker_stop(struct comet_worker *worker);

/*
 * Asks the worker to drain (main thread, once): it closes its listeners, then
 * closes the connections it holds at that moment spread evenly over
 * period_ms (the first at once), delivering pushes to the others meanwhile.
 * worker_drained tells when none is left.
 */
void worker_drain(struct comet_worker *worker, int64_t period_ms);

/* True once a draining worker holds no connection. Any thread. */
bool worker_drained(struct comet_worker *worker);

/* Waits for the worker's thread to return. */
void worker_join(struct comet_worker *worker);

/*
 * Releases everything the worker owns. Call after worker_join and after the
 * logic client is closed (so no auth completion can still arrive): items
 * still in the inbox are completed and released here. NULL is ignored.
 */
void worker_destroy(struct comet_worker *worker);

/*
 * Posts job (made for comet->worker_count loops) to every worker of comet, or to none: a place
 * is reserved in each loop's inbox first, and if one already holds LOOP_MAX_WAITING_JOBS items
 * (waiting or reserved) the places taken are given back and nothing is queued anywhere. On GIM_OK
 * each loop holds one more reference to job and runs job->items[its index] once (push_job_start,
 * then delivery, then push_job_loop_done: the last loop answers). Returns GIM_OK or
 * GIM_ERR_AGAIN (the caller answers the job). Any thread.
 */
int worker_post_push_job(struct comet *comet, struct push_job *job);

/* Sum of authenticated connections over every worker of comet. Any thread. */
long comet_connection_count(const struct comet *comet);

/* The worker of a loop created by worker_create. */
struct comet_worker *worker_of(struct event_loop *loop);

#endif
