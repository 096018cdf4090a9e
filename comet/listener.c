/* listener.c: listening sockets, accept, and the route table of listeners and paths
 * (see listener.h). */
#include "comet/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "comet/comet.h"
#include "comet/framing.h"
#include "comet/protocol_goim.h"
#include "comet/protocol_gopusher.h"
#include "comet/protocol_gusher.h"
#include "comet/websocket.h"
#include "common/config.h"
#include "common/log.h"
#include "common/status.h"

#define ACCEPTS_PER_EVENT 64 /* fairness: the rest are taken on the next iteration */

/* Wires: one per (framing, protocol) pair a push may be encoded for. */
enum { WIRE_GOIM_STREAM, WIRE_GOIM_WEBSOCKET, WIRE_GOPUSHER_WEBSOCKET, WIRE_GUSHER_WEBSOCKET };

const struct connection_route comet_route_goim_tcp = {&framing_goim_stream.hooks, &protocol_goim,
                                                      WIRE_GOIM_STREAM, true};
const struct connection_route comet_route_websocket_upgrade = {&framing_websocket.hooks, NULL,
                                                               WIRE_GOIM_WEBSOCKET, false};
const struct connection_route comet_route_goim_websocket = {
    &framing_websocket.hooks, &protocol_goim, WIRE_GOIM_WEBSOCKET, true};
const struct connection_route comet_route_gopusher_websocket = {
    &framing_websocket.hooks, &protocol_gopusher, WIRE_GOPUSHER_WEBSOCKET, false};
const struct connection_route comet_route_gusher_websocket = {
    &framing_websocket.hooks, &protocol_gusher, WIRE_GUSHER_WEBSOCKET, false};

/* The HTTP routes of every WebSocket listener (the first match wins): path, prefix, query
 * string allowed, upgrade route, plain request handler. gusher's prefix is gusher.clientPrefix
 * (comet_listeners_open sets it; the last entry, left out when the prefix is empty). */
struct websocket_route comet_websocket_routes[] = {
    {"/sub", false, false, &comet_route_goim_websocket, NULL},
    {"/ws/", true, true, &comet_route_gopusher_websocket, NULL}, /* /ws/{app_key}/{user_tag} */
    {"/gusher/", true, true, &comet_route_gusher_websocket, gusher_http_request},
};
const size_t comet_websocket_route_count =
    sizeof(comet_websocket_routes) / sizeof(comet_websocket_routes[0]);
static pthread_mutex_t routes_lock = PTHREAD_MUTEX_INITIALIZER;

/* What a listener serves. */
struct listener_kind {
    const char *setting; /* its config name */
    const struct connection_route *route;
    enum comet_transport_class transport;
    bool tls;
};

static const struct listener_kind kind_tcp = {"tcp.bind", &comet_route_goim_tcp,
                                              COMET_TRANSPORT_TCP, false};
static const struct listener_kind kind_websocket = {
    "websocket.bind", &comet_route_websocket_upgrade, COMET_TRANSPORT_WEBSOCKET, false};
static const struct listener_kind kind_websocket_tls = {
    "websocket.tlsBind", &comet_route_websocket_upgrade, COMET_TRANSPORT_WSS, true};

