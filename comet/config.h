/*
 * config.h: comet's settings, goim's names, one option table (common/config.h).
 *
 * Every key is a JSON path in the -conf file and a flag by its dotted name
 * (-tcp.bind 127.0.0.1:4101); goim's flags and environment variables also
 * apply (-host/HOST, -region/REGION, -zone/ZONE, -deploy.env/DEPLOY_ENV,
 * -weight/WEIGHT, -offline/OFFLINE, -addrs/ADDRS, -debug/DEBUG, REDIS_ADDR).
 * Durations are milliseconds in the struct.
 */
#ifndef COMET_CONFIG_H
#define COMET_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "common/daemon.h"

/* The longest protocol.writeDelay accepted (ms). */
#define COMET_WRITE_DELAY_MAX_MS 10000

struct comet_config {
    char *host; /* server id; default gethostname() */
    char *region;
    char *zone;
    char *env;
    int64_t weight;
    bool offline;
    char *addrs; /* public IPs for clients, comma list */
    bool debug;

    char *tcp_bind;     /* comma list of listen addresses (":3101", "127.0.0.1:4101") */
    int64_t tcp_sndbuf; /* 0 = kernel default */
    int64_t tcp_rcvbuf;
    bool tcp_keepalive;

    char *websocket_bind;     /* comma list; empty = no plain WebSocket listener */
    bool websocket_tls_open;  /* WSS on websocket.tlsBind */
    char *websocket_tls_bind; /* comma list */
    char *websocket_cert_file;
    char *websocket_private_file;

    char *rpc_server_addr;      /* where comet's RPC listens (":3109" or an nng URL) */
    char *rpc_server_advertise; /* nng URL published in the registry; derived when empty */
    int64_t rpc_server_workers;
    int64_t rpc_server_timeout_ms; /* a push's deadline: cancelled if no loop started it by then */

    char *rpc_client_logic; /* logic's RPC address */
    int64_t rpc_client_timeout_ms;
    char *rpc_auth_secret;      /* rpcAuth.secret: HMAC key of internal RPC; "" = unsigned */
    int64_t rpc_auth_window_ms; /* rpcAuth.window: accepted clock distance of a request */

    int64_t handshake_timeout_ms;
    int64_t max_output_bytes; /* per-connection output bound */
    int64_t write_delay_ms;   /* least time between two push writes to a connection (0: none) */

    int64_t worker_threads; /* 0 = one per core (resolved by comet_config_load) */

    char *redis_addr;
    char *redis_auth;
    int64_t redis_timeout_ms;
    int64_t registry_ttl_ms;

    int64_t online_interval_ms; /* RenewOnline period (operations thread) */
    int64_t
        protocol_renew_interval_ms; /* least time between two logic Heartbeats of a connection */

    /* gopusher clients (/ws/{app_key}/{user_tag} on the WebSocket listener) */
    int64_t gopusher_connect_timeout_ms; /* admission through logic (its connect hook: 5 s) */
    int64_t gopusher_ping_interval_ms;   /* WebSocket ping this often */
    int64_t gopusher_pong_timeout_ms;    /* closed when no pong came this long */
    int64_t gopusher_max_message_bytes;  /* a client message over this closes */
    /* gusher.cluster's clients (comet/protocol_gusher.h) */
    char *gusher_client_prefix;       /* routes under it ("/gusher/"); empty = none */
    int64_t gusher_max_message_bytes; /* a longer client message closes the socket */
    int64_t gusher_ping_interval_ms;  /* WebSocket ping period */
    int64_t gusher_pong_timeout_ms;   /* no pong for this long closes the socket */
    bool gusher_must_subscribe;       /* no subscription at a ping closes the socket */
    char *gusher_remote_redis;        /* Redis of the remote command's RPUSH; empty = redis.addr */

    char *metrics_addr;      /* Prometheus GET /metrics listen address; empty = none */
    int64_t drain_period_ms; /* graceful stop: clients closed spread over it (0 = at once) */
};

/*
 * Loads config (zeroed by the caller) from defaults, -conf, environment and
 * argv, then derives what is left empty: host (gethostname), worker.threads
 * (cores), rpcServer.advertise. command receives -conf/-t/-h.
 * Returns GIM_OK or GIM_ERR_INVALID with a message in error. Call
 * comet_config_free in every case.
 */
int comet_config_load(struct comet_config *config, int argc, char **argv,
                      struct gim_config_command *command, char *error, size_t error_size);

/* Writes the effective configuration as JSON (for -t). */
void comet_config_dump(const struct comet_config *config, FILE *out);

/* Writes the flag list (for -h). */
void comet_config_usage(const char *program, FILE *out);

/* Frees the strings inside config (not config itself). */
void comet_config_free(struct comet_config *config);

/* The functions above for the shared start-up (common/daemon.h), role "comet". */
extern const struct gim_daemon comet_daemon;

#endif
