/*
 * main.c: the job daemon. Reads PushMsg records from Kafka and delivers
 * them concurrently to the comets found in the Redis registry, committing a
 * partition's offset only up to where every record was delivered
 * (at-least-once). SIGINT/SIGTERM stop
 * consuming, commit what was delivered, leave the group and exit 0.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics_http.h"
#include "common/rpc_auth.h"
#include "common/status.h"
#include "job/comets.h"
#include "job/config.h"
#include "job/consumer.h"
#include "job/dispatch.h"
#include "job/metrics.h"

static atomic_bool stopping;

static void on_stop_signal(int signal_number)
{
    (void)signal_number;
    atomic_store(&stopping, true); /* lock-free atomic store: async-signal-safe */
}

static void install_signal_handlers(void)
{
    struct sigaction action;

    memset(&action, 0, sizeof(action));
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    action.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &action, NULL);
}

int main(int argc, char **argv)
{
    struct job_config config;
    struct job_comets *comets = NULL;
    struct job_dispatch *dispatch = NULL;
    struct job_consumer *consumer = NULL;
    struct job_metrics *metrics = NULL;
    struct gim_metrics_server *metrics_server = NULL;
    char error[512];
    int status, exit_code = 0;

    if (!gim_daemon_start(&job_daemon, &config, argc, argv, &exit_code))
        return exit_code;
    atomic_init(&stopping, false);
    install_signal_handlers();

    status = gim_rpc_auth_enable(config.rpc_auth_secret, config.rpc_auth_window);
    if (status != GIM_OK) {
        gim_log_error("job: rpcAuth.secret: %s", gim_strerror(status));
        exit_code = 1;
        goto out;
    }
    status = job_metrics_create(&metrics);
    if (status != GIM_OK) {
        gim_log_error("job: metrics: %s", gim_strerror(status));
        exit_code = 1;
        goto out;
    }
    status = job_comets_start(&comets, &config);
    if (status != GIM_OK) {
        gim_log_error("job: comet registry at %s: %s", config.redis_addr, gim_strerror(status));
        exit_code = 1;
        goto out;
    }
    status = job_consumer_open(&consumer, &config, error, sizeof(error));
    if (status != GIM_OK) {
        gim_log_error("job: kafka consumer: %s", error);
        exit_code = 1;
        goto out;
    }
    status = job_dispatch_create(&dispatch, &config, comets, metrics, job_consumer_record_finished,
                                 consumer);
    if (status != GIM_OK) {
        gim_log_error("job: %s", gim_strerror(status));
        exit_code = 1;
        goto out;
    }
    status = job_metrics_watch(metrics, comets, consumer);
    if (status != GIM_OK) {
        gim_log_error("job: metrics: %s", gim_strerror(status));
        exit_code = 1;
        goto out;
    }
    if (config.metrics_addr[0] != '\0') {
        status = gim_metrics_server_start(&metrics_server, metrics->registry, config.metrics_addr,
                                          error, sizeof(error));
        if (status != GIM_OK) {
            gim_log_error("job: %s", error);
            exit_code = 1;
            goto out;
        }
    }
    gim_log_info("job: host=%s brokers=%s redis=%s metrics=%s", config.host, config.kafka_brokers,
                 config.redis_addr, config.metrics_addr);
    status = job_consumer_run(consumer, dispatch, &stopping);
    if (status != GIM_OK)
        exit_code = 1;
    gim_log_notice("job: stopping");
out:
    gim_metrics_server_stop(metrics_server); /* its callbacks read comets and consumer */
    /* Calls in flight finish first (their records count), then the finished
     * offsets are committed, then the group is left. */
    job_dispatch_stop(dispatch);
    job_consumer_close(consumer);
    job_dispatch_destroy(dispatch);
    job_comets_stop(comets);
    job_metrics_destroy(metrics);
    job_config_free(&config);
    if (exit_code == 0)
        gim_log_notice("job: stopped");
    return exit_code;
}
