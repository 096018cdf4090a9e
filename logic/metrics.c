/* metrics.c: logic's metrics registered once, counted by fixed labels (see metrics.h). */
#include "logic/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "common/rpc.h"
#include "common/status.h"
#include "logic/http_answer.h"

/* The endpoint label: goim's paths (logic/http.c's routes), gusher's master API, "other" last. */
static const char *const endpoint_names[LOGIC_METRICS_ENDPOINTS] = {"/goim/push/keys",
                                                                    "/goim/push/mids",
                                                                    "/goim/push/room",
                                                                    "/goim/push/all",
                                                                    "/goim/online/top",
                                                                    "/goim/online/room",
                                                                    "/goim/online/total",
                                                                    "/goim/nodes/weighted",
                                                                    "/goim/nodes/instances",
                                                                    "gusher",
                                                                    "other"};

static const int code_values[LOGIC_METRICS_CODES] = {HTTP_CODE_OK,           HTTP_CODE_REQUEST_ERR,
                                                     HTTP_CODE_UNAUTHORIZED, HTTP_CODE_NOT_FOUND,
                                                     HTTP_CODE_NOT_ALLOWED,  HTTP_CODE_SERVER_ERR};
static const char *const code_names[LOGIC_METRICS_CODES] = {"0",    "-400", "-401",
                                                            "-404", "-405", "-500"};

/* Method ids GIM_RPC_LOGIC_CONNECT (101) .. GIM_RPC_LOGIC_GOPUSHER_CONNECT (110), then "unknown".
 */
static const char *const rpc_names[LOGIC_METRICS_RPC_METHODS] = {
    "connect",          "disconnect",       "heartbeat",      "renew_online",
    "receive",          "gusher_auth",      "gusher_connect", "gusher_disconnect",
    "gusher_heartbeat", "gopusher_connect", "unknown"};

/* Seconds from producing a record to Kafka's acknowledgement (acks=all). */
static const double produce_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5,   5};

int logic_metrics_create(struct logic_metrics **out)
{
    struct logic_metrics *metrics = calloc(1, sizeof(*metrics));
    int status, endpoint, code, method;

    *out = NULL;
    if (metrics == NULL)
        return GIM_ERR_NO_MEMORY;
    status = gim_metrics_create(&metrics->registry);
    for (endpoint = 0; status == GIM_OK && endpoint < LOGIC_METRICS_ENDPOINTS; endpoint++)
        for (code = 0; status == GIM_OK && code < LOGIC_METRICS_CODES; code++)
            status = gim_metrics_counter(
                metrics->registry, "logic_http_requests_total",
                "HTTP API answers by endpoint and envelope code.",
                GIM_LABELS("endpoint", endpoint_names[endpoint], "code", code_names[code]),
                &metrics->http_requests[endpoint][code]);
    for (method = 0; status == GIM_OK && method < LOGIC_METRICS_RPC_METHODS; method++)
        status = gim_metrics_counter(metrics->registry, "logic_rpc_calls_total",
                                     "RPC calls served (from comets), by method.",
                                     GIM_LABELS("method", rpc_names[method]),
                                     &metrics->rpc_calls[method]);
    if (status == GIM_OK)
        status = gim_metrics_counter(metrics->registry, "logic_kafka_produced_total",
                                     "Kafka records acknowledged (ok) or failed.",
                                     GIM_LABELS("result", "ok"), &metrics->kafka_acknowledged);
    if (status == GIM_OK)
        status = gim_metrics_counter(metrics->registry, "logic_kafka_produced_total",
                                     "Kafka records acknowledged (ok) or failed.",
                                     GIM_LABELS("result", "failed"), &metrics->kafka_failed);
    if (status == GIM_OK)
        status = gim_metrics_histogram(
            metrics->registry, "logic_kafka_produce_seconds",
            "Seconds from producing a record to Kafka's acknowledgement.", NULL, produce_bounds,
            sizeof(produce_bounds) / sizeof(produce_bounds[0]), &metrics->kafka_produce_seconds);
    if (status == GIM_OK)
        status = gim_metrics_counter(metrics->registry, "logic_http_deadline_closes_total",
                                     "HTTP connections closed because a request did not arrive "
                                     "whole within httpServer.requestTimeout.",
                                     NULL, &metrics->http_deadline_closes);
    if (status == GIM_OK)
        status = gim_metrics_counter(metrics->registry, "logic_redis_errors_total",
                                     "Redis commands that failed (unreachable, connection lost, "
                                     "error reply).",
                                     NULL, &metrics->redis_errors);
    if (status != GIM_OK) {
        logic_metrics_destroy(metrics);
        return status;
    }
    *out = metrics;
    return GIM_OK;
}

void logic_metrics_destroy(struct logic_metrics *metrics)
{
    if (metrics == NULL)
        return;
    gim_metrics_destroy(metrics->registry);
    free(metrics);
}

void logic_metrics_count_http(struct logic_metrics *metrics, const char *path, int code)
{
    int endpoint = 0, code_index = 0;

    if (metrics == NULL)
        return;
    while (endpoint < LOGIC_METRICS_ENDPOINTS - 1 && strcmp(endpoint_names[endpoint], path) != 0)
        endpoint++;
    while (code_index < LOGIC_METRICS_CODES - 1 && code_values[code_index] != code)
        code_index++; /* a code outside the list counts as the last one, -500 */
    gim_counter_increment(metrics->http_requests[endpoint][code_index]);
}

void logic_metrics_count_rpc(struct logic_metrics *metrics, uint32_t method)
{
    uint32_t index = method - GIM_RPC_LOGIC_CONNECT;

    if (metrics == NULL)
        return;
    if (method < GIM_RPC_LOGIC_CONNECT || index >= LOGIC_METRICS_RPC_METHODS - 1)
        index = LOGIC_METRICS_RPC_METHODS - 1;
    gim_counter_increment(metrics->rpc_calls[index]);
}
