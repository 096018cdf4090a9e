/*
 * metrics.h: what logic counts, as Prometheus metrics (common/metrics.h).
 *
 * One struct logic_metrics holds the registry and the samples the request
 * handlers update; it lives in the logic_context, so HTTP and RPC handlers
 * reach it from any thread. Every sample is registered up front with a fixed
 * label set (the goim HTTP endpoints, the envelope codes, the RPC methods):
 * an unknown path is counted as endpoint "other", never by its text.
 * logic serves GET /metrics on its own HTTP server (httpServer.addr).
 *
 * Metrics (all prefixed logic_):
 *   http_requests_total{endpoint,code} counter  answers by endpoint and envelope code
 *                                               (0, -400, -401, -404, -405, -500)
 *   rpc_calls_total{method}            counter  connect, disconnect, heartbeat,
 *                                               renew_online, receive, unknown
 *   kafka_produced_total{result}       counter  records acknowledged (ok) or failed
 *   kafka_produce_seconds              histogram produce -> acknowledgement, per record
 *   redis_errors_total                 counter  Redis commands that failed
 *   http_deadline_closes_total         counter  connections closed at httpServer.requestTimeout
 */
#ifndef LOGIC_METRICS_H
#define LOGIC_METRICS_H

#include <stdint.h>

#include "common/metrics.h"

/* goim's HTTP endpoints plus "other" (any other path). */
#define LOGIC_METRICS_ENDPOINTS 11
/* The envelope codes: 0, -400, -401, -404, -405, -500. */
#define LOGIC_METRICS_CODES 6
/* The logic RPC methods (101..105) plus "unknown". */
#define LOGIC_METRICS_RPC_METHODS 11

struct logic_metrics {
    struct gim_metrics *registry; /* owned */
    struct gim_counter *http_requests[LOGIC_METRICS_ENDPOINTS][LOGIC_METRICS_CODES];
    struct gim_counter *rpc_calls[LOGIC_METRICS_RPC_METHODS];
    struct gim_counter *kafka_acknowledged;
    struct gim_counter *kafka_failed;
    struct gim_histogram *kafka_produce_seconds;
    struct gim_counter *redis_errors;
    struct gim_counter *http_deadline_closes;
};

/*
 * Creates the registry and registers every logic metric. On GIM_OK *metrics
 * is the caller's (logic_metrics_destroy). Returns GIM_OK or
 * GIM_ERR_NO_MEMORY.
 */
int logic_metrics_create(struct logic_metrics **metrics);

/* Frees metrics and its registry (nothing may update or render it any more). NULL is allowed. */
void logic_metrics_destroy(struct logic_metrics *metrics);

/*
 * Counts one HTTP answer: path is the request's path (any text; only goim's
 * endpoints get their own label), code the envelope code sent. metrics may
 * be NULL (nothing counted). Any thread, no lock.
 */
void logic_metrics_count_http(struct logic_metrics *metrics, const char *path, int code);

/* Counts one RPC call of method (a GIM_RPC_LOGIC_* id; others are "unknown"). NULL allowed. */
void logic_metrics_count_rpc(struct logic_metrics *metrics, uint32_t method);

#endif
