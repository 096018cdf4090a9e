/* config.c: logic's option table and the rules on top of it (see config.h). */
#include "logic/config.h"

#include <stdlib.h>
#include <string.h>

#include "common/rpc.h"
#include "common/rpc_auth.h"
#include "common/status.h"

#define ROW(name, type, field, def, min, max, flag, env, help)                                     \
    {                                                                                              \
        name, type, offsetof(struct logic_config, field), def, min, max, flag, env, help           \
    }

/* Limits min = 1, max = 0 (min > max) mean "unchecked". */
#define MAX_DURATION_MS ((int64_t)24 * 3600 * 1000)

static const struct gim_config_option logic_options[] = {
    ROW("host", GIM_CONFIG_STRING, host, NULL, 1, 0, "host", "HOST",
        "server id of this logic (default: the hostname)"),
    ROW("region", GIM_CONFIG_STRING, region, NULL, 1, 0, "region", "REGION", "region"),
    ROW("zone", GIM_CONFIG_STRING, zone, NULL, 1, 0, "zone", "ZONE", "zone"),
    ROW("env", GIM_CONFIG_STRING, env, NULL, 1, 0, "deploy.env", "DEPLOY_ENV",
        "deployment environment"),
    ROW("debug", GIM_CONFIG_BOOL, debug, "false", 1, 0, "debug", "DEBUG", "log at debug level"),

    ROW("httpServer.addr", GIM_CONFIG_STRING, http_addr, ":3111", 1, 0, NULL, NULL,
        "HTTP API listen address"),
    ROW("httpServer.maxBody", GIM_CONFIG_INT, http_max_body, "0", 0, 256 * 1024 * 1024, NULL, NULL,
        "largest push body in bytes (larger: HTTP 413); 0 or more than one Kafka record holds "
        "(995904) = 995904"),
    ROW("httpServer.maxConnections", GIM_CONFIG_INT, http_max_connections, "4096", 1, 1000000, NULL,
        NULL, "open HTTP connections at most; past it a new one is closed at accept"),
    ROW("httpServer.maxConnectionsPerIP", GIM_CONFIG_INT, http_max_connections_per_ip, "256", 0,
        1000000, NULL, NULL,
        "open HTTP connections per client address at most (0 = no limit per address)"),
    ROW("httpServer.requestTimeout", GIM_CONFIG_DURATION, http_request_timeout_ms, "10s", 100,
        3600 * 1000, NULL, NULL,
        "a request must arrive whole within this of the connection's start or previous answer"),
    ROW("httpServer.maxUrlBytes", GIM_CONFIG_INT, http_max_url_bytes, "16384", 4096,
        64 * 1024 * 1024, NULL, NULL,
        "longest request line (path and query) in bytes (longer: HTTP 414); 1048576 holds goim's "
        "10,000 mids or keys, at a cost on every keep-alive request (see README)"),
    ROW("httpServer.pushTokens", GIM_CONFIG_STRING, http_push_tokens, "", 1, 0, NULL,
        "GOIM_PUSH_TOKENS",
        "comma list of bearer tokens required by /goim/push/*, /goim/online/* and gusher's "
        "master API (gusher.apiPrefix) but its ping; empty = open"),
    ROW("httpServer.threads", GIM_CONFIG_INT, http_threads, "4", 1, 256, NULL, NULL,
        "HTTP worker threads (a push holds none while Kafka acknowledges: its answer is deferred)"),

    ROW("rpcServer.addr", GIM_CONFIG_STRING, rpc_addr, ":3119", 1, 0, NULL, NULL,
        "nng RPC listen address (\":3119\" or an nng URL)"),
    ROW("rpcServer.workers", GIM_CONFIG_INT, rpc_workers, "8", 1, 1024, NULL, NULL,
        "RPC worker threads"),

    ROW("rpcAuth.secret", GIM_CONFIG_STRING, rpc_auth_secret, "", 1, 0, NULL, "GOIM_RPC_SECRET",
        "shared secret signing every internal RPC request (HMAC-SHA256), the same on every "
        "comet, logic and job; empty = unsigned (loopback-only clusters)"),
    ROW("rpcAuth.window", GIM_CONFIG_DURATION, rpc_auth_window_ms, "30s", 1000, 3600 * 1000, NULL,
        NULL, "how far a signed request's time may be from this machine's clock"),

    ROW("kafka.brokers", GIM_CONFIG_STRING, kafka_brokers, "127.0.0.1:9092", 1, 0, NULL,
        "KAFKA_BROKERS", "Kafka bootstrap servers, comma-separated"),
    ROW("kafka.topic", GIM_CONFIG_STRING, kafka_topic, "goim-push-topic", 1, 0, NULL, NULL,
        "Kafka topic of PushMsg records"),
    ROW("kafka.timeout", GIM_CONFIG_DURATION, kafka_timeout_ms, "1s", 1, MAX_DURATION_MS, NULL,
        NULL, "how long a push waits for Kafka's acknowledgement"),

    ROW("redis.addr", GIM_CONFIG_STRING, redis_addr, "127.0.0.1:6379", 1, 0, NULL, "REDIS_ADDR",
        "Redis host:port"),
    ROW("redis.auth", GIM_CONFIG_STRING, redis_auth, NULL, 1, 0, NULL, NULL, "Redis password"),
    ROW("redis.timeout", GIM_CONFIG_DURATION, redis_timeout_ms, "1s", 1, 60 * 1000, NULL, NULL,
        "Redis connect/read/write timeout"),
    ROW("redis.expire", GIM_CONFIG_DURATION, redis_expire_ms, "30m", 1000, 365 * MAX_DURATION_MS,
        NULL, NULL, "TTL of the session keys mid_/key_ and of the room counts ol_"),

    ROW("auth.jwtPublicKey", GIM_CONFIG_STRING, auth_jwt_public_key, "", 1, 0, NULL, NULL,
        "PEM RSA public key file: clients must send an RS256 JWT (sub = mid) as the auth body's "
        "\"token\"; empty = no client authentication (goim)"),
    ROW("comet.maxOutputBytes", GIM_CONFIG_INT, comet_max_output_bytes, "262144", 4096,
        1024 * 1024 * 1024, NULL, NULL,
        "comet's protocol.maxOutputBytes: a push body that cannot fit it is refused with 413"),

    ROW("online.interval", GIM_CONFIG_DURATION, online_interval_ms, "10s", 100, MAX_DURATION_MS,
        NULL, NULL, "how often the comet list and the room counts are reloaded from Redis"),

    ROW("node.defaultDomain", GIM_CONFIG_STRING, node_default_domain, "conn.goim.io", 1, 0, NULL,
        NULL, "fallback node name for clients"),
    ROW("node.hostDomain", GIM_CONFIG_STRING, node_host_domain, ".goim.io", 1, 0, NULL, NULL,
        "suffix appended to comet hostnames for web clients"),
    ROW("node.heartbeat", GIM_CONFIG_DURATION, node_heartbeat_ms, "4m", 1000, MAX_DURATION_MS, NULL,
        NULL, "client heartbeat interval"),
    ROW("node.heartbeatMax", GIM_CONFIG_INT, node_heartbeat_max, "2", 1, 1000, NULL, NULL,
        "missed heartbeats tolerated (server timeout = heartbeat x heartbeatMax)"),
    ROW("node.tcpPort", GIM_CONFIG_INT, node_tcp_port, "3101", 0, 65535, NULL, NULL,
        "advertised comet TCP port"),
    ROW("node.wsPort", GIM_CONFIG_INT, node_ws_port, "3102", 0, 65535, NULL, NULL,
        "advertised comet WebSocket port"),
    ROW("node.wssPort", GIM_CONFIG_INT, node_wss_port, "3103", 0, 65535, NULL, NULL,
        "advertised comet WSS port"),
    ROW("node.regionWeight", GIM_CONFIG_DOUBLE, node_region_weight, "1.6", 1, 0, NULL, NULL,
        "weight gain of same-region comets"),

    ROW("gopusher.addr", GIM_CONFIG_STRING, gopusher_addr, ":8002", 1, 0, NULL, NULL,
        "gopusher API listen address (gopusher's api_listen); empty: no gopusher API"),
    ROW("gopusher.authAccount", GIM_CONFIG_STRING, gopusher_auth_account, NULL, 1, 0, NULL, NULL,
        "gopusher super admin account (gopusher's auth_account; empty: no super admin)"),
    ROW("gopusher.authPassword", GIM_CONFIG_STRING, gopusher_auth_password, NULL, 1, 0, NULL, NULL,
        "gopusher super admin password: bcrypt of account+password (logic -hash-password)"),
    ROW("gopusher.threads", GIM_CONFIG_INT, gopusher_threads, "2", 1, 256, NULL, NULL,
        "gopusher API worker threads (a push blocks one until Kafka acknowledges)"),
    ROW("gopusher.maxBody", GIM_CONFIG_INT, gopusher_max_body, "1048576", 0, 256 * 1024 * 1024,
        NULL, NULL, "largest gopusher API request body in bytes (larger: HTTP 413)"),
    ROW("gopusher.hookTimeout", GIM_CONFIG_DURATION, gopusher_hook_timeout_ms, "5s", 100, 60000,
        NULL, NULL, "longest wait for an app's connect hook (gopusher: 5 s)"),
    ROW("gopusher.hookConcurrency", GIM_CONFIG_INT, gopusher_hook_concurrency, "64", 1, 65536, NULL,
        NULL,
        "connect hook calls in flight at once (their RPC answers deferred, no worker waits; "
        "past it a client is refused with 503 at once)"),

    ROW("gusher.apiPrefix", GIM_CONFIG_STRING, gusher_api_prefix, "/api/", 1, 0, NULL, NULL,
        "path prefix of gusher.cluster's master API on httpServer.addr (gusher's "
        "GUSHER_MASTER_URI_PREFIX), /.../; empty: no gusher API"),
    ROW("gusher.publicKey", GIM_CONFIG_STRING, gusher_public_key, "", 1, 0, NULL, NULL,
        "PEM RSA public key file verifying gusher JWTs (gusher's GUSHER_PUBLIC_PEM_FILE); empty: "
        "every gusher auth and decode is refused"),
    ROW("gusher.tokenTTL", GIM_CONFIG_DURATION, gusher_token_ttl_ms, "60s", 1, 24 * 3600 * 1000,
        NULL, NULL, "how long a gusher auth token can open sockets (gusher: 60s)"),

    ROW("backoff.maxDelay", GIM_CONFIG_INT, backoff_max_delay, "300", 0, 86400, NULL, NULL,
        "client reconnect backoff: max delay (s)"),
    ROW("backoff.baseDelay", GIM_CONFIG_INT, backoff_base_delay, "3", 0, 86400, NULL, NULL,
        "client reconnect backoff: base delay (s)"),
    ROW("backoff.factor", GIM_CONFIG_DOUBLE, backoff_factor, "1.8", 1, 0, NULL, NULL,
        "client reconnect backoff: factor"),
    ROW("backoff.jitter", GIM_CONFIG_DOUBLE, backoff_jitter, "0.3", 1, 0, NULL, NULL,
        "client reconnect backoff: jitter"),
};

