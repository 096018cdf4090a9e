/* protocol_gopusher.c: gopusher's clients: admission through logic, user_tag filtered text
 * pushes, pings (see protocol_gopusher.h). */
#include "comet/protocol_gopusher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet/comet.h"
#include "comet/connection.h"
#include "comet/event_loop.h"
#include "comet/gopusher_presence.h"
#include "comet/websocket.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "common/tag_pattern.h"
#include "common/url_form.h"
#include "dialects.pb-c.h"

#define GOPUSHER_MAX_PART 1024 /* an app_key or user_tag, decoded, at most */
#define TEXT_PLAIN        "text/plain; charset=utf-8"

/* A gopusher connection's own state (connection->protocol_state). */
struct gopusher_state {
    int64_t pong_due_ms;  /* loop clock: closed when no pong came by then */
    int64_t next_ping_ms; /* loop clock of the next ping */
    bool in_presence;     /* counted in the app's presence (removed when it closes) */
    bool counted;         /* counted in comet_protocol_connections (counted down when it closes) */
    char *app_key, *user_tag, *room;
};

/* One admission in flight: posted by the nng completion into the owning loop's inbox. */
struct admission_call {
    struct inbox_item item;
    struct event_loop *loop;
    struct comet_connection *connection; /* holds a reference until finished */
    int status;
    Goim__Dialects__GopusherConnectReply *reply;
};

int gopusher_room_name(const char *app_key, char *out, size_t size)
{
    int length = snprintf(out, size, "gopusher/%s", app_key);
    return length < 0 || (size_t)length >= size ? GIM_ERR_TOO_LARGE : GIM_OK;
}

static void state_free(struct gopusher_state *state)
{
    if (state == NULL)
        return;
    free(state->app_key);
    free(state->user_tag);
    free(state->room);
    free(state);
}

/* Runs on an nng thread: only hands the result to the loop. */
static void admission_done(void *user, int status, ProtobufCMessage *reply)
{
    struct admission_call *call = user;

    call->status = status;
    call->reply = (Goim__Dialects__GopusherConnectReply *)reply;
    event_loop_post(call->loop, &call->item);
}

static void gopusher_finish_admission(struct inbox_item *item, struct event_loop *loop)
{
    struct admission_call *call = (struct admission_call *)item;
    struct comet_connection *connection = call->connection;
    struct gopusher_state *state = connection->protocol_state;
    struct comet *comet = connection->set->comet;

    if (connection->state != CONNECTION_AUTHENTICATING || state == NULL) {
        /* closed while logic was answering (peer gone, deadline) */
    } else if (call->status != GIM_OK) {
        static const char text[] = "connect check unavailable\n";
        gim_log_info("gopusher: admission of %s/%s failed: %s", state->app_key, state->user_tag,
                     gim_strerror(call->status));
        gim_counter_increment(&connection->set->counters.auth_failed);
        websocket_answer(connection, 503, TEXT_PLAIN, NULL, text, sizeof(text) - 1);
    } else if (call->reply->status != 0) {
        gim_counter_increment(&connection->set->counters.auth_failed);
        websocket_answer(connection, call->reply->status, TEXT_PLAIN, NULL, call->reply->text,
                         strlen(call->reply->text));
    } else {
        struct connection_identity identity = {
            .room = state->room,
            .heartbeat_ms = comet->config->gopusher_ping_interval_ms,
        };
        state->pong_due_ms = loop->now_ms + comet->config->gopusher_pong_timeout_ms;
        state->next_ping_ms = loop->now_ms + comet->config->gopusher_ping_interval_ms;
        if (comet->gopusher_presence != NULL &&
            gopusher_presence_add(comet->gopusher_presence, state->app_key, state->user_tag) ==
                GIM_OK)
            state->in_presence = true;
        /* counted first: the closed hook counts it down, also when admit closes it */
        state->counted = true;
        gim_counter_increment(
            &connection->set->counters.protocol_admitted[COMET_PROTOCOL_GOPUSHER]);
        if (websocket_admit(connection, &identity) == GIM_OK)
            gim_counter_increment(&connection->set->counters.auth_ok);
    }
    if (call->reply != NULL)
        protobuf_c_message_free_unpacked(&call->reply->base, NULL);
    connection_unref(connection);
    free(call);
}

/* Answers 404 as Go's mux does for a path it does not route. */
static int not_routed(struct comet_connection *connection)
{
    static const char text[] = "404 page not found\n";
    websocket_answer(connection, 404, TEXT_PLAIN, NULL, text, sizeof(text) - 1);
    return GIM_ERR_NOT_FOUND;
}

