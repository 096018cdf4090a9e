/* protocol_goim.c: goim's client frames, auth through logic Connect (see protocol_goim.h). */
#include "comet/protocol_goim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "comet/comet.h"
#include "comet/connection.h"
#include "comet/event_loop.h"
#include "comet/logic_calls.h"
#include "comet/online.h"
#include "comet/websocket.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "logic.pb-c.h"

/* One auth in flight: posted by the nng completion into the owning loop's inbox. */
struct auth_call {
    struct inbox_item item; /* runs goim_finish_auth */
    struct event_loop *loop;
    struct comet_connection *connection; /* holds a reference until finished */
    int status;
    Goim__Logic__ConnectReply *reply;
};

/* Runs on an nng thread: only hands the result to the loop. */
static void auth_call_done(void *user, int status, ProtobufCMessage *reply)
{
    struct auth_call *call = user;

    call->status = status;
    call->reply = (Goim__Logic__ConnectReply *)reply;
    event_loop_post(call->loop, &call->item);
}

static void goim_finish_auth(struct inbox_item *item, struct event_loop *loop);

struct gim_shared_buffer *goim_encode_frame(const struct framing *framing, uint16_t version,
                                            int32_t operation, int32_t sequence,
                                            const uint8_t *body, size_t body_length)
{
    uint8_t *payload;
    struct gim_shared_buffer *buffer;

    if (body_length > GIM_SHARED_BUFFER_MAX - GIM_FRAME_HEADER_SIZE)
        return NULL;
    buffer = framing->message_new(GIM_FRAME_HEADER_SIZE + body_length, false, &payload);
    if (buffer != NULL)
        gim_frame_encode(payload, GIM_FRAME_HEADER_SIZE + body_length, version, operation, sequence,
                         body, body_length);
    return buffer;
}

