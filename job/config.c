/* config.c: the job daemon's option table and its checks (see config.h). */
#include "job/config.h"

#include <string.h>

#include "common/rpc_auth.h"
#include "common/status.h"

/* min > max (1, 0) means no range check. */
#define JOB_OPTION(name, type, field, default_value, min, max, flag, env, help)                    \
    {                                                                                              \
        name, type, offsetof(struct job_config, field), default_value, min, max, flag, env, help   \
    }

static const struct gim_config_option job_options[] = {
    JOB_OPTION("host", GIM_CONFIG_STRING, host, NULL, 1, 0, NULL, "HOST",
               "this job's host name (default: gethostname())"),
    JOB_OPTION("region", GIM_CONFIG_STRING, region, NULL, 1, 0, NULL, "REGION",
               "region of this job"),
    JOB_OPTION("zone", GIM_CONFIG_STRING, zone, NULL, 1, 0, NULL, "ZONE",
               "zone of this job (see comet.sameZoneOnly)"),
    JOB_OPTION("env", GIM_CONFIG_STRING, env, NULL, 1, 0, "deploy.env", "DEPLOY_ENV",
               "deployment environment"),
    JOB_OPTION("debug", GIM_CONFIG_BOOL, debug, "false", 1, 0, NULL, "DEBUG", "log at debug level"),
    JOB_OPTION("kafka.brokers", GIM_CONFIG_STRING, kafka_brokers, "127.0.0.1:9092", 1, 0, NULL,
               "KAFKA_BROKERS", "Kafka bootstrap servers, comma-separated host:port"),
    JOB_OPTION("kafka.topic", GIM_CONFIG_STRING, kafka_topic, "goim-push-topic", 1, 0, NULL, NULL,
               "topic of PushMsg records"),
    JOB_OPTION("kafka.group", GIM_CONFIG_STRING, kafka_group, "goim-push-group-job", 1, 0, NULL,
               NULL, "consumer group"),
    /* earliest: a brand-new group starts at the beginning of the topic, so
     * that nothing logic acknowledged before the first job joined is lost
     * (goim starts at the newest offset and loses those records). A group
     * that has committed offsets always resumes from them. */
    JOB_OPTION(
        "kafka.offsetReset", GIM_CONFIG_STRING, kafka_offset_reset, "earliest", 1, 0, NULL, NULL,
        "start of a group without a committed offset: earliest or latest (auto.offset.reset)"),
    JOB_OPTION("kafka.commitInterval", GIM_CONFIG_DURATION, kafka_commit_interval, "100ms", 0,
               60000, NULL, NULL,
               "how often delivered offsets are committed while records keep coming"),
    /* A member that dies (SIGKILL, power loss) keeps its partitions until
     * the broker has not heard from it for this long: that is the pause of
     * delivery after a crash, whether the same job restarts or another one
     * takes over. 10 s (librdkafka's default is 45 s) recovers fast and is
     * still >= the broker's group.min.session.timeout.ms (6 s) and three
     * heartbeats (heartbeat.interval.ms 3 s). librdkafka's mock cluster
     * (devkafka) also makes a restarted job wait this long. */
    JOB_OPTION("kafka.sessionTimeout", GIM_CONFIG_DURATION, kafka_session_timeout, "10s", 1000,
               3600000, NULL, NULL, "consumer group session timeout (session.timeout.ms)"),
    /* How long the broker may hold a fetch that has no data (fetch.wait.max.ms).
     * A real broker answers a long-poll fetch as soon as a record arrives, so
     * the default costs nothing there; librdkafka's mock cluster (devkafka)
     * holds it for the whole wait, which adds up to this much to every push:
     * the dev scripts pass 10ms. */
    JOB_OPTION("kafka.fetchWaitMax", GIM_CONFIG_DURATION, kafka_fetch_wait_max, "500ms", 0, 300000,
               NULL, NULL,
               "longest wait of one fetch with no data (fetch.wait.max.ms); 10ms for devkafka"),
    JOB_OPTION("redis.addr", GIM_CONFIG_STRING, redis_addr, "127.0.0.1:6379", 1, 0, NULL,
               "REDIS_ADDR", "Redis holding the comet registry, host:port"),
    JOB_OPTION("redis.auth", GIM_CONFIG_STRING, redis_auth, NULL, 1, 0, NULL, NULL,
               "Redis password"),
    JOB_OPTION("redis.timeout", GIM_CONFIG_DURATION, redis_timeout, "1s", 1, 60000, NULL, NULL,
               "Redis connect/read/write timeout"),
    JOB_OPTION("registry.refresh", GIM_CONFIG_DURATION, registry_refresh, "1s", 10, 600000, NULL,
               NULL, "how often the comet list is re-read from Redis"),
    JOB_OPTION("comet.timeout", GIM_CONFIG_DURATION, comet_timeout, "2s", 1, 600000, NULL, NULL,
               "deadline of one RPC to a comet"),
    JOB_OPTION("comet.retries", GIM_CONFIG_INT, comet_retries, "5", 0, 1000, NULL, NULL,
               "retries of a failed delivery before it is logged and given up"),
    JOB_OPTION("comet.retryBackoff", GIM_CONFIG_DURATION, comet_retry_backoff, "200ms", 1, 600000,
               NULL, NULL, "wait before the first retry, doubled at each retry"),
    JOB_OPTION("comet.retryBackoffMax", GIM_CONFIG_DURATION, comet_retry_backoff_max, "5s", 1,
               3600000, NULL, NULL, "upper bound of the wait between two retries"),
    JOB_OPTION("comet.waitForComets", GIM_CONFIG_DURATION, comet_wait_for_comets, "10s", 0, 3600000,
               NULL, NULL,
               "how long a ROOM/BROADCAST record waits for a comet when none is registered"),
    JOB_OPTION("comet.sameZoneOnly", GIM_CONFIG_BOOL, comet_same_zone_only, "false", 1, 0, NULL,
               NULL, "serve only comets of this job's zone (goim's behaviour)"),
    /* At the bound job stops reading Kafka (back-pressure) instead of dropping. */
    JOB_OPTION("comet.queue", GIM_CONFIG_INT, comet_queue, "1024", 1, 65536, NULL, NULL,
               "calls in flight or waiting per comet; at this many, reading Kafka pauses"),
    /* goim's room.batch. Unlike goim there is no room.signal timer: a room
     * with nothing in flight sends at once; merging happens only while a
     * previous delivery to the room is unacknowledged. */
    JOB_OPTION("rpcAuth.secret", GIM_CONFIG_STRING, rpc_auth_secret, "", 1, 0, NULL,
               "GOIM_RPC_SECRET",
               "shared secret signing every internal RPC request (HMAC-SHA256), the same on every "
               "comet, logic and job; empty = unsigned (loopback-only clusters)"),
    JOB_OPTION("rpcAuth.window", GIM_CONFIG_DURATION, rpc_auth_window, "30s", 1000, 3600000, NULL,
               NULL, "how far a signed request's time may be from this machine's clock"),
    JOB_OPTION("room.batch", GIM_CONFIG_INT, room_batch, "20", 1, 10000, NULL, NULL,
               "most messages merged into one OpRaw body for a room (or a key set)"),
    JOB_OPTION("dispatch.maxRecords", GIM_CONFIG_INT, dispatch_max_records, "10000", 1, 1000000,
               NULL, NULL,
               "records read from Kafka and not yet delivered; at this many, reading pauses"),
    JOB_OPTION("metrics.addr", GIM_CONFIG_STRING, metrics_addr, ":3106", 1, 0, NULL, NULL,
               "Prometheus GET /metrics listen address; empty = none"),
};