static int gopusher_open(struct comet_connection *connection,
                         const struct websocket_request *request)
{
    struct comet *comet = connection->set->comet;
    struct event_loop *loop = connection->set->loop;
    Goim__Dialects__GopusherConnectReq message = GOIM__DIALECTS__GOPUSHER_CONNECT_REQ__INIT;
    char app_key[GOPUSHER_MAX_PART + 1], user_tag[GOPUSHER_MAX_PART + 1];
    char token[GOPUSHER_MAX_PART + 1], room[GOPUSHER_MAX_PART + 16];
    struct gopusher_state *state;
    struct admission_call *call;
    int status;

    if (gim_url_path_segment_count(request->rest, request->rest_length) != 2)
        return not_routed(connection);
    status = gim_url_path_segment(request->rest, request->rest_length, 0, app_key, sizeof(app_key));
    if (status == GIM_OK)
        status = gim_url_path_segment(request->rest, request->rest_length, 1, user_tag,
                                      sizeof(user_tag));
    if (status != GIM_OK)
        return GIM_ERR_INVALID; /* 400: a bad escape, or too long */
    if (app_key[0] == '\0' || user_tag[0] == '\0')
        return not_routed(connection);
    status = websocket_form_value(request, "token", token, sizeof(token));
    if (status == GIM_ERR_NOT_FOUND)
        token[0] = '\0';
    else if (status != GIM_OK)
        return GIM_ERR_INVALID;
    if (gopusher_room_name(app_key, room, sizeof(room)) != GIM_OK)
        return GIM_ERR_INVALID;
    state = calloc(1, sizeof(*state));
    call = calloc(1, sizeof(*call));
    if (state == NULL || call == NULL || (state->app_key = strdup(app_key)) == NULL ||
        (state->user_tag = strdup(user_tag)) == NULL || (state->room = strdup(room)) == NULL) {
        state_free(state);
        free(call);
        return GIM_ERR_NO_MEMORY;
    }
    connection->protocol_state = state; /* freed by gopusher_closed or gopusher_release */
    call->item.run = gopusher_finish_admission;
    call->loop = loop;
    call->connection = connection;
    message.server = comet->config->host;
    message.appkey = app_key;
    message.usertag = user_tag;
    message.token = token;
    connection_ref(connection);
    status =
        gim_rpc_call_async(comet->logic, GIM_RPC_LOGIC_GOPUSHER_CONNECT, &message.base,
                           &goim__dialects__gopusher_connect_reply__descriptor,
                           (int)comet->config->gopusher_connect_timeout_ms, admission_done, call);
    if (status != GIM_OK) {
        static const char text[] = "connect check unavailable\n";
        connection_unref(connection);
        free(call);
        /* the RPC client's queue is full (GIM_ERR_AGAIN) or it is closing */
        websocket_answer(connection, 503, TEXT_PLAIN, NULL, text, sizeof(text) - 1);
        return GIM_ERR_UNAVAILABLE;
    }
    /* logic may wait for the app's connect hook: the handshake deadline waits for it */
    timer_wheel_arm(&loop->wheel, &connection->deadline,
                    loop->now_ms + comet->config->gopusher_connect_timeout_ms + 1000);
    return GIM_ERR_AGAIN;
}

static int gopusher_message(struct comet_connection *connection, const uint8_t *data, size_t length,
                            bool text)
{
    (void)data;
    (void)text;
    if (length > (size_t)connection->set->comet->config->gopusher_max_message_bytes)
        return GIM_ERR_TOO_LARGE; /* closed as a bad message */
    return GIM_OK;                /* read and discarded, as gopusher */
}

static void gopusher_pong(struct comet_connection *connection)
{
    struct gopusher_state *state = connection->protocol_state;

    if (state != NULL)
        state->pong_due_ms = connection->set->loop->now_ms +
                             connection->set->comet->config->gopusher_pong_timeout_ms;
}

