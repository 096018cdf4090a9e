/* gusher_rpc.c: GusherAuth/Connect/Disconnect/Heartbeat for comet (see gusher_rpc.h). */
#include "logic/gusher_rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "dialects.pb-c.h"
#include "logic/config.h"
#include "logic/context.h"
#include "logic/gusher_jwt.h"
#include "logic/gusher_store.h"
#include "logic/redis_pool.h"

/* The session's TTL in whole seconds (logic's redis.expire, as goim's key_/mid_). */
static int64_t gusher_rpc_expire_seconds(const struct logic_context *logic)
{
    int64_t seconds = logic->config->redis_expire_ms / 1000;

    return seconds < 1 ? 1 : seconds;
}

static void gusher_rpc_redis_error(struct gim_rpc_reply *reply, const char *what, int status)
{
    char text[128];

    snprintf(text, sizeof(text), "%s: redis: %s", what, gim_strerror(status));
    gim_log_warn("rpc %s", text);
    gim_rpc_reply_error(reply, status == GIM_ERR_NO_MEMORY ? status : GIM_ERR_UNAVAILABLE, text);
}

static struct gusher_name gusher_rpc_name(const char *text)
{
    struct gusher_name name = {text ? text : "", text ? strlen(text) : 0};
    return name;
}

static void gusher_rpc_auth(const struct logic_context *logic, const uint8_t *request,
                            size_t length, struct gim_rpc_reply *reply)
{
    Goim__Dialects__GusherAuthReq *auth =
        goim__dialects__gusher_auth_req__unpack(NULL, length, request);
    Goim__Dialects__GusherAuthReply answer = GOIM__DIALECTS__GUSHER_AUTH_REPLY__INIT;
    struct gusher_claims claims = {0};
    struct gim_text value = {0};
    struct gim_redis *redis;
    char error[256], token[GUSHER_TOKEN_LENGTH + 1];
    int status;

    if (auth == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "gusher auth: undecodable GusherAuthReq");
        return;
    }
    if (logic->gusher_jwt == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "gusher auth: no gusher.publicKey");
        goto out;
    }
    status = gusher_jwt_verify(logic->gusher_jwt, auth->jwt, strlen(auth->jwt), (int64_t)time(NULL),
                               &claims, error, sizeof(error));
    if (status != GIM_OK) {
        gim_log_info("gusher auth refused: %s", status == GIM_ERR_INVALID ? error : "no memory");
        gim_rpc_reply_error(reply, status, status == GIM_ERR_INVALID ? error : "out of memory");
        goto out;
    }
    if (!gusher_claims_append_auth(&value, &claims)) {
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "gusher auth: out of memory");
        goto out;
    }
    if (gusher_token_generate(token) != GIM_OK) {
        gim_rpc_reply_error(reply, GIM_ERR_IO, "gusher auth: no randomness for a token");
        goto out;
    }
    redis = redis_pool_acquire(logic->redis);
    status = redis == NULL ? GIM_ERR_NO_MEMORY
                           : gusher_token_store(redis, token, value.data, value.length,
                                                logic->config->gusher_token_ttl_ms);
    redis_pool_release(logic->redis, redis);
    if (status != GIM_OK) {
        gusher_rpc_redis_error(reply, "gusher auth", status);
        goto out;
    }
    gim_log_debug("gusher auth: app=%s user=%s token=%s", claims.app_key, claims.user_id, token);
    answer.token = token;
    gim_rpc_reply_message(reply, &answer.base);
out:
    gim_text_clear(&value);
    gusher_claims_clear(&claims);
    goim__dialects__gusher_auth_req__free_unpacked(auth, NULL);
}

/* Reads the token's claim; GIM_ERR_NOT_FOUND for a token that is unknown, expired or unreadable. */
static int gusher_rpc_redeem(struct gim_redis *redis, const char *token,
                             struct gusher_claims *claims)
{
    char *value = NULL;
    size_t length = 0;
    int status;

    memset(claims, 0, sizeof(*claims));
    if (!gusher_token_well_formed(token, strlen(token)))
        return GIM_ERR_NOT_FOUND;
    status = gusher_token_read(redis, token, &value, &length);
    if (status != GIM_OK)
        return status;
    status = gusher_claims_parse_auth(value, length, claims);
    free(value);
    return status == GIM_ERR_INVALID ? GIM_ERR_NOT_FOUND : status;
}