/* Splits "host:port" (host may be empty or [v6]) and opens a SO_REUSEPORT listener. */
static int open_listener(const char *address, int *out_fd)
{
    char host[256], port[16];
    const char *colon = strrchr(address, ':');
    struct addrinfo hints = {0}, *result = NULL, *candidate;
    size_t host_length;
    int fd = -1, status;

    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= sizeof(port))
        return GIM_ERR_INVALID;
    host_length = (size_t)(colon - address);
    if (host_length >= sizeof(host))
        return GIM_ERR_INVALID;
    memcpy(host, address, host_length);
    host[host_length] = '\0';
    if (host_length >= 2 && host[0] == '[' && host[host_length - 1] == ']') {
        memmove(host, host + 1, host_length - 2);
        host[host_length - 2] = '\0';
    }
    snprintf(port, sizeof(port), "%s", colon + 1);
    hints.ai_family = host[0] == '\0' ? AF_INET6 : AF_UNSPEC; /* empty: dual-stack any */
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    status = getaddrinfo(host[0] ? host : NULL, port, &hints, &result);
    if (status != 0 && host[0] == '\0') {
        hints.ai_family = AF_INET;
        status = getaddrinfo(NULL, port, &hints, &result);
    }
    if (status != 0)
        return GIM_ERR_INVALID;
    for (candidate = result; candidate != NULL; candidate = candidate->ai_next) {
        int yes = 1, no = 0;
        fd = socket(candidate->ai_family, candidate->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    candidate->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &yes, sizeof(yes));
        if (candidate->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof(no));
        if (bind(fd, candidate->ai_addr, candidate->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(result);
    if (fd < 0)
        return GIM_ERR_IO;
    *out_fd = fd;
    return GIM_OK;
}

static void apply_socket_options(const struct comet_config *config, int fd)
{
    int yes = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
    if (config->tcp_keepalive)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &yes, sizeof(yes));
    if (config->tcp_sndbuf > 0) {
        int size = (int)config->tcp_sndbuf;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    }
    if (config->tcp_rcvbuf > 0) {
        int size = (int)config->tcp_rcvbuf;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
}

/*
 * Accept failed for want of descriptors or memory: the connection stays in the kernel's backlog,
 * and a level-triggered listener would be ready again at once. Stop watching it for
 * LISTENER_BACKOFF_MS (comet_listeners_resume re-arms it) and log at most once per
 * LISTENER_REPORT_MS.
 */
static void listener_pause(struct comet_listener *listener, int error)
{
    struct event_loop *loop = listener->set->loop;

    event_loop_modify(loop, &listener->handle, 0);
    listener->paused_until_ms = loop->now_ms + LISTENER_BACKOFF_MS;
    if (listener->paused_until_ms == 0)
        listener->paused_until_ms = 1;
    listener->failures_unreported++;
    if (loop->now_ms >= listener->next_report_ms) {
        gim_log_warn("loop %d: accept on %s: %s: %ld failures since the last report; accepts "
                     "paused %d ms at a time",
                     loop->index, listener->kind->setting, strerror(error),
                     listener->failures_unreported, LISTENER_BACKOFF_MS);
        listener->failures_unreported = 0;
        listener->next_report_ms = loop->now_ms + LISTENER_REPORT_MS;
    }
}

int comet_listeners_resume(struct comet_listeners *listeners, struct event_loop *loop)
{
    int64_t next_due = -1;
    int index;

    for (index = 0; index < listeners->count; index++) {
        struct comet_listener *listener = &listeners->items[index];
        if (listener->paused_until_ms == 0 || listener->handle.fd < 0)
            continue;
        if (listener->paused_until_ms <= loop->now_ms) {
            listener->paused_until_ms = 0;
            event_loop_modify(loop, &listener->handle, EPOLLIN);
        } else if (next_due < 0 || listener->paused_until_ms < next_due) {
            next_due = listener->paused_until_ms;
        }
    }
    return next_due < 0 ? -1 : (int)(next_due - loop->now_ms);
}

static void listener_on_events(struct loop_handle *handle, uint32_t events)
{
    struct comet_listener *listener = (struct comet_listener *)handle;
    struct connection_set *set = listener->set;
    int accepted;

    (void)events;
    /* closed earlier in this batch (a drain), or the loop is stopping */
    if (listener->handle.fd < 0 || set->loop->stopping)
        return;
    for (accepted = 0; accepted < ACCEPTS_PER_EVENT; accepted++) {
        struct sockaddr_storage peer;
        socklen_t peer_length = sizeof(peer);
        int fd = accept4(listener->handle.fd, (struct sockaddr *)&peer, &peer_length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int error = errno;
            if (error == EINTR || error == ECONNABORTED)
                continue;
            if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM)
                listener_pause(listener, error);
            else if (error != EAGAIN && error != EWOULDBLOCK)
                gim_log_warn("accept on %s: %s", listener->kind->setting, strerror(error));
            return;
        }
        apply_socket_options(set->comet->config, fd);
        connection_accept(set, fd, (struct sockaddr *)&peer, listener->kind->route,
                          listener->kind->transport, listener->kind->tls);
    }
}

/* Opens a listener of this kind on every address of bind_list. */
static int open_list(struct comet_listeners *listeners, struct connection_set *set,
                     const char *bind_list, const struct listener_kind *kind)
{
    char *copy = strdup(bind_list), *token, *save = NULL;
    int status = GIM_OK;

    if (copy == NULL)
        return GIM_ERR_NO_MEMORY;
    for (token = strtok_r(copy, ", ", &save); token != NULL; token = strtok_r(NULL, ", ", &save)) {
        struct comet_listener *listener = &listeners->items[listeners->count];
        int fd;

        status = open_listener(token, &fd);
        if (status != GIM_OK) {
            gim_log_error("%s: cannot listen on %s: %s", kind->setting, token,
                          status == GIM_ERR_IO ? strerror(errno) : "bad address");
            break;
        }
        listener->handle.on_events = listener_on_events;
        listener->handle.fd = fd;
        listener->set = set;
        listener->kind = kind;
        listeners->count++;
        status = event_loop_watch(set->loop, &listener->handle, EPOLLIN);
        if (status != GIM_OK)
            break;
    }
    free(copy);
    return status;
}

int comet_listeners_open(struct comet_listeners *listeners, struct connection_set *set)
{
    const struct comet_config *config = set->comet->config;
    const char *websocket_bind = config->websocket_bind ? config->websocket_bind : "";
    const char *gusher_prefix = config->gusher_client_prefix ? config->gusher_client_prefix : "";
    bool tls = config->websocket_tls_open;
    size_t count = gim_config_list_length(config->tcp_bind) +
                   gim_config_list_length(websocket_bind) +
                   (tls ? gim_config_list_length(config->websocket_tls_bind) : 0);
    int status;

    listeners->items = NULL;
    listeners->count = 0;
    pthread_mutex_lock(&routes_lock); /* every loop sets the same table */
    if (gusher_prefix[0] != '\0')
        comet_websocket_routes[comet_websocket_route_count - 1].path = gusher_prefix;
    websocket_set_routes(comet_websocket_routes,
                         comet_websocket_route_count - (gusher_prefix[0] == '\0'));
    pthread_mutex_unlock(&routes_lock);
    if (count == 0)
        return GIM_OK; /* a loop driven without listeners (tests/fuzz) */
    listeners->items = calloc(count, sizeof(*listeners->items));
    if (listeners->items == NULL)
        return GIM_ERR_NO_MEMORY;
    status = open_list(listeners, set, config->tcp_bind, &kind_tcp);
    if (status == GIM_OK && websocket_bind[0] != '\0')
        status = open_list(listeners, set, websocket_bind, &kind_websocket);
    if (status == GIM_OK && tls)
        status = open_list(listeners, set, config->websocket_tls_bind, &kind_websocket_tls);
    return status;
}

void comet_listeners_close(struct comet_listeners *listeners, struct event_loop *loop)
{
    int index;

    for (index = 0; index < listeners->count; index++) {
        struct comet_listener *listener = &listeners->items[index];
        if (listener->handle.fd >= 0) {
            event_loop_forget(loop, &listener->handle);
            close(listener->handle.fd);
            listener->handle.fd = -1;
        }
    }
}

void comet_listeners_free(struct comet_listeners *listeners, struct event_loop *loop)
{
    comet_listeners_close(listeners, loop);
    free(listeners->items);
    listeners->items = NULL;
    listeners->count = 0;
}
