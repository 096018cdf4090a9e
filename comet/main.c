/*
 * main.c: the comet daemon: configuration, threads, signals, orderly stop.
 *
 * Start: config (-t prints it and exits), RLIMIT_NOFILE raised to the hard
 * limit, the WSS certificates (websocket.tlsOpen; chosen by SNI), logic RPC client, worker.threads
 * event loops, the RPC server, the operations thread (registry). SIGINT/SIGTERM: with
 * drain.period, first drain (offline in the registry, listeners closed, clients closed spread over
 * the period, pushes still delivered); then withdraw from the registry, stop the RPC server, stop
 * the loops (listeners closed, connections closed, Disconnect sent to logic best effort), close the
 * logic client (waits for calls in flight), free the loops, exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "comet/comet.h"
#include "comet/config.h"
#include "comet/worker.h"
#include "comet/metrics.h"
#include "comet/gopusher_presence.h"
#include "comet/operations.h"
#include "comet/redis_writer.h"
#include "comet/rpc_service.h"
#include "comet/stream.h"
#include "common/clock.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/rpc.h"
#include "common/rpc_auth.h"
#include "common/status.h"

static void raise_file_limit(void)
{
    struct rlimit limit;

    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
            gim_log_warn("cannot raise RLIMIT_NOFILE");
    }
}

static void stop_loops(struct comet *comet)
{
    int index;

    for (index = 0; index < comet->worker_count; index++)
        worker_stop(comet->workers[index]);
    for (index = 0; index < comet->worker_count; index++)
        worker_join(comet->workers[index]);
}

/* The writer's tick: gopusher's and gusher's presence are written again. */
static void presence_refresh(void *context)
{
    struct comet *comet = context;

    gopusher_presence_refresh(comet->gopusher_presence);
    gusher_presence_refresh(&comet->gusher_presence);
}

/* The writer's last batch at stop: every app of both withdrawn. */
static int presence_withdraw(void *context, const char *key, struct redis_batch *batch)
{
    struct comet *comet = context;
    int status = gopusher_presence_withdraw(comet->gopusher_presence, key, batch);

    return status == GIM_OK ? gusher_presence_withdraw_all(&comet->gusher_presence, key, batch)
                            : status;
}

/*
 * Starts the Redis writer (redis.addr, off the loops) with gopusher's and gusher's presence
 * tables, which it refreshes every GOPUSHER_PRESENCE_REFRESH_MS, and the writer of gusher's
 * remote command (the same one, or its own when gusher.remoteRedis names another Redis).
 * Returns GIM_OK or an error (logged).
 */
static int start_redis_writer(struct comet *comet, const struct comet_config *config)
{
    struct redis_writer_options options = {0};
    const char *remote = config->gusher_remote_redis;
    int status = gopusher_presence_create(&comet->gopusher_presence, config->host);

    if (status != GIM_OK)
        return status;
    options.address = config->redis_addr;
    options.password = config->redis_auth;
    options.timeout_ms = (int)config->redis_timeout_ms;
    options.tick_ms = GOPUSHER_PRESENCE_REFRESH_MS;
    options.tick = presence_refresh;
    options.tick_context = comet;
    status = redis_writer_start(&comet->redis_writer, &options);
    if (status != GIM_OK) {
        gim_log_error("redis.addr %s: %s", config->redis_addr, gim_strerror(status));
        return status;
    }
    gopusher_presence_attach(comet->gopusher_presence, comet->redis_writer);
    status = gusher_presence_attach(&comet->gusher_presence, comet->redis_writer, config->host);
    if (status != GIM_OK)
        return status;
    if (remote[0] == '\0' || strcmp(remote, config->redis_addr) == 0) {
        comet->gusher_remote = comet->redis_writer;
        return GIM_OK;
    }
    options.address = remote;
    options.tick_ms = 0;
    options.tick = NULL;
    options.tick_context = NULL;
    status = redis_writer_start(&comet->gusher_remote, &options);
    if (status != GIM_OK)
        gim_log_error("gusher.remoteRedis %s: %s", remote, gim_strerror(status));
    return status;
}

