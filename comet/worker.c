/* worker.c: a worker thread's loop, connections, listeners and delivery (see worker.h). */
#include "comet/worker.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "comet/broadcast_pacer.h"
#include "comet/comet.h"
#include "comet/push_job.h"
#include "common/log.h"
#include "common/status.h"

/* A key claimed by a connection on another loop, posted to every other loop. */
struct key_claim;

struct key_claim_item {
    struct inbox_item item;
    struct key_claim *claim;
};

struct key_claim {
    atomic_int references; /* one per loop it was posted to */
    uint64_t sequence;
    char *key;
    struct key_claim_item items[];
};

struct comet_worker *worker_of(struct event_loop *loop)
{
    return loop->hooks.context;
}

long comet_connection_count(const struct comet *comet)
{
    long total = 0;
    int index;

    for (index = 0; index < comet->worker_count; index++)
        total += atomic_load_explicit(&comet->workers[index]->connections.authenticated,
                                      memory_order_relaxed);
    return total;
}

/* ---- push jobs ---------------------------------------------------------------- */

/* Hands one push job to every matching connection of this loop. */
static void worker_run_push_job(struct comet_worker *worker, struct push_job *job)
{
    struct connection_set *set = &worker->connections;
    size_t index;

    switch (job->kind) {
    case PUSH_TO_KEYS:
        for (index = 0; index < job->key_count; index++) {
            struct comet_connection *connection = string_map_get(&set->keys, job->keys[index]);
            if (connection != NULL && connection_watches(connection, job->operation))
                push_job_deliver(job, connection);
        }
        break;
    case PUSH_TO_ROOM: {
        struct room *room = room_find(&set->rooms, job->room);
        struct room_member *member = room ? room->members : NULL, *next;
        /* The room may vanish while we walk it if its last member's write
         * fails; closing only frees that member, so keep `next` first and
         * stop when the room lost its last member. */
        while (member != NULL) {
            bool last = member->next_in_room == NULL;
            next = member->next_in_room;
            push_job_deliver(job, member->connection);
            if (last)
                break;
            member = next;
        }
        break;
    }
    case PUSH_BROADCAST: {
        struct comet_connection *connection = set->live, *next;
        if (job->speed > 0 &&
            pacer_start(worker, job, (double)job->speed / worker->comet->worker_count,
                        worker->loop->now_ms) == GIM_OK)
            break; /* acknowledged now, delivered by pacer_run */
        for (; connection != NULL; connection = next) {
            next = connection->next;
            if (connection->state == CONNECTION_ACTIVE &&
                connection_watches(connection, job->operation))
                push_job_deliver(job, connection);
        }
        break;
    }
    }
}

static void worker_push_job_item(struct inbox_item *item, struct event_loop *loop);

/* True if another push job follows item in the batch the loop is running. Each item is looked
 * at by the nearest push before it only, so a batch costs one walk in all. */
static bool worker_push_follows(const struct inbox_item *item)
{
    for (item = item->next; item != NULL; item = item->next)
        if (item->run == worker_push_job_item)
            return true;
    return false;
}

static void worker_push_job_item(struct inbox_item *item, struct event_loop *loop)
{
    struct push_job *job = ((struct push_job_item *)item)->job;
    struct comet_worker *worker = worker_of(loop);

    if (!loop->stopping && push_job_start(job)) {
        /* Only a later push of this batch (or the write delay) could share a connection's
         * write: the last one (at rest, the only one) writes at once, as it is delivered. */
        worker->connections.push_writes_now = !worker_push_follows(item);
        worker_run_push_job(worker, job);
        worker->connections.push_writes_now = false;
    }
    push_job_loop_done(job); /* the last loop answers the RPC, here on its thread */
    push_job_unref(job);
}