static void gusher_rpc_connect(const struct logic_context *logic, const uint8_t *request,
                               size_t length, struct gim_rpc_reply *reply)
{
    Goim__Dialects__GusherConnectReq *connect =
        goim__dialects__gusher_connect_req__unpack(NULL, length, request);
    Goim__Dialects__GusherConnectReply answer = GOIM__DIALECTS__GUSHER_CONNECT_REPLY__INIT;
    struct gusher_claims claims = {0};
    struct gim_redis *redis;
    char **remotes = NULL;
    bool other_app = false;
    size_t index;
    int status;

    if (connect == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "gusher connect: undecodable GusherConnectReq");
        return;
    }
    if (connect->server[0] == '\0' || connect->socketid[0] == '\0' ||
        strchr(connect->socketid, '/') != NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "gusher connect: no server or bad socketId");
        goto out;
    }
    redis = redis_pool_acquire(logic->redis);
    status = redis == NULL ? GIM_ERR_NO_MEMORY : gusher_rpc_redeem(redis, connect->token, &claims);
    other_app = status == GIM_OK && (claims.app_key_length != strlen(connect->appkey) ||
                                     strcmp(claims.app_key, connect->appkey) != 0);
    if (status == GIM_OK && !other_app)
        status = gusher_session_write(redis, gusher_rpc_name(connect->appkey),
                                      (struct gusher_name){claims.user_id, claims.user_id_length},
                                      gusher_rpc_name(connect->socketid), connect->server,
                                      gusher_rpc_expire_seconds(logic));
    redis_pool_release(logic->redis, redis);
    if (status == GIM_ERR_NOT_FOUND || other_app) {
        answer.status = !other_app ? GOIM__DIALECTS__GUSHER_CONNECT_REPLY__STATUS__TOKEN_ERROR
                                   : GOIM__DIALECTS__GUSHER_CONNECT_REPLY__STATUS__APPKEY_ERROR;
        gim_log_info("gusher connect refused (server=%s app=%s): %s", connect->server,
                     connect->appkey, other_app ? "appkey error" : "token error");
        gim_rpc_reply_message(reply, &answer.base);
        goto out;
    }
    if (status != GIM_OK) {
        gusher_rpc_redis_error(reply, "gusher connect", status);
        goto out;
    }
    remotes = calloc(claims.remote_count ? claims.remote_count : 1, sizeof(*remotes));
    if (remotes == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "gusher connect: out of memory");
        goto out;
    }
    for (index = 0; index < claims.remote_count; index++)
        if (claims.remote_allowed[index])
            remotes[answer.n_remotes++] = claims.remote_names[index];
    answer.userid = claims.user_id;
    answer.n_channels = claims.channel_count;
    answer.channels = claims.channels;
    answer.remotes = remotes;
    /* A third of the session's TTL: two renewals may be lost before it expires. */
    answer.renewseconds = gusher_rpc_expire_seconds(logic) / 3;
    if (answer.renewseconds < 1)
        answer.renewseconds = 1;
    gim_log_debug("gusher connect: app=%s user=%s socket=%s server=%s", connect->appkey,
                  claims.user_id, connect->socketid, connect->server);
    gim_rpc_reply_message(reply, &answer.base);
out:
    free(remotes);
    gusher_claims_clear(&claims);
    goim__dialects__gusher_connect_req__free_unpacked(connect, NULL);
}

/* GusherDisconnect (renew false) and GusherHeartbeat (renew true). */
static void gusher_rpc_session(const struct logic_context *logic, const uint8_t *request,
                               size_t length, bool renew, struct gim_rpc_reply *reply)
{
    Goim__Dialects__GusherSessionReq *session =
        goim__dialects__gusher_session_req__unpack(NULL, length, request);
    Goim__Dialects__GusherSessionReply answer = GOIM__DIALECTS__GUSHER_SESSION_REPLY__INIT;
    const char *what = renew ? "gusher heartbeat" : "gusher disconnect";
    struct gim_redis *redis;
    int status;

    if (session == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "gusher session: undecodable GusherSessionReq");
        return;
    }
    if (session->socketid[0] == '\0' || strchr(session->socketid, '/') != NULL ||
        (renew && session->server[0] == '\0')) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "gusher session: no server or bad socketId");
        goto out;
    }
    redis = redis_pool_acquire(logic->redis);
    if (redis == NULL)
        status = GIM_ERR_NO_MEMORY;
    else if (renew)
        status = gusher_session_write(
            redis, gusher_rpc_name(session->appkey), gusher_rpc_name(session->userid),
            gusher_rpc_name(session->socketid), session->server, gusher_rpc_expire_seconds(logic));
    else
        status = gusher_session_remove(redis, gusher_rpc_name(session->appkey),
                                       gusher_rpc_name(session->userid),
                                       gusher_rpc_name(session->socketid));
    redis_pool_release(logic->redis, redis);
    if (status != GIM_OK) {
        gusher_rpc_redis_error(reply, what, status);
        goto out;
    }
    gim_log_debug("%s: app=%s user=%s socket=%s server=%s", what, session->appkey, session->userid,
                  session->socketid, session->server);
    gim_rpc_reply_message(reply, &answer.base);
out:
    goim__dialects__gusher_session_req__free_unpacked(session, NULL);
}

bool gusher_rpc_handle(const struct logic_context *logic, uint32_t method, const uint8_t *request,
                       size_t length, struct gim_rpc_reply *reply)
{
    switch (method) {
    case GIM_RPC_LOGIC_GUSHER_AUTH:
        gusher_rpc_auth(logic, request, length, reply);
        return true;
    case GIM_RPC_LOGIC_GUSHER_CONNECT:
        gusher_rpc_connect(logic, request, length, reply);
        return true;
    case GIM_RPC_LOGIC_GUSHER_DISCONNECT:
        gusher_rpc_session(logic, request, length, false, reply);
        return true;
    case GIM_RPC_LOGIC_GUSHER_HEARTBEAT:
        gusher_rpc_session(logic, request, length, true, reply);
        return true;
    default:
        return false;
    }
}
