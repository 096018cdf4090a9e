/* http.c: libmicrohttpd server, route table, body accumulation, envelope (see http.h). */
#include "logic/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
#include "common/grow.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "common/status.h"
#include "logic/config.h"
#include "logic/context.h"
#include "logic/gusher_api.h"
#include "logic/http_edge.h"
#include "logic/http_nodes.h"
#include "logic/http_online.h"
#include "logic/http_params.h"
#include "logic/http_push.h"
#include "logic/http_static.h"
#include "logic/metrics.h"

/* Idle keep-alive connections are closed after this many seconds. */
#define HTTP_CONNECTION_TIMEOUT_SECONDS 60

struct http_route {
    const char *method;
    const char *path;
    http_handler_fn handler;
};

/* goim v2's routes, all under /goim. Add new endpoints here. */
static const struct http_route http_routes[] = {
    {"POST", "/goim/push/keys", http_push_keys},
    {"POST", "/goim/push/mids", http_push_mids},
    {"POST", "/goim/push/room", http_push_room},
    {"POST", "/goim/push/all", http_push_all},
    {"GET", "/goim/online/top", http_online_top},
    {"GET", "/goim/online/room", http_online_room},
    {"GET", "/goim/online/total", http_online_total},
    {"GET", "/goim/nodes/weighted", http_nodes_weighted},
    {"GET", "/goim/nodes/instances", http_nodes_instances},
};

struct http_server {
    struct MHD_Daemon *daemon;
    const struct logic_context *logic;
    size_t max_body;
    /* deferred requests without their answer yet; http_server_stop waits for 0 */
    atomic_int deferred_count;
    struct http_edge *edge; /* admission: limits, deadline, credentials (http_edge.h) */
};

/* Where a deferred request stands (http_request_defer). */
enum http_deferral {
    HTTP_NOT_DEFERRED,   /* the handler answers at once */
    HTTP_DEFER_RUNNING,  /* deferred, the handler still runs */
    HTTP_DEFER_PARKED,   /* deferred, the connection is suspended */
    HTTP_DEFER_ANSWERED, /* the answer is in, the connection runs (or is resumed) */
};

/*
 * Per-request state, created on the first call of the access handler, freed
 * when libmicrohttpd reports the request complete. It is also the token of
 * a deferred request (struct http_deferred): lock guards deferral and
 * answer between the handler's thread and the finishing thread. A parked
 * exchange is touched only by the finishing thread until it resumes the
 * connection, so it cannot be freed under that thread.
 */
struct http_exchange {
    uint8_t *body;
    size_t length;
    size_t capacity;
    bool too_large; /* the body passed max_body: the rest is discarded, the answer is 413 */
    struct http_server *server;
    struct MHD_Connection *connection;
    pthread_mutex_t lock;
    enum http_deferral deferral;
    struct http_answer answer; /* a deferred request's answer, once ANSWERED */
    const char *metrics_label; /* the endpoint label of its answer (static), NULL: the path */
};

/* Sends the envelope of answer, with header name: value when name is not NULL; consumes
 * answer->data. */
static enum MHD_Result http_send_answer(struct MHD_Connection *connection,
                                        struct http_answer *answer, const char *name,
                                        const char *value)
{
    struct MHD_Response *response;
    enum MHD_Result result;
    size_t length;
    char *text;

    if (answer->raw) {
        response = MHD_create_response_from_buffer(answer->raw_length, answer->raw_body,
                                                   MHD_RESPMEM_MUST_COPY);
        http_answer_release(answer);
        if (response == NULL)
            return MHD_NO;
        if (answer->raw_content_type != NULL)
            MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    answer->raw_content_type);
        if (name != NULL)
            MHD_add_response_header(response, name, value);
        result = MHD_queue_response(connection, answer->http_status, response);
        MHD_destroy_response(response);
        return result;
    }
    text = http_answer_render(answer, &length);
    if (text == NULL)
        return MHD_NO; /* out of memory: close the connection */
    response = MHD_create_response_from_buffer(length, text, MHD_RESPMEM_MUST_COPY);
    free(text);
    if (response == NULL)
        return MHD_NO;
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json; charset=utf-8");
    if (name != NULL)
        MHD_add_response_header(response, name, value);
    result = MHD_queue_response(connection, answer->http_status, response);
    MHD_destroy_response(response);
    return result;
}