int worker_post_push_job(struct comet *comet, struct push_job *job)
{
    int index, reserved;

    /* a place in every inbox first, so that a full one refuses before anything is queued */
    for (reserved = 0; reserved < comet->worker_count; reserved++) {
        if (event_loop_reserve(comet->workers[reserved]->loop) != GIM_OK)
            break;
    }
    if (reserved < comet->worker_count) {
        for (index = 0; index < reserved; index++)
            event_loop_unreserve(comet->workers[index]->loop);
        return GIM_ERR_AGAIN;
    }
    for (index = 0; index < comet->worker_count; index++) {
        job->items[index].item.run = worker_push_job_item;
        push_job_ref(job);
        event_loop_post_reserved(comet->workers[index]->loop, &job->items[index].item);
    }
    return GIM_OK;
}

/* ---- key claims --------------------------------------------------------------- */

static void key_claim_release(struct key_claim *claim)
{
    if (atomic_fetch_sub_explicit(&claim->references, 1, memory_order_acq_rel) == 1) {
        free(claim->key);
        free(claim);
    }
}

static void worker_key_claim_item(struct inbox_item *item, struct event_loop *loop)
{
    struct key_claim *claim = ((struct key_claim_item *)item)->claim;

    connection_set_apply_claim(&worker_of(loop)->connections, claim->key, claim->sequence);
    key_claim_release(claim);
}

/* The connection set's key_claimed hook: tells the other workers. */
static void worker_claim_key(void *context, const char *key, uint64_t sequence)
{
    struct comet_worker *worker = context;
    struct comet *comet = worker->comet;
    struct key_claim *claim;
    int index;

    if (comet->worker_count < 2)
        return;
    claim = calloc(1, sizeof(*claim) + (size_t)comet->worker_count * sizeof(claim->items[0]));
    if (claim == NULL || (claim->key = strdup(key)) == NULL) {
        free(claim);
        return; /* best effort: an older duplicate on another loop survives */
    }
    claim->sequence = sequence;
    atomic_init(&claim->references, comet->worker_count - 1);
    for (index = 0; index < comet->worker_count; index++) {
        if (comet->workers[index] == worker)
            continue;
        claim->items[index].item.run = worker_key_claim_item;
        claim->items[index].claim = claim;
        event_loop_post(comet->workers[index]->loop, &claim->items[index].item);
    }
}

/* ---- drain -------------------------------------------------------------------- */

static void worker_drain_item(struct inbox_item *item, struct event_loop *loop)
{
    struct comet_worker *worker = worker_of(loop);
    struct comet_connection *connection;

    (void)item;
    comet_listeners_close(&worker->listeners, loop);
    worker->draining = true;
    worker->drain_start_ms = loop->now_ms;
    worker->drain_initial = 0;
    for (connection = worker->connections.live; connection != NULL; connection = connection->next)
        worker->drain_initial++;
    gim_log_info("loop %d: draining %ld connections over %lld ms", worker->index,
                 worker->drain_initial, (long long)worker->drain_period_ms);
}

/*
 * Closes the connections due by now; returns the ms until the next one is due, or -1 when none
 * is left. The k-th of this loop's initial connections (k from 0) is due at
 * period * (k * loops + index) / (initial * loops): the loops' schedules interleave instead of
 * every loop closing its first at once. At the end of the period whatever is left is closed.
 */
static int worker_drain_step(struct comet_worker *worker)
{
    struct connection_set *set = &worker->connections;
    const int64_t loops = worker->comet->worker_count > 0 ? worker->comet->worker_count : 1;
    const int64_t period = worker->drain_period_ms, initial = worker->drain_initial;
    const int64_t now_ms = worker->loop->now_ms;
    int64_t elapsed = now_ms - worker->drain_start_ms, next_due;
    long target;

    if (elapsed >= period)
        target = LONG_MAX;
    else if (elapsed * initial * loops < worker->index * period)
        target = 0;
    else /* how many k satisfy (k * loops + index) * period <= elapsed * initial * loops */
        target =
            (long)((elapsed * initial * loops - worker->index * period) / (period * loops) + 1);
    while (worker->drain_closed < target && set->live != NULL) {
        connection_close_going_away(set->live, CONNECTION_CLOSE_DRAINING);
        worker->drain_closed++;
    }
    if (set->live == NULL) {
        atomic_store(&worker->drained, true);
        return -1;
    }
    if (worker->drain_closed >= initial) /* not expected: only this thread accepted, and it
                                            stopped */
        next_due = worker->drain_start_ms + period;
    else /* ceil, so that the target has grown by then */
        next_due = worker->drain_start_ms +
                   ((worker->drain_closed * loops + worker->index) * period + initial * loops - 1) /
                       (initial * loops);
    return next_due > now_ms ? (int)(next_due - now_ms) : 0;
}

