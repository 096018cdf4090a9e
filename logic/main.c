/*
 * main.c: the logic daemon. Reads the configuration, then serves goim's
 * logic role: the nng RPC for comets (rpc_service.c) and the HTTP push API
 * (http.c), with sessions in Redis and pushes produced to Kafka, and a
 * refresher thread keeping the cluster-wide online view (online.c).
 *
 * Shutdown on SIGINT/SIGTERM: stop HTTP (running pushes finish), stop RPC, stop the online
 * refresher, flush Kafka for at most kafka.timeout, exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc.h"
#include "common/rpc_auth.h"
#include "common/status.h"
#include "logic/balancer.h"
#include "logic/client_auth.h"
#include "logic/config.h"
#include "logic/context.h"
#include "logic/gopusher_hook.h"
#include "logic/gopusher_api.h"
#include "logic/gopusher_tools.h"
#include "logic/gusher_jwt.h"
#include "logic/http.h"
#include "logic/http_edge.h"
#include "logic/metrics.h"
#include "logic/online.h"
#include "logic/producer.h"
#include "logic/redis_pool.h"
#include "logic/rpc_service.h"
#include "logic/session_batch.h"

/* Blocks the stop signals in every thread created from now on; main waits for them. */
static void main_block_signals(sigset_t *stop_signals)
{
    struct sigaction ignore;

    memset(&ignore, 0, sizeof(ignore));
    ignore.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ignore, NULL);
    sigemptyset(stop_signals);
    sigaddset(stop_signals, SIGINT);
    sigaddset(stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, stop_signals, NULL);
}

/* "host:port" as configured, with the bound port (which differs when port 0 was asked). */
static void main_http_label(const char *configured, unsigned int port, char *out, size_t size)
{
    const char *colon = strrchr(configured, ':');
    int host_length = colon ? (int)(colon - configured) : 0;

    snprintf(out, size, "%.*s:%u", host_length, configured, port);
}

