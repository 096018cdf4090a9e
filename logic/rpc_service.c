/* rpc_service.c: Connect/Disconnect/Heartbeat/RenewOnline/Receive (see rpc_service.h). */
#include "logic/rpc_service.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "dialects.pb-c.h"
#include "logic.pb-c.h"
#include "logic/auth.h"
#include "logic/client_auth.h"
#include "logic/config.h"
#include "logic/context.h"
#include "logic/gopusher_apps.h"
#include "logic/gopusher_hook.h"
#include "logic/gusher_rpc.h"
#include "logic/metrics.h"
#include "logic/online.h"
#include "logic/online_store.h"
#include "logic/redis_pool.h"
#include "logic/session.h"
#include "logic/session_batch.h"

#define NANOSECONDS_PER_MILLISECOND INT64_C(1000000)

/* TTL of the session keys in whole seconds, as goim's EXPIRE. */
static int64_t rpc_expire_seconds(const struct logic_context *logic)
{
    return logic->config->redis_expire_ms / 1000;
}

/* Answers a Redis failure: the comet must refuse or drop the connection. */
static void rpc_reply_redis_error(struct gim_rpc_reply *reply, const char *what, int status)
{
    char text[128];

    snprintf(text, sizeof(text), "%s: redis: %s", what, gim_strerror(status));
    gim_log_warn("rpc %s", text);
    gim_rpc_reply_error(reply, GIM_ERR_UNAVAILABLE, text);
}

/* The ConnectReply for an accepted token (pointers into token and key, valid while they are). */
static void rpc_connect_fill(const struct logic_context *logic, const struct auth_token *token,
                             const char *key, Goim__Logic__ConnectReply *answer)
{
    answer->mid = token->mid;
    answer->key = (char *)key;
    answer->roomid = token->room_id;
    answer->n_accepts = token->accept_count;
    answer->accepts = token->accepts;
    /* goim sends a Go duration: nanoseconds; the comet's timeout is heartbeat x heartbeatMax. */
    answer->heartbeat = logic->config->node_heartbeat_ms * NANOSECONDS_PER_MILLISECOND *
                        logic->config->node_heartbeat_max;
}

/* A Connect whose session write went to the session batch; answered when it is written. */
struct rpc_connect_pending {
    const struct logic_context *logic;
    struct gim_rpc_deferred *deferred;
    struct auth_token token; /* owned */
    char key[37];            /* the generated key, when the token had none */
};

/* session_batch_written_fn of a pending Connect: answers it and frees it. */
static void rpc_connect_written(void *user, int status)
{
    struct rpc_connect_pending *pending = user;
    const char *key = pending->token.key[0] != '\0' ? pending->token.key : pending->key;

    if (status != GIM_OK) {
        char text[128];
        snprintf(text, sizeof(text), "connect: redis: %s", gim_strerror(status));
        gim_log_warn("rpc %s", text);
        gim_rpc_deferred_error(pending->deferred, GIM_ERR_UNAVAILABLE, text);
    } else {
        Goim__Logic__ConnectReply answer = GOIM__LOGIC__CONNECT_REPLY__INIT;
        rpc_connect_fill(pending->logic, &pending->token, key, &answer);
        gim_log_debug("connect: mid=%" PRId64 " key=%s room=%s", answer.mid, answer.key,
                      answer.roomid);
        gim_rpc_deferred_message(pending->deferred, &answer.base);
    }
    auth_token_free(&pending->token);
    free(pending);
}

/*
 * Hands the session write of an accepted Connect to the session batch and defers the answer, so
 * that this worker serves the next request while Redis answers (at rest the batch writes at
 * once on this thread). Takes the token over. Returns false, with nothing done, when it cannot
 * (no batch, no memory): the caller writes itself.
 */
static bool rpc_connect_defer(const struct logic_context *logic, struct auth_token *token,
                              const char *key, const char *server, struct gim_rpc_reply *reply)
{
    struct rpc_connect_pending *pending;
    int status;

    if (logic->sessions == NULL || (pending = calloc(1, sizeof(*pending))) == NULL)
        return false;
    pending->logic = logic;
    pending->token = *token;
    memset(token, 0, sizeof(*token)); /* the pending Connect owns it now */
    if (pending->token.key[0] == '\0')
        snprintf(pending->key, sizeof(pending->key), "%s", key);
    pending->deferred = gim_rpc_reply_defer(reply);
    status = session_batch_add(logic->sessions, pending->token.mid, key, server,
                               rpc_expire_seconds(logic), rpc_connect_written, pending);
    if (status != GIM_OK) { /* queue full or stopping: write here; the answer is deferred now */
        struct gim_redis *redis = redis_pool_acquire(logic->redis);
        status = redis == NULL ? GIM_ERR_NO_MEMORY
                               : session_add(redis, pending->token.mid, key, server,
                                             rpc_expire_seconds(logic));
        redis_pool_release(logic->redis, redis);
        rpc_connect_written(pending, status);
    }
    return true;
}

