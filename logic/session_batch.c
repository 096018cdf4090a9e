/* session_batch.c: session lookups of concurrent pushes and session writes of concurrent Connects
 * in one pipeline (see session_batch.h). */
#include "logic/session_batch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/status.h"
#include "logic/redis_pool.h"

/* One queued job: a lookup (its mids follow the struct) or a session write (key != NULL; its
 * key and server strings follow the struct). */
struct session_lookup {
    struct session_lookup *next;
    session_batch_fn done;            /* a lookup's */
    session_batch_written_fn written; /* a write's */
    void *user;
    int status;
    struct session_routes routes;
    size_t count; /* mids; a write counts one */
    char *key, *server;
    int64_t mid, expire_seconds;
    int appended; /* commands a write queued */
    int64_t mids[];
};

struct session_batch {
    struct redis_pool *pool;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t queued;
    struct session_lookup *head, *tail; /* FIFO, guarded by lock */
    size_t queued_count;
    bool round_running;  /* one round at a time, on the thread or on a caller */
    int64_t last_job_us; /* when the previous job was submitted (gim_monotonic_us) */
    bool stopping;
};

/*
 * One round over lookups (a list of at most SESSION_BATCH_ROUND_MIDS mids):
 * every HGETALL appended, then every reply read, in order. After a failed
 * append nothing more is appended: the connection is gone with what was
 * queued, so every lookup of the round fails.
 */
static void session_batch_round(struct session_batch *batch, struct session_lookup *lookups)
{
    struct gim_redis *redis = redis_pool_acquire(batch->pool);
    struct session_lookup *lookup;
    int status = redis == NULL ? GIM_ERR_NO_MEMORY : GIM_OK;

    for (lookup = lookups; lookup != NULL && status == GIM_OK; lookup = lookup->next) {
        if (lookup->key != NULL)
            status = session_add_append(redis, lookup->mid, lookup->key, lookup->server,
                                        lookup->expire_seconds, &lookup->appended);
        else
            status = session_mids_append(redis, lookup->mids, lookup->count);
    }
    for (lookup = lookups; lookup != NULL; lookup = lookup->next) {
        if (status != GIM_OK)
            lookup->status = status;
        else if (lookup->key != NULL)
            lookup->status = session_add_read(redis, lookup->appended);
        else
            lookup->status = session_mids_read(redis, lookup->count, &lookup->routes);
    }
    redis_pool_release(batch->pool, redis);
    while (lookups != NULL) {
        lookup = lookups;
        lookups = lookup->next;
        if (lookup->key != NULL)
            lookup->written(lookup->user, lookup->status);
        else
            lookup->done(lookup->user, lookup->status, &lookup->routes);
        session_routes_free(&lookup->routes);
        free(lookup);
    }
}

static void *session_batch_loop(void *argument)
{
    struct session_batch *batch = argument;

    pthread_setname_np(pthread_self(), "logic-sessions");
    pthread_mutex_lock(&batch->lock);
    for (;;) {
        struct session_lookup *round, *last;
        size_t mids;

        while (!batch->stopping && (batch->head == NULL || batch->round_running))
            pthread_cond_wait(&batch->queued, &batch->lock);
        if (batch->round_running) { /* stopping: a caller's round ends first, then signals */
            pthread_cond_wait(&batch->queued, &batch->lock);
            continue;
        }
        if (batch->head == NULL)
            break; /* stopping, and nothing is left */
        /* Take lookups up to the round's bound (always at least one). */
        round = last = batch->head;
        mids = last->count;
        batch->queued_count--;
        while (last->next != NULL && mids + last->next->count <= SESSION_BATCH_ROUND_MIDS) {
            last = last->next;
            mids += last->count;
            batch->queued_count--;
        }
        batch->head = last->next;
        if (batch->head == NULL)
            batch->tail = NULL;
        last->next = NULL;
        batch->round_running = true;
        pthread_mutex_unlock(&batch->lock);
        session_batch_round(batch, round);
        pthread_mutex_lock(&batch->lock);
        batch->round_running = false;
    }
    pthread_mutex_unlock(&batch->lock);
    return NULL;
}

