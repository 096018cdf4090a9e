/* event_loop.c: a worker thread's epoll loop, listeners, inbox and deadlines (see event_loop.h). */
#include "comet/event_loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "comet/broadcast_pacer.h"
#include "comet/comet.h"
#include "comet/connection.h"
#include "comet/protocol.h"
#include "comet/push_job.h"
#include "comet/websocket.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/status.h"

#define EPOLL_BATCH       256
#define ACCEPTS_PER_EVENT 64 /* fairness: the rest are taken on the next iteration */

/* A key claimed by a connection on another loop, posted to every other loop. */
struct key_claim;

struct key_claim_item {
    struct inbox_item item; /* kind LOOP_ITEM_KEY_CLAIM */
    struct key_claim *claim;
};

struct key_claim {
    atomic_int references; /* one per loop it was posted to */
    uint64_t sequence;
    char *key;
    struct key_claim_item items[];
};

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

/* Opens a listener of this kind on every address of bind_list (setting: its config name). */
static int loop_add_listener_list(struct event_loop *loop, const char *setting,
                                  const char *bind_list, enum listener_kind kind)
{
    char *copy = strdup(bind_list), *token, *save = NULL;
    int status = GIM_OK;

    if (copy == NULL)
        return GIM_ERR_NO_MEMORY;
    for (token = strtok_r(copy, ", ", &save); token != NULL; token = strtok_r(NULL, ", ", &save)) {
        struct loop_listener *listener = &loop->listeners[loop->listener_count];
        struct epoll_event event = {0};
        int fd;

        status = open_listener(token, &fd);
        if (status != GIM_OK) {
            gim_log_error("%s: cannot listen on %s: %s", setting, token,
                          status == GIM_ERR_IO ? strerror(errno) : "bad address");
            break;
        }
        listener->handle.type = HANDLE_LISTENER;
        listener->handle.fd = fd;
        listener->kind = kind;
        loop->listener_count++;
        event.events = EPOLLIN;
        event.data.ptr = &listener->handle;
        if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
            status = GIM_ERR_IO;
            break;
        }
    }
    free(copy);
    return status;
}

static int loop_add_listeners(struct event_loop *loop)
{
    const struct comet_config *config = loop->comet->config;
    const char *websocket_bind = config->websocket_bind ? config->websocket_bind : "";
    bool tls = config->websocket_tls_open;
    size_t count = gim_config_list_length(config->tcp_bind) +
                   gim_config_list_length(websocket_bind) +
                   (tls ? gim_config_list_length(config->websocket_tls_bind) : 0);
    int status;

    if (count == 0)
        return GIM_OK; /* a loop driven without listeners (tests/fuzz) */
    loop->listeners = calloc(count, sizeof(*loop->listeners));
    if (loop->listeners == NULL)
        return GIM_ERR_NO_MEMORY;
    status = loop_add_listener_list(loop, "tcp.bind", config->tcp_bind, LISTENER_TCP);
    if (status == GIM_OK && websocket_bind[0] != '\0')
        status = loop_add_listener_list(loop, "websocket.bind", websocket_bind, LISTENER_WEBSOCKET);
    if (status == GIM_OK && tls)
        status = loop_add_listener_list(loop, "websocket.tlsBind", config->websocket_tls_bind,
                                        LISTENER_WEBSOCKET_TLS);
    return status;
}

static void loop_close_listeners(struct event_loop *loop)
{
    int index;

    for (index = 0; index < loop->listener_count; index++) {
        if (loop->listeners[index].handle.fd >= 0) {
            epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, loop->listeners[index].handle.fd, NULL);
            close(loop->listeners[index].handle.fd);
            loop->listeners[index].handle.fd = -1;
        }
    }
}

