/* framing_goim_stream.c: goim frames back to back on a byte stream, TCP (see framing.h). */
#include "comet/framing.h"

#include <stdlib.h>
#include <string.h>

#include "common/frame.h"
#include "common/status.h"

#define CLIENT_FRAME_MAX (GIM_FRAME_HEADER_SIZE + GIM_FRAME_MAX_CLIENT_BODY)

void framing_pass_closed(struct comet_connection *connection, enum connection_close_reason reason,
                         bool was_active)
{
    const struct framing_receiver *receiver = framing_receiver_of(connection);

    if (receiver != NULL && receiver->closed != NULL)
        receiver->closed(connection, reason, was_active);
}

void framing_pass_deadline(struct comet_connection *connection)
{
    const struct framing_receiver *receiver = framing_receiver_of(connection);

    if (receiver != NULL && receiver->deadline != NULL)
        receiver->deadline(connection);
    else
        connection_close(connection, connection->state == CONNECTION_ACTIVE
                                         ? CONNECTION_CLOSE_HEARTBEAT_TIMEOUT
                                         : CONNECTION_CLOSE_HANDSHAKE_TIMEOUT);
}

/*
 * Hands every complete frame at the start of data[0..length) to the protocol while the
 * connection's state allows. Returns the bytes consumed, or a negative GIM_ERR_* when the
 * connection must close (bad header, body over 4096 bytes, the protocol's error).
 */
static long stream_consume(struct comet_connection *connection, const uint8_t *data, size_t length)
{
    const struct framing_receiver *receiver = framing_receiver_of(connection);
    size_t consumed = 0;

    while (connection->state == CONNECTION_HANDSHAKE || connection->state == CONNECTION_ACTIVE) {
        struct gim_frame_header header;
        const uint8_t *frame = data + consumed;
        size_t available = length - consumed;
        int status = gim_frame_decode_header(frame, available, GIM_FRAME_MAX_CLIENT_BODY, &header);

        if (status == GIM_ERR_AGAIN)
            break;
        if (status != GIM_OK)
            return status;
        if (available < header.packet_length)
            break;
        consumed += header.packet_length;
        status = receiver->message(connection, frame, header.packet_length, false);
        if (status != GIM_OK && status != GIM_ERR_CLOSED)
            return status;
    }
    return (long)consumed;
}

/* Consumes data[0..length) (in the loop's scratch) and keeps what is left. */
static void stream_handle(struct comet_connection *connection, size_t length)
{
    const uint8_t *scratch = connection->set->loop->scratch;
    long consumed = stream_consume(connection, scratch, length);
    int status;

    if (consumed < 0) {
        connection_close(connection, connection_close_reason_of((int)consumed));
        return;
    }
    if (connection->state == CONNECTION_CLOSED)
        return;
    status = connection_keep_input(connection, scratch + consumed, length - (size_t)consumed,
                                   CLIENT_FRAME_MAX);
    if (status != GIM_OK)
        connection_close(connection, connection_close_reason_of(status));
}

/* True if data[0..length) starts with a whole frame, or with a header to refuse. */
static bool holds_whole_frame(const uint8_t *data, size_t length)
{
    struct gim_frame_header header;
    int status = gim_frame_decode_header(data, length, GIM_FRAME_MAX_CLIENT_BODY, &header);

    return status != GIM_ERR_AGAIN && (status != GIM_OK || length >= header.packet_length);
}

/* Hands over the frames held since an auth paused reading, then reads what the socket has. */
static void stream_readable(struct comet_connection *connection)
{
    uint8_t *scratch = connection->set->loop->scratch;
    size_t held = connection->input_length, limit;
    ssize_t received;

    if (connection->state == CONNECTION_CLOSED || connection->state == CONNECTION_AUTHENTICATING)
        return;
    if (held > 0 && holds_whole_frame(connection->input, held)) {
        memcpy(scratch, connection->input, held);
        stream_handle(connection, held);
        if (connection->state != CONNECTION_HANDSHAKE && connection->state != CONNECTION_ACTIVE)
            return;
        held = connection->input_length;
    }
    /* Before auth a client has no business sending more than one frame ahead, so a read
     * never leaves more than one client frame unconsumed (the auth pauses reading). */
    limit = connection->state == CONNECTION_ACTIVE ? LOOP_SCRATCH_SIZE : CLIENT_FRAME_MAX;
    if (held >= limit)
        return;
    if (held > 0)
        memcpy(scratch, connection->input, held);
    received = connection_read(connection, scratch + held, limit - held);
    if (received < 0)
        return; /* nothing there, or closed */
    stream_handle(connection, held + (size_t)received);
}

static struct gim_shared_buffer *stream_message_new(size_t payload_length, bool text,
                                                    uint8_t **payload)
{
    struct gim_shared_buffer *buffer;

    (void)text;
    if (payload_length > GIM_SHARED_BUFFER_MAX)
        return NULL;
    buffer = gim_shared_buffer_new(payload_length);
    if (buffer != NULL)
        *payload = buffer->data;
    return buffer;
}

const struct framing framing_goim_stream = {
    .hooks =
        {
            .readable = stream_readable,
            .closed = framing_pass_closed,
            .deadline = framing_pass_deadline,
            .going_away = NULL,
            .release = NULL,
        },
    .name = "goim-stream",
    .message_new = stream_message_new,
    .message_based = false,
};