/* Appends an upload chunk, growing geometrically up to max_body. */
static void http_exchange_append(struct http_exchange *exchange, const char *data, size_t size,
                                 size_t max_body)
{
    if (exchange->too_large)
        return;
    if (size > max_body - exchange->length) {
        exchange->too_large = true; /* bound: stop storing, answer 413 at the end */
        free(exchange->body);
        exchange->body = NULL;
        exchange->length = exchange->capacity = 0;
        return;
    }
    if (gim_grow(&exchange->body, &exchange->capacity, exchange->length + size, 1, 4096,
                 max_body) != GIM_OK) {
        exchange->too_large = true; /* cannot hold it: refuse it as too large */
        return;
    }
    memcpy(exchange->body + exchange->length, data, size);
    exchange->length += size;
}

/* Answers 413 for a body over max_body. */
static enum MHD_Result http_send_too_large(struct MHD_Connection *connection, size_t max_body)
{
    struct http_answer answer;

    http_answer_init(&answer);
    http_answer_error(&answer, MHD_HTTP_CONTENT_TOO_LARGE, HTTP_CODE_REQUEST_ERR,
                      "body larger than %zu bytes (what one Kafka record holds, or "
                      "httpServer.maxBody when lower)",
                      max_body);
    return http_send_answer(connection, &answer, NULL, NULL);
}

/* Sends the answer a deferred request was given (ANSWERED: no other thread touches it). */
static enum MHD_Result http_send_deferred_answer(struct http_server *server,
                                                 struct MHD_Connection *connection,
                                                 const char *path, struct http_exchange *exchange)
{
    gim_log_debug("http: %s -> %u code=%d %s (deferred)", path, exchange->answer.http_status,
                  exchange->answer.code, exchange->answer.message);
    logic_metrics_count_http(server->logic->metrics,
                             exchange->metrics_label ? exchange->metrics_label : path,
                             exchange->answer.code);
    return http_send_answer(connection, &exchange->answer, NULL, NULL);
}

struct http_deferred *http_request_defer(const struct http_request *request)
{
    struct http_exchange *exchange = request->exchange;

    if (exchange == NULL)
        return NULL;
    /* Only the handler's thread has seen the exchange so far: no lock needed yet. */
    exchange->deferral = HTTP_DEFER_RUNNING;
    atomic_fetch_add(&exchange->server->deferred_count, 1);
    return (struct http_deferred *)exchange;
}

void http_deferred_finish(struct http_deferred *deferred, struct http_answer *answer)
{
    struct http_exchange *exchange = (struct http_exchange *)deferred;
    struct http_server *server = exchange->server;
    struct MHD_Connection *connection = exchange->connection;
    bool parked;

    pthread_mutex_lock(&exchange->lock);
    exchange->answer = *answer;
    answer->data = NULL; /* taken over */
    answer->raw_body = NULL;
    parked = exchange->deferral == HTTP_DEFER_PARKED;
    exchange->deferral = HTTP_DEFER_ANSWERED;
    pthread_mutex_unlock(&exchange->lock);
    /*
     * A parked exchange stays untouched by libmicrohttpd until the resume, so
     * it is not used after this point (connection was read above).
     */
    if (parked)
        MHD_resume_connection(connection);
    atomic_fetch_sub(&server->deferred_count, 1);
}

/*
 * Runs handler for the request and sends its answer, or parks the
 * connection when the handler deferred it and the answer is not in yet.
 * label (static) names the endpoint in the metrics; NULL: the path.
 */
static enum MHD_Result http_run(struct http_server *server, struct MHD_Connection *connection,
                                const char *method, const char *path, const char *label,
                                struct http_exchange *exchange, http_handler_fn handler)
{
    struct http_request request = {connection,     method,           path,    server->logic,
                                   exchange->body, exchange->length, exchange};
    struct http_answer answer;

    http_answer_init(&answer);
    exchange->metrics_label = label;
    handler(&request, &answer);
    if (exchange->deferral != HTTP_NOT_DEFERRED) {
        http_answer_release(&answer);
        pthread_mutex_lock(&exchange->lock);
        if (exchange->deferral == HTTP_DEFER_RUNNING) {
            /* No answer yet: park the connection; http_deferred_finish resumes it. */
            MHD_suspend_connection(connection);
            exchange->deferral = HTTP_DEFER_PARKED;
            pthread_mutex_unlock(&exchange->lock);
            return MHD_YES;
        }
        pthread_mutex_unlock(&exchange->lock);
        return http_send_deferred_answer(server, connection, path, exchange);
    }
    gim_log_debug("http: %s %s -> %u code=%d %s", method, path, answer.http_status, answer.code,
                  answer.message);
    logic_metrics_count_http(server->logic->metrics, label ? label : path, answer.code);
    return http_send_answer(connection, &answer, NULL, NULL);
}