int event_loop_create(struct event_loop **out, struct comet *comet, int index)
{
    struct event_loop *loop = calloc(1, sizeof(*loop));
    struct epoll_event event = {0};
    int status;

    *out = NULL;
    if (loop == NULL)
        return GIM_ERR_NO_MEMORY;
    loop->comet = comet;
    loop->index = index;
    loop->epoll_fd = -1;
    loop->inbox.event_fd = -1;
    string_map_init(&loop->keys);
    room_index_init(&loop->rooms);
    loop->rooms.online = &comet->online;
    loop->now_ms = gim_monotonic_ms();
    timer_wheel_init(&loop->wheel, loop->now_ms);
    atomic_init(&loop->authenticated, 0);
    atomic_init(&loop->dropped_pushes, 0);
    loop->stop_item.kind = LOOP_ITEM_STOP;
    loop->drain_item.kind = LOOP_ITEM_DRAIN;
    atomic_init(&loop->drained, false);
    loop->scratch = malloc(LOOP_SCRATCH_SIZE);
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->scratch == NULL || loop->epoll_fd < 0 || inbox_init(&loop->inbox) != GIM_OK) {
        event_loop_destroy(loop);
        return loop->scratch == NULL ? GIM_ERR_NO_MEMORY : GIM_ERR_IO;
    }
    loop->inbox_handle.type = HANDLE_INBOX;
    loop->inbox_handle.fd = loop->inbox.event_fd;
    event.events = EPOLLIN;
    event.data.ptr = &loop->inbox_handle;
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->inbox.event_fd, &event) != 0) {
        event_loop_destroy(loop);
        return GIM_ERR_IO;
    }
    status = loop_add_listeners(loop);
    if (status != GIM_OK) {
        event_loop_destroy(loop);
        return status;
    }
    *out = loop;
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

static void loop_accept(struct event_loop *loop, struct loop_listener *listener)
{
    int accepted;

    for (accepted = 0; accepted < ACCEPTS_PER_EVENT; accepted++) {
        struct sockaddr_storage peer;
        socklen_t peer_length = sizeof(peer);
        int fd = accept4(listener->handle.fd, (struct sockaddr *)&peer, &peer_length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                gim_log_warn("accept: %s", strerror(errno)); /* EMFILE: retried next round */
            return;
        }
        apply_socket_options(loop->comet->config, fd);
        connection_accept(loop, fd, (struct sockaddr *)&peer, listener->kind);
    }
}

/* Hands one push job's payload to every matching connection of this loop. */
static void loop_run_push_job(struct event_loop *loop, struct push_job *job)
{
    size_t index;

    switch (job->kind) {
    case PUSH_TO_KEYS:
        for (index = 0; index < job->key_count; index++) {
            struct comet_connection *connection = string_map_get(&loop->keys, job->keys[index]);
            if (connection != NULL && connection_watches(connection, job->operation))
                connection_push(connection, job->data, job->websocket_data);
        }
        break;
    case PUSH_TO_ROOM: {
        struct room *room = room_find(&loop->rooms, job->room);
        struct room_member *member = room ? room->members : NULL, *next;
        /* The room may vanish while we walk it if its last member's write
         * fails; closing only frees that member, so keep `next` first and
         * stop when the room lost its last member. */
        while (member != NULL) {
            bool last = member->next_in_room == NULL;
            next = member->next_in_room;
            connection_push(member->connection, job->data, job->websocket_data);
            if (last)
                break;
            member = next;
        }
        break;
    }
    case PUSH_BROADCAST: {
        struct comet_connection *connection = loop->live, *next;
        if (job->speed > 0 && pacer_start(loop, job, (double)job->speed / loop->comet->loop_count,
                                          loop->now_ms) == GIM_OK)
            break; /* acknowledged now, delivered by pacer_run */
        for (; connection != NULL; connection = next) {
            next = connection->next;
            if (connection->state == CONNECTION_ACTIVE &&
                connection_watches(connection, job->operation))
                connection_push(connection, job->data, job->websocket_data);
        }
        break;
    }
    }
}

static void key_claim_release(struct key_claim *claim)
{
    if (atomic_fetch_sub_explicit(&claim->references, 1, memory_order_acq_rel) == 1) {
        free(claim->key);
        free(claim);
    }
}

void event_loop_claim_key(struct event_loop *loop, const char *key, uint64_t sequence)
{
    struct comet *comet = loop->comet;
    struct key_claim *claim;
    int index;

    if (comet->loop_count < 2)
        return;
    claim = calloc(1, sizeof(*claim) + (size_t)comet->loop_count * sizeof(claim->items[0]));
    if (claim == NULL || (claim->key = strdup(key)) == NULL) {
        free(claim);
        return; /* best effort: an older duplicate on another loop survives */
    }
    claim->sequence = sequence;
    atomic_init(&claim->references, comet->loop_count - 1);
    for (index = 0; index < comet->loop_count; index++) {
        if (comet->loops[index] == loop)
            continue;
        claim->items[index].item.kind = LOOP_ITEM_KEY_CLAIM;
        claim->items[index].claim = claim;
        event_loop_post(comet->loops[index], &claim->items[index].item);
    }
}