#define LOGIC_OPTION_ROWS (sizeof(logic_options) / sizeof(logic_options[0]))

/* Accepts goim's "host:port" / ":port" / "[v6]:port" with a numeric port 0-65535. */
static int logic_check_address(const char *name, const char *address, char *error,
                               size_t error_size)
{
    const char *colon = strrchr(address, ':');
    char *end;
    long port;

    if (strstr(address, "://") != NULL && strcmp(name, "rpcServer.addr") == 0)
        return GIM_OK; /* an nng URL, checked when parsed */
    if (colon != NULL && colon[1] != '\0') {
        port = strtol(colon + 1, &end, 10);
        if (*end == '\0' && port >= 0 && port <= 65535)
            return GIM_OK;
    }
    snprintf(error, error_size, "%s: \"%s\" is not host:port", name, address);
    return GIM_ERR_INVALID;
}

int logic_config_load(struct logic_config *config, int argc, char **argv,
                      struct gim_config_command *command, char *error, size_t error_size)
{
    char url[LOGIC_RPC_URL_SIZE];
    int status = gim_config_load(logic_options, LOGIC_OPTION_ROWS, config, argc, argv, command,
                                 error, error_size);
    if (status != GIM_OK || command->help)
        return status;
    status = gim_config_default_host(&config->host, NULL, error, error_size); /* no name: error */
    if (status != GIM_OK)
        return status;
    if (config->node_region_weight <= 0) {
        snprintf(error, error_size, "node.regionWeight: must be > 0");
        return GIM_ERR_INVALID;
    }
    if (config->http_addr[0] == '\0' || config->rpc_addr[0] == '\0' ||
        config->kafka_brokers[0] == '\0' || config->kafka_topic[0] == '\0' ||
        config->redis_addr[0] == '\0') {
        snprintf(error, error_size,
                 "httpServer.addr, rpcServer.addr, kafka.brokers, kafka.topic and redis.addr "
                 "must not be empty");
        return GIM_ERR_INVALID;
    }
    if (config->gopusher_addr[0] != '\0' &&
        logic_check_address("gopusher.addr", config->gopusher_addr, error, error_size) != GIM_OK)
        return GIM_ERR_INVALID;
    if (config->gopusher_hook_concurrency >
        (config->rpc_workers - 1) * GIM_RPC_SERVER_EXCHANGES_PER_WORKER) {
        snprintf(error, error_size,
                 "gopusher.hookConcurrency (%lld) must be at most (rpcServer.workers - 1) x %d "
                 "(%lld): the server serves or defers workers x %d requests at once, and one "
                 "worker's share must stay free for Connect, Heartbeat...",
                 (long long)config->gopusher_hook_concurrency, GIM_RPC_SERVER_EXCHANGES_PER_WORKER,
                 (long long)(config->rpc_workers - 1) * GIM_RPC_SERVER_EXCHANGES_PER_WORKER,
                 GIM_RPC_SERVER_EXCHANGES_PER_WORKER);
        return GIM_ERR_INVALID;
    }
    if (config->gopusher_auth_account[0] != '\0' &&
        strncmp(config->gopusher_auth_password, "$2", 2) != 0) {
        snprintf(error, error_size,
                 "gopusher.authPassword: not a bcrypt hash (make one with logic -hash-password)");
        return GIM_ERR_INVALID;
    }
    if (config->gusher_api_prefix[0] != '\0' &&
        (config->gusher_api_prefix[0] != '/' ||
         config->gusher_api_prefix[strlen(config->gusher_api_prefix) - 1] != '/' ||
         strncmp("/goim/", config->gusher_api_prefix, strlen(config->gusher_api_prefix)) == 0 ||
         strncmp(config->gusher_api_prefix, "/goim/", 6) == 0)) {
        snprintf(error, error_size,
                 "gusher.apiPrefix: \"%s\" must be empty or /.../, apart from goim's /goim/",
                 config->gusher_api_prefix);
        return GIM_ERR_INVALID;
    }
    if (gim_rpc_auth_check("rpcAuth.secret", config->rpc_auth_secret, error, error_size) != GIM_OK)
        return GIM_ERR_INVALID;
    if (gim_config_list_length(config->http_push_tokens) > 64 ||
        (config->http_push_tokens[0] != '\0' && strstr(config->http_push_tokens, ",,") != NULL)) {
        snprintf(error, error_size, "httpServer.pushTokens: at most 64 tokens, none empty");
        return GIM_ERR_INVALID;
    }
    if (logic_check_address("httpServer.addr", config->http_addr, error, error_size) != GIM_OK ||
        logic_check_address("rpcServer.addr", config->rpc_addr, error, error_size) != GIM_OK ||
        logic_check_address("redis.addr", config->redis_addr, error, error_size) != GIM_OK)
        return GIM_ERR_INVALID;
    if (gim_rpc_url(config->rpc_addr, true, url, sizeof(url)) != GIM_OK) {
        snprintf(error, error_size, "rpcServer.addr: \"%s\" is not an address", config->rpc_addr);
        return GIM_ERR_INVALID;
    }
    return GIM_OK;
}