static void rpc_connect(const struct logic_context *logic, const uint8_t *request, size_t length,
                        struct gim_rpc_reply *reply)
{
    Goim__Logic__ConnectReq *connect = goim__logic__connect_req__unpack(NULL, length, request);
    Goim__Logic__ConnectReply answer = GOIM__LOGIC__CONNECT_REPLY__INIT;
    struct auth_token token;
    struct gim_redis *redis;
    char error[256], generated_key[37];
    const char *key;
    int status;

    if (connect == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "connect: undecodable ConnectReq");
        return;
    }
    status =
        auth_token_parse(connect->token.data, connect->token.len, &token, error, sizeof(error));
    if (status != GIM_OK) {
        gim_log_info("connect refused (server=%s): %s", connect->server,
                     status == GIM_ERR_INVALID ? error : gim_strerror(status));
        gim_rpc_reply_error(reply, status, status == GIM_ERR_INVALID ? error : "connect");
        goto out;
    }
    if (logic->client_auth != NULL) {
        status = client_auth_verify(logic->client_auth, token.token, token.mid, token.room_id,
                                    error, sizeof(error));
        if (status != GIM_OK) {
            gim_log_info("connect refused (server=%s mid=%" PRId64 "): %s", connect->server,
                         token.mid, error);
            gim_rpc_reply_error(reply, status, error);
            goto out;
        }
    }
    key = token.key;
    if (token.key[0] == '\0') {
        if (auth_generate_key(generated_key) != GIM_OK) {
            gim_rpc_reply_error(reply, GIM_ERR_IO, "connect: no randomness for a key");
            goto out;
        }
        key = generated_key;
    }
    /* A key of the client's own under client authentication is checked first, here. */
    if ((logic->client_auth == NULL || token.key[0] == '\0') &&
        rpc_connect_defer(logic, &token, key, connect->server, reply))
        goto out;
    redis = redis_pool_acquire(logic->redis);
    status = redis == NULL ? GIM_ERR_NO_MEMORY : GIM_OK;
    if (status == GIM_OK && logic->client_auth != NULL && token.key[0] != '\0') {
        status = client_auth_check_key(redis, token.mid, key, error, sizeof(error));
        if (status == GIM_ERR_INVALID) {
            redis_pool_release(logic->redis, redis);
            gim_log_info("connect refused (server=%s mid=%" PRId64 "): %s", connect->server,
                         token.mid, error);
            gim_rpc_reply_error(reply, status, error);
            goto out;
        }
    }
    if (status == GIM_OK)
        status = session_add(redis, token.mid, key, connect->server, rpc_expire_seconds(logic));
    redis_pool_release(logic->redis, redis);
    if (status != GIM_OK) {
        rpc_reply_redis_error(reply, "connect", status);
        goto out;
    }
    rpc_connect_fill(logic, &token, key, &answer);
    gim_log_debug("connect: mid=%" PRId64 " key=%s room=%s server=%s", answer.mid, answer.key,
                  answer.roomid, connect->server);
    gim_rpc_reply_message(reply, &answer.base);
out:
    auth_token_free(&token);
    goim__logic__connect_req__free_unpacked(connect, NULL);
}

static void rpc_disconnect(const struct logic_context *logic, const uint8_t *request, size_t length,
                           struct gim_rpc_reply *reply)
{
    Goim__Logic__DisconnectReq *disconnect =
        goim__logic__disconnect_req__unpack(NULL, length, request);
    Goim__Logic__DisconnectReply answer = GOIM__LOGIC__DISCONNECT_REPLY__INIT;
    struct gim_redis *redis;
    bool had = false;
    int status;

