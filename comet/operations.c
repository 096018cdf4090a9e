/* operations.c: the registry publisher thread (see operations.h). */
#include "comet/operations.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comet/comet.h"
#include "comet/connection.h"
#include "comet/latch.h"
#include "comet/online.h"
#include "comet/worker.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/registry.h"
#include "common/rpc.h"
#include "common/status.h"
#include "logic.pb-c.h"

struct operations {
    struct comet *comet;
    struct gim_redis *redis;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    bool publish_now;    /* under lock: publish at once (went offline) */
    atomic_bool offline; /* draining: published as offline from now on */
    bool published;      /* the registry entry was written once */
    bool resync_due;     /* the entry was lost: re-send the sessions to logic */
};

/* One session of a live connection, as a loop saw it. */
struct resync_session {
    int64_t mid;
    char *key;
};

/* What one loop hands the operations thread: its authenticated connections' sessions. */
struct resync_part {
    struct inbox_item item; /* first: the loop runs it */
    struct latch *done;
    struct resync_session *sessions;
    size_t count;
    int status;
};

/* On the loop: copies (mid, key) of every authenticated connection, then counts down. */
static void resync_collect_item(struct inbox_item *item, struct event_loop *loop)
{
    struct resync_part *part = (struct resync_part *)item;
    struct comet_connection *connection;
    size_t total = 0;

    part->status = GIM_OK;
    for (connection = worker_of(loop)->connections.live; connection != NULL;
         connection = connection->next)
        total += connection->state == CONNECTION_ACTIVE && connection->key != NULL;
    part->sessions = total ? calloc(total, sizeof(*part->sessions)) : NULL;
    if (total > 0 && part->sessions == NULL)
        part->status = GIM_ERR_NO_MEMORY;
    for (connection = worker_of(loop)->connections.live;
         part->status == GIM_OK && connection != NULL; connection = connection->next) {
        struct resync_session *session = &part->sessions[part->count];
        if (connection->state != CONNECTION_ACTIVE || connection->key == NULL)
            continue;
        session->mid = connection->mid;
        session->key = strdup(connection->key);
        if (session->key == NULL)
            part->status = GIM_ERR_NO_MEMORY;
        else
            part->count++;
    }
    latch_count_down(part->done); /* part is not touched afterwards */
}

/* Heartbeat calls of a resync in flight, at most RESYNC_WINDOW at a time. */
#define RESYNC_WINDOW 64

struct resync_window {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int in_flight;
    size_t sent;
    int failure; /* the last failure, or GIM_OK */
};

/* An answer to a resync Heartbeat (an nng thread): counted, and a slot freed. */
static void resync_answered(void *user, int status, ProtobufCMessage *reply)
{
    struct resync_window *window = user;

    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
    pthread_mutex_lock(&window->lock);
    window->in_flight--;
    if (status == GIM_OK)
        window->sent++;
    else
        window->failure = status;
    pthread_cond_signal(&window->changed);
    pthread_mutex_unlock(&window->lock);
}

/* Waits (under window->lock) until at most limit calls are in flight. */
static void resync_wait_below(struct resync_window *window, int limit)
{
    while (window->in_flight > limit)
        pthread_cond_wait(&window->changed, &window->lock);
}

/* Sends one part's sessions to logic Heartbeat, RESYNC_WINDOW calls in flight at most. */
static void resync_send(struct comet *comet, const struct resync_part *part,
                        struct resync_window *window)
{
    size_t index;

    for (index = 0; index < part->count; index++) {
        Goim__Logic__HeartbeatReq request = GOIM__LOGIC__HEARTBEAT_REQ__INIT;
        int status;

        pthread_mutex_lock(&window->lock);
        resync_wait_below(window, RESYNC_WINDOW - 1);
        window->in_flight++;
        pthread_mutex_unlock(&window->lock);
        request.mid = part->sessions[index].mid;
        request.key = part->sessions[index].key;
        request.server = comet->config->host;
        status =
            gim_rpc_call_async(comet->logic, GIM_RPC_LOGIC_HEARTBEAT, &request.base,
                               &goim__logic__heartbeat_reply__descriptor,
                               (int)comet->config->rpc_client_timeout_ms, resync_answered, window);
        if (status != GIM_OK) {
            pthread_mutex_lock(&window->lock);
            window->in_flight--;
            window->failure = status;
            pthread_mutex_unlock(&window->lock);
        }
    }
}

/*
 * Redis lost this comet's registry entry, and with it (a restart without its data, a FLUSHALL)
 * maybe every session of its clients: collects the sessions of the live connections from every
 * loop through its inbox, then sends them to logic's Heartbeat, which writes a session again when
 * it is missing (asynchronous calls, RESYNC_WINDOW in flight at most, waited for here: this
 * is not a loop). Returns GIM_OK when every session was sent, else the last failure (the
 * caller tries again at the next publish).
 */