void logic_config_dump(const struct logic_config *config, FILE *out)
{
    gim_config_dump(logic_options, LOGIC_OPTION_ROWS, config, out);
}

void logic_config_usage(const char *program, FILE *out)
{
    gim_config_usage(logic_options, LOGIC_OPTION_ROWS, program, out);
    fprintf(out,
            "one-shot commands instead of the daemon (logic/gopusher_tools.h):\n"
            "  %s -hash-password ACCOUNT < password   prints a bcrypt hash for "
            "gopusher.authPassword\n"
            "  %s -import-gopusher FILE [-redis.addr host:port ...]   copies a gopusher "
            "SQLite database's apps into Redis\n",
            program, program);
}

void logic_config_free(struct logic_config *config)
{
    gim_config_free(logic_options, LOGIC_OPTION_ROWS, config);
}

/* ---- the shared start-up's view of these functions (common/daemon.h) ---- */

static int daemon_load(void *config, int argc, char **argv, struct gim_config_command *command,
                       char *error, size_t error_size)
{
    return logic_config_load(config, argc, argv, command, error, error_size);
}

static void daemon_dump(const void *config, FILE *out)
{
    logic_config_dump(config, out);
}

static void daemon_free(void *config)
{
    logic_config_free(config);
}

const struct gim_daemon logic_daemon = {
    .role = "logic",
    .load = daemon_load,
    .usage = logic_config_usage,
    .dump = daemon_dump,
    .free = daemon_free,
    .debug_offset = offsetof(struct logic_config, debug),
};