/* ---- the loop's hooks --------------------------------------------------------- */

static void worker_timer_expired(struct timer_entry *entry, void *context)
{
    (void)context;
    connection_deadline_expired(entry); /* every entry of the wheel is a connection's */
}

static int worker_before_wait(void *context)
{
    struct comet_worker *worker = context;
    int timeout = comet_listeners_resume(&worker->listeners, worker->loop), flush_wait;

    if (worker->paced != NULL) {
        int pacer_wait = pacer_run(worker, worker->loop->now_ms);
        if (pacer_wait >= 0 && (timeout < 0 || pacer_wait < timeout))
            timeout = pacer_wait;
    }
    if (worker->draining) {
        int drain_wait = worker_drain_step(worker);
        if (drain_wait >= 0 && (timeout < 0 || drain_wait < timeout))
            timeout = drain_wait;
    }
    /* last: the pushes queued by this iteration, the pacer and the drain share one write */
    flush_wait = connection_set_flush_pending(&worker->connections);
    if (flush_wait >= 0 && (timeout < 0 || flush_wait < timeout))
        timeout = flush_wait;
    return timeout;
}

static void worker_after_iteration(void *context)
{
    struct comet_worker *worker = context;

    connection_set_reap(&worker->connections);
}

static void worker_stopped(void *context)
{
    struct comet_worker *worker = context;

    comet_listeners_close(&worker->listeners, worker->loop);
    connection_set_close_all(&worker->connections, CONNECTION_CLOSE_SHUTDOWN);
    pacer_clear(worker);
}

/* ---- life --------------------------------------------------------------------- */

int worker_create(struct comet_worker **out, struct comet *comet, int index)
{
    struct comet_worker *worker = calloc(1, sizeof(*worker));
    struct event_loop_hooks hooks = {0};
    int status;

    *out = NULL;
    if (worker == NULL)
        return GIM_ERR_NO_MEMORY;
    worker->comet = comet;
    worker->index = index;
    atomic_init(&worker->drained, false);
    worker->drain_item.run = worker_drain_item;
    hooks.context = worker;
    hooks.timer_expired = worker_timer_expired;
    hooks.before_wait = worker_before_wait;
    hooks.after_iteration = worker_after_iteration;
    hooks.stopped = worker_stopped;
    status = event_loop_create(&worker->loop, index, &hooks);
    if (status != GIM_OK) {
        free(worker);
        return status;
    }
    connection_set_init(&worker->connections, worker->loop, comet);
    worker->connections.key_claimed = worker_claim_key;
    worker->connections.key_claimed_context = worker;
    status = comet_listeners_open(&worker->listeners, &worker->connections);
    if (status != GIM_OK) {
        worker_destroy(worker);
        return status;
    }
    *out = worker;
    return GIM_OK;
}

int worker_start(struct comet_worker *worker)
{
    return event_loop_start(worker->loop);
}

void worker_stop(struct comet_worker *worker)
{
    event_loop_stop(worker->loop);
}

void worker_drain(struct comet_worker *worker, int64_t period_ms)
{
    worker->drain_period_ms = period_ms > 0 ? period_ms : 1;
    event_loop_post(worker->loop, &worker->drain_item); /* the inbox's lock publishes it */
}

bool worker_drained(struct comet_worker *worker)
{
    return atomic_load(&worker->drained);
}

void worker_join(struct comet_worker *worker)
{
    event_loop_join(worker->loop);
}

void worker_destroy(struct comet_worker *worker)
{
    if (worker == NULL)
        return;
    comet_listeners_free(&worker->listeners, worker->loop);
    event_loop_destroy(worker->loop); /* runs what is left, then closes and reaps everything */
    connection_set_destroy(&worker->connections);
    free(worker);
}
