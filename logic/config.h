/*
 * config.h: logic's settings, goim's names (camelCase, JSON path = dotted
 * name), read through one common/config.h table.
 *
 * Every row is also a flag by its dotted name (-httpServer.addr ...), plus
 * goim's flags and environment variables: -host/HOST, -region/REGION,
 * -zone/ZONE, -deploy.env/DEPLOY_ENV, -debug/DEBUG, REDIS_ADDR,
 * KAFKA_BROKERS. Durations are held in milliseconds.
 */
#ifndef LOGIC_CONFIG_H
#define LOGIC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "common/daemon.h"

struct logic_config {
    char *host; /* server id of this logic (goim -host); default gethostname() */
    char *region;
    char *zone;
    char *env;
    bool debug;

    char *http_addr;                     /* httpServer.addr, ":3111" */
    int64_t http_max_body;               /* httpServer.maxBody, bytes; larger bodies get HTTP 413 */
    int64_t http_threads;                /* httpServer.threads, libmicrohttpd thread pool size */
    int64_t http_max_connections;        /* httpServer.maxConnections */
    int64_t http_max_connections_per_ip; /* httpServer.maxConnectionsPerIP, 0 = no limit */
    int64_t http_request_timeout_ms;     /* httpServer.requestTimeout: whole request deadline */
    int64_t http_max_url_bytes;          /* httpServer.maxUrlBytes: longest request line */
    char *http_push_tokens; /* httpServer.pushTokens: bearer tokens, comma list; "" = open */
    int64_t comet_max_output_bytes; /* comet.maxOutputBytes: comet's protocol.maxOutputBytes */
    char *auth_jwt_public_key;      /* auth.jwtPublicKey: PEM file; "" = clients unauthenticated */

    char *rpc_addr;             /* rpcServer.addr, ":3119" */
    int64_t rpc_workers;        /* rpcServer.workers */
    char *rpc_auth_secret;      /* rpcAuth.secret: HMAC key of internal RPC; "" = unsigned */
    int64_t rpc_auth_window_ms; /* rpcAuth.window: accepted clock distance of a request */

    char *kafka_brokers; /* comma-separated host:port list */
    char *kafka_topic;
    int64_t kafka_timeout_ms; /* how long a push waits for Kafka's acknowledgement */

    char *redis_addr;
    char *redis_auth;
    int64_t redis_timeout_ms;
    int64_t redis_expire_ms; /* TTL of mid_/key_ mappings and ol_ room counts */

    int64_t online_interval_ms; /* online.interval: how often the cluster-wide view is rebuilt */

    char *node_default_domain;
    char *node_host_domain;
    int64_t node_heartbeat_ms;
    int64_t node_heartbeat_max;
    int64_t node_tcp_port;
    int64_t node_ws_port;
    int64_t node_wss_port;
    double node_region_weight;

    /* gopusher's API (logic/gopusher_api.h): its own listener, apart from httpServer */
    char *gopusher_addr;              /* gopusher.addr, ":8002" (gopusher's api_listen); "" = off */
    char *gopusher_auth_account;      /* gopusher.authAccount: the super admin ("" = none) */
    char *gopusher_auth_password;     /* gopusher.authPassword: bcrypt(account + password) */
    int64_t gopusher_threads;         /* gopusher.threads */
    int64_t gopusher_max_body;        /* gopusher.maxBody, bytes */
    int64_t gopusher_hook_timeout_ms; /* gopusher.hookTimeout: a connect hook call at most */
    int64_t gopusher_hook_concurrency; /* gopusher.hookConcurrency: hook calls in flight */

    /* gusher.cluster's master API (logic/gusher_api.h) and its JWTs (logic/gusher_jwt.h) */
    char *gusher_api_prefix;     /* gusher.apiPrefix, "/api/"; "" = off */
    char *gusher_public_key;     /* gusher.publicKey: PEM file; "" = auth and decode refused */
    int64_t gusher_token_ttl_ms; /* gusher.tokenTTL: life of an auth token (60 s) */

    int64_t backoff_max_delay;
    int64_t backoff_base_delay;
    double backoff_factor;
    double backoff_jitter;
};

/* Room for the nng URL of rpcServer.addr (gim_rpc_url); logic_config_load checks it fits. */
#define LOGIC_RPC_URL_SIZE 256

/*
 * Fills config (zeroed by the caller) from defaults, -conf, environment and
 * flags, then applies logic's own rules (host defaults to gethostname();
 * rpcServer.addr must make an nng URL of LOGIC_RPC_URL_SIZE bytes at most).
 * command receives -conf/-t/-h. Returns GIM_OK, or GIM_ERR_INVALID with a
 * message naming the setting in error[0..error_size). Strings in config are
 * owned by config in every case: call logic_config_free afterwards.
 */
int logic_config_load(struct logic_config *config, int argc, char **argv,
                      struct gim_config_command *command, char *error, size_t error_size);

/* Writes the effective configuration as JSON to out (for -t). */
void logic_config_dump(const struct logic_config *config, FILE *out);

/* Writes the usage text (-h) to out. */
void logic_config_usage(const char *program, FILE *out);

/* Frees the strings inside config (config itself stays the caller's). */
void logic_config_free(struct logic_config *config);

/* The functions above for the shared start-up (common/daemon.h), role "logic". */
extern const struct gim_daemon logic_daemon;

#endif
