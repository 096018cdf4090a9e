/* protocol_gusher.c: gusher.cluster's routes, admission, commands and pushes (see
 * protocol_gusher.h). */
#include "comet/protocol_gusher.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comet/comet.h"
#include "comet/connection.h"
#include "comet/event_loop.h"
#include "comet/gusher_command.h"
#include "comet/gusher_presence.h"
#include "comet/redis_writer.h"
#include "comet/logic_calls.h"
#include "comet/websocket.h"
#include "common/frame.h"
#include "common/go_json.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/text.h"
#include "common/url_form.h"
#include "dialects.pb-c.h"

#define GUSHER_APP_KEY_MAX 256 /* a longer {app_key} is refused as missing */
#define GUSHER_TOKEN_MAX   256
#define GUSHER_JWT_MAX     WEBSOCKET_MAX_REQUEST_BODY

static const char go_text_type[] = "text/plain; charset=utf-8";
static const char go_error_headers[] = "X-Content-Type-Options: nosniff\r\n";
static const char cors_header[] = "Access-Control-Allow-Origin: *\r\n";
static const char cors_error_headers[] =
    "Access-Control-Allow-Origin: *\r\nX-Content-Type-Options: nosniff\r\n";

/* A gusher socket's own state (connection->protocol_state), from its upgrade to its close. */
struct gusher_session {
    char socket_id[33];
    char *app_key;
    char *user_id;
    char **allowed; /* the allowed channels (claim, then reload / add) */
    size_t allowed_count;
    char **remotes; /* remote commands the claim allows */
    size_t remote_count;
    char **subscribed; /* the channels subscribed (each also room gusher/<app>/<channel>) */
    uint32_t subscriptions, subscribed_capacity;
    bool counted;       /* in the presence table (gusher_presence_socket) */
    int64_t renew_ms;   /* GusherHeartbeat at least this often */
    int64_t renewed_ms; /* loop clock of the last one (or of the admission) */
    int64_t next_ping_ms;
    int64_t pong_deadline_ms;
};

/* One call to logic in flight: posted by the nng completion into the owning loop's inbox. */
struct gusher_call {
    struct inbox_item item;
    struct event_loop *loop;
    struct comet_connection *connection; /* holds a reference until finished */
    int status;
    ProtobufCMessage *reply;
};

static struct gusher_session *session_of(const struct comet_connection *connection)
{
    return connection->protocol_state;
}

static void free_strings(char **strings, size_t count)
{
    size_t index;

    for (index = 0; index < count; index++)
        free(strings[index]);
    free(strings);
}

/* Copies strings[0..count) into *out (count may be 0). Returns GIM_OK or GIM_ERR_NO_MEMORY. */
static int copy_strings(char *const *strings, size_t count, char ***out)
{
    char **copy = calloc(count > 0 ? count : 1, sizeof(*copy));
    size_t index;

    if (copy == NULL)
        return GIM_ERR_NO_MEMORY;
    for (index = 0; index < count; index++) {
        if ((copy[index] = strdup(strings[index])) == NULL) {
            free_strings(copy, index);
            return GIM_ERR_NO_MEMORY;
        }
    }
    *out = copy;
    return GIM_OK;
}

static void session_free(struct gusher_session *session)
{
    if (session == NULL)
        return;
    free(session->app_key);
    free(session->user_id);
    free_strings(session->allowed, session->allowed_count);
    free_strings(session->remotes, session->remote_count);
    free_strings(session->subscribed, session->subscriptions);
    free(session);
}

/* ---- HTTP answers ---------------------------------------------------------------- */

/* http.Error(text, status): the text and a newline. */
static int answer_go_error(struct comet_connection *connection, int status, const char *text,
                           bool cors)
{
    char body[128];
    int length = snprintf(body, sizeof(body), "%s\n", text);

    return websocket_answer(connection, status, go_text_type,
                            cors ? cors_error_headers : go_error_headers, body, (size_t)length);
}

/* ---- sending text messages ---------------------------------------------------------- */

/* Sends text[0..*length_of) as one text message (a reply, or queued with the pushes when
 * push); frees text. NULL text (no memory) closes the connection. The length is read through a
 * pointer because the encoder that makes text sets it in the same call's arguments. Returns
 * GIM_OK or GIM_ERR_CLOSED. */
