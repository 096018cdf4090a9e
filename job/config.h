/*
 * config.h: the job daemon's settings, one table (common/config.h) that
 * parses -conf, the environment and the flags, validates and dumps (-t).
 * Names are goim's (internal/job/conf) where goim has them; every key is
 * also a flag by its dotted name (-kafka.brokers, -comet.retries, ...).
 */
#ifndef JOB_CONFIG_H
#define JOB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "common/daemon.h"

struct job_config {
    /* identity (goim's discovery settings) */
    char *host;   /* -host, HOST; default gethostname() */
    char *region; /* REGION */
    char *zone;   /* ZONE; with comet.sameZoneOnly only comets of this zone are served */
    char *env;    /* -deploy.env, DEPLOY_ENV */
    bool debug;   /* DEBUG: log at debug level */

    /* Kafka */
    char *kafka_brokers;           /* KAFKA_BROKERS, comma-separated host:port */
    char *kafka_topic;             /* goim-push-topic */
    char *kafka_group;             /* goim-push-group-job */
    char *kafka_offset_reset;      /* where a group without a committed offset starts */
    int64_t kafka_commit_interval; /* ms between offset commits while busy */
    int64_t kafka_session_timeout; /* ms, the group's session.timeout.ms */
    int64_t kafka_fetch_wait_max;  /* ms a fetch with no data may be held (fetch.wait.max.ms) */

    /* Redis (the comet registry) */
    char *redis_addr;
    char *redis_auth;
    int64_t redis_timeout; /* ms */

    /* registry watcher */
    int64_t registry_refresh; /* ms between two reads of the comet list */

    /* delivery to comets */
    int64_t comet_timeout;           /* ms per RPC */
    int64_t comet_retries;           /* retries of a failed delivery after the first try */
    int64_t comet_retry_backoff;     /* ms before the first retry, doubled each time */
    int64_t comet_retry_backoff_max; /* ms, cap of the doubling */
    int64_t comet_wait_for_comets;   /* ms a ROOM/BROADCAST waits when no comet is registered */
    bool comet_same_zone_only;       /* serve only comets whose zone equals `zone` */
    char *rpc_auth_secret;           /* rpcAuth.secret: HMAC key of internal RPC; "" = unsigned */
    int64_t rpc_auth_window;         /* ms, rpcAuth.window: accepted clock distance of a request */
    int64_t comet_queue; /* calls in flight or waiting per comet before reading pauses */

    /* dispatch */
    int64_t room_batch;           /* frames merged into one OpRaw body per room (and key set) */
    int64_t dispatch_max_records; /* records read and not yet finished before reading pauses */

    /* operations */
    char *metrics_addr; /* Prometheus GET /metrics listen address; empty = none */
};

/*
 * Fills *config (zeroed here) from defaults, -conf, environment and flags,
 * then fills a missing host with gethostname() and validates the values
 * that the table cannot (kafka.offsetReset). *command tells whether -t or
 * -h was given. Returns GIM_OK, or GIM_ERR_INVALID with a message in
 * error[0..error_size). Strings in *config are owned by it in every case:
 * release with job_config_free.
 */
int job_config_load(struct job_config *config, int argc, char **argv,
                    struct gim_config_command *command, char *error, size_t error_size);

/* Writes the effective configuration as JSON (the -t output). config stays the caller's. */
void job_config_dump(const struct job_config *config, FILE *out);

/* Writes the flag list for -h. */
void job_config_usage(const char *program, FILE *out);

/* Frees the strings inside config (config itself stays the caller's). */
void job_config_free(struct job_config *config);

/* The functions above for the shared start-up (common/daemon.h), role "job". */
extern const struct gim_daemon job_daemon;

#endif
