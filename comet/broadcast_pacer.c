/* broadcast_pacer.c: speed-limited broadcast delivery on a loop (see broadcast_pacer.h). */
#include "comet/broadcast_pacer.h"

#include <math.h>
#include <stdlib.h>

#include "comet/connection.h"
#include "comet/push_job.h"
#include "comet/worker.h"
#include "common/status.h"

struct paced_broadcast {
    struct paced_broadcast *next;
    struct push_job *job; /* one reference */
    double per_second;
    int64_t start_ms;
    size_t delivered, count;
    struct comet_connection *targets[]; /* each referenced */
};

int pacer_start(struct comet_worker *worker, struct push_job *job, double per_second,
                int64_t now_ms)
{
    struct paced_broadcast *paced;
    struct comet_connection *connection;
    size_t count = 0;

    if (worker->paced_count >= PACER_MAX_ACTIVE)
        return GIM_ERR_AGAIN;
    for (connection = worker->connections.live; connection != NULL; connection = connection->next) {
        if (connection->state == CONNECTION_ACTIVE &&
            connection_watches(connection, job->operation))
            count++;
    }
    paced = calloc(1, sizeof(*paced) + count * sizeof(paced->targets[0]));
    if (paced == NULL)
        return GIM_ERR_NO_MEMORY;
    for (connection = worker->connections.live; connection != NULL && paced->count < count;
         connection = connection->next) {
        if (connection->state == CONNECTION_ACTIVE &&
            connection_watches(connection, job->operation)) {
            connection_ref(connection);
            paced->targets[paced->count++] = connection;
        }
    }
    push_job_ref(job);
    paced->job = job;
    paced->per_second = per_second;
    paced->start_ms = now_ms;
    paced->next = worker->paced;
    worker->paced = paced;
    worker->paced_count++;
    return GIM_OK;
}

static void paced_free(struct paced_broadcast *paced)
{
    size_t index;

    for (index = paced->delivered; index < paced->count; index++)
        connection_unref(paced->targets[index]);
    push_job_unref(paced->job);
    free(paced);
}

/* Connections due by now: the first at start, then one every 1000/per_second ms. */
static size_t paced_due(const struct paced_broadcast *paced, int64_t now_ms)
{
    double due = 1.0 + floor((double)(now_ms - paced->start_ms) * paced->per_second / 1000.0);
    return due >= (double)paced->count ? paced->count : (size_t)due;
}

int pacer_run(struct comet_worker *worker, int64_t now_ms)
{
    struct paced_broadcast **link = &worker->paced;
    int64_t wait = -1;

    while (*link != NULL) {
        struct paced_broadcast *paced = *link;
        size_t due = paced_due(paced, now_ms);

        for (; paced->delivered < due; paced->delivered++) {
            struct comet_connection *connection = paced->targets[paced->delivered];
            if (connection->state == CONNECTION_ACTIVE)
                push_job_deliver(paced->job, connection);
            connection_unref(connection);
        }
        if (paced->delivered >= paced->count) {
            *link = paced->next;
            worker->paced_count--;
            paced_free(paced);
            continue;
        }
        {
            int64_t next_ms = paced->start_ms +
                              (int64_t)ceil((double)paced->delivered * 1000.0 / paced->per_second);
            int64_t until = next_ms - now_ms;
            if (until < PACER_SLICE_MS)
                until = PACER_SLICE_MS;
            if (wait < 0 || until < wait)
                wait = until;
        }
        link = &paced->next;
    }
    return wait > INT32_MAX ? INT32_MAX : (int)wait;
}

void pacer_clear(struct comet_worker *worker)
{
    while (worker->paced != NULL) {
        struct paced_broadcast *paced = worker->paced;
        worker->paced = paced->next;
        paced_free(paced);
    }
    worker->paced_count = 0;
}
