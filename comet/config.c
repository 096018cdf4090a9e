/* config.c: comet's option table and the values it derives (see config.h). */
#include "comet/config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rpc.h"
#include "common/rpc_auth.h"
#include "common/status.h"

#define ROW(name, type, field, def, min, max, flag, env, help)                                     \
    {                                                                                              \
        name, type, offsetof(struct comet_config, field), def, min, max, flag, env, help           \
    }

static const struct gim_config_option comet_options[] = {
    ROW("host", GIM_CONFIG_STRING, host, NULL, 0, -1, "host", "HOST",
        "server id (default: hostname)"),
    ROW("region", GIM_CONFIG_STRING, region, "", 0, -1, "region", "REGION", "region"),
    ROW("zone", GIM_CONFIG_STRING, zone, "", 0, -1, "zone", "ZONE", "zone"),
    ROW("env", GIM_CONFIG_STRING, env, "", 0, -1, "deploy.env", "DEPLOY_ENV", "deploy env"),
    ROW("weight", GIM_CONFIG_INT, weight, "10", 0, 1000000, "weight", "WEIGHT",
        "load balancing weight"),
    ROW("offline", GIM_CONFIG_BOOL, offline, "false", 0, -1, "offline", "OFFLINE",
        "registered but not offered to clients"),
    ROW("addrs", GIM_CONFIG_STRING, addrs, "", 0, -1, "addrs", "ADDRS",
        "public IPs for clients, comma list"),
    ROW("debug", GIM_CONFIG_BOOL, debug, "false", 0, -1, "debug", "DEBUG", "debug logging"),
    ROW("tcp.bind", GIM_CONFIG_STRING, tcp_bind, ":3101", 0, -1, NULL, NULL,
        "TCP listen addresses, comma list"),
    ROW("tcp.sndbuf", GIM_CONFIG_INT, tcp_sndbuf, "0", 0, 64 * 1024 * 1024, NULL, NULL,
        "SO_SNDBUF bytes, 0 = kernel default"),
    ROW("tcp.rcvbuf", GIM_CONFIG_INT, tcp_rcvbuf, "0", 0, 64 * 1024 * 1024, NULL, NULL,
        "SO_RCVBUF bytes, 0 = kernel default"),
    ROW("tcp.keepalive", GIM_CONFIG_BOOL, tcp_keepalive, "false", 0, -1, NULL, NULL,
        "SO_KEEPALIVE on client sockets"),
    ROW("websocket.bind", GIM_CONFIG_STRING, websocket_bind, ":3102", 0, -1, NULL, NULL,
        "WebSocket listen addresses (goim /sub, gopusher /ws/{app_key}/{user_tag}, gusher "
        "gusher.clientPrefix), comma list; empty = none"),
    ROW("websocket.tlsOpen", GIM_CONFIG_BOOL, websocket_tls_open, "false", 0, -1, NULL, NULL,
        "serve WebSocket over TLS on websocket.tlsBind"),
    ROW("websocket.tlsBind", GIM_CONFIG_STRING, websocket_tls_bind, ":3103", 0, -1, NULL, NULL,
        "WSS listen addresses, comma list"),
    ROW("websocket.certFile", GIM_CONFIG_STRING, websocket_cert_file, "", 0, -1, NULL, NULL,
        "WSS certificate chains (PEM files), comma list, paired by position with "
        "websocket.privateFile; the client's SNI name picks one, the first is the default"),
    ROW("websocket.privateFile", GIM_CONFIG_STRING, websocket_private_file, "", 0, -1, NULL, NULL,
        "WSS private keys (PEM files), comma list, one per websocket.certFile entry"),
    ROW("rpcServer.addr", GIM_CONFIG_STRING, rpc_server_addr, ":3109", 0, -1, NULL, NULL,
        "RPC listen address"),
    ROW("rpcServer.advertise", GIM_CONFIG_STRING, rpc_server_advertise, "", 0, -1, NULL, NULL,
        "RPC URL published in the registry (default: derived)"),
    ROW("rpcServer.workers", GIM_CONFIG_INT, rpc_server_workers, "4", 1, 256, NULL, NULL,
        "RPC worker threads"),
    ROW("rpcServer.timeout", GIM_CONFIG_DURATION, rpc_server_timeout_ms, "1s", 1, 600000, NULL,
        NULL, "a push no loop has started this long after it came is cancelled, answered an error"),
    ROW("rpcClient.logic", GIM_CONFIG_STRING, rpc_client_logic, "127.0.0.1:3119", 0, -1, NULL, NULL,
        "logic RPC address"),
    ROW("rpcClient.timeout", GIM_CONFIG_DURATION, rpc_client_timeout_ms, "1s", 1, 600000, NULL,
        NULL, "timeout of a call to logic"),
    ROW("rpcAuth.secret", GIM_CONFIG_STRING, rpc_auth_secret, "", 0, -1, NULL, "GOIM_RPC_SECRET",
        "shared secret signing every internal RPC request (HMAC-SHA256), the same on every "
        "comet, logic and job; empty = unsigned (loopback-only clusters)"),
    ROW("rpcAuth.window", GIM_CONFIG_DURATION, rpc_auth_window_ms, "30s", 1000, 3600000, NULL, NULL,
        "how far a signed request's time may be from this machine's clock"),
    ROW("protocol.handshakeTimeout", GIM_CONFIG_DURATION, handshake_timeout_ms, "5s", 1, 3600000,
        NULL, NULL, "auth deadline"),
    ROW("protocol.maxOutputBytes", GIM_CONFIG_INT, max_output_bytes, "262144", 4096,
        1024 * 1024 * 1024, NULL, NULL, "per-connection output bound (bytes)"),
    ROW("protocol.writeDelay", GIM_CONFIG_DURATION, write_delay_ms, "0s", 0,
        COMET_WRITE_DELAY_MAX_MS, NULL, NULL,
        "least time between two push writes to a connection: a push sooner after the previous "
        "one waits and shares the next write (a push after a quiet spell goes at once); 0 = none"),
    ROW("drain.period", GIM_CONFIG_DURATION, drain_period_ms, "0s", 0, 3600000, NULL, NULL,
        "on SIGTERM/SIGINT: go offline in the registry, stop accepting and close the clients "
        "spread over this period while pushes still flow; 0 = close at once"),
    ROW("worker.threads", GIM_CONFIG_INT, worker_threads, "0", 0, 1024, NULL, NULL,
        "event loop threads, 0 = one per core"),
    ROW("redis.addr", GIM_CONFIG_STRING, redis_addr, "127.0.0.1:6379", 0, -1, NULL, "REDIS_ADDR",
        "Redis host:port"),
    ROW("redis.auth", GIM_CONFIG_STRING, redis_auth, "", 0, -1, NULL, NULL, "Redis password"),
    ROW("redis.timeout", GIM_CONFIG_DURATION, redis_timeout_ms, "1s", 1, 60000, NULL, NULL,
        "Redis connect/read/write timeout"),
    ROW("registry.ttl", GIM_CONFIG_DURATION, registry_ttl_ms, "30s", 3000, 3600000, NULL, NULL,
        "registry entry TTL; republished every ttl/3"),
    ROW("online.interval", GIM_CONFIG_DURATION, online_interval_ms, "10s", 100, 3600000, NULL, NULL,
        "room counts sent to logic (RenewOnline) every interval"),
    ROW("protocol.renewInterval", GIM_CONFIG_DURATION, protocol_renew_interval_ms, "10m", 100,
        86400000, NULL, NULL,
        "a client heartbeat calls logic Heartbeat at most once per interval per connection"),
    ROW("gopusher.connectTimeout", GIM_CONFIG_DURATION, gopusher_connect_timeout_ms, "7s", 100,
        600000, NULL, NULL,
        "longest wait for logic to admit a gopusher client (above logic's gopusher.hookTimeout, "
        "5s)"),
    ROW("gopusher.pingInterval", GIM_CONFIG_DURATION, gopusher_ping_interval_ms, "54s", 1000,
        3600000, NULL, NULL, "a gopusher client is sent a WebSocket ping this often"),
    ROW("gopusher.pongTimeout", GIM_CONFIG_DURATION, gopusher_pong_timeout_ms, "60s", 1000, 3600000,
        NULL, NULL, "a gopusher client that sent no pong for this long is closed"),
    ROW("gopusher.maxMessageBytes", GIM_CONFIG_INT, gopusher_max_message_bytes, "512", 1, 4096,
        NULL, NULL, "a gopusher client message over this closes the connection"),
    ROW("gusher.clientPrefix", GIM_CONFIG_STRING, gusher_client_prefix, "/gusher/", 0, -1, NULL,
        NULL,
        "gusher.cluster client routes on the WebSocket listeners: {prefix}auth, "
        "{prefix}ws/{app_key}, {prefix}ping; starts and ends with '/'; empty = none"),
    ROW("gusher.maxMessageBytes", GIM_CONFIG_INT, gusher_max_message_bytes, "512", 1, 4096, NULL,
        NULL, "a gusher client message longer than this closes its socket"),
    ROW("gusher.pingInterval", GIM_CONFIG_DURATION, gusher_ping_interval_ms, "54s", 1000, 3600000,
        NULL, NULL, "WebSocket ping period of gusher sockets"),
    ROW("gusher.pongTimeout", GIM_CONFIG_DURATION, gusher_pong_timeout_ms, "60s", 1000, 3600000,
        NULL, NULL, "a gusher socket that sent no pong for this long is closed"),
    ROW("gusher.mustSubscribe", GIM_CONFIG_BOOL, gusher_must_subscribe, "true", 0, -1, NULL, NULL,
        "close a gusher socket without a subscription at a ping"),
    ROW("gusher.remoteRedis", GIM_CONFIG_STRING, gusher_remote_redis, "", 0, -1, NULL, NULL,
        "Redis host:port of the gusher remote command's RPUSH; empty = redis.addr"),
    ROW("metrics.addr", GIM_CONFIG_STRING, metrics_addr, ":3104", 0, -1, NULL, NULL,
        "Prometheus GET /metrics listen address; empty = none"),
};

