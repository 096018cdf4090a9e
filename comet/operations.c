/* operations.c: the registry publisher thread (see operations.h). */
#include "comet/operations.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "comet/comet.h"
#include "comet/event_loop.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/registry.h"
#include "common/status.h"

struct operations {
    struct comet *comet;
    struct gim_redis *redis;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

static void publish(struct operations *operations)
{
    const struct comet_config *config = operations->comet->config;
    struct gim_instance instance = {0};
    struct timespec now;
    int status;

    clock_gettime(CLOCK_REALTIME, &now);
    instance.region = config->region;
    instance.zone = config->zone;
    instance.env = config->env;
    instance.appid = (char *)"goim.comet";
    instance.hostname = config->host;
    instance.rpc_address = config->rpc_server_advertise;
    instance.version = (char *)"goim-c";
    instance.latest_timestamp = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    instance.public_addrs = config->addrs;
    instance.weight = config->weight;
    instance.offline = config->offline;
    instance.conn_count = comet_connection_count(operations->comet);
    instance.ip_count = (int64_t)ip_counter_distinct(&operations->comet->client_addresses);
    status =
        gim_registry_publish(operations->redis, &instance, (int)(config->registry_ttl_ms / 1000));
    if (status != GIM_OK)
        gim_log_warn("registry publish failed: %s", gim_strerror(status));
    else
        gim_log_debug("registry published conn_count=%lld ip_count=%lld",
                      (long long)instance.conn_count, (long long)instance.ip_count);
}

static void *operations_run(void *argument)
{
    struct operations *operations = argument;
    int64_t period_ms = operations->comet->config->registry_ttl_ms / 3;

    for (;;) {
        struct timespec deadline;

        publish(operations);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += period_ms / 1000;
        deadline.tv_nsec += (period_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&operations->lock);
        while (!operations->stopping &&
               pthread_cond_timedwait(&operations->wake, &operations->lock, &deadline) == 0) {
        }
        if (operations->stopping) {
            pthread_mutex_unlock(&operations->lock);
            break;
        }
        pthread_mutex_unlock(&operations->lock);
    }
    if (gim_registry_withdraw(operations->redis, operations->comet->config->host) != GIM_OK)
        gim_log_warn("registry withdraw failed (the entry expires with its TTL)");
    return NULL;
}

int operations_start(struct comet *comet, struct operations **out)
{
    const struct comet_config *config = comet->config;
    struct operations *operations = calloc(1, sizeof(*operations));
    pthread_condattr_t attributes;
    int status;

    *out = NULL;
    if (operations == NULL)
        return GIM_ERR_NO_MEMORY;
    operations->comet = comet;
    status = gim_redis_open(&operations->redis, config->redis_addr, config->redis_auth,
                            (int)config->redis_timeout_ms);
    if (status != GIM_OK) {
        free(operations);
        return status;
    }
    pthread_mutex_init(&operations->lock, NULL);
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&operations->wake, &attributes);
    pthread_condattr_destroy(&attributes);
    if (pthread_create(&operations->thread, NULL, operations_run, operations) != 0) {
        gim_redis_close(operations->redis);
        pthread_cond_destroy(&operations->wake);
        pthread_mutex_destroy(&operations->lock);
        free(operations);
        return GIM_ERR_IO;
    }
    *out = operations;
    return GIM_OK;
}

void operations_stop(struct operations *operations)
{
    if (operations == NULL)
        return;
    pthread_mutex_lock(&operations->lock);
    operations->stopping = true;
    pthread_cond_signal(&operations->wake);
    pthread_mutex_unlock(&operations->lock);
    pthread_join(operations->thread, NULL);
    gim_redis_close(operations->redis);
    pthread_cond_destroy(&operations->wake);
    pthread_mutex_destroy(&operations->lock);
    free(operations);
}
