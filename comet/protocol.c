/* protocol.c: goim's client frames over TCP, auth through logic Connect (see protocol.h). */
#include "comet/protocol.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "comet/comet.h"
#include "comet/online.h"
#include "comet/connection.h"
#include "comet/event_loop.h"
#include "comet/logic_calls.h"
#include "comet/websocket.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "logic.pb-c.h"

/* One auth in flight: posted by the nng completion into the owning loop's inbox. */
struct auth_call {
    struct inbox_item item; /* kind LOOP_ITEM_AUTH_DONE */
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

static int protocol_start_auth(struct comet_connection *connection,
                               const struct gim_frame_header *header, const uint8_t *body,
                               size_t body_length)
{
    struct event_loop *loop = connection->loop;
    Goim__Logic__ConnectReq request = GOIM__LOGIC__CONNECT_REQ__INIT;
    struct auth_call *call = calloc(1, sizeof(*call));
    int status;

    if (call == NULL)
        return GIM_ERR_NO_MEMORY;
    call->item.kind = LOOP_ITEM_AUTH_DONE;
    call->loop = loop;
    call->connection = connection;
    request.server = loop->comet->config->host;
    request.cookie = (char *)websocket_cookie(connection);
    request.token.data = (uint8_t *)body;
    request.token.len = body_length;
    connection->auth_version = header->version;
    connection->auth_seq = header->sequence;
    connection->state = CONNECTION_AUTHENTICATING;
    connection_ref(connection);
    status =
        gim_rpc_call_async(loop->comet->logic, GIM_RPC_LOGIC_CONNECT, &request.base,
                           &goim__logic__connect_reply__descriptor,
                           (int)loop->comet->config->rpc_client_timeout_ms, auth_call_done, call);
    if (status != GIM_OK) {
        connection->state = CONNECTION_HANDSHAKE;
        connection_unref(connection);
        free(call);
        return status;
    }
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

/* Adds (subscribe) or removes operations from the watched set. */
static void update_accepts(struct comet_connection *connection, const int32_t *operations,
                           int count, bool subscribe)
{
    int index;

    for (index = 0; index < count; index++) {
        bool present = connection_watches(connection, operations[index]);
        if (subscribe && !present && connection->accept_count < CONNECTION_MAX_ACCEPTS) {
            int32_t *grown = realloc(connection->accepts, (connection->accept_count + 1u) *
                                                              sizeof(*connection->accepts));
            if (grown == NULL)
                return;
            connection->accepts = grown;
            connection->accepts[connection->accept_count++] = operations[index];
        } else if (!subscribe && present) {
            uint16_t at;
            for (at = 0; connection->accepts[at] != operations[index]; at++) {
            }
            connection->accepts[at] = connection->accepts[--connection->accept_count];
        }
    }
}

static uint32_t connection_room_online(const struct comet_connection *connection)
{
    /* goim: one room per connection; cluster-wide count if known, else comet-wide local */
    if (connection->rooms == NULL)
        return 0;
    return comet_online_room_count(&connection->loop->comet->online, connection->rooms->room->id);
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
    struct event_loop *loop = connection->loop;

    gim_counter_increment(&loop->counters.frames[frame_class(header->operation)]);

    switch (header->operation) {
    case GIM_OP_HEARTBEAT: {
        uint8_t online[4];
        gim_write_u32(online, connection_room_online(connection));
        timer_wheel_arm(&loop->wheel, &connection->deadline,
                        loop->now_ms + connection->heartbeat_ms);
        /* goim renews at a random 10-30 min; here a fixed protocol.renewInterval */
        if (loop->now_ms - connection->renewed_ms >=
            loop->comet->config->protocol_renew_interval_ms) {
            connection->renewed_ms = loop->now_ms;
            logic_heartbeat(loop->comet, connection->mid, connection->key);
        }
        return connection_reply_frame(connection, header->version, GIM_OP_HEARTBEAT_REPLY,
                                      header->sequence, online, sizeof(online));
    }
    case GIM_OP_CHANGE_ROOM: {
        char room[GIM_FRAME_MAX_CLIENT_BODY + 1];
        memcpy(room, body, body_length);
        room[body_length] = '\0';
        room_leave_all(&loop->rooms, &connection->rooms);
        if (room[0] != '\0' &&
            room_join(&loop->rooms, connection, &connection->rooms, room) != GIM_OK)
            return GIM_ERR_NO_MEMORY;
        return connection_reply_frame(connection, header->version, GIM_OP_CHANGE_ROOM_REPLY,
                                      header->sequence, body, body_length);
    }
    case GIM_OP_SUB:
    case GIM_OP_UNSUB: {
        int32_t operations[CONNECTION_MAX_ACCEPTS];
        int count = parse_operations(body, body_length, operations, CONNECTION_MAX_ACCEPTS);
        if (count > 0) /* a parse error is ignored, as goim */
            update_accepts(connection, operations, count, header->operation == GIM_OP_SUB);
        return connection_reply_frame(connection, header->version, header->operation + 1,
                                      header->sequence, body, body_length);
    }
    default:
        logic_receive(loop->comet, connection->mid, header->version, header->operation,
                      header->sequence, body, body_length);
        return connection_reply_frame(connection, header->version, header->operation,
                                      header->sequence, NULL, 0);
    }
}

long protocol_consume(struct comet_connection *connection, const uint8_t *data, size_t length)
{
    size_t consumed = 0;

    while (connection->state == CONNECTION_HANDSHAKE || connection->state == CONNECTION_ACTIVE) {
        struct gim_frame_header header;
        const uint8_t *frame = data + consumed;
        size_t available = length - consumed, body_length;
        int status = gim_frame_decode_header(frame, available, GIM_FRAME_MAX_CLIENT_BODY, &header);

        if (status == GIM_ERR_AGAIN)
            break;
        if (status != GIM_OK)
            return status;
        if (available < header.packet_length)
            break;
        body_length = header.packet_length - GIM_FRAME_HEADER_SIZE;
        consumed += header.packet_length;
        if (connection->state == CONNECTION_HANDSHAKE) {
            if (header.operation != GIM_OP_AUTH) {
                gim_log_debug("fd %d: op %d before auth ignored", connection->handle.fd,
                              header.operation);
                continue;
            }
            gim_counter_increment(&connection->loop->counters.frames[COMET_FRAME_AUTH]);
            status = protocol_start_auth(connection, &header, frame + GIM_FRAME_HEADER_SIZE,
                                         body_length);
        } else {
            status = protocol_handle_active(connection, &header, frame + GIM_FRAME_HEADER_SIZE,
                                            body_length);
        }
        if (status != GIM_OK && status != GIM_ERR_CLOSED)
            return status;
    }
    return (long)consumed;
}

/* Copies what logic answered into the connection. Returns GIM_OK or GIM_ERR_NO_MEMORY. */
static int apply_connect_reply(struct comet_connection *connection,
                               const Goim__Logic__ConnectReply *reply)
{
    size_t count = reply->n_accepts;

    connection->mid = reply->mid;
    connection->key = strdup(reply->key ? reply->key : "");
    if (connection->key == NULL)
        return GIM_ERR_NO_MEMORY;
    if (count > CONNECTION_MAX_ACCEPTS)
        count = CONNECTION_MAX_ACCEPTS;
    connection->accept_count = 0;
    if (count > 0) {
        connection->accepts = malloc(count * sizeof(*connection->accepts));
        if (connection->accepts == NULL)
            return GIM_ERR_NO_MEMORY;
    }
    update_accepts(connection, reply->accepts, (int)count, true);
    /* heartbeat is nanoseconds; keep a sane floor so a zero never closes at once */
    connection->heartbeat_ms = reply->heartbeat / 1000000;
    if (connection->heartbeat_ms < TIMER_WHEEL_TICK_MS)
        connection->heartbeat_ms = 10 * 60 * 1000;
    if (reply->roomid != NULL && reply->roomid[0] != '\0')
        return room_join(&connection->loop->rooms, connection, &connection->rooms, reply->roomid);
    return GIM_OK;
}

void protocol_finish_auth(struct inbox_item *item)
{
    struct auth_call *call = (struct auth_call *)item;
    struct comet_connection *connection = call->connection;
    struct event_loop *loop = call->loop;
    void *previous = NULL;

    if (connection->state != CONNECTION_AUTHENTICATING) {
        /* closed while logic was answering */
    } else if (call->status != GIM_OK) {
        gim_log_info("auth failed from fd %d: %s", connection->handle.fd,
                     gim_strerror(call->status));
        gim_counter_increment(&loop->counters.auth_failed);
        connection_close(connection, "auth failed");
    } else if (apply_connect_reply(connection, call->reply) != GIM_OK ||
               string_map_put(&loop->keys, connection->key, connection, &previous) != GIM_OK) {
        gim_counter_increment(&loop->counters.auth_failed);
        connection_close(connection, "out of memory at auth");
    } else {
        gim_counter_increment(&loop->counters.auth_ok);
        connection->state = CONNECTION_ACTIVE;
        connection->renewed_ms = loop->now_ms; /* Connect just wrote the mappings */
        connection->auth_sequence =
            atomic_fetch_add_explicit(&loop->comet->auth_sequence, 1, memory_order_relaxed) + 1;
        atomic_fetch_add_explicit(&loop->authenticated, 1, memory_order_relaxed);
        ip_counter_add(&loop->comet->client_addresses, connection->address);
        if (previous != NULL && previous != connection) {
            ((struct comet_connection *)previous)->replaced = true;
            connection_close(previous, "replaced by a new connection with the same key");
        }
        event_loop_claim_key(loop, connection->key, connection->auth_sequence);
        timer_wheel_arm(&loop->wheel, &connection->deadline,
                        loop->now_ms + connection->heartbeat_ms);
        gim_log_debug("auth ok fd %d mid %lld key %s", connection->handle.fd,
                      (long long)connection->mid, connection->key);
        if (connection_reply_frame(connection, connection->auth_version, GIM_OP_AUTH_REPLY,
                                   connection->auth_seq, NULL, 0) == GIM_OK) {
            connection_process_held_input(connection);
            connection_resume_reading(connection);
        }
    }
    if (call->reply != NULL)
        protobuf_c_message_free_unpacked(&call->reply->base, NULL);
    connection_unref(connection);
    free(call);
}