/* The connection's deadline: admission too slow, or the ping/pong tick. */
static void gopusher_deadline(struct comet_connection *connection)
{
    struct gopusher_state *state = connection->protocol_state;
    struct event_loop *loop = connection->set->loop;
    const struct comet_config *config = connection->set->comet->config;
    int64_t next;

    if (connection->state != CONNECTION_ACTIVE || state == NULL) {
        connection_close(connection, CONNECTION_CLOSE_HANDSHAKE_TIMEOUT);
        return;
    }
    if (loop->now_ms >= state->pong_due_ms) {
        connection_close(connection, CONNECTION_CLOSE_HEARTBEAT_TIMEOUT);
        return;
    }
    if (loop->now_ms >= state->next_ping_ms) {
        if (websocket_ping(connection) != GIM_OK)
            return;
        state->next_ping_ms = loop->now_ms + config->gopusher_ping_interval_ms;
    }
    next = state->next_ping_ms < state->pong_due_ms ? state->next_ping_ms : state->pong_due_ms;
    timer_wheel_arm(&loop->wheel, &connection->deadline, next);
}

static void gopusher_closed(struct comet_connection *connection,
                            enum connection_close_reason reason, bool was_active)
{
    struct gopusher_state *state = connection->protocol_state;
    struct comet *comet = connection->set->comet;

    (void)reason;
    (void)was_active;
    if (state == NULL)
        return;
    if (state->in_presence && comet->gopusher_presence != NULL)
        gopusher_presence_remove(comet->gopusher_presence, state->app_key, state->user_tag);
    if (state->counted)
        gim_counter_increment(&connection->set->counters.protocol_closed[COMET_PROTOCOL_GOPUSHER]);
    state_free(state);
    connection->protocol_state = NULL;
}

static enum protocol_push_action gopusher_accept_push(struct comet_connection *connection,
                                                      const struct comet_push *push)
{
    const struct gopusher_state *state = connection->protocol_state;

    if (state == NULL || connection->state != CONNECTION_ACTIVE)
        return PROTOCOL_PUSH_SKIP;
    if (push->close_room) {
        websocket_close(connection, 1000, CONNECTION_CLOSE_SHUTDOWN);
        return PROTOCOL_PUSH_HANDLED;
    }
    if (!push->text || push->operation != GIM_OP_RAW)
        return PROTOCOL_PUSH_SKIP; /* a goim push into the room: not for gopusher clients */
    if (push->user_tag_pattern != NULL &&
        !gim_tag_pattern_matches_shared(push->user_tag_pattern, state->user_tag,
                                        strlen(state->user_tag)))
        return PROTOCOL_PUSH_SKIP;
    return PROTOCOL_PUSH_DELIVER;
}

/* Each inner frame's body of the OpRaw body as one text message, back to back in one buffer. */
static struct gim_shared_buffer *gopusher_encode_push(const struct comet_push *push,
                                                      const struct framing *framing)
{
    struct gim_frame_header header;
    struct gim_shared_buffer *buffer;
    size_t offset, total = 0, written = 0;

    if (!framing->message_based || push->operation != GIM_OP_RAW)
        return NULL;
    /* first pass: the size of every message */
    for (offset = 0; offset < push->body_length; offset += header.packet_length) {
        size_t body_length;
        uint8_t *payload;
        struct gim_shared_buffer *message;
        if (gim_frame_decode_header(push->body + offset, push->body_length - offset,
                                    GIM_SHARED_BUFFER_MAX, &header) != GIM_OK ||
            header.packet_length > push->body_length - offset)
            return NULL;
        body_length = header.packet_length - header.header_length;
        message = framing->message_new(body_length, true, &payload);
        if (message == NULL)
            return NULL;
        total += message->length;
        gim_shared_buffer_unref(message);
    }
    buffer = gim_shared_buffer_new(total);
    if (buffer == NULL)
        return NULL;
    for (offset = 0; offset < push->body_length; offset += header.packet_length) {
        size_t body_length;
        uint8_t *payload;
        struct gim_shared_buffer *message;
        gim_frame_decode_header(push->body + offset, push->body_length - offset,
                                GIM_SHARED_BUFFER_MAX, &header);
        body_length = header.packet_length - header.header_length;
        message = framing->message_new(body_length, true, &payload);
        if (message == NULL) {
            gim_shared_buffer_unref(buffer);
            return NULL;
        }
        memcpy(payload, push->body + offset + header.header_length, body_length);
        memcpy(buffer->data + written, message->data, message->length);
        written += message->length;
        gim_shared_buffer_unref(message);
    }
    return buffer;
}

const struct client_protocol protocol_gopusher = {
    .receiver =
        {
            .open = gopusher_open,
            .message = gopusher_message,
            .closed = gopusher_closed,
            .deadline = gopusher_deadline,
            .pong = gopusher_pong,
        },
    .name = "gopusher",
    .encode_push = gopusher_encode_push,
    .accept_push = gopusher_accept_push,
};