static int send_text(struct comet_connection *connection, char *text, const size_t *length_of,
                     bool push)
{
    size_t length = text != NULL ? *length_of : 0;
    uint8_t *payload;
    struct gim_shared_buffer *buffer =
        text != NULL ? framing_of(connection)->message_new(length, true, &payload) : NULL;
    int status;

    if (buffer == NULL) {
        free(text);
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    memcpy(payload, text, length);
    free(text);
    if (push) {
        status = connection_push(connection, buffer);
        if (status == GIM_ERR_TOO_LARGE)
            status = GIM_OK; /* dropped and counted like any push to a slow client */
    } else {
        status = connection_reply(connection, buffer);
    }
    gim_shared_buffer_unref(buffer);
    return status;
}

/* ---- auth: POST {p}auth ------------------------------------------------------------ */

static void gusher_finish_auth(struct inbox_item *item, struct event_loop *loop)
{
    struct gusher_call *call = (struct gusher_call *)item;
    struct comet_connection *connection = call->connection;
    const Goim__Dialects__GusherAuthReply *reply = (Goim__Dialects__GusherAuthReply *)call->reply;

    (void)loop;
    if (connection->state == CONNECTION_CLOSED) {
        /* the client left meanwhile */
    } else if (call->status != GIM_OK || reply == NULL || reply->token == NULL ||
               reply->token[0] == '\0') {
        gim_log_debug("gusher auth refused: %s", gim_strerror(call->status));
        answer_go_error(connection, 401, "jwt decode fail", true);
    } else {
        struct gim_text body = {0};

        gim_text_append_cstring(&body, "{\"token\":");
        gim_go_json_append_string(&body, reply->token, strlen(reply->token));
        gim_text_append_cstring(&body, "}\n"); /* json.Encoder's newline */
        if (body.failed)
            answer_go_error(connection, 500, "out of memory", true);
        else
            websocket_answer(connection, 200, "application/json;charset=UTF-8", cors_header,
                             body.data, body.length);
        gim_text_clear(&body);
    }
    if (call->reply != NULL)
        protobuf_c_message_free_unpacked(call->reply, NULL);
    connection_unref(connection);
    free(call);
}

/* Runs on an nng thread: only hands the result to the loop. */
static void gusher_call_done(void *user, int status, ProtobufCMessage *reply)
{
    struct gusher_call *call = user;

    call->status = status;
    call->reply = reply;
    event_loop_post(call->loop, &call->item);
}

/* Starts an asynchronous call to logic for connection; its result runs finish on the loop.
 * Returns GIM_OK (a reference is held until then) or an error (nothing held). */
static int start_call(struct comet_connection *connection, uint32_t method,
                      const ProtobufCMessage *request, const ProtobufCMessageDescriptor *reply_type,
                      void (*finish)(struct inbox_item *, struct event_loop *))
{
    struct comet *comet = connection->set->comet;
    struct gusher_call *call = calloc(1, sizeof(*call));
    int status;

    if (call == NULL)
        return GIM_ERR_NO_MEMORY;
    call->item.run = finish;
    call->loop = connection->set->loop;
    call->connection = connection;
    connection_ref(connection);
    status =
        gim_rpc_call_coalesced(comet->logic, method, request, reply_type,
                               (int)comet->config->rpc_client_timeout_ms, gusher_call_done, call);
    if (status != GIM_OK) {
        connection_unref(connection);
        free(call);
    }
    return status;
}

static int gusher_auth(struct comet_connection *connection, const struct websocket_request *request)
{
    Goim__Dialects__GusherAuthReq auth = GOIM__DIALECTS__GUSHER_AUTH_REQ__INIT;
    char *jwt = malloc(GUSHER_JWT_MAX + 1);
    int status;

    if (jwt == NULL)
        return GIM_ERR_NO_MEMORY;
    if (websocket_form_value(request, "jwt", jwt, GUSHER_JWT_MAX + 1) != GIM_OK)
        jwt[0] = '\0'; /* gusher asks its decode service anyway; an empty JWT is refused there */
    auth.jwt = jwt;
    status = start_call(connection, GIM_RPC_LOGIC_GUSHER_AUTH, &auth.base,
                        &goim__dialects__gusher_auth_reply__descriptor, gusher_finish_auth);
    free(jwt);
    if (status != GIM_OK) {
        gim_log_debug("gusher auth not sent: %s", gim_strerror(status));
        answer_go_error(connection, 401, "jwt decode fail", true);
        return GIM_OK;
    }
    return GIM_ERR_AGAIN;
}

/* ---- routes ---------------------------------------------------------------------- */

enum gusher_path { GUSHER_PATH_NONE, GUSHER_PATH_AUTH, GUSHER_PATH_PING, GUSHER_PATH_WS };

/* Which route the rest of the path (after the prefix) names; app_key: {app_key} of ws/ (""
 * when missing or unreadable, which gusher answers as nil). */
static enum gusher_path gusher_route(const struct websocket_request *request, char *app_key,
                                     size_t app_key_size)
{
    const char *rest = request->rest;
    size_t length = request->rest_length;

    app_key[0] = '\0';
    if (length == 4 && memcmp(rest, "auth", 4) == 0)
        return GUSHER_PATH_AUTH;
    if (length == 4 && memcmp(rest, "ping", 4) == 0)
        return GUSHER_PATH_PING;
    if (length >= 3 && memcmp(rest, "ws/", 3) == 0 &&
        gim_url_path_segment_count(rest, length) == 2) {
        if (gim_url_path_segment(rest, length, 1, app_key, app_key_size) != GIM_OK)
            app_key[0] = '\0';
        return GUSHER_PATH_WS;
    }
    return GUSHER_PATH_NONE;
}

/* The ?token= of the request ("" when missing or unreadable). */
static void request_token(const struct websocket_request *request, char *token, size_t size)
{
    if (gim_url_form_value(request->query, request->query_length, "token", token, size) != GIM_OK)
        token[0] = '\0';
}

/* gorilla/mux's answer to a known path with another method: 405, no body. */
static int answer_method_not_allowed(struct comet_connection *connection)
{
    websocket_answer(connection, 405, NULL, NULL, "", 0);
    return GIM_OK;
}

int gusher_http_request(struct comet_connection *connection,
                        const struct websocket_request *request)
{
    char app_key[GUSHER_APP_KEY_MAX], token[GUSHER_TOKEN_MAX];

    switch (gusher_route(request, app_key, sizeof(app_key))) {
    case GUSHER_PATH_AUTH:
        if (!request->post)
            return answer_method_not_allowed(connection);
        return gusher_auth(connection, request);
    case GUSHER_PATH_PING:
        if (request->post)
            return answer_method_not_allowed(connection);
        websocket_answer(connection, 200, go_text_type, NULL, "pong", 4);
        return GIM_OK;
    case GUSHER_PATH_WS:
        if (request->post)
            return answer_method_not_allowed(connection);
        request_token(request, token, sizeof(token));
        if (app_key[0] == '\0' || token[0] == '\0')
            answer_go_error(connection, 401, "app_key is nil", false);
        else
            answer_go_error(connection, 400, "Bad Request", false); /* not an upgrade */
        return GIM_OK;
    case GUSHER_PATH_NONE:
        break;
    }
    answer_go_error(connection, 404, "404 page not found", false);
    return GIM_OK;
}

/* ---- admission: GET {p}ws/{app_key}?token= ------------------------------------------ */

/* The first deadline of the socket's schedule: ping, pong deadline, heartbeat to logic. */
static int64_t session_next_deadline(const struct gusher_session *session)
{
    int64_t next = session->next_ping_ms;

    if (session->pong_deadline_ms < next)
        next = session->pong_deadline_ms;
    if (session->renewed_ms + session->renew_ms < next)
        next = session->renewed_ms + session->renew_ms;
    return next;
}

/* Keeps what logic's answer says about the socket. Returns GIM_OK or GIM_ERR_NO_MEMORY. */
static int session_adopt(struct gusher_session *session,
                         const Goim__Dialects__GusherConnectReply *reply)
{
    if ((session->user_id = strdup(reply->userid ? reply->userid : "")) == NULL ||
        copy_strings(reply->channels, reply->n_channels, &session->allowed) != GIM_OK)
        return GIM_ERR_NO_MEMORY;
    session->allowed_count = reply->n_channels;
    if (copy_strings(reply->remotes, reply->n_remotes, &session->remotes) != GIM_OK)
        return GIM_ERR_NO_MEMORY;
    session->remote_count = reply->n_remotes;
    return GIM_OK;
}

static void gusher_finish_connect(struct inbox_item *item, struct event_loop *loop)
{
    struct gusher_call *call = (struct gusher_call *)item;
    struct comet_connection *connection = call->connection;
    struct connection_set *set = connection->set;
    struct comet *comet = set->comet;
    struct gusher_session *session = session_of(connection);
    const Goim__Dialects__GusherConnectReply *reply =
        (Goim__Dialects__GusherConnectReply *)call->reply;

    if (connection->state == CONNECTION_CLOSED || session == NULL) {
        /* the client left meanwhile; a session logic recorded is deleted */
        if (call->status == GIM_OK && reply != NULL &&
            reply->status == GOIM__DIALECTS__GUSHER_CONNECT_REPLY__STATUS__OK && session != NULL)
            logic_gusher_disconnect(comet, session->app_key, reply->userid, session->socket_id);
    } else if (call->status != GIM_OK || reply == NULL ||
               reply->status != GOIM__DIALECTS__GUSHER_CONNECT_REPLY__STATUS__OK) {
        bool appkey = call->status == GIM_OK && reply != NULL &&
                      reply->status == GOIM__DIALECTS__GUSHER_CONNECT_REPLY__STATUS__APPKEY_ERROR;
        if (call->status != GIM_OK)
            gim_log_info("gusher connect failed: %s", gim_strerror(call->status));
        gim_counter_increment(&set->counters.auth_failed);
        answer_go_error(connection, 401, appkey ? "appkey error" : "token error", false);
    } else {
        static const int32_t accepts[] = {GUSHER_OP_MESSAGE, GUSHER_OP_RELOAD_CHANNELS,
                                          GUSHER_OP_ADD_CHANNEL};
        const struct comet_config *config = comet->config;
        char key[GUSHER_APP_KEY_MAX + 48];
        struct connection_identity identity = {.key = key, .accepts = accepts, .accept_count = 3};

        snprintf(key, sizeof(key), "gusher/%s/%s", session->app_key, session->socket_id);
        if (session_adopt(session, reply) != GIM_OK) {
            logic_gusher_disconnect(comet, session->app_key, reply->userid, session->socket_id);
            connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        } else {
            session->renew_ms = reply->renewseconds > 0 ? reply->renewseconds * 1000 : 600000;
            session->renewed_ms = loop->now_ms;
            session->next_ping_ms = loop->now_ms + config->gusher_ping_interval_ms;
            session->pong_deadline_ms = loop->now_ms + config->gusher_pong_timeout_ms;
            identity.heartbeat_ms = session_next_deadline(session) - loop->now_ms;
            /* counted first: websocket_admit may already run a subscribe that came early; the
             * closed hook counts it down (the session may be gone when admit returns) */
            gusher_presence_socket(&comet->gusher_presence, session->app_key, session->user_id, 1);
            session->counted = true;
            gim_counter_increment(&set->counters.protocol_admitted[COMET_PROTOCOL_GUSHER]);
            if (websocket_admit(connection, &identity) == GIM_OK)
                gim_counter_increment(&set->counters.auth_ok);
            else if (connection->state != CONNECTION_ACTIVE)
                gim_counter_increment(&set->counters.auth_failed);
        }
    }
    if (call->reply != NULL)
        protobuf_c_message_free_unpacked(call->reply, NULL);
    connection_unref(connection);
    free(call);
}

/* 32 random hex digits. */
static int random_socket_id(char out[33])
{
    unsigned char bytes[16];
    size_t index;

    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return GIM_ERR_IO;
    for (index = 0; index < sizeof(bytes); index++)
        snprintf(out + 2 * index, 3, "%02x", bytes[index]);
    return GIM_OK;
}

static int gusher_open(struct comet_connection *connection, const struct websocket_request *request)
{
    struct comet *comet = connection->set->comet;
    Goim__Dialects__GusherConnectReq connect = GOIM__DIALECTS__GUSHER_CONNECT_REQ__INIT;
    char app_key[GUSHER_APP_KEY_MAX], token[GUSHER_TOKEN_MAX];
    struct gusher_session *session;
    int status;

    if (gusher_route(request, app_key, sizeof(app_key)) != GUSHER_PATH_WS) {
        answer_go_error(connection, 404, "404 page not found", false);
        return GIM_ERR_INVALID;
    }
    request_token(request, token, sizeof(token));
    if (app_key[0] == '\0' || token[0] == '\0') {
        answer_go_error(connection, 401, "app_key is nil", false);
        return GIM_ERR_INVALID;
    }
    session = calloc(1, sizeof(*session));
    if (session == NULL || (session->app_key = strdup(app_key)) == NULL ||
        random_socket_id(session->socket_id) != GIM_OK) {
        session_free(session);
        return GIM_ERR_NO_MEMORY;
    }
    connect.server = comet->config->host;
    connect.appkey = app_key;
    connect.token = token;
    connect.socketid = session->socket_id;
    status = start_call(connection, GIM_RPC_LOGIC_GUSHER_CONNECT, &connect.base,
                        &goim__dialects__gusher_connect_reply__descriptor, gusher_finish_connect);
    if (status != GIM_OK) {
        session_free(session);
        gim_log_info("gusher connect not sent: %s", gim_strerror(status));
        answer_go_error(connection, 401, "token error", false);
        return status;
    }
    connection->protocol_state = session;
    return GIM_ERR_AGAIN;
}

/* ---- commands ---------------------------------------------------------------------- */

/* The room of channel for this socket: gusher/<app>/<channel> (malloc'd), or NULL. */
static char *channel_room(const struct gusher_session *session, const char *channel)
{
    char *room;

    if (asprintf(&room, "gusher/%s/%s", session->app_key, channel) < 0)
        return NULL;
    return room;
}

/* Where channel is in the socket's subscriptions, or subscriptions when it is not. */
static uint32_t subscribed_index(const struct gusher_session *session, const char *channel)
{
    uint32_t index;

    for (index = 0; index < session->subscriptions; index++)
        if (strcmp(session->subscribed[index], channel) == 0)
            break;
    return index;
}

/* Subscribes channel (nothing when subscribed already). Returns GIM_OK, GIM_ERR_TOO_LARGE (at
 * GUSHER_MAX_SUBSCRIPTIONS) or GIM_ERR_NO_MEMORY. */
static int subscribe(struct comet_connection *connection, struct gusher_session *session,
                     const char *channel)
{
    char *room, *name;

    if (subscribed_index(session, channel) < session->subscriptions)
        return GIM_OK;
    if (session->subscriptions >= GUSHER_MAX_SUBSCRIPTIONS)
        return GIM_ERR_TOO_LARGE;
    if (session->subscriptions == session->subscribed_capacity) {
        uint32_t capacity = session->subscribed_capacity ? session->subscribed_capacity * 2 : 4;
        char **grown = realloc(session->subscribed, capacity * sizeof(*grown));
        if (grown == NULL)
            return GIM_ERR_NO_MEMORY;
        session->subscribed = grown;
        session->subscribed_capacity = capacity;
    }
    if ((room = channel_room(session, channel)) == NULL)
        return GIM_ERR_NO_MEMORY;
    if ((name = strdup(channel)) == NULL ||
        room_join(&connection->set->rooms, connection, &connection->rooms, room) != GIM_OK) {
        free(name);
        free(room);
        return GIM_ERR_NO_MEMORY;
    }
    free(room);
    session->subscribed[session->subscriptions++] = name;
    gusher_presence_channel(&connection->set->comet->gusher_presence, session->app_key,
                            session->user_id, channel, 1);
    return GIM_OK;
}

/* Leaves subscription index (the last one takes its place). */
static void unsubscribe_at(struct comet_connection *connection, struct gusher_session *session,
                           uint32_t index)
{
    char *channel = session->subscribed[index], *room = channel_room(session, channel);

    if (room != NULL)
        room_leave(&connection->set->rooms, &connection->rooms, room);
    free(room);
    gusher_presence_channel(&connection->set->comet->gusher_presence, session->app_key,
                            session->user_id, channel, -1);
    free(channel);
    session->subscribed[index] = session->subscribed[--session->subscriptions];
}

static void unsubscribe(struct comet_connection *connection, struct gusher_session *session,
                        const char *channel)
{
    uint32_t index = subscribed_index(session, channel);

    if (index < session->subscriptions)
        unsubscribe_at(connection, session, index);
}

static bool remote_allowed(const struct gusher_session *session, const char *remote)
{
    size_t index;

    for (index = 0; index < session->remote_count; index++)
        if (strcmp(session->remotes[index], remote) == 0)
            return true;
    return false;
}

/* RPUSH list job on gusher.remoteRedis, off the loop (the remote writer). Frees both. */
static void queue_remote(struct comet *comet, char *list, char *job, size_t job_length)
{
    const char *argv[] = {"RPUSH", list, job};
    const size_t lengths[] = {5, strlen(list), job_length};
    struct redis_batch *batch = comet->gusher_remote ? redis_batch_new() : NULL;
    int status = GIM_ERR_UNAVAILABLE;

    if (batch != NULL && redis_batch_add(batch, 3, argv, lengths) == GIM_OK)
        status = redis_writer_send(comet->gusher_remote, batch);
    else
        redis_batch_free(batch);
    if (status != GIM_OK)
        gim_log_debug("gusher remote to %s dropped: %s", list, gim_strerror(status));
    free(list);
    free(job);
}

static int run_remote(struct comet_connection *connection, struct gusher_session *session,
                      const struct gusher_command *command)
{
    size_t length, job_length;
    char *job, *list;

    if (!remote_allowed(session, command->remote))
        return send_text(
            connection,
            gusher_reply_remote(GUSHER_REMOTE_ERROR, session->socket_id, command->remote, &length),
            &length, false);
    job = gusher_remote_job(session->user_id, session->socket_id, command->uid, session->app_key,
                            command->payload, command->payload_length, &job_length);
    if (job == NULL || asprintf(&list, "%s@%s", session->app_key, command->remote) < 0) {
        free(job);
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    queue_remote(connection->set->comet, list, job, job_length);
    if (!command->debug)
        return GIM_OK; /* fire and forget, as gusher */
    return send_text(
        connection,
        gusher_reply_remote(GUSHER_REMOTE_SUCCEEDED, session->socket_id, command->remote, &length),
        &length, false);
}

static int run_command(struct comet_connection *connection, struct gusher_session *session,
                       const struct gusher_command *command)
{
    size_t length = 0, index;
    bool allowed;

    switch (command->kind) {
    case GUSHER_COMMAND_SUBSCRIBE:
        allowed =
            gusher_channel_allowed(session->allowed, session->allowed_count, command->channel);
        if (allowed) {
            int status = subscribe(connection, session, command->channel);
            if (status == GIM_ERR_NO_MEMORY)
                return status;
            allowed = status == GIM_OK;
        }
        return send_text(
            connection,
            gusher_reply_channel(allowed ? GUSHER_SUBSCRIBE_SUCCEEDED : GUSHER_SUBSCRIBE_ERROR,
                                 session->socket_id, command->channel, &length),
            &length, false);
    case GUSHER_COMMAND_UNSUBSCRIBE:
        allowed =
            gusher_channel_allowed(session->allowed, session->allowed_count, command->channel);
        if (allowed)
            unsubscribe(connection, session, command->channel);
        return send_text(
            connection,
            gusher_reply_channel(allowed ? GUSHER_UNSUBSCRIBE_SUCCEEDED : GUSHER_UNSUBSCRIBE_ERROR,
                                 session->socket_id, command->channel, &length),
            &length, false);
    case GUSHER_COMMAND_MULTI_SUBSCRIBE:
        allowed = gusher_channels_all_allowed(session->allowed, session->allowed_count,
                                              command->channels, command->channel_count) &&
                  session->subscriptions + command->channel_count <= GUSHER_MAX_SUBSCRIPTIONS;
        for (index = 0; allowed && index < command->channel_count; index++)
            if (subscribe(connection, session, command->channels[index]) != GIM_OK)
                return GIM_ERR_NO_MEMORY;
        return send_text(connection,
                         gusher_reply_channel_list(allowed ? GUSHER_MULTI_SUBSCRIBE_SUCCEEDED
                                                           : GUSHER_MULTI_SUBSCRIBE_ERROR,
                                                   session->socket_id, "channel", command->channels,
                                                   command->channel_count, &length),
                         &length, false);
    case GUSHER_COMMAND_QUERYCHANNEL:
        return send_text(connection,
                         gusher_reply_channel_list(GUSHER_QUERYCHANNEL_SUCCEEDED,
                                                   session->socket_id, "channels", session->allowed,
                                                   session->allowed_count, &length),
                         &length, false);
    case GUSHER_COMMAND_PING:
        return send_text(connection,
                         gusher_reply_pong(session->socket_id, command->ping_data,
                                           command->ping_data_length, (int64_t)time(NULL), &length),
                         &length, false);
    case GUSHER_COMMAND_REMOTE:
        return run_remote(connection, session, command);
    }
    return GIM_ERR_INVALID;
}

static int gusher_message(struct comet_connection *connection, const uint8_t *data, size_t length,
                          bool text)
{
    struct gusher_session *session = session_of(connection);
    struct gusher_command command;
    int status;

    if (connection->state != CONNECTION_ACTIVE || session == NULL || !text)
        return GIM_OK; /* gusher reads text messages only */
    if (length > (size_t)connection->set->comet->config->gusher_max_message_bytes)
        return GIM_ERR_TOO_LARGE;
    gim_counter_increment(&connection->set->counters.frames[COMET_FRAME_OTHER]);
    status = gusher_command_parse((const char *)data, length, &command);
    if (status != GIM_OK)
        return status; /* fatal: the socket closes */
    status = run_command(connection, session, &command);
    gusher_command_clear(&command);
    return status;
}

/* ---- liveness ---------------------------------------------------------------------- */

static void gusher_deadline(struct comet_connection *connection)
{
    struct event_loop *loop = connection->set->loop;
    const struct comet_config *config = connection->set->comet->config;
    struct gusher_session *session = session_of(connection);
    int64_t now = loop->now_ms;

    if (connection->state != CONNECTION_ACTIVE || session == NULL ||
        now >= session->pong_deadline_ms) {
        /* the upgrade, or no pong in time (counted as a timeout by connection_close) */
        connection_close(connection, connection->state == CONNECTION_ACTIVE
                                         ? CONNECTION_CLOSE_HEARTBEAT_TIMEOUT
                                         : CONNECTION_CLOSE_HANDSHAKE_TIMEOUT);
        return;
    }
    if (now >= session->next_ping_ms) {
        if (config->gusher_must_subscribe && session->subscriptions == 0) {
            /* gusher's "timeout to subscribe" */
            connection_close(connection, CONNECTION_CLOSE_HEARTBEAT_TIMEOUT);
            return;
        }
        if (websocket_ping(connection) != GIM_OK)
            return; /* closed */
        session->next_ping_ms = now + config->gusher_ping_interval_ms;
    }
    if (now >= session->renewed_ms + session->renew_ms) {
        session->renewed_ms = now;
        logic_gusher_heartbeat(connection->set->comet, session->app_key, session->user_id,
                               session->socket_id);
    }
    timer_wheel_arm(&loop->wheel, &connection->deadline, session_next_deadline(session));
}

static void gusher_pong(struct comet_connection *connection)
{
    struct gusher_session *session = session_of(connection);

    if (session != NULL && connection->state == CONNECTION_ACTIVE) {
        session->pong_deadline_ms =
            connection->set->loop->now_ms + connection->set->comet->config->gusher_pong_timeout_ms;
        timer_wheel_arm(&connection->set->loop->wheel, &connection->deadline,
                        session_next_deadline(session));
    }
}

static void gusher_closed(struct comet_connection *connection, enum connection_close_reason reason,
                          bool was_active)
{
    struct gusher_session *session = session_of(connection);
    uint32_t index;

    (void)reason; /* a socket_id is never reused: no replacement to spare */
    if (session == NULL)
        return;
    if (was_active)
        logic_gusher_disconnect(connection->set->comet, session->app_key, session->user_id,
                                session->socket_id);
    for (index = 0; index < session->subscriptions; index++)
        gusher_presence_channel(&connection->set->comet->gusher_presence, session->app_key,
                                session->user_id, session->subscribed[index], -1);
    if (session->counted)
        gim_counter_increment(&connection->set->counters.protocol_closed[COMET_PROTOCOL_GUSHER]);
    if (session->counted)
        gusher_presence_socket(&connection->set->comet->gusher_presence, session->app_key,
                               session->user_id, -1);
    connection->protocol_state = NULL;
    session_free(session);
}

/* ---- pushes ------------------------------------------------------------------------ */

/* 2001: the allowed list becomes body (a JSON array of strings); every subscription not
 * literally in it is left; then the reloadchannel notice. */
static int reload_channels(struct comet_connection *connection, struct gusher_session *session,
                           const uint8_t *body, size_t length)
{
    json_t *list = json_loadb((const char *)body, length, 0, NULL), *element;
    uint32_t subscription;
    char **allowed;
    size_t count, index, text_length;

    if (!json_is_array(list)) {
        json_decref(list);
        gim_log_warn("gusher reload: not a JSON array (%zu bytes): ignored", length);
        return GIM_OK;
    }
    count = json_array_size(list);
    allowed = calloc(count > 0 ? count : 1, sizeof(*allowed));
    for (index = 0; allowed != NULL && index < count; index++) {
        element = json_array_get(list, index);
        allowed[index] = strdup(json_is_string(element) ? json_string_value(element) : "");
        if (allowed[index] == NULL) {
            free_strings(allowed, index);
            allowed = NULL;
        }
    }
    json_decref(list);
    if (allowed == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    for (subscription = session->subscriptions; subscription-- > 0;) {
        bool listed = false;
        for (index = 0; index < count && !listed; index++)
            listed = strcmp(allowed[index], session->subscribed[subscription]) == 0;
        if (!listed)
            unsubscribe_at(connection, session, subscription);
    }
    free_strings(session->allowed, session->allowed_count);
    session->allowed = allowed;
    session->allowed_count = count;
    return send_text(connection,
                     gusher_reply_channel_list(GUSHER_RELOADCHANNEL, "", "channels", allowed, count,
                                               &text_length),
                     &text_length, true);
}

/* 2002: body (a channel) joins the allowed list if absent; then the addchannel notice. */
static int add_channel(struct comet_connection *connection, struct gusher_session *session,
                       const uint8_t *body, size_t length)
{
    char *channel = strndup((const char *)body, length), **grown;
    size_t index, text_length;
    char *notice;

    if (channel == NULL || strlen(channel) != length) {
        free(channel);
        gim_log_warn("gusher add channel: not a channel name (%zu bytes): ignored", length);
        return GIM_OK;
    }
    notice = gusher_reply_channel(GUSHER_ADDCHANNEL, "", channel, &text_length);
    if (notice == NULL) {
        free(channel);
        return GIM_OK; /* not UTF-8: nothing a client could be told */
    }
    for (index = 0; index < session->allowed_count; index++)
        if (strcmp(session->allowed[index], channel) == 0)
            break;
    if (index == session->allowed_count) {
        grown = realloc(session->allowed, (session->allowed_count + 1) * sizeof(*grown));
        if (grown == NULL) {
            free(channel);
            free(notice);
            connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
            return GIM_ERR_CLOSED;
        }
        session->allowed = grown;
        session->allowed[session->allowed_count++] = channel;
    } else {
        free(channel);
    }
    return send_text(connection, notice, &text_length, true);
}

/* One push frame of operation for this socket. */
static int control_frame(struct comet_connection *connection, int32_t operation,
                         const uint8_t *body, size_t length)
{
    struct gusher_session *session = session_of(connection);

    if (session == NULL || connection->state != CONNECTION_ACTIVE)
        return GIM_ERR_CLOSED;
    if (operation == GUSHER_OP_RELOAD_CHANNELS)
        return reload_channels(connection, session, body, length);
    return add_channel(connection, session, body, length);
}

/* The push hook: reload and add (also as the frames of an OpRaw) change the socket and queue
 * its notice; a 2000 push, or an OpRaw of them, is delivered (the shared encoding); a room close
 * (gopusher's unregister) is not for gusher rooms. */
static enum protocol_push_action gusher_accept_push(struct comet_connection *connection,
                                                    const struct comet_push *push)
{
    struct gim_frame_header header;
    size_t offset = 0;
    bool control = false;

    if (push->close_room)
        return PROTOCOL_PUSH_SKIP;
    if (push->operation == GUSHER_OP_RELOAD_CHANNELS || push->operation == GUSHER_OP_ADD_CHANNEL) {
        control_frame(connection, push->operation, push->body, push->body_length);
        return PROTOCOL_PUSH_HANDLED;
    }
    if (push->operation != GIM_OP_RAW)
        return PROTOCOL_PUSH_DELIVER;
    while (offset < push->body_length &&
           gim_frame_decode_header(push->body + offset, push->body_length - offset,
                                   push->body_length, &header) == GIM_OK &&
           header.packet_length <= push->body_length - offset) {
        if (header.operation == GUSHER_OP_RELOAD_CHANNELS ||
            header.operation == GUSHER_OP_ADD_CHANNEL) {
            control = true;
            if (control_frame(connection, header.operation,
                              push->body + offset + GIM_FRAME_HEADER_SIZE,
                              header.packet_length - GIM_FRAME_HEADER_SIZE) == GIM_ERR_CLOSED)
                break;
        }
        offset += header.packet_length;
    }
    /* job merges one operation per batch: control frames come without messages */
    return control ? PROTOCOL_PUSH_HANDLED : PROTOCOL_PUSH_DELIVER;
}

/* Operation-2000 bodies as text messages: one for a 2000 push, one per inner 2000 frame of an
 * OpRaw push, back to back in one buffer. */
static struct gim_shared_buffer *gusher_encode_push(const struct comet_push *push,
                                                    const struct framing *framing)
{
    struct gim_shared_buffer *all = NULL;
    size_t pass, offset, total = 0, written = 0;

    if (push->operation == GUSHER_OP_MESSAGE) {
        uint8_t *payload;
        struct gim_shared_buffer *buffer = framing->message_new(push->body_length, true, &payload);
        if (buffer != NULL)
            memcpy(payload, push->body, push->body_length);
        return buffer;
    }
    if (push->operation != GIM_OP_RAW)
        return NULL;
    for (pass = 0; pass < 2; pass++) {
        struct gim_frame_header header;
        for (offset = 0; offset < push->body_length; offset += header.packet_length) {
            struct gim_shared_buffer *message;
            size_t body_length;
            uint8_t *payload;
            if (gim_frame_decode_header(push->body + offset, push->body_length - offset,
                                        push->body_length, &header) != GIM_OK ||
                header.packet_length > push->body_length - offset)
                break;
            if (header.operation != GUSHER_OP_MESSAGE)
                continue;
            body_length = header.packet_length - GIM_FRAME_HEADER_SIZE;
            message = framing->message_new(body_length, true, &payload);
            if (message == NULL) {
                gim_shared_buffer_unref(all);
                return NULL;
            }
            memcpy(payload, push->body + offset + GIM_FRAME_HEADER_SIZE, body_length);
            if (pass == 0)
                total += message->length;
            else {
                memcpy(all->data + written, message->data, message->length);
                written += message->length;
            }
            gim_shared_buffer_unref(message);
        }
        if (pass == 0 && (total == 0 || (all = gim_shared_buffer_new(total)) == NULL))
            return NULL;
    }
    return all;
}

const struct client_protocol protocol_gusher = {
    .receiver =
        {
            .open = gusher_open,
            .message = gusher_message,
            .closed = gusher_closed,
            .deadline = gusher_deadline,
            .pong = gusher_pong,
        },
    .name = "gusher",
    .encode_push = gusher_encode_push,
    .accept_push = gusher_accept_push,
};