    if (disconnect == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "disconnect: undecodable DisconnectReq");
        return;
    }
    redis = redis_pool_acquire(logic->redis);
    status = redis == NULL ? GIM_ERR_NO_MEMORY
                           : session_remove(redis, disconnect->mid, disconnect->key, &had);
    redis_pool_release(logic->redis, redis);
    if (status != GIM_OK) {
        rpc_reply_redis_error(reply, "disconnect", status);
    } else {
        answer.has = had;
        gim_log_debug("disconnect: mid=%" PRId64 " key=%s server=%s has=%d", disconnect->mid,
                      disconnect->key, disconnect->server, (int)had);
        gim_rpc_reply_message(reply, &answer.base);
    }
    goim__logic__disconnect_req__free_unpacked(disconnect, NULL);
}

static void rpc_heartbeat(const struct logic_context *logic, const uint8_t *request, size_t length,
                          struct gim_rpc_reply *reply)
{
    Goim__Logic__HeartbeatReq *heartbeat =
        goim__logic__heartbeat_req__unpack(NULL, length, request);
    Goim__Logic__HeartbeatReply answer = GOIM__LOGIC__HEARTBEAT_REPLY__INIT;
    struct gim_redis *redis;
    int status;

    if (heartbeat == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "heartbeat: undecodable HeartbeatReq");
        return;
    }
    redis = redis_pool_acquire(logic->redis);
    status = redis == NULL ? GIM_ERR_NO_MEMORY
                           : session_renew(redis, heartbeat->mid, heartbeat->key, heartbeat->server,
                                           rpc_expire_seconds(logic));
    redis_pool_release(logic->redis, redis);
    if (status != GIM_OK)
        rpc_reply_redis_error(reply, "heartbeat", status);
    else
        gim_rpc_reply_message(reply, &answer.base);
    goim__logic__heartbeat_req__free_unpacked(heartbeat, NULL);
}

/* Builds allRoomCount from the cluster-wide view; entries point into snapshot. */
static int rpc_all_room_count(const struct logic_online_snapshot *snapshot,
                              Goim__Logic__OnlineReply *answer,
                              Goim__Logic__OnlineReply__AllRoomCountEntry **entries,
                              Goim__Logic__OnlineReply__AllRoomCountEntry ***pointers)
{
    size_t index;

    *entries = NULL;
    *pointers = NULL;
    if (snapshot == NULL || snapshot->room_count == 0)
        return GIM_OK;
    *entries = calloc(snapshot->room_count, sizeof(**entries));
    *pointers = calloc(snapshot->room_count, sizeof(**pointers));
    if (*entries == NULL || *pointers == NULL)
        return GIM_ERR_NO_MEMORY;
    for (index = 0; index < snapshot->room_count; index++) {
        Goim__Logic__OnlineReply__AllRoomCountEntry *entry = &(*entries)[index];
        goim__logic__online_reply__all_room_count_entry__init(entry);
        entry->key = snapshot->rooms[index].room;
        /* the proto's map value is int32: a larger count is clamped */
        entry->value = snapshot->rooms[index].count > INT32_MAX
                           ? INT32_MAX
                           : (int32_t)snapshot->rooms[index].count;
        (*pointers)[index] = entry;
    }
    answer->n_allroomcount = snapshot->room_count;
    answer->allroomcount = *pointers;
    return GIM_OK;
}

static void rpc_renew_online(const struct logic_context *logic, const uint8_t *request,
                             size_t length, struct gim_rpc_reply *reply)
{
    Goim__Logic__OnlineReq *online = goim__logic__online_req__unpack(NULL, length, request);
    Goim__Logic__OnlineReply answer = GOIM__LOGIC__ONLINE_REPLY__INIT;
    Goim__Logic__OnlineReply__AllRoomCountEntry *entries = NULL, **pointers = NULL;
    struct online_room_count *rooms = NULL;
    struct logic_online_snapshot *snapshot = NULL;
    struct gim_redis *redis;
    size_t index;
    int status;

    if (online == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "renew online: undecodable OnlineReq");
        return;
    }
    if (online->server == NULL || online->server[0] == '\0') {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "renew online: no server");
        goto out;
    }
    if (online->n_roomcount > 0) {
        rooms = calloc(online->n_roomcount, sizeof(*rooms));
        if (rooms == NULL) {
            gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "renew online: out of memory");
            goto out;
        }
    }
    for (index = 0; index < online->n_roomcount; index++) {
        rooms[index].room = online->roomcount[index]->key ? online->roomcount[index]->key : "";
        rooms[index].count = online->roomcount[index]->value;
    }
    redis = redis_pool_acquire(logic->redis);
    status = redis == NULL ? GIM_ERR_NO_MEMORY
                           : online_store_write(redis, online->server, rooms, online->n_roomcount,
                                                rpc_expire_seconds(logic), (int64_t)time(NULL));
    redis_pool_release(logic->redis, redis);
    if (status != GIM_OK) {
        rpc_reply_redis_error(reply, "renew online", status);
        goto out;
    }
    /* The cluster-wide view may be unavailable (Redis was down at the last refresh): answer empty.
     */
    logic_online_acquire(logic->online, &snapshot);
    if (rpc_all_room_count(snapshot, &answer, &entries, &pointers) != GIM_OK)
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "renew online: out of memory");
    else
        gim_rpc_reply_message(reply, &answer.base);
    gim_log_debug("renew online: server=%s rooms=%zu all=%zu", online->server, online->n_roomcount,
                  answer.n_allroomcount);
    logic_online_release(logic->online, snapshot);