/* Writes what waits, then withdraws gopusher's and gusher's presence; frees gopusher's table. */
static void stop_redis_writers(struct comet *comet)
{
    if (comet->gusher_remote != comet->redis_writer)
        redis_writer_stop(comet->gusher_remote, NULL, NULL);
    comet->gusher_remote = NULL;
    redis_writer_stop(comet->redis_writer, presence_withdraw, comet);
    comet->redis_writer = NULL;
    gopusher_presence_destroy(comet->gopusher_presence);
    comet->gopusher_presence = NULL;
}

static void destroy_loops(struct comet *comet)
{
    int index;

    for (index = 0; index < comet->worker_count; index++)
        worker_destroy(comet->workers[index]);
    free(comet->workers);
    comet->workers = NULL;
    comet->worker_count = 0;
}

/*
 * Serves GET /metrics on metrics.addr (nothing when it is empty): creates
 * *registry with comet's metrics and starts *server. Call once the loops
 * exist. Returns GIM_OK or an error (logged).
 */
static int start_metrics(struct comet *comet, const struct comet_config *config,
                         struct gim_metrics **registry, struct gim_metrics_server **server)
{
    char error[256];
    int status;

    if (config->metrics_addr == NULL || config->metrics_addr[0] == '\0')
        return GIM_OK;
    status = gim_metrics_create(registry);
    if (status == GIM_OK)
        status = comet_metrics_register(*registry, comet);
    if (status == GIM_OK)
        status = gim_rpc_auth_register_metrics(*registry, "comet_rpc_refused_total");
    if (status != GIM_OK) {
        gim_log_error("metrics: %s", gim_strerror(status));
        return status;
    }
    status =
        gim_metrics_server_start(server, *registry, config->metrics_addr, error, sizeof(error));
    if (status != GIM_OK)
        gim_log_error("%s", error);
    return status;
}

/*
 * Graceful stop (drain.period): offline in the registry at once (logic stops offering this comet,
 * job keeps delivering), listeners closed, clients closed spread over the period by each loop.
 * Returns when every loop is empty, a second SIGINT/SIGTERM arrives, or the period plus one
 * second has passed.
 */
static void drain(struct comet *comet, struct operations *operations, const sigset_t *signals,
                  int signal_number)
{
    const int64_t period_ms = comet->config->drain_period_ms;
    const int64_t deadline_ms = gim_monotonic_ms() + period_ms + 1000;
    const struct timespec step = {0, 50 * 1000000};
    int index;

    gim_log_notice("signal %d: draining for %lld ms (a second signal stops at once)", signal_number,
                   (long long)period_ms);
    operations_go_offline(operations);
    for (index = 0; index < comet->worker_count; index++)
        worker_drain(comet->workers[index], period_ms);
    while (gim_monotonic_ms() < deadline_ms) {
        bool drained = true;
        for (index = 0; index < comet->worker_count; index++)
            drained = drained && worker_drained(comet->workers[index]);
        if (drained) {
            gim_log_notice("drained: every client is gone; stopping");
            return;
        }
        if (sigtimedwait(signals, NULL, &step) > 0) {
            gim_log_notice("second signal: stopping now");
            return;
        }
    }
    gim_log_notice("drain period over; stopping");
}