/* Replies with one frame; returns GIM_OK or GIM_ERR_CLOSED. */
static int goim_reply(struct comet_connection *connection, uint16_t version, int32_t operation,
                      int32_t sequence, const uint8_t *body, size_t body_length)
{
    struct gim_shared_buffer *buffer =
        goim_encode_frame(framing_of(connection), version, operation, sequence, body, body_length);
    int status;

    if (buffer == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    status = connection_reply(connection, buffer);
    gim_shared_buffer_unref(buffer);
    return status;
}

static int protocol_start_auth(struct comet_connection *connection,
                               const struct gim_frame_header *header, const uint8_t *body,
                               size_t body_length)
{
    struct event_loop *loop = connection->set->loop;
    struct comet *comet = connection->set->comet;
    bool websocket = framing_of(connection) == &framing_websocket;
    Goim__Logic__ConnectReq request = GOIM__LOGIC__CONNECT_REQ__INIT;
    struct auth_call *call = calloc(1, sizeof(*call));
    int status;

    if (call == NULL)
        return GIM_ERR_NO_MEMORY;
    call->item.run = goim_finish_auth;
    call->loop = loop;
    call->connection = connection;
    request.server = comet->config->host;
    request.cookie = (char *)(websocket ? websocket_cookie(connection) : "");
    request.token.data = (uint8_t *)body;
    request.token.len = body_length;
    connection->auth_version = header->version;
    connection->auth_seq = header->sequence;
    connection->state = CONNECTION_AUTHENTICATING;
    connection_ref(connection);
    /* coalesced with the other Connects while two requests are out (a connect storm) */
    status = gim_rpc_call_coalesced(
        comet->logic, GIM_RPC_LOGIC_CONNECT, &request.base, &goim__logic__connect_reply__descriptor,
        (int)comet->config->rpc_client_timeout_ms, auth_call_done, call);
    if (status != GIM_OK) {
        connection->state = CONNECTION_HANDSHAKE;
        connection_unref(connection);
        free(call);
        return status;
    }
    if (websocket)
        websocket_forget_cookie(connection); /* packed into the request already */
    connection_set_reading(connection, false);
    return GIM_OK;
}

/* Parses a comma list of int32 operations ("1000,1001"); returns how many, or -1 on error. */
static int parse_operations(const uint8_t *body, size_t length, int32_t *out, int capacity)
{
    char text[GIM_FRAME_MAX_CLIENT_BODY + 1], *cursor, *end;
    int count = 0;

    if (length > GIM_FRAME_MAX_CLIENT_BODY)
        return -1;
    memcpy(text, body, length);
    text[length] = '\0';
    cursor = text;
    while (*cursor != '\0') {
        long value;
        errno = 0;
        value = strtol(cursor, &end, 10);
        if (end == cursor || errno != 0 || value < INT32_MIN || value > INT32_MAX)
            return -1;
        if (count < capacity)
            out[count++] = (int32_t)value;
        cursor = end;
        if (*cursor == ',')
            cursor++;
        else if (*cursor != '\0')
            return -1;
    }
    return count;
}

static uint32_t connection_room_online(const struct comet_connection *connection)
{
    /* goim: one room per connection; cluster-wide count if known, else comet-wide local */
    if (connection->rooms == NULL)
        return 0;
    return comet_online_room_count(&connection->set->comet->online, connection->rooms->room->id);
}

/* The kind label of an authenticated client's frame (comet/metrics.h). */
static enum comet_frame_class frame_class(int32_t operation)
{
    switch (operation) {
    case GIM_OP_HEARTBEAT:
        return COMET_FRAME_HEARTBEAT;
    case GIM_OP_CHANGE_ROOM:
        return COMET_FRAME_CHANGE_ROOM;
    case GIM_OP_SUB:
        return COMET_FRAME_SUB;
    case GIM_OP_UNSUB:
        return COMET_FRAME_UNSUB;
    default:
        return COMET_FRAME_OTHER;
    }
}

static int protocol_handle_active(struct comet_connection *connection,
                                  const struct gim_frame_header *header, const uint8_t *body,
                                  size_t body_length)
{
    struct connection_set *set = connection->set;
    struct event_loop *loop = set->loop;
    struct comet *comet = set->comet;

    gim_counter_increment(&set->counters.frames[frame_class(header->operation)]);

    switch (header->operation) {
    case GIM_OP_HEARTBEAT: {
        uint8_t online[4];
        gim_write_u32(online, connection_room_online(connection));
        timer_wheel_arm(&loop->wheel, &connection->deadline,
                        loop->now_ms + connection->heartbeat_ms);
        /* goim renews at a random 10-30 min; here a fixed protocol.renewInterval */
        if (loop->now_ms - connection->renewed_ms >= comet->config->protocol_renew_interval_ms) {
            connection->renewed_ms = loop->now_ms;
            logic_heartbeat(comet, connection->mid, connection->key);
        }
        return goim_reply(connection, header->version, GIM_OP_HEARTBEAT_REPLY, header->sequence,
                          online, sizeof(online));
    }
    case GIM_OP_CHANGE_ROOM: {
        char room[GIM_FRAME_MAX_CLIENT_BODY + 1];
        memcpy(room, body, body_length);
        room[body_length] = '\0';
        room_leave_all(&set->rooms, &connection->rooms);
        if (room[0] != '\0' &&
            room_join(&set->rooms, connection, &connection->rooms, room) != GIM_OK)
            return GIM_ERR_NO_MEMORY;
        return goim_reply(connection, header->version, GIM_OP_CHANGE_ROOM_REPLY, header->sequence,
                          body, body_length);
    }
    case GIM_OP_SUB:
    case GIM_OP_UNSUB: {
        int32_t operations[CONNECTION_MAX_ACCEPTS];
        int count = parse_operations(body, body_length, operations, CONNECTION_MAX_ACCEPTS);
        if (count > 0) /* a parse error is ignored, as goim */
            connection_update_accepts(connection, operations, count,
                                      header->operation == GIM_OP_SUB);
        return goim_reply(connection, header->version, header->operation + 1, header->sequence,
                          body, body_length);
    }
    default:
        logic_receive(comet, connection->mid, header->version, header->operation, header->sequence,
                      body, body_length);
        return goim_reply(connection, header->version, header->operation, header->sequence, NULL,
                          0);
    }
}

/* One client message: exactly one goim frame (the stream framing cuts them so; a WebSocket
 * message may hold anything). */
static int goim_message(struct comet_connection *connection, const uint8_t *data, size_t length,
                        bool text)
{
    struct gim_frame_header header;
    const uint8_t *body = data + GIM_FRAME_HEADER_SIZE;
    size_t body_length;
    int status = gim_frame_decode_header(data, length, GIM_FRAME_MAX_CLIENT_BODY, &header);

    (void)text; /* goim's JavaScript client sends binary; a text message is read the same */
    if (status != GIM_OK || header.packet_length != length)
        return GIM_ERR_INVALID; /* goim does not check a WebSocket message; we close */
    body_length = header.packet_length - GIM_FRAME_HEADER_SIZE;
    if (connection->state == CONNECTION_HANDSHAKE) {
        if (header.operation != GIM_OP_AUTH) {
            gim_log_debug("fd %d: op %d before auth ignored", connection->handle.fd,
                          header.operation);
            return GIM_OK;
        }
        gim_counter_increment(&connection->set->counters.frames[COMET_FRAME_AUTH]);
        return protocol_start_auth(connection, &header, body, body_length);
    }
    return protocol_handle_active(connection, &header, body, body_length);
}

static void goim_finish_auth(struct inbox_item *item, struct event_loop *loop)
{
    struct auth_call *call = (struct auth_call *)item;
    struct comet_connection *connection = call->connection;
    struct connection_set *set = connection->set;
    const Goim__Logic__ConnectReply *reply = call->reply;

    (void)loop;
    if (connection->state != CONNECTION_AUTHENTICATING) {
        /* closed while logic was answering */
    } else if (call->status != GIM_OK) {
        gim_log_info("auth failed from fd %d: %s", connection->handle.fd,
                     gim_strerror(call->status));
        gim_counter_increment(&set->counters.auth_failed);
        connection_close(connection, CONNECTION_CLOSE_AUTH_FAILED);
    } else {
        struct connection_identity identity = {
            .mid = reply->mid,
            .key = reply->key,
            .accepts = reply->accepts,
            .accept_count = reply->n_accepts,
            .room = reply->roomid,
            .heartbeat_ms = reply->heartbeat / 1000000, /* nanoseconds */
        };
        if (connection_authenticate(connection, &identity) != GIM_OK) {
            gim_counter_increment(&set->counters.auth_failed); /* closed: out of memory */
        } else {
            gim_counter_increment(&set->counters.auth_ok);
            gim_counter_increment(&set->counters.protocol_admitted[COMET_PROTOCOL_GOIM]);
            gim_log_debug("auth ok fd %d mid %lld key %s", connection->handle.fd,
                          (long long)connection->mid, connection->key);
            if (goim_reply(connection, connection->auth_version, GIM_OP_AUTH_REPLY,
                           connection->auth_seq, NULL, 0) == GIM_OK)
                connection_resume_reading(connection);
        }
    }
    if (call->reply != NULL)
        protobuf_c_message_free_unpacked(&call->reply->base, NULL);
    connection_unref(connection);
    free(call);
}

static void goim_closed(struct comet_connection *connection, enum connection_close_reason reason,
                        bool was_active)
{
    if (was_active)
        gim_counter_increment(&connection->set->counters.protocol_closed[COMET_PROTOCOL_GOIM]);
    /* a replaced connection's key now maps to its successor, whose Redis mapping a
     * Disconnect would delete */
    if (was_active && reason != CONNECTION_CLOSE_REPLACED)
        logic_disconnect(connection->set->comet, connection->mid, connection->key);
}

static struct gim_shared_buffer *goim_encode_push(const struct comet_push *push,
                                                  const struct framing *framing)
{
    if (push->operation == GIM_OP_RAW) {
        if (framing->message_based) /* wrapped in an op-9 frame, as goim's JavaScript client
                                       expects */
            return goim_encode_frame(framing, 1, GIM_OP_RAW, 0, push->body, push->body_length);
        return gim_shared_buffer_copy(push->body, push->body_length); /* inner frames as is */
    }
    return goim_encode_frame(framing, (uint16_t)push->version, push->operation, push->sequence,
                             push->body, push->body_length);
}

const struct client_protocol protocol_goim = {
    .receiver =
        {
            .open = NULL,
            .message = goim_message,
            .closed = goim_closed,
            .deadline = NULL,
        },
    .name = "goim",
    .encode_push = goim_encode_push,
};