out:
    free(entries);
    free(pointers);
    free(rooms);
    goim__logic__online_req__free_unpacked(online, NULL);
}

static void rpc_receive(const uint8_t *request, size_t length, struct gim_rpc_reply *reply)
{
    Goim__Logic__ReceiveReq *receive = goim__logic__receive_req__unpack(NULL, length, request);
    Goim__Logic__ReceiveReply answer = GOIM__LOGIC__RECEIVE_REPLY__INIT;

    if (receive == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "receive: undecodable ReceiveReq");
        return;
    }
    /* goim only logs upstream client frames; there is no business action. */
    gim_log_info("receive: mid=%" PRId64 " op=%d body=%zu bytes", receive->mid,
                 receive->proto ? receive->proto->op : 0,
                 receive->proto ? receive->proto->body.len : (size_t)0);
    gim_rpc_reply_message(reply, &answer.base);
    goim__logic__receive_req__free_unpacked(receive, NULL);
}

/* The GopusherConnectReply: an HTTP status and text for comet to send (0: admitted). */
static void gopusher_connect_fill(Goim__Dialects__GopusherConnectReply *answer, int status,
                                  const char *text)
{
    answer->status = status;
    answer->text = (char *)text;
}

/* Answers GopusherConnect at once. */
static void gopusher_connect_answer(struct gim_rpc_reply *reply, int status, const char *text)
{
    Goim__Dialects__GopusherConnectReply answer = GOIM__DIALECTS__GOPUSHER_CONNECT_REPLY__INIT;

    gopusher_connect_fill(&answer, status, text);
    gim_rpc_reply_message(reply, &answer.base);
}

/* A GopusherConnect waiting for its app's connect hook; its answer is deferred. */
struct gopusher_connect_pending {
    struct gim_rpc_deferred *deferred;
    char user_tag[]; /* the client's, NUL-terminated */
};

/* gopusher_hook_done_fn of a pending GopusherConnect: answers it and frees it (hook thread). */
static void gopusher_connect_hooked(void *user, int status, const char *body, size_t body_length,
                                    const char *error)
{
    struct gopusher_connect_pending *pending = user;
    Goim__Dialects__GopusherConnectReply answer = GOIM__DIALECTS__GOPUSHER_CONNECT_REPLY__INIT;
    char text[GOPUSHER_HOOK_MAX_BODY + 2400];

    if (status == GIM_ERR_CLOSED) { /* logic is stopping: comet answers an RPC failure 503 */
        gim_rpc_deferred_error(pending->deferred, GIM_ERR_UNAVAILABLE,
                               "gopusher connect: logic stopping");
        free(pending);
        return;
    }
    if (status != GIM_OK) {
        snprintf(text, sizeof(text), "%s\n", error); /* gopusher: 404 with the error text */
        gopusher_connect_fill(&answer, 404, text);
    } else if (body_length == strlen(pending->user_tag) &&
               memcmp(body, pending->user_tag, body_length) == 0) {
        gopusher_connect_fill(&answer, 0, "");
    } else {
        snprintf(text, sizeof(text), "Error user_tag %s, response user_tag %.*s\n",
                 pending->user_tag,
                 (int)(body_length > GOPUSHER_HOOK_MAX_BODY ? GOPUSHER_HOOK_MAX_BODY : body_length),
                 body);
        gopusher_connect_fill(&answer, 404, text);
    }
    gim_rpc_deferred_message(pending->deferred, &answer.base);
    free(pending);
}

/*
 * GopusherConnect (110): the app must exist (404 "app_key does not exist"); an app with a
 * connect hook must answer the token with the user_tag. The hook call runs on the hook thread
 * (gopusher_hook.h) and this answer is deferred to it, so no worker waits; at most
 * gopusher.hookConcurrency calls run at once, past that 503 at once. Texts as gopusher's
 * http.Error writes them.
 */