static int run(struct comet *comet, const struct comet_config *config)
{
    struct comet_rpc_service *rpc_service = NULL;
    struct operations *operations = NULL;
    struct gim_metrics *metrics = NULL;
    struct gim_metrics_server *metrics_server = NULL;
    char logic_url[256];
    sigset_t signals;
    int index, status, signal_number = 0;

    status = gim_rpc_auth_enable(config->rpc_auth_secret, config->rpc_auth_window_ms);
    if (status != GIM_OK) {
        gim_log_error("rpcAuth.secret: %s", gim_strerror(status));
        return 1;
    }
    status = gim_rpc_url(config->rpc_client_logic, false, logic_url, sizeof(logic_url));
    if (status == GIM_OK)
        status = gim_rpc_client_open(&comet->logic, logic_url);
    if (status != GIM_OK) {
        gim_log_error("rpcClient.logic %s: %s", config->rpc_client_logic, gim_strerror(status));
        return 1;
    }
    status = start_redis_writer(comet, config);
    if (status != GIM_OK) {
        stop_redis_writers(comet);
        return 1;
    }
    comet->workers = calloc((size_t)config->worker_threads, sizeof(*comet->workers));
    if (comet->workers == NULL) {
        stop_redis_writers(comet);
        return 1;
    }
    for (index = 0; index < config->worker_threads; index++) {
        status = worker_create(&comet->workers[index], comet, index);
        if (status != GIM_OK)
            break;
        comet->worker_count++;
    }
    if (status == GIM_OK) {
        for (index = 0; index < comet->worker_count && status == GIM_OK; index++)
            status = worker_start(comet->workers[index]);
    }
    if (status == GIM_OK) {
        status = rpc_service_start(comet, &rpc_service);
        if (status != GIM_OK)
            gim_log_error("rpcServer.addr %s: %s", config->rpc_server_addr, gim_strerror(status));
    }
    if (status == GIM_OK) {
        status = operations_start(comet, &operations);
        if (status != GIM_OK)
            gim_log_error("redis.addr %s: %s", config->redis_addr, gim_strerror(status));
    }
    if (status == GIM_OK)
        status = start_metrics(comet, config, &metrics, &metrics_server);
    if (status == GIM_OK) {
        gim_log_notice("comet ready tcp=%s websocket=%s wss=%s rpc=%s metrics=%s host=%s",
                       config->tcp_bind, config->websocket_bind,
                       config->websocket_tls_open ? config->websocket_tls_bind : "",
                       config->rpc_server_advertise, config->metrics_addr, config->host);
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        sigwait(&signals, &signal_number);
        if (config->drain_period_ms > 0)
            drain(comet, operations, &signals, signal_number);
        else
            gim_log_notice("signal %d: stopping", signal_number);
    }
    gim_metrics_server_stop(metrics_server); /* before the loops its callbacks read go */
    operations_stop(operations);             /* withdraws from the registry */
    rpc_service_stop(rpc_service);
    stop_loops(comet);
    gim_rpc_client_close(comet->logic); /* waits for Connect/Disconnect in flight */
    comet->logic = NULL;
    destroy_loops(comet);
    stop_redis_writers(comet); /* after every connection closed */
    gim_metrics_destroy(metrics);
    gim_log_notice("comet stopped");
    return status == GIM_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct comet_config config = {0};
    struct tls_certificates *certificates = NULL;
    struct comet comet;
    sigset_t signals;
    int status;

    if (!gim_daemon_start(&comet_daemon, &config, argc, argv, &status))
        return status;
    raise_file_limit();
    /* Signals are taken by sigwait in main; every thread inherits this mask. */
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    memset(&comet, 0, sizeof(comet));
    comet.config = &config;
    atomic_init(&comet.auth_sequence, 0);
    ip_counter_init(&comet.client_addresses);
    comet_online_init(&comet.online);
    gusher_presence_init(&comet.gusher_presence);
    if (config.websocket_tls_open &&
        tls_certificates_load(&certificates, config.websocket_cert_file,
                              config.websocket_private_file) != GIM_OK) {
        status = 1;
    } else {
        if (certificates != NULL)
            comet.tls_context = tls_certificates_default_context(certificates);
        status = run(&comet, &config);
    }
    comet.tls_context = NULL;
    tls_certificates_free(certificates); /* after run: every TLS connection is closed */
    ip_counter_destroy(&comet.client_addresses);
    comet_online_destroy(&comet.online);
    gusher_presence_destroy(&comet.gusher_presence);
    comet_config_free(&config);
    return status;
}
