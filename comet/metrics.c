/* metrics.c: comet's counters summed over its loops at scrape time (see metrics.h). */
#include "comet/metrics.h"

#include <stddef.h>
#include <string.h>

#include "comet/comet.h"
#include "comet/worker.h"
#include "common/status.h"

/* ---- scrape-time readers (argument: what to read) ---- */

/* argument = offsetof(struct comet_loop_counters, <a counter>): that counter over every loop. */
static int64_t sum_loop_counter(void *context, int argument)
{
    struct comet *comet = context;
    uint64_t total = 0;
    int index;

    for (index = 0; index < comet->worker_count; index++) {
        struct comet_loop_counters *counters = &comet->workers[index]->connections.counters;
        total += gim_counter_value((struct gim_counter *)((char *)counters + argument));
    }
    return (int64_t)total;
}

/* argument = a transport: connections accepted minus closed, over every loop. */
static int64_t open_connections(void *context, int argument)
{
    struct comet *comet = context;
    uint64_t accepted = 0, closed = 0;
    int index;

    /* closed first, so a connection closed meanwhile is usually seen accepted too; relaxed
     * loads give no such order, hence the clamp (a scrape never shows a negative count) */
    for (index = 0; index < comet->worker_count; index++)
        closed += gim_counter_value(&comet->workers[index]->connections.counters.closed[argument]);
    for (index = 0; index < comet->worker_count; index++)
        accepted +=
            gim_counter_value(&comet->workers[index]->connections.counters.accepted[argument]);
    return accepted > closed ? (int64_t)(accepted - closed) : 0;
}

/* argument = a protocol: connections it admitted minus those closed, over every loop. */
static int64_t protocol_connections(void *context, int argument)
{
    struct comet *comet = context;
    uint64_t admitted = 0, closed = 0;
    int index;

    for (index = 0; index < comet->worker_count; index++)
        closed += gim_counter_value(
            &comet->workers[index]->connections.counters.protocol_closed[argument]);
    for (index = 0; index < comet->worker_count; index++)
        admitted += gim_counter_value(
            &comet->workers[index]->connections.counters.protocol_admitted[argument]);
    return admitted > closed ? (int64_t)(admitted - closed) : 0;
}

static int64_t authenticated_connections(void *context, int argument)
{
    (void)argument;
    return comet_connection_count(context);
}

static int64_t dropped_pushes(void *context, int argument)
{
    struct comet *comet = context;
    uint64_t total = 0;
    int index;

    (void)argument;
    for (index = 0; index < comet->worker_count; index++)
        total += atomic_load_explicit(&comet->workers[index]->connections.dropped_pushes,
                                      memory_order_relaxed);
    return (int64_t)total;
}

static int64_t rooms(void *context, int argument)
{
    struct comet *comet = context;

    (void)argument;
    return (int64_t)comet_online_room_total(&comet->online);
}

static int64_t rpc_calls(void *context, int argument)
{
    struct comet *comet = context;

    return (int64_t)gim_counter_value(&comet->counters.rpc_calls[argument]);
}

/* ---- registration ---- */

/* Where a loop counter sits in struct comet_loop_counters (element index of an array field). */
#define LOOP_COUNTER(field) ((int)offsetof(struct comet_loop_counters, field))
#define LOOP_COUNTER_AT(array_field, index)                                                        \
    (LOOP_COUNTER(array_field[0]) + (index) * (int)sizeof(struct gim_counter))

static const char *const transport_names[COMET_TRANSPORT_CLASSES] = {"tcp", "websocket", "wss"};
static const char *const frame_names[COMET_FRAME_CLASSES] = {"auth", "heartbeat", "change_room",
                                                             "sub",  "unsub",     "other"};
static const char *const timeout_names[COMET_TIMEOUT_CLASSES] = {"handshake", "heartbeat"};
static const char *const close_names[COMET_CLOSE_CLASSES] = {
    "peer",     "io_error",    "handshake_timeout", "heartbeat_timeout", "auth_failed",
    "replaced", "slow_reader", "shutdown",          "out_of_memory",     "protocol"};
static const char *const protocol_names[COMET_PROTOCOL_CLASSES] = {"goim", "gusher", "gopusher"};
static const char *const rpc_names[COMET_RPC_CLASSES] = {"push_msg", "broadcast", "broadcast_room",
                                                         "rooms", "unknown"};