static void rpc_gopusher_connect(const struct logic_context *logic, const uint8_t *request,
                                 size_t length, struct gim_rpc_reply *reply)
{
    Goim__Dialects__GopusherConnectReq *connect =
        goim__dialects__gopusher_connect_req__unpack(NULL, length, request);
    struct gopusher_connect_pending *pending;
    struct gopusher_app app;
    struct gim_redis *redis;
    size_t tag_length;
    int status;

    if (connect == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad GopusherConnectReq");
        return;
    }
    if (connect->appkey[0] == '\0' || connect->usertag[0] == '\0' ||
        strchr(connect->appkey, '/') != NULL) {
        gopusher_connect_answer(reply, 404, "app_key does not exist\n");
        goto done;
    }
    redis = redis_pool_acquire(logic->redis);
    status = redis != NULL ? gopusher_apps_get(redis, connect->appkey, &app) : GIM_ERR_NO_MEMORY;
    redis_pool_release(logic->redis, redis);
    if (status == GIM_ERR_NOT_FOUND) {
        gopusher_connect_answer(reply, 404, "app_key does not exist\n");
        goto done;
    }
    if (status != GIM_OK) {
        rpc_reply_redis_error(reply, "gopusher app", status);
        goto done;
    }
    if (app.connect_hook[0] == '\0') {
        gopusher_connect_answer(reply, 0, ""); /* without a hook anyone is admitted */
        gopusher_app_clear(&app);
        goto done;
    }
    tag_length = strlen(connect->usertag);
    pending = malloc(sizeof(*pending) + tag_length + 1);
    if (pending == NULL) {
        gopusher_app_clear(&app);
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "gopusher connect: out of memory");
        goto done;
    }
    memcpy(pending->user_tag, connect->usertag, tag_length + 1);
    /* Deferred first: the hook thread may answer before gopusher_hook_call returns. */
    pending->deferred = gim_rpc_reply_defer(reply);
    status = gopusher_hook_call(logic->gopusher_hook, app.connect_hook, connect->token,
                                gopusher_connect_hooked, pending);
    gopusher_app_clear(&app);
    if (status != GIM_OK) { /* the hook thread never sees it: answered here */
        Goim__Dialects__GopusherConnectReply answer = GOIM__DIALECTS__GOPUSHER_CONNECT_REPLY__INIT;
        if (status == GIM_ERR_AGAIN) {
            gopusher_connect_fill(&answer, 503, "connect hooks busy\n");
            gim_rpc_deferred_message(pending->deferred, &answer.base);
        } else {
            gim_rpc_deferred_error(pending->deferred,
                                   status == GIM_ERR_CLOSED ? GIM_ERR_UNAVAILABLE : status,
                                   status == GIM_ERR_CLOSED ? "gopusher connect: logic stopping"
                                                            : "gopusher connect: out of memory");
        }
        free(pending);
    }
done:
    goim__dialects__gopusher_connect_req__free_unpacked(connect, NULL);
}

void rpc_service_handle(void *user, uint32_t method, const uint8_t *request, size_t request_length,
                        struct gim_rpc_reply *reply)
{
    const struct logic_context *logic = user;

    logic_metrics_count_rpc(logic->metrics, method);
    switch (method) {
    case GIM_RPC_LOGIC_CONNECT:
        rpc_connect(logic, request, request_length, reply);
        break;
    case GIM_RPC_LOGIC_DISCONNECT:
        rpc_disconnect(logic, request, request_length, reply);
        break;
    case GIM_RPC_LOGIC_HEARTBEAT:
        rpc_heartbeat(logic, request, request_length, reply);
        break;
    case GIM_RPC_LOGIC_RENEW_ONLINE:
        rpc_renew_online(logic, request, request_length, reply);
        break;
    case GIM_RPC_LOGIC_RECEIVE:
        rpc_receive(request, request_length, reply);
        break;
    case GIM_RPC_LOGIC_GOPUSHER_CONNECT:
        rpc_gopusher_connect(logic, request, request_length, reply);
        break;
    default: {
        char text[64];
        if (gusher_rpc_handle(logic, method, request, request_length, reply))
            break; /* 106-109 */
        snprintf(text, sizeof(text), "unknown method %" PRIu32, method);
        gim_rpc_reply_error(reply, GIM_ERR_NOT_FOUND, text);
        break;
    }
    }
}