static int resync_sessions(struct operations *operations)
{
    struct comet *comet = operations->comet;
    struct resync_part *parts = calloc((size_t)comet->worker_count, sizeof(*parts));
    struct resync_window window = {.failure = GIM_OK};
    struct latch done;
    int64_t started = gim_monotonic_ms();
    size_t total = 0, index;
    int worker, status = GIM_OK;

    if (parts == NULL)
        return GIM_ERR_NO_MEMORY;
    latch_init(&done, comet->worker_count);
    for (worker = 0; worker < comet->worker_count; worker++) {
        parts[worker].item.run = resync_collect_item;
        parts[worker].done = &done;
        event_loop_post(comet->workers[worker]->loop, &parts[worker].item);
    }
    /* the loops run until operations_stop has returned (main.c), so every part is collected */
    while (!latch_wait(&done, 1000)) {
    }
    latch_destroy(&done);
    pthread_mutex_init(&window.lock, NULL);
    pthread_cond_init(&window.changed, NULL);
    for (worker = 0; worker < comet->worker_count; worker++) {
        if (parts[worker].status != GIM_OK)
            status = parts[worker].status;
        total += parts[worker].count;
        resync_send(comet, &parts[worker], &window);
    }
    pthread_mutex_lock(&window.lock);
    resync_wait_below(&window, 0); /* every answer in (each call ends by its timeout) */
    pthread_mutex_unlock(&window.lock);
    pthread_cond_destroy(&window.changed);
    pthread_mutex_destroy(&window.lock);
    for (worker = 0; worker < comet->worker_count; worker++) {
        for (index = 0; index < parts[worker].count; index++)
            free(parts[worker].sessions[index].key);
        free(parts[worker].sessions);
    }
    free(parts);
    if (window.failure != GIM_OK)
        status = window.failure;
    if (status == GIM_OK)
        gim_log_notice("registry entry was lost: %zu sessions sent to logic again in %lld ms",
                       window.sent, (long long)(gim_monotonic_ms() - started));
    else
        gim_log_warn("registry entry was lost: %zu of %zu sessions sent to logic again (%s); "
                     "trying again at the next publish",
                     window.sent, total, gim_strerror(status));
    return status;
}

static void publish(struct operations *operations)
{
    const struct comet_config *config = operations->comet->config;
    struct gim_instance instance = {0};
    struct timespec now;
    int status;

    clock_gettime(CLOCK_REALTIME, &now);
    instance.region = config->region;
    instance.zone = config->zone;
    instance.env = config->env;
    instance.appid = (char *)"goim.comet";
    instance.hostname = config->host;
    instance.rpc_address = config->rpc_server_advertise;
    instance.version = (char *)"goim-c";
    instance.latest_timestamp = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    instance.public_addrs = config->addrs;
    instance.weight = config->weight;
    instance.offline = config->offline || atomic_load(&operations->offline);
    instance.conn_count = comet_connection_count(operations->comet);
    instance.ip_count = (int64_t)ip_counter_distinct(&operations->comet->client_addresses);
    if (operations->published) {
        bool exists = true;
        if (gim_registry_exists(operations->redis, config->host, &exists) == GIM_OK && !exists)
            operations->resync_due = true; /* Redis lost it: a restart, a flush, or an expiry */
    }
    status =
        gim_registry_publish(operations->redis, &instance, (int)(config->registry_ttl_ms / 1000));
    if (status != GIM_OK)
        gim_log_warn("registry publish failed: %s", gim_strerror(status));
    else
        operations->published = true;
    if (status == GIM_OK && operations->resync_due)
        operations->resync_due = resync_sessions(operations) != GIM_OK;
    if (status == GIM_OK)
        gim_log_debug("registry published conn_count=%lld ip_count=%lld",
                      (long long)instance.conn_count, (long long)instance.ip_count);
}

/*
 * Sends this comet's room counts to logic (RenewOnline, blocking: this is not
 * a loop) and hands the cluster-wide counts of the answer to the loops.
 */