#define COMET_OPTION_ROWS (sizeof(comet_options) / sizeof(comet_options[0]))

/* Finds the first non-loopback IPv4 address of an up interface; "127.0.0.1" if none. */
static void first_public_ipv4(char *out, size_t size)
{
    struct ifaddrs *list, *item;

    snprintf(out, size, "127.0.0.1");
    if (getifaddrs(&list) != 0)
        return;
    for (item = list; item != NULL; item = item->ifa_next) {
        if (item->ifa_addr == NULL || item->ifa_addr->sa_family != AF_INET)
            continue;
        if (!(item->ifa_flags & IFF_UP) || (item->ifa_flags & IFF_LOOPBACK))
            continue;
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)item->ifa_addr)->sin_addr, out,
                  (socklen_t)size);
        break;
    }
    freeifaddrs(list);
}

/*
 * Derives the advertised RPC URL from rpcServer.addr: an explicit host is
 * kept; an empty or wildcard host becomes the first public IPv4.
 */
static int derive_advertise(struct comet_config *config, char *error, size_t error_size)
{
    char url[256], host[128];
    const char *authority, *colon;
    size_t host_length;

    if (gim_rpc_url(config->rpc_server_addr, true, url, sizeof(url)) != GIM_OK) {
        snprintf(error, error_size, "rpcServer.addr: not an address: \"%s\"",
                 config->rpc_server_addr);
        return GIM_ERR_INVALID;
    }
    if (strncmp(url, "tcp://", 6) != 0) { /* ipc:// or inproc://: advertise as is */
        free(config->rpc_server_advertise);
        config->rpc_server_advertise = strdup(url);
        return config->rpc_server_advertise ? GIM_OK : GIM_ERR_NO_MEMORY;
    }
    authority = url + 6;
    colon = strrchr(authority, ':');
    if (colon == NULL) {
        snprintf(error, error_size, "rpcServer.addr: no port in \"%s\"", url);
        return GIM_ERR_INVALID;
    }
    host_length = (size_t)(colon - authority);
    if (host_length >= sizeof(host))
        return GIM_ERR_INVALID;
    memcpy(host, authority, host_length);
    host[host_length] = '\0';
    if (host_length == 0 || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0 ||
        strcmp(host, "[::]") == 0)
        first_public_ipv4(host, sizeof(host));
    free(config->rpc_server_advertise);
    if (asprintf(&config->rpc_server_advertise, "tcp://%s%s", host, colon) < 0) {
        config->rpc_server_advertise = NULL;
        return GIM_ERR_NO_MEMORY;
    }
    return GIM_OK;
}

