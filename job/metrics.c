/* metrics.c: job's counters and the values read at scrape time (see metrics.h). */
#include "job/metrics.h"

#include <stdlib.h>

#include "common/status.h"
#include "job/comets.h"
#include "job/consumer.h"

int job_metrics_create(struct job_metrics **out)
{
    struct job_metrics *metrics = calloc(1, sizeof(*metrics));
    struct gim_metrics *registry;
    int status;

    *out = NULL;
    if (metrics == NULL)
        return GIM_ERR_NO_MEMORY;
    status = gim_metrics_create(&metrics->registry);
    registry = metrics->registry;
    if (status == GIM_OK)
        status = gim_metrics_counter(registry, "job_records_consumed_total",
                                     "Records read from Kafka and taken by the dispatcher.", NULL,
                                     &metrics->consumed);
    if (status == GIM_OK)
        status = gim_metrics_counter(
            registry, "job_records_delivered_total",
            "Records every target comet acknowledged (or that left the registry).", NULL,
            &metrics->delivered);
    if (status == GIM_OK)
        status = gim_metrics_counter(
            registry, "job_records_skipped_total",
            "Records that cannot be delivered: not a PushMsg, missing keys/server/room, too "
            "large to frame.",
            NULL, &metrics->skipped);
    if (status == GIM_OK)
        status = gim_metrics_counter(registry, "job_records_given_up_total",
                                     "Records committed without delivery, by reason.",
                                     GIM_LABELS("reason", "retries"), &metrics->given_up_retries);
    if (status == GIM_OK)
        status = gim_metrics_counter(registry, "job_records_given_up_total",
                                     "Records committed without delivery, by reason.",
                                     GIM_LABELS("reason", "no_comet"), &metrics->given_up_no_comet);
    if (status == GIM_OK)
        status = gim_metrics_counter(registry, "job_retries_total",
                                     "Calls to a comet that failed and are tried again.", NULL,
                                     &metrics->retries);
    if (status == GIM_OK)
        status = gim_metrics_gauge(registry, "job_calls_in_flight",
                                   "RPC calls to comets waiting for their answer.", NULL,
                                   &metrics->calls_in_flight);
    if (status != GIM_OK) {
        job_metrics_destroy(metrics);
        return status;
    }
    *out = metrics;
    return GIM_OK;
}

static int64_t comets_known(void *context, int argument)
{
    (void)argument;
    return (int64_t)job_comets_count(context);
}

static int64_t records_uncommitted(void *context, int argument)
{
    (void)argument;
    return (int64_t)job_consumer_uncommitted(context);
}

int job_metrics_watch(struct job_metrics *metrics, struct job_comets *comets,
                      struct job_consumer *consumer)
{
    int status = gim_metrics_callback(
        metrics->registry, GIM_METRIC_GAUGE, "job_records_uncommitted",
        "Records read whose offset cannot be committed yet (not finished, or behind one that "
        "is not).",
        NULL, records_uncommitted, consumer, 0);

    if (status == GIM_OK)
        status =
            gim_metrics_callback(metrics->registry, GIM_METRIC_GAUGE, "job_comets",
                                 "Comets known from the registry.", NULL, comets_known, comets, 0);
    return status;
}

void job_metrics_destroy(struct job_metrics *metrics)
{
    if (metrics == NULL)
        return;
    gim_metrics_destroy(metrics->registry);
    free(metrics);
}