static void loop_apply_claim(struct event_loop *loop, struct key_claim *claim)
{
    struct comet_connection *connection = string_map_get(&loop->keys, claim->key);

    if (connection != NULL && connection->auth_sequence < claim->sequence) {
        connection->replaced = true;
        connection_close(connection, "replaced by a newer connection with the same key");
    }
}

static void loop_close_all(struct event_loop *loop)
{
    while (loop->live != NULL)
        websocket_close_going_away(loop->live, "comet shutting down");
}

static void loop_start_drain(struct event_loop *loop)
{
    struct comet_connection *connection;

    loop_close_listeners(loop);
    loop->draining = true;
    loop->drain_start_ms = loop->now_ms;
    loop->drain_initial = 0;
    for (connection = loop->live; connection != NULL; connection = connection->next)
        loop->drain_initial++;
    gim_log_info("loop %d: draining %ld connections over %lld ms", loop->index, loop->drain_initial,
                 (long long)loop->drain_period_ms);
}

/*
 * Closes the connections due by now; returns the ms until the next one is due, or -1 when none
 * is left. The k-th of this loop's initial connections (k from 0) is due at
 * period * (k * loops + index) / (initial * loops): the loops' schedules interleave instead of
 * every loop closing its first at once. At the end of the period whatever is left is closed.
 */
static int loop_drain_step(struct event_loop *loop)
{
    const int64_t loops = loop->comet->loop_count > 0 ? loop->comet->loop_count : 1;
    const int64_t period = loop->drain_period_ms, initial = loop->drain_initial;
    int64_t elapsed = loop->now_ms - loop->drain_start_ms, next_due;
    long target;

    if (elapsed >= period)
        target = LONG_MAX;
    else if (elapsed * initial * loops < loop->index * period)
        target = 0;
    else /* how many k satisfy (k * loops + index) * period <= elapsed * initial * loops */
        target = (long)((elapsed * initial * loops - loop->index * period) / (period * loops) + 1);
    while (loop->drain_closed < target && loop->live != NULL) {
        websocket_close_going_away(loop->live, "comet draining");
        loop->drain_closed++;
    }
    if (loop->live == NULL) {
        atomic_store(&loop->drained, true);
        return -1;
    }
    if (loop->drain_closed >= initial) /* not expected: only this thread accepted, and it stopped */
        next_due = loop->drain_start_ms + period;
    else /* ceil, so that the target has grown by then */
        next_due = loop->drain_start_ms +
                   ((loop->drain_closed * loops + loop->index) * period + initial * loops - 1) /
                       (initial * loops);
    return next_due > loop->now_ms ? (int)(next_due - loop->now_ms) : 0;
}

static void loop_handle_items(struct event_loop *loop, struct inbox_item *item)
{
    struct inbox_item *next;

    for (; item != NULL; item = next) {
        next = item->next;
        switch ((enum loop_item_kind)item->kind) {
        case LOOP_ITEM_STOP:
            loop->stopping = true;
            break;
        case LOOP_ITEM_DRAIN:
            loop_start_drain(loop);
            break;
        case LOOP_ITEM_AUTH_DONE:
            protocol_finish_auth(item);
            break;
        case LOOP_ITEM_PUSH_JOB: {
            struct push_job *job = ((struct push_job_item *)item)->job;
            if (!loop->stopping)
                loop_run_push_job(loop, job);
            latch_count_down(&job->delivered);
            push_job_unref(job);
            break;
        }
        case LOOP_ITEM_KEY_CLAIM: {
            struct key_claim *claim = ((struct key_claim_item *)item)->claim;
            loop_apply_claim(loop, claim);
            key_claim_release(claim);
            break;
        }
        }
    }
}

static void loop_timer_expired(struct timer_entry *entry, void *context)
{
    struct comet_connection *connection =
        (struct comet_connection *)((char *)entry - offsetof(struct comet_connection, deadline));
    enum comet_timeout_class kind =
        connection->state == CONNECTION_ACTIVE ? COMET_TIMEOUT_HEARTBEAT : COMET_TIMEOUT_HANDSHAKE;

    (void)context;
    gim_counter_increment(&connection->loop->counters.timeouts[kind]);
    connection_close(connection, connection->state == CONNECTION_ACTIVE ? "heartbeat timeout"
                                                                        : "handshake timeout");
}

void event_loop_defer_release(struct event_loop *loop, struct comet_connection *connection)
{
    connection->next = loop->reap;
    loop->reap = connection;
}