int main(int argc, char **argv)
{
    struct logic_config config;
    struct logic_context logic;
    struct gim_rpc_server *rpc = NULL;
    struct http_server *http = NULL;
    struct gopusher_api *gopusher = NULL;
    char error[512], rpc_url[LOGIC_RPC_URL_SIZE], http_label[300];
    sigset_t stop_signals;
    int status, signal_number = 0, exit_code = 1;

    exit_code = gopusher_tools_run(argc, argv); /* -hash-password, -import-gopusher */
    if (exit_code >= 0)
        return exit_code;
    memset(&config, 0, sizeof(config));
    memset(&logic, 0, sizeof(logic));
    if (!gim_daemon_start(&logic_daemon, &config, argc, argv, &exit_code))
        return exit_code;
    exit_code = 1;
    gim_rpc_url(config.rpc_addr, true, rpc_url, sizeof(rpc_url)); /* checked by the load */
    main_block_signals(&stop_signals);
    logic.config = &config;

    status = gim_rpc_auth_enable(config.rpc_auth_secret, config.rpc_auth_window_ms);
    if (status != GIM_OK) {
        gim_log_error("rpcAuth.secret: %s", gim_strerror(status));
        goto stop;
    }
    status = logic_metrics_create(&logic.metrics);
    if (status == GIM_OK)
        status = gim_rpc_auth_register_metrics(logic.metrics->registry, "logic_rpc_refused_total");
    if (status != GIM_OK) {
        gim_log_error("metrics: %s", gim_strerror(status));
        goto stop;
    }
    status = redis_pool_create(
        &logic.redis, config.redis_addr, config.redis_auth, (int)config.redis_timeout_ms,
        (size_t)(config.rpc_workers + config.http_threads + config.gopusher_threads + 2));
    if (status != GIM_OK) {
        gim_log_error("redis.addr \"%s\": %s", config.redis_addr, gim_strerror(status));
        goto stop;
    }
    redis_pool_count_errors(logic.redis, logic.metrics->redis_errors);
    status = session_batch_create(&logic.sessions, logic.redis);
    if (status != GIM_OK) {
        gim_log_error("session batch: %s", gim_strerror(status));
        goto stop;
    }
    status = producer_create(&logic.producer, config.kafka_brokers, config.kafka_topic,
                             config.kafka_timeout_ms, error, sizeof(error));
    if (status != GIM_OK) {
        gim_log_error("%s", error);
        goto stop;
    }
    producer_count_into(logic.producer, logic.metrics->kafka_acknowledged,
                        logic.metrics->kafka_failed, logic.metrics->kafka_produce_seconds);
    if (config.auth_jwt_public_key[0] != '\0') {
        status = client_auth_create(&logic.client_auth, config.auth_jwt_public_key, error,
                                    sizeof(error));
        if (status != GIM_OK) {
            gim_log_error("%s", error);
            goto stop;
        }
        gim_log_notice("clients authenticate with RS256 JWTs (auth.jwtPublicKey %s)",
                       config.auth_jwt_public_key);
    }
    status = gopusher_hook_start(&logic.gopusher_hook, (int)config.gopusher_hook_timeout_ms,
                                 (int)config.gopusher_hook_concurrency);
    if (status != GIM_OK) {
        gim_log_error("gopusher connect hooks: %s", gim_strerror(status));
        goto stop;
    }
    if (config.gusher_public_key[0] != '\0') {
        status = gusher_jwt_create(&logic.gusher_jwt, "gusher.publicKey", config.gusher_public_key,
                                   error, sizeof(error));
        if (status != GIM_OK) {
            gim_log_error("%s", error);
            goto stop;
        }
    }
    status = balancer_create(&logic.balancer);
    if (status == GIM_OK)
        status = logic_online_create(&logic.online, logic.redis, logic.balancer);
    if (status == GIM_OK)
        status = logic_online_start(logic.online, config.online_interval_ms);
    if (status != GIM_OK) {
        gim_log_error("online: %s", gim_strerror(status));
        goto stop;
    }
    status =
        gim_rpc_server_start(&rpc, rpc_url, (int)config.rpc_workers, rpc_service_handle, &logic);
    if (status != GIM_OK) {
        gim_log_error("rpcServer.addr %s: %s", rpc_url, gim_strerror(status));
        goto stop;
    }
    http_edge_reserve_descriptors(&config);
    status = http_server_start(&http, &logic, config.http_addr, (int)config.http_threads,
                               http_edge_body_limit(&config), error, sizeof(error));
    if (status != GIM_OK) {
        gim_log_error("%s", error);
        goto stop;
    }
    status = gopusher_api_start(&gopusher, &logic, error, sizeof(error));
    if (status != GIM_OK) {
        gim_log_error("%s", error);
        goto stop;
    }
    if (gopusher != NULL)
        gim_log_notice("gopusher API on port %u", gopusher_api_port(gopusher));
    main_http_label(config.http_addr, http_server_port(http), http_label, sizeof(http_label));
    gim_log_notice("logic ready http=%s rpc=%s", http_label, rpc_url);

    while (sigwait(&stop_signals, &signal_number) != 0)
        ;
    gim_log_notice("logic stopping (signal %d)", signal_number);
    exit_code = 0;
stop:
    gopusher_api_stop(gopusher);
    /* pushes in flight get their lookup (redis.timeout) and acknowledgement (kafka.timeout) */
    http_server_stop(http, (int)(config.redis_timeout_ms + config.kafka_timeout_ms) + 1000);
    /* hook calls in flight end now and answer their deferred requests (503), which
     * gim_rpc_server_stop waits for; a GopusherConnect arriving meanwhile is refused at once */
    gopusher_hook_stop(logic.gopusher_hook);
    gim_rpc_server_stop(rpc);
    gopusher_hook_destroy(logic.gopusher_hook); /* no RPC worker calls it any more */
    session_batch_destroy(logic.sessions);      /* before the producer: its lookups still produce */
    logic_online_destroy(logic.online);
    balancer_destroy(logic.balancer);
    producer_destroy(logic.producer, (int)config.kafka_timeout_ms);
    redis_pool_destroy(logic.redis);
    client_auth_destroy(logic.client_auth);
    gusher_jwt_destroy(logic.gusher_jwt);
    logic_metrics_destroy(logic.metrics);
    if (exit_code == 0)
        gim_log_notice("logic stopped");
    logic_config_free(&config);
    return exit_code;
}
