/* metrics_http.c: the /metrics endpoint over libmicrohttpd (see metrics_http.h). */
#include "common/metrics_http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/http_log.h"
#include "common/http_text.h"
#include "common/listen_address.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/status.h"

/* An idle scraper connection is closed after this many seconds. */
#define METRICS_HTTP_TIMEOUT_SECONDS 10

struct gim_metrics_server {
    struct MHD_Daemon *daemon;
    struct gim_metrics *metrics;
};

int gim_metrics_http_answer(struct MHD_Connection *connection, struct gim_metrics *metrics,
                            const char *method)
{
    struct MHD_Response *response;
    enum MHD_Result result;
    char *text;
    size_t length;

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return gim_http_text_answer(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                                    MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (gim_metrics_render(metrics, &text, &length) != GIM_OK)
        return MHD_NO;
    /* libmicrohttpd frees text with free() once the response is destroyed */
    response = MHD_create_response_from_buffer(length, text, MHD_RESPMEM_MUST_FREE);
    if (response == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, METRICS_HTTP_CONTENT_TYPE);
    result = MHD_queue_response(connection, MHD_HTTP_OK, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result metrics_http_access(void *cls, struct MHD_Connection *connection,
                                           const char *url, const char *method, const char *version,
                                           const char *upload_data, size_t *upload_data_size,
                                           void **request_state)
{
    struct gim_metrics_server *server = cls;

    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)request_state;
    /* Answered on the first call, before any body is read: the body is discarded. */
    if (strcmp(url, "/metrics") != 0)
        return gim_http_text_answer(connection, MHD_HTTP_NOT_FOUND, "not found\n", NULL, NULL);
    return (enum MHD_Result)gim_metrics_http_answer(connection, server->metrics, method);
}

int gim_metrics_server_start(struct gim_metrics_server **out, struct gim_metrics *metrics,
                             const char *address, char *error, size_t error_size)
{
    struct gim_metrics_server *server;
    struct sockaddr_storage bind_address;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    int status;

    *out = NULL;
    memset(&bind_address, 0, sizeof(bind_address));
    status = gim_listen_address_resolve("metrics.addr", address, &bind_address, error, error_size);
    if (status != GIM_OK)
        return status;
    if (bind_address.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    server = calloc(1, sizeof(*server));
    if (server == NULL) {
        snprintf(error, error_size, "metrics.addr: out of memory");
        return GIM_ERR_NO_MEMORY;
    }
    server->metrics = metrics;
    /* The logger must be the first option, or early messages go to libmicrohttpd's own. */
    server->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, metrics_http_access, server, MHD_OPTION_EXTERNAL_LOGGER, gim_http_log,
        (void *)"metrics http", MHD_OPTION_SOCK_ADDR, &bind_address, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)METRICS_HTTP_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)METRICS_HTTP_MAX_CONNECTIONS_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)METRICS_HTTP_TIMEOUT_SECONDS, MHD_OPTION_END);
    if (server->daemon == NULL) {
        snprintf(error, error_size, "metrics.addr: cannot listen on %s", address);
        free(server);
        return GIM_ERR_IO;
    }
    *out = server;
    return GIM_OK;
}

unsigned int gim_metrics_server_port(const struct gim_metrics_server *server)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : 0;
}

void gim_metrics_server_stop(struct gim_metrics_server *server)
{
    if (server == NULL)
        return;
    MHD_stop_daemon(server->daemon);
    free(server);
}