int session_batch_create(struct session_batch **out, struct redis_pool *pool)
{
    struct session_batch *batch = calloc(1, sizeof(*batch));

    *out = NULL;
    if (batch == NULL)
        return GIM_ERR_NO_MEMORY;
    batch->pool = pool;
    pthread_mutex_init(&batch->lock, NULL);
    pthread_cond_init(&batch->queued, NULL);
    if (pthread_create(&batch->thread, NULL, session_batch_loop, batch) != 0) {
        pthread_cond_destroy(&batch->queued);
        pthread_mutex_destroy(&batch->lock);
        free(batch);
        return GIM_ERR_NO_MEMORY;
    }
    *out = batch;
    return GIM_OK;
}

/* Queues lookup (a new job), or runs it at once when nothing runs or waits and the previous job
 * came long enough before (at rest, session_batch.h). Returns GIM_OK, or
 * GIM_ERR_AGAIN after freeing it (the queue full, or the batch stopping). */
static int session_batch_submit(struct session_batch *batch, struct session_lookup *lookup)
{
    int64_t now = gim_monotonic_us();
    bool was_empty, at_rest;

    pthread_mutex_lock(&batch->lock);
    if (batch->stopping || batch->queued_count >= SESSION_BATCH_MAX_QUEUED) {
        pthread_mutex_unlock(&batch->lock);
        free(lookup); /* bound: the caller looks this one up itself */
        return GIM_ERR_AGAIN;
    }
    at_rest = now - batch->last_job_us >= SESSION_BATCH_REST_GAP_US;
    batch->last_job_us = now;
    if (at_rest && !batch->round_running && batch->head == NULL) {
        /* Nothing runs or waits: look up at once on this thread, no hand-off (at rest). */
        batch->round_running = true;
        pthread_mutex_unlock(&batch->lock);
        session_batch_round(batch, lookup);
        pthread_mutex_lock(&batch->lock);
        batch->round_running = false;
        pthread_cond_signal(&batch->queued); /* lookups that queued meanwhile go to the thread */
        pthread_mutex_unlock(&batch->lock);
        return GIM_OK;
    }
    was_empty = batch->head == NULL;
    if (batch->tail != NULL)
        batch->tail->next = lookup;
    else
        batch->head = lookup;
    batch->tail = lookup;
    batch->queued_count++;
    if (was_empty) /* the thread sleeps only on an empty queue */
        pthread_cond_signal(&batch->queued);
    pthread_mutex_unlock(&batch->lock);
    return GIM_OK;
}

int session_batch_lookup_mids(struct session_batch *batch, const int64_t *mids, size_t count,
                              session_batch_fn done, void *user)
{
    struct session_lookup *lookup;

    if (count == 0 || count > SESSION_BATCH_MAX_MIDS)
        return GIM_ERR_AGAIN;
    lookup = malloc(sizeof(*lookup) + count * sizeof(lookup->mids[0]));
    if (lookup == NULL)
        return GIM_ERR_NO_MEMORY;
    memset(lookup, 0, sizeof(*lookup));
    lookup->done = done;
    lookup->user = user;
    lookup->count = count;
    memcpy(lookup->mids, mids, count * sizeof(mids[0]));
    return session_batch_submit(batch, lookup);
}

int session_batch_add(struct session_batch *batch, int64_t mid, const char *key, const char *server,
                      int64_t expire_seconds, session_batch_written_fn written, void *user)
{
    size_t key_size = strlen(key) + 1, server_size = strlen(server) + 1;
    struct session_lookup *lookup = malloc(sizeof(*lookup) + key_size + server_size);

    if (lookup == NULL)
        return GIM_ERR_NO_MEMORY;
    memset(lookup, 0, sizeof(*lookup));
    lookup->written = written;
    lookup->user = user;
    lookup->count = 1;
    lookup->key = (char *)(lookup + 1);
    lookup->server = lookup->key + key_size;
    memcpy(lookup->key, key, key_size);
    memcpy(lookup->server, server, server_size);
    lookup->mid = mid;
    lookup->expire_seconds = expire_seconds;
    return session_batch_submit(batch, lookup);
}

void session_batch_destroy(struct session_batch *batch)
{
    if (batch == NULL)
        return;
    pthread_mutex_lock(&batch->lock);
    batch->stopping = true;
    pthread_cond_signal(&batch->queued);
    pthread_mutex_unlock(&batch->lock);
    pthread_join(batch->thread, NULL);
    pthread_cond_destroy(&batch->queued);
    pthread_mutex_destroy(&batch->lock);
    free(batch);
}