/* Runs the route for method + path once the body is complete. */
static enum MHD_Result http_dispatch(struct http_server *server, struct MHD_Connection *connection,
                                     const char *path, const char *method,
                                     struct http_exchange *exchange)
{
    struct http_answer answer;
    const struct http_route *path_match = NULL;
    size_t index;

    http_answer_init(&answer);
    if (strcmp(path, "/metrics") == 0 && server->logic->metrics != NULL)
        return (enum MHD_Result)gim_metrics_http_answer(connection,
                                                        server->logic->metrics->registry, method);
    if (http_static_owns(path)) /* the demo page and the JavaScript client */
        return (enum MHD_Result)http_static_answer(connection, path, method);
    if (gusher_api_owns(server->logic->config, path)) /* gusher.cluster's master API */
        return http_run(server, connection, method, path, "gusher", exchange, gusher_api_handle);

    for (index = 0; index < sizeof(http_routes) / sizeof(http_routes[0]); index++) {
        if (strcmp(http_routes[index].path, path) != 0)
            continue;
        path_match = &http_routes[index];
        if (strcmp(http_routes[index].method, method) == 0) {
            return http_run(server, connection, method, path, NULL, exchange,
                            http_routes[index].handler);
        }
    }
    if (path_match != NULL) {
        http_answer_error(&answer, MHD_HTTP_METHOD_NOT_ALLOWED, HTTP_CODE_NOT_ALLOWED,
                          "method not allowed");
        logic_metrics_count_http(server->logic->metrics, path, HTTP_CODE_NOT_ALLOWED);
        return http_send_answer(connection, &answer, MHD_HTTP_HEADER_ALLOW, path_match->method);
    }
    http_answer_error(&answer, MHD_HTTP_NOT_FOUND, HTTP_CODE_NOT_FOUND, "not found");
    logic_metrics_count_http(server->logic->metrics, path, HTTP_CODE_NOT_FOUND);
    return http_send_answer(connection, &answer, NULL, NULL);
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *connection, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **request_state)
{
    struct http_server *server = cls;
    struct http_exchange *exchange = *request_state;
    struct http_answer answer;
    const char *challenge;

    (void)version;
    http_answer_init(&answer);
    if (exchange == NULL) {
        const char *declared;
        exchange = calloc(1, sizeof(*exchange));
        if (exchange == NULL)
            return MHD_NO;
        exchange->server = server;
        exchange->connection = connection;
        pthread_mutex_init(&exchange->lock, NULL);
        *request_state = exchange;
        if (http_edge_admit(server->edge, connection, url, &answer, &challenge) != GIM_OK) {
            logic_metrics_count_http(server->logic->metrics, url, answer.code);
            return http_send_answer(connection, &answer,
                                    challenge ? MHD_HTTP_HEADER_WWW_AUTHENTICATE : NULL, challenge);
        }
        declared = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (declared != NULL) {
            char *end;
            unsigned long long length = strtoull(declared, &end, 10);
            if (*end == '\0' && length > server->max_body) {
                exchange->too_large = true; /* read and dropped, then 413 (see http_edge.h) */
                if (length > LOGIC_HTTP_DISCARD_LIMIT || http_edge_expects_continue(connection)) {
                    /* Refuse before reading (and before "100 Continue"): never read. */
                    logic_metrics_count_http(server->logic->metrics, url, HTTP_CODE_REQUEST_ERR);
                    return http_send_too_large(connection, server->max_body);
                }
            }
        }
        return MHD_YES;
    }
    if (exchange->deferral == HTTP_DEFER_ANSWERED) /* resumed: the answer is in */
        return http_send_deferred_answer(server, connection, url, exchange);
    if (*upload_data_size > 0) {
        http_exchange_append(exchange, upload_data, *upload_data_size, server->max_body);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (exchange->too_large) {
        logic_metrics_count_http(server->logic->metrics, url, HTTP_CODE_REQUEST_ERR);
        return http_send_too_large(connection, server->max_body);
    }
    if (http_edge_check_body(server->edge, connection, url, exchange->length, &answer) != GIM_OK) {
        logic_metrics_count_http(server->logic->metrics, url, answer.code);
        return http_send_answer(connection, &answer, NULL, NULL);
    }
    http_edge_request_received(server->edge, connection);
    return http_dispatch(server, connection, url, method, exchange);
}

static void http_completed(void *cls, struct MHD_Connection *connection, void **request_state,
                           enum MHD_RequestTerminationCode code)
{
    struct http_server *server = cls;
    struct http_exchange *exchange = *request_state;

    (void)code;
    http_edge_request_completed(server->edge, connection);
    if (exchange != NULL) {
        http_answer_release(&exchange->answer); /* an answer that was never sent */
        pthread_mutex_destroy(&exchange->lock);
        free(exchange->body);
        free(exchange);
        *request_state = NULL;
    }
}

/* Splits "host:port" / ":port" / "[v6]:port" and resolves it numerically. */
static int http_resolve(const char *address, struct sockaddr_storage *out, socklen_t *length,
                        char *error, size_t error_size)
{
    char host[256];
    const char *colon = strrchr(address, ':');
    const char *port;
    struct addrinfo hints, *found = NULL;
    size_t host_length;
    int result;

    if (colon == NULL || colon[1] == '\0') {
        snprintf(error, error_size, "httpServer.addr: \"%s\" is not host:port", address);
        return GIM_ERR_INVALID;
    }
    port = colon + 1;
    host_length = (size_t)(colon - address);
    if (host_length >= 2 && address[0] == '[' && address[host_length - 1] == ']') {
        address++;
        host_length -= 2;
    }
    if (host_length >= sizeof(host)) {
        snprintf(error, error_size, "httpServer.addr: host too long");
        return GIM_ERR_INVALID;
    }
    memcpy(host, address, host_length);
    host[host_length] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (host_length == 0)
        hints.ai_family = AF_INET; /* ":3111": every IPv4 interface, as goim */
    result = getaddrinfo(host_length ? host : NULL, port, &hints, &found);
    if (result != 0 || found == NULL) {
        snprintf(error, error_size, "httpServer.addr: \"%s\": %s", address,
                 result ? gai_strerror(result) : "no address");
        return GIM_ERR_INVALID;
    }
    memcpy(out, found->ai_addr, found->ai_addrlen);
    *length = found->ai_addrlen;
    freeaddrinfo(found);
    return GIM_OK;
}

int http_server_start(struct http_server **out, const struct logic_context *logic,
                      const char *address, int threads, size_t max_body, char *error,
                      size_t error_size)
{
    struct http_server *server;
    struct sockaddr_storage bind_address;
    socklen_t bind_length;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                         MHD_ALLOW_SUSPEND_RESUME;
    int status;

    *out = NULL;
    status = http_resolve(address, &bind_address, &bind_length, error, error_size);
    if (status != GIM_OK)
        return status;
    if (bind_address.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    server = calloc(1, sizeof(*server));
    if (server == NULL)
        return GIM_ERR_NO_MEMORY;
    server->logic = logic;
    server->max_body = max_body;
    atomic_init(&server->deferred_count, 0);
    status = http_edge_create(&server->edge, logic->config, logic->metrics);
    if (status != GIM_OK) {
        snprintf(error, error_size, "http: cannot start the request reaper: %s",
                 gim_strerror(status));
        free(server);
        return status;
    }
    /* The logger must be the first option, or early messages go to libmicrohttpd's own. */
    server->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, http_access, server, MHD_OPTION_EXTERNAL_LOGGER, http_edge_log,
        server->edge, MHD_OPTION_SOCK_ADDR, &bind_address, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)threads, MHD_OPTION_NOTIFY_COMPLETED, http_completed, server,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_CONNECTION_TIMEOUT_SECONDS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, http_edge_connection_memory(logic->config),
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)logic->config->http_max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)logic->config->http_max_connections_per_ip, MHD_OPTION_NOTIFY_CONNECTION,
        http_edge_notify_connection, server->edge, MHD_OPTION_URI_LOG_CALLBACK, http_edge_uri_log,
        server->edge, MHD_OPTION_END);
    if (server->daemon == NULL) {
        snprintf(error, error_size, "httpServer.addr: cannot listen on %s", address);
        http_edge_destroy(server->edge);
        free(server);
        return GIM_ERR_IO;
    }
    (void)bind_length;
    *out = server;
    return GIM_OK;
}

unsigned int http_server_port(const struct http_server *server)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void http_server_stop(struct http_server *server, int wait_ms)
{
    int64_t deadline_ms;

    if (server == NULL)
        return;
    /* A suspended connection must be resumed before the daemon stops: wait for the answers. */
    deadline_ms = gim_monotonic_ms() + wait_ms;
    while (atomic_load(&server->deferred_count) > 0) {
        if (gim_monotonic_ms() >= deadline_ms) {
            gim_log_warn("http: %d deferred answers still missing after %dms; stopping anyway",
                         atomic_load(&server->deferred_count), wait_ms);
            break;
        }
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    MHD_stop_daemon(server->daemon);
    http_edge_destroy(server->edge);
    free(server);
}
