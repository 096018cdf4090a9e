/*
 * metrics.h: what job counts, as Prometheus metrics (common/metrics.h),
 * served on GET /metrics at metrics.addr (common/metrics_http.h).
 *
 * The dispatcher updates the counters and the calls-in-flight gauge (one
 * atomic add each, no lock); the comet table and the uncommitted records are
 * read from their owners when /metrics is scraped.
 *
 * Metrics (all prefixed job_):
 *   records_consumed_total            counter  records read from Kafka and taken by the dispatcher
 *   records_delivered_total           counter  records every target comet acknowledged (or
 *                                              confirmed gone from the registry)
 *   records_skipped_total             counter  records that cannot be delivered (not a PushMsg,
 *                                              missing keys/server/room, too large to frame)
 *   records_given_up_total{reason}    counter  records committed without delivery: retries
 *                                              (comet.retries ran out), no_comet (none registered
 *                                              within comet.waitForComets)
 *   retries_total                     counter  calls to a comet that failed and are tried again
 *   records_uncommitted               gauge    records read whose offset is not committable yet
 *   comets                            gauge    comets known from the registry
 *   calls_in_flight                   gauge    RPC calls to comets waiting for their answer
 */
#ifndef JOB_METRICS_H
#define JOB_METRICS_H

#include "common/metrics.h"

struct job_comets;
struct job_consumer;

struct job_metrics {
    struct gim_metrics *registry; /* owned */
    struct gim_counter *consumed;
    struct gim_counter *delivered;
    struct gim_counter *skipped;
    struct gim_counter *given_up_retries;
    struct gim_counter *given_up_no_comet;
    struct gim_counter *retries;
    struct gim_gauge *calls_in_flight;
};

/*
 * Creates the registry with job's counters and gauge. On GIM_OK *metrics is
 * the caller's (job_metrics_destroy). Returns GIM_OK or GIM_ERR_NO_MEMORY.
 */
int job_metrics_create(struct job_metrics **metrics);

/*
 * Adds the values read at scrape time: the comets in comets' table and the
 * uncommitted records of consumer. Both stay the caller's and must outlive
 * every render of the registry (stop the metrics server first). Returns
 * GIM_OK, GIM_ERR_INVALID (called twice) or GIM_ERR_NO_MEMORY.
 */
int job_metrics_watch(struct job_metrics *metrics, struct job_comets *comets,
                      struct job_consumer *consumer);

/* Frees metrics and its registry (nothing may update or render it any more). NULL is allowed. */
void job_metrics_destroy(struct job_metrics *metrics);

#endif