static void loop_reap(struct event_loop *loop)
{
    while (loop->reap != NULL) {
        struct comet_connection *connection = loop->reap;
        loop->reap = connection->next;
        connection->next = NULL;
        connection_unref(connection);
    }
}

int event_loop_run_once(struct event_loop *loop, int max_wait_ms)
{
    struct epoll_event events[EPOLL_BATCH];
    int count, index, timeout = timer_wheel_wait_ms(&loop->wheel, loop->now_ms);

    if (loop->paced != NULL) {
        int paced_wait = pacer_run(loop, loop->now_ms);
        if (paced_wait >= 0 && (timeout < 0 || paced_wait < timeout))
            timeout = paced_wait;
    }
    if (loop->draining) {
        int drain_wait = loop_drain_step(loop);
        if (drain_wait >= 0 && (timeout < 0 || drain_wait < timeout))
            timeout = drain_wait;
    }
    if (max_wait_ms >= 0 && (timeout < 0 || max_wait_ms < timeout))
        timeout = max_wait_ms;
    count = epoll_wait(loop->epoll_fd, events, EPOLL_BATCH, timeout);
    if (count < 0 && errno != EINTR) {
        gim_log_error("loop %d: epoll_wait: %s", loop->index, strerror(errno));
        return GIM_ERR_IO;
    }
    loop->now_ms = gim_monotonic_ms();
    for (index = 0; index < count; index++) {
        struct loop_handle *handle = events[index].data.ptr;
        switch (handle->type) {
        case HANDLE_LISTENER:
            if (!loop->stopping && !loop->draining) /* a drain item earlier in this batch */
                loop_accept(loop, (struct loop_listener *)handle);
            break;
        case HANDLE_INBOX:
            loop_handle_items(loop, inbox_take_all(&loop->inbox));
            break;
        case HANDLE_CONNECTION:
            connection_handle_events((struct comet_connection *)handle, events[index].events);
            break;
        }
    }
    timer_wheel_advance(&loop->wheel, loop->now_ms, loop_timer_expired, NULL);
    loop_reap(loop); /* safe point: no callback is running on any connection */
    return GIM_OK;
}

static void *event_loop_run(void *argument)
{
    struct event_loop *loop = argument;

    while (!loop->stopping && event_loop_run_once(loop, -1) == GIM_OK) {
    }
    loop_close_listeners(loop);
    loop_close_all(loop);
    pacer_clear(loop);
    loop_reap(loop);
    return NULL;
}

int event_loop_start(struct event_loop *loop)
{
    if (pthread_create(&loop->thread, NULL, event_loop_run, loop) != 0)
        return GIM_ERR_IO;
    loop->thread_started = true;
    return GIM_OK;
}

void event_loop_stop(struct event_loop *loop)
{
    event_loop_post(loop, &loop->stop_item);
}

void event_loop_drain(struct event_loop *loop, int64_t period_ms)
{
    loop->drain_period_ms = period_ms > 0 ? period_ms : 1;
    event_loop_post(loop, &loop->drain_item); /* the inbox's lock publishes the period */
}

bool event_loop_drained(struct event_loop *loop)
{
    return atomic_load(&loop->drained);
}

void event_loop_join(struct event_loop *loop)
{
    if (loop->thread_started)
        pthread_join(loop->thread, NULL);
    loop->thread_started = false;
}

void event_loop_destroy(struct event_loop *loop)
{
    if (loop == NULL)
        return;
    if (loop->inbox.event_fd >= 0) {
        /* Auth results and jobs that arrived after the thread ended. */
        loop->stopping = true;
        loop_handle_items(loop, inbox_take_all(&loop->inbox));
        loop_close_all(loop);
        pacer_clear(loop);
        loop_reap(loop);
        inbox_destroy(&loop->inbox);
    }
    loop_close_listeners(loop);
    free(loop->listeners);
    if (loop->epoll_fd >= 0)
        close(loop->epoll_fd);
    string_map_destroy(&loop->keys);
    room_index_destroy(&loop->rooms);
    free(loop->scratch);
    free(loop);
}

int event_loop_post_job(struct event_loop *loop, struct inbox_item *item)
{
    return inbox_post_bounded(&loop->inbox, item, LOOP_MAX_WAITING_JOBS);
}

void event_loop_post(struct event_loop *loop, struct inbox_item *item)
{
    inbox_post(&loop->inbox, item);
}