#define JOB_OPTION_COUNT (sizeof(job_options) / sizeof(job_options[0]))

static bool offset_reset_is_valid(const char *value)
{
    static const char *const accepted[] = {"earliest",  "latest", "smallest", "largest",
                                           "beginning", "end",    "error"};
    size_t index;

    for (index = 0; index < sizeof(accepted) / sizeof(accepted[0]); index++)
        if (strcmp(value, accepted[index]) == 0)
            return true;
    return false;
}

int job_config_load(struct job_config *config, int argc, char **argv,
                    struct gim_config_command *command, char *error, size_t error_size)
{
    int status;

    memset(config, 0, sizeof(*config));
    status = gim_config_load(job_options, JOB_OPTION_COUNT, config, argc, argv, command, error,
                             error_size);
    if (status != GIM_OK || command->help)
        return status;
    status = gim_config_default_host(&config->host, "localhost", error, error_size);
    if (status != GIM_OK)
        return status;
    if (!offset_reset_is_valid(config->kafka_offset_reset)) {
        snprintf(error, error_size,
                 "kafka.offsetReset: \"%s\" is not one of earliest, latest (or librdkafka's "
                 "smallest, largest, beginning, end, error)",
                 config->kafka_offset_reset);
        return GIM_ERR_INVALID;
    }
    if (config->kafka_brokers[0] == '\0' || config->kafka_topic[0] == '\0' ||
        config->kafka_group[0] == '\0') {
        snprintf(error, error_size, "kafka.brokers, kafka.topic and kafka.group must be set");
        return GIM_ERR_INVALID;
    }
    if (gim_rpc_auth_check("rpcAuth.secret", config->rpc_auth_secret, error, error_size) != GIM_OK)
        return GIM_ERR_INVALID;
    if (config->comet_retry_backoff_max < config->comet_retry_backoff)
        config->comet_retry_backoff_max = config->comet_retry_backoff;
    return GIM_OK;
}

void job_config_dump(const struct job_config *config, FILE *out)
{
    gim_config_dump(job_options, JOB_OPTION_COUNT, config, out);
}

void job_config_usage(const char *program, FILE *out)
{
    gim_config_usage(job_options, JOB_OPTION_COUNT, program, out);
}

void job_config_free(struct job_config *config)
{
    gim_config_free(job_options, JOB_OPTION_COUNT, config);
}

/* ---- the shared start-up's view of these functions (common/daemon.h) ---- */

static int daemon_load(void *config, int argc, char **argv, struct gim_config_command *command,
                       char *error, size_t error_size)
{
    return job_config_load(config, argc, argv, command, error, error_size);
}

static void daemon_dump(const void *config, FILE *out)
{
    job_config_dump(config, out);
}

static void daemon_free(void *config)
{
    job_config_free(config);
}

const struct gim_daemon job_daemon = {
    .role = "job",
    .load = daemon_load,
    .usage = job_config_usage,
    .dump = daemon_dump,
    .free = daemon_free,
    .debug_offset = offsetof(struct job_config, debug),
};