int comet_metrics_register(struct gim_metrics *registry, struct comet *comet)
{
    const enum gim_metric_type counter = GIM_METRIC_COUNTER, gauge = GIM_METRIC_GAUGE;
    int status = GIM_OK, index;

    for (index = 0; status == GIM_OK && index < COMET_TRANSPORT_CLASSES; index++)
        status = gim_metrics_callback(
            registry, gauge, "comet_connections", "Open client connections by transport.",
            GIM_LABELS("transport", transport_names[index]), open_connections, comet, index);
    for (index = 0; status == GIM_OK && index < COMET_TRANSPORT_CLASSES; index++)
        status = gim_metrics_callback(registry, counter, "comet_connections_accepted_total",
                                      "Client connections accepted by transport.",
                                      GIM_LABELS("transport", transport_names[index]),
                                      sum_loop_counter, comet, LOOP_COUNTER_AT(accepted, index));
    if (status == GIM_OK)
        status = gim_metrics_callback(registry, gauge, "comet_authenticated_connections",
                                      "Connections that passed the auth.", NULL,
                                      authenticated_connections, comet, 0);
    for (index = 0; status == GIM_OK && index < COMET_PROTOCOL_CLASSES; index++)
        status = gim_metrics_callback(registry, gauge, "comet_protocol_connections",
                                      "Connections past their protocol's auth, by protocol.",
                                      GIM_LABELS("protocol", protocol_names[index]),
                                      protocol_connections, comet, index);
    if (status == GIM_OK)
        status = gim_metrics_callback(
            registry, counter, "comet_auth_total", "Auths answered by logic, by result.",
            GIM_LABELS("result", "ok"), sum_loop_counter, comet, LOOP_COUNTER(auth_ok));
    if (status == GIM_OK)
        status = gim_metrics_callback(
            registry, counter, "comet_auth_total", "Auths answered by logic, by result.",
            GIM_LABELS("result", "failed"), sum_loop_counter, comet, LOOP_COUNTER(auth_failed));
    for (index = 0; status == GIM_OK && index < COMET_TIMEOUT_CLASSES; index++)
        status = gim_metrics_callback(registry, counter, "comet_timeouts_total",
                                      "Connections closed by a deadline: handshake (no auth in "
                                      "time) or heartbeat.",
                                      GIM_LABELS("kind", timeout_names[index]), sum_loop_counter,
                                      comet, LOOP_COUNTER_AT(timeouts, index));
    for (index = 0; status == GIM_OK && index < COMET_FRAME_CLASSES; index++)
        status = gim_metrics_callback(registry, counter, "comet_frames_received_total",
                                      "Client frames handled, by kind.",
                                      GIM_LABELS("kind", frame_names[index]), sum_loop_counter,
                                      comet, LOOP_COUNTER_AT(frames, index));
    if (status == GIM_OK)
        status = gim_metrics_callback(registry, counter, "comet_pushes_delivered_total",
                                      "Pushes queued to a client connection.", NULL,
                                      sum_loop_counter, comet, LOOP_COUNTER(pushes_delivered));
    if (status == GIM_OK)
        status = gim_metrics_callback(registry, counter, "comet_pushes_dropped_total",
                                      "Pushes dropped because the connection's output was full "
                                      "(protocol.maxOutputBytes).",
                                      NULL, dropped_pushes, comet, 0);
    if (status == GIM_OK)
        status =
            gim_metrics_callback(registry, gauge, "comet_rooms",
                                 "goim rooms with members on this comet (not gusher channels or "
                                 "gopusher apps).",
                                 NULL, rooms, comet, 0);
    for (index = 0; status == GIM_OK && index < COMET_RPC_CLASSES; index++)
        status = gim_metrics_callback(
            registry, counter, "comet_rpc_calls_total", "RPC calls served (from job), by method.",
            GIM_LABELS("method", rpc_names[index]), rpc_calls, comet, index);
    for (index = 0; status == GIM_OK && index < COMET_CLOSE_CLASSES; index++)
        status = gim_metrics_callback(registry, counter, "comet_closes_total",
                                      "Client connections closed, by reason.",
                                      GIM_LABELS("reason", close_names[index]), sum_loop_counter,
                                      comet, LOOP_COUNTER_AT(closes, index));
    return status;
}