static void renew_online(struct operations *operations)
{
    struct comet *comet = operations->comet;
    Goim__Logic__OnlineReq request = GOIM__LOGIC__ONLINE_REQ__INIT;
    Goim__Logic__OnlineReq__RoomCountEntry *entries = NULL, **pointers = NULL;
    ProtobufCMessage *answer = NULL;
    struct comet_online_count *counts = NULL, *all = NULL;
    size_t count = 0, index;
    int status;

    status = comet_online_snapshot(&comet->online, &counts, &count);
    if (status == GIM_OK && count > 0) {
        entries = calloc(count, sizeof(*entries));
        pointers = calloc(count, sizeof(*pointers));
        if (entries == NULL || pointers == NULL)
            status = GIM_ERR_NO_MEMORY;
    }
    if (status != GIM_OK) {
        gim_log_warn("online renew skipped: %s", gim_strerror(status));
        goto done;
    }
    for (index = 0; index < count; index++) {
        Goim__Logic__OnlineReq__RoomCountEntry init =
            GOIM__LOGIC__ONLINE_REQ__ROOM_COUNT_ENTRY__INIT;
        entries[index] = init;
        entries[index].key = counts[index].room;
        entries[index].value = counts[index].count;
        pointers[index] = &entries[index];
    }
    request.server = comet->config->host;
    request.n_roomcount = count;
    request.roomcount = pointers;
    status = gim_rpc_call(comet->logic, GIM_RPC_LOGIC_RENEW_ONLINE, &request.base,
                          &goim__logic__online_reply__descriptor,
                          (int)comet->config->rpc_client_timeout_ms, &answer);
    if (status != GIM_OK) {
        gim_log_warn("logic RenewOnline failed: %s", gim_strerror(status));
        goto done;
    } else {
        Goim__Logic__OnlineReply *reply = (Goim__Logic__OnlineReply *)answer;
        size_t all_count = reply->n_allroomcount;

        all = all_count ? calloc(all_count, sizeof(*all)) : NULL;
        if (all_count > 0 && all == NULL)
            goto done;
        for (index = 0; index < all_count; index++) {
            all[index].room = reply->allroomcount[index]->key;
            all[index].count = reply->allroomcount[index]->value;
        }
        comet_online_set_all(&comet->online, all, all_count);
        gim_log_debug("online renewed: %zu local rooms, %zu cluster rooms", count, all_count);
    }
done:
    free(all); /* its room strings belong to answer */
    if (answer != NULL)
        protobuf_c_message_free_unpacked(answer, NULL);
    free(pointers);
    free(entries);
    comet_online_snapshot_free(counts, count);
}

static void *operations_run(void *argument)
{
    struct operations *operations = argument;
    int64_t publish_period_ms = operations->comet->config->registry_ttl_ms / 3;
    int64_t online_period_ms = operations->comet->config->online_interval_ms;
    int64_t next_publish = gim_monotonic_ms(), next_online = next_publish + online_period_ms;

    for (;;) {
        struct timespec deadline;
        int64_t now = gim_monotonic_ms(), wake_ms;

        if (now >= next_publish) {
            publish(operations);
            next_publish = now + publish_period_ms;
        }
        if (now >= next_online) {
            renew_online(operations);
            next_online = gim_monotonic_ms() + online_period_ms;
        }
        wake_ms = next_publish < next_online ? next_publish : next_online;
        gim_deadline_at_ms(&deadline, wake_ms);
        pthread_mutex_lock(&operations->lock);
        while (!operations->stopping && !operations->publish_now &&
               pthread_cond_timedwait(&operations->wake, &operations->lock, &deadline) == 0) {
        }
        if (operations->stopping) {
            pthread_mutex_unlock(&operations->lock);
            break;
        }
        if (operations->publish_now)
            next_publish = gim_monotonic_ms();
        operations->publish_now = false;
        pthread_mutex_unlock(&operations->lock);
    }
    if (gim_registry_withdraw(operations->redis, operations->comet->config->host) != GIM_OK)
        gim_log_warn("registry withdraw failed (the entry expires with its TTL)");
    return NULL;
}

int operations_start(struct comet *comet, struct operations **out)
{
    const struct comet_config *config = comet->config;
    struct operations *operations = calloc(1, sizeof(*operations));
    int status;

    *out = NULL;
    if (operations == NULL)
        return GIM_ERR_NO_MEMORY;
    operations->comet = comet;
    atomic_init(&operations->offline, false);
    status = gim_redis_open(&operations->redis, config->redis_addr, config->redis_auth,
                            (int)config->redis_timeout_ms);
    if (status != GIM_OK) {
        free(operations);
        return status;
    }
    pthread_mutex_init(&operations->lock, NULL);
    gim_cond_init_monotonic(&operations->wake);
    if (pthread_create(&operations->thread, NULL, operations_run, operations) != 0) {
        gim_redis_close(operations->redis);
        pthread_cond_destroy(&operations->wake);
        pthread_mutex_destroy(&operations->lock);
        free(operations);
        return GIM_ERR_IO;
    }
    *out = operations;
    return GIM_OK;
}

void operations_go_offline(struct operations *operations)
{
    if (operations == NULL)
        return;
    atomic_store(&operations->offline, true);
    pthread_mutex_lock(&operations->lock);
    operations->publish_now = true;
    pthread_cond_signal(&operations->wake);
    pthread_mutex_unlock(&operations->lock);
}

void operations_stop(struct operations *operations)
{
    if (operations == NULL)
        return;
    pthread_mutex_lock(&operations->lock);
    operations->stopping = true;
    pthread_cond_signal(&operations->wake);
    pthread_mutex_unlock(&operations->lock);
    pthread_join(operations->thread, NULL);
    gim_redis_close(operations->redis);
    pthread_cond_destroy(&operations->wake);
    pthread_mutex_destroy(&operations->lock);
    free(operations);
}