int comet_config_load(struct comet_config *config, int argc, char **argv,
                      struct gim_config_command *command, char *error, size_t error_size)
{
    int status = gim_config_load(comet_options, COMET_OPTION_ROWS, config, argc, argv, command,
                                 error, error_size);
    if (status != GIM_OK || command->help)
        return status;
    status = gim_config_default_host(&config->host, "localhost", error, error_size);
    if (status != GIM_OK)
        return status;
    if (gim_rpc_auth_check("rpcAuth.secret", config->rpc_auth_secret, error, error_size) != GIM_OK)
        return GIM_ERR_INVALID;
    if (config->tcp_bind == NULL || config->tcp_bind[0] == '\0') {
        snprintf(error, error_size, "tcp.bind: at least one address is needed");
        return GIM_ERR_INVALID;
    }
    if (config->websocket_tls_open &&
        (config->websocket_cert_file[0] == '\0' || config->websocket_private_file[0] == '\0' ||
         config->websocket_tls_bind[0] == '\0')) {
        snprintf(error, error_size,
                 "websocket.tlsOpen needs websocket.tlsBind, websocket.certFile and "
                 "websocket.privateFile");
        return GIM_ERR_INVALID;
    }
    if (config->websocket_tls_open && gim_config_list_length(config->websocket_cert_file) !=
                                          gim_config_list_length(config->websocket_private_file)) {
        /* checked here too so that -t finds it; the files themselves are read at start */
        snprintf(error, error_size,
                 "websocket.certFile lists %zu certificate file(s) but websocket.privateFile "
                 "lists %zu private key file(s): they pair by position, give as many of each",
                 gim_config_list_length(config->websocket_cert_file),
                 gim_config_list_length(config->websocket_private_file));
        return GIM_ERR_INVALID;
    }
    if (config->gusher_client_prefix[0] != '\0' &&
        (config->gusher_client_prefix[0] != '/' ||
         config->gusher_client_prefix[strlen(config->gusher_client_prefix) - 1] != '/')) {
        snprintf(error, error_size, "gusher.clientPrefix: must start and end with '/': \"%s\"",
                 config->gusher_client_prefix);
        return GIM_ERR_INVALID;
    }
    if (config->worker_threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        config->worker_threads = cores > 0 ? cores : 1;
    }
    if (config->rpc_server_advertise == NULL || config->rpc_server_advertise[0] == '\0')
        return derive_advertise(config, error, error_size);
    return GIM_OK;
}

void comet_config_dump(const struct comet_config *config, FILE *out)
{
    gim_config_dump(comet_options, COMET_OPTION_ROWS, config, out);
}

void comet_config_usage(const char *program, FILE *out)
{
    gim_config_usage(comet_options, COMET_OPTION_ROWS, program, out);
}

void comet_config_free(struct comet_config *config)
{
    gim_config_free(comet_options, COMET_OPTION_ROWS, config);
}

/* ---- the shared start-up's view of these functions (common/daemon.h) ---- */

static int daemon_load(void *config, int argc, char **argv, struct gim_config_command *command,
                       char *error, size_t error_size)
{
    return comet_config_load(config, argc, argv, command, error, error_size);
}

static void daemon_dump(const void *config, FILE *out)
{
    comet_config_dump(config, out);
}

static void daemon_free(void *config)
{
    comet_config_free(config);
}

const struct gim_daemon comet_daemon = {
    .role = "comet",
    .load = daemon_load,
    .usage = comet_config_usage,
    .dump = daemon_dump,
    .free = daemon_free,
    .debug_offset = offsetof(struct comet_config, debug),
};
