/* websocket.c: the WebSocket framing: the upgrade, wslay-driven message input, message output
 * (see websocket.h). */
#include "comet/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "comet/event_loop.h"
#include "comet/stream.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/status.h"
#include "common/websocket_frame.h"

#define CLIENT_FRAME_MAX (GIM_FRAME_HEADER_SIZE + GIM_FRAME_MAX_CLIENT_BODY)

static const char websocket_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
static const char bad_request[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                  "Connection: close\r\n\r\n";

/* The paths served (websocket_set_paths): read-only once the loops run. */
static const struct websocket_path *served_paths;
static size_t served_path_count;

/* A connection's state after its upgrade. */
struct websocket_session {
    wslay_event_context_ptr context; /* only while needed (websocket_pump), else NULL */
    const uint8_t *feed;             /* the frame wslay is reading (websocket_feed_frame) */
    size_t feed_length, feed_offset;
    bool in_fragmented_message; /* a text/binary frame without FIN was fed, its end not yet */
    char *cookie; /* the upgrade's Cookie header, until the auth sent it to logic; or NULL */
};

/* ---- the upgrade request ---------------------------------------------------- */

/* Finds header name (case-insensitive) in the head; returns its trimmed value in out. */
static bool find_header(const char *head, size_t length, const char *name, char *out,
                        size_t out_size)
{
    const char *line = memchr(head, '\n', length), *end = head + length;
    size_t name_length = strlen(name);

    while (line != NULL && line + 1 < end) {
        const char *start = line + 1, *stop = memchr(start, '\n', (size_t)(end - start));
        const char *value;
        size_t value_length;

        if (stop == NULL)
            break;
        line = stop;
        if ((size_t)(stop - start) <= name_length || start[name_length] != ':' ||
            strncasecmp(start, name, name_length) != 0)
            continue;
        value = start + name_length + 1;
        while (value < stop && (*value == ' ' || *value == '\t'))
            value++;
        while (stop > value && (stop[-1] == '\r' || stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        value_length = (size_t)(stop - value);
        if (value_length >= out_size)
            return false;
        memcpy(out, value, value_length);
        out[value_length] = '\0';
        return true;
    }
    return false;
}

/* True if the comma list contains token (case-insensitive, spaces trimmed). */
static bool list_has_token(const char *list, const char *token)
{
    size_t token_length = strlen(token);

    while (*list != '\0') {
        const char *comma = strchr(list, ','), *stop = comma ? comma : list + strlen(list);
        while (*list == ' ' || *list == '\t')
            list++;
        while (stop > list && (stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        if ((size_t)(stop - list) == token_length && strncasecmp(list, token, token_length) == 0)
            return true;
        if (comma == NULL)
            break;
        list = comma + 1;
    }
    return false;
}

/* The entry of paths whose path the request line "GET <path> HTTP/1.1" names exactly. */
static const struct websocket_path *
match_path(const char *head, size_t length, const struct websocket_path *paths, size_t path_count)
{
    static const char version[] = " HTTP/1.1\r\n";
    size_t index;

    if (length < 4 || memcmp(head, "GET ", 4) != 0)
        return NULL;
    for (index = 0; index < path_count; index++) {
        size_t path_length = strlen(paths[index].path);
        if (length >= 4 + path_length + sizeof(version) - 1 &&
            memcmp(head + 4, paths[index].path, path_length) == 0 &&
            memcmp(head + 4 + path_length, version, sizeof(version) - 1) == 0)
            return &paths[index];
    }
    return NULL;
}

int websocket_check_upgrade(const char *head, size_t length, const struct websocket_path *paths,
                            size_t path_count, const struct websocket_path **matched,
                            char accept[WEBSOCKET_ACCEPT_SIZE])
{
    char value[256], key_and_guid[256 + sizeof(websocket_guid)];
    unsigned char digest[SHA_DIGEST_LENGTH];
    const struct websocket_path *path = match_path(head, length, paths, path_count);

    if (path == NULL)
        return GIM_ERR_INVALID; /* not GET, or not exactly a served path (a query string fails,
                                   as goim) */
    if (!find_header(head, length, "Upgrade", value, sizeof(value)) ||
        strcasecmp(value, "websocket") != 0)
        return GIM_ERR_INVALID;
    if (!find_header(head, length, "Connection", value, sizeof(value)) ||
        !list_has_token(value, "upgrade"))
        return GIM_ERR_INVALID;
    if (!find_header(head, length, "Sec-WebSocket-Version", value, sizeof(value)) ||
        strcmp(value, "13") != 0)
        return GIM_ERR_INVALID;
    if (!find_header(head, length, "Sec-WebSocket-Key", value, sizeof(value)) || value[0] == '\0')
        return GIM_ERR_INVALID;
    snprintf(key_and_guid, sizeof(key_and_guid), "%s%s", value, websocket_guid);
    SHA1((const unsigned char *)key_and_guid, strlen(key_and_guid), digest);
    EVP_EncodeBlock((unsigned char *)accept, digest, SHA_DIGEST_LENGTH); /* 28 chars + NUL */
    if (matched != NULL)
        *matched = path;
    return GIM_OK;
}

/* ---- output encoding -------------------------------------------------------- */

struct gim_shared_buffer *websocket_message_new(size_t payload_length, bool text, uint8_t **payload)
{
    uint8_t header[GIM_WEBSOCKET_MAX_HEADER];
    size_t header_length;
    struct gim_shared_buffer *buffer;

    if (payload_length > GIM_SHARED_BUFFER_MAX - 10) /* a server header is at most 10 bytes */
        return NULL;
    header_length = gim_websocket_encode_header(
        header, true, text ? GIM_WEBSOCKET_TEXT : GIM_WEBSOCKET_BINARY, payload_length, NULL);
    buffer = gim_shared_buffer_new(header_length + payload_length);
    if (buffer == NULL)
        return NULL;
    memcpy(buffer->data, header, header_length);
    *payload = buffer->data + header_length;
    return buffer;
}

/* ---- frame boundaries --------------------------------------------------------- */

int websocket_client_frame_length(const uint8_t *data, size_t length, size_t *frame_length)
{
    struct gim_websocket_frame frame;
    int status = gim_websocket_decode_header(data, length, &frame);

    if (status != GIM_OK)
        return status;
    if (frame.payload_length > CLIENT_FRAME_MAX)
        return GIM_ERR_TOO_LARGE; /* over one goim client frame */
    if (length - frame.header_length < frame.payload_length)
        return GIM_ERR_AGAIN;
    *frame_length = frame.header_length + (size_t)frame.payload_length;
    return GIM_OK;
}

/* ---- wslay callbacks ---------------------------------------------------------- */

/* wslay reads only the frame websocket_feed_frame handed it, then would block. */
static ssize_t websocket_receive_callback(wslay_event_context_ptr context, uint8_t *buffer,
                                          size_t length, int flags, void *user)
{
    struct comet_connection *connection = user;
    struct websocket_session *session = ((struct websocket_session *)connection->framing_state);
    size_t count = session->feed_length - session->feed_offset;

    (void)flags;
    if (connection->state == CONNECTION_CLOSED) {
        wslay_event_set_error(context, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (count == 0) {
        wslay_event_set_error(context, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (count > length)
        count = length;
    memcpy(buffer, session->feed + session->feed_offset, count);
    session->feed_offset += count;
    return (ssize_t)count;
}

/* wslay's own frames (pong, close) join the connection's ordered output queue. */
static ssize_t websocket_send_callback(wslay_event_context_ptr context, const uint8_t *data,
                                       size_t length, int flags, void *user)
{
    struct comet_connection *connection = user;
    struct gim_shared_buffer *buffer;
    int status;

    (void)flags;
    if (connection->state == CONNECTION_CLOSED ||
        (buffer = gim_shared_buffer_copy(data, length)) == NULL) {
        wslay_event_set_error(context, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    status = connection_reply(connection, buffer);
    gim_shared_buffer_unref(buffer);
    if (status != GIM_OK) {
        wslay_event_set_error(context, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)length;
}

static void websocket_message_callback(wslay_event_context_ptr context,
                                       const struct wslay_event_on_msg_recv_arg *message,
                                       void *user)
{
    struct comet_connection *connection = user;
    const struct framing_receiver *receiver = framing_receiver_of(connection);
    int status;

    (void)context;
    if ((connection->state != CONNECTION_HANDSHAKE && connection->state != CONNECTION_ACTIVE) ||
        (message->opcode != WSLAY_TEXT_FRAME && message->opcode != WSLAY_BINARY_FRAME) ||
        receiver == NULL)
        return;
    status = receiver->message(connection, message->msg, message->msg_length,
                               message->opcode == WSLAY_TEXT_FRAME);
    if (status != GIM_OK && status != GIM_ERR_CLOSED)
        connection_close(connection, connection_close_reason_of(status));
}

static const struct wslay_event_callbacks websocket_callbacks = {
    websocket_receive_callback, /* recv */
    websocket_send_callback,    /* send */
    NULL,                       /* genmask: servers do not mask */
    NULL,
    NULL,
    NULL,                       /* frame-level callbacks: messages are enough */
    websocket_message_callback, /* complete (reassembled) messages */
};

/* ---- reading ---------------------------------------------------------------- */

/* True when the wslay context holds nothing worth keeping: no message half received, no close
 * under way, nothing to send. It is then freed and made again for the next frame. */
static bool websocket_context_idle(const struct websocket_session *session)
{
    return !session->in_fragmented_message && wslay_event_want_read(session->context) &&
           !wslay_event_want_write(session->context) &&
           !wslay_event_get_close_received(session->context) &&
           !wslay_event_get_close_sent(session->context);
}

/* Lets wslay parse and answer one whole frame (frame[0..length)). Returns GIM_OK, or
 * GIM_ERR_CLOSED when the connection closed or is closing. */
static int websocket_feed_frame(struct comet_connection *connection, const uint8_t *frame,
                                size_t length)
{
    struct websocket_session *session = ((struct websocket_session *)connection->framing_state);
    int status;

    if (session->context == NULL) {
        if (wslay_event_context_server_init(&session->context, &websocket_callbacks, connection) !=
            0) {
            session->context = NULL;
            connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
            return GIM_ERR_CLOSED;
        }
        wslay_event_config_set_max_recv_msg_length(session->context, CLIENT_FRAME_MAX);
    }
    session->feed = frame;
    session->feed_length = length;
    session->feed_offset = 0;
    status = wslay_event_recv(session->context);
    session->feed = NULL;
    session->feed_length = session->feed_offset = 0;
    if (connection->state == CONNECTION_CLOSED)
        return GIM_ERR_CLOSED;
    if (status != 0) {
        connection_close(connection, CONNECTION_CLOSE_READ_FAILED);
        return GIM_ERR_CLOSED;
    }
    if (wslay_event_want_write(session->context) && wslay_event_send(session->context) != 0) {
        connection_close(connection, CONNECTION_CLOSE_WRITE_FAILED);
        return GIM_ERR_CLOSED;
    }
    if (connection->state == CONNECTION_CLOSED)
        return GIM_ERR_CLOSED;
    if (!wslay_event_want_read(session->context) && !wslay_event_want_write(session->context)) {
        connection_close_after_flush(connection, CONNECTION_CLOSE_WEBSOCKET_CLOSED);
        return GIM_ERR_CLOSED;
    }
    return GIM_OK;
}

/* A server close frame carrying status_code, or NULL if memory is short. */
static struct gim_shared_buffer *websocket_close_frame_new(uint16_t status_code)
{
    uint8_t frame[GIM_WEBSOCKET_MAX_HEADER + 2];
    size_t length = gim_websocket_encode_header(frame, true, GIM_WEBSOCKET_CLOSE, 2, NULL);

    frame[length++] = (uint8_t)(status_code >> 8);
    frame[length++] = (uint8_t)status_code;
    return gim_shared_buffer_copy(frame, length);
}

/*
 * Refuses a frame by its header alone (wslay would wait for its mask key and payload first):
 * a close frame with status_code, then the connection closes once it is written.
 */
static void websocket_refuse(struct comet_connection *connection, uint16_t status_code,
                             enum connection_close_reason reason)
{
    struct gim_shared_buffer *close_frame = websocket_close_frame_new(status_code);

    if (close_frame == NULL) {
        connection_close(connection, reason);
        return;
    }
    if (connection_reply(connection, close_frame) == GIM_OK)
        connection_close_after_flush(connection, reason);
    gim_shared_buffer_unref(close_frame);
}

/*
 * Hands the whole frames at the start of data[0..length) to wslay, one at a time, until the
 * connection starts an auth (the rest waits for logic's answer) or closes. A frame whose header
 * is refused, or that announces more than one goim client frame, closes the connection at once
 * with 1002 or 1009, as soon as the header has arrived. Returns the bytes consumed; the caller
 * keeps the rest.
 */
static size_t websocket_feed_frames(struct comet_connection *connection, const uint8_t *data,
                                    size_t length)
{
    struct websocket_session *session = ((struct websocket_session *)connection->framing_state);
    size_t offset = 0, frame_length = 0;

    while (offset < length && !connection->close_after_flush &&
           (connection->state == CONNECTION_HANDSHAKE || connection->state == CONNECTION_ACTIVE)) {
        const uint8_t *frame = data + offset;
        int status = websocket_client_frame_length(frame, length - offset, &frame_length);
        uint8_t opcode = frame[0] & 0x0f;

        if (status == GIM_ERR_AGAIN)
            break;
        if (status != GIM_OK) {
            websocket_refuse(connection,
                             status == GIM_ERR_TOO_LARGE ? WSLAY_CODE_MESSAGE_TOO_BIG
                                                         : WSLAY_CODE_PROTOCOL_ERROR,
                             CONNECTION_CLOSE_BAD_MESSAGE);
            return length; /* nothing after it is read */
        }
        if (opcode == WSLAY_TEXT_FRAME || opcode == WSLAY_BINARY_FRAME)
            session->in_fragmented_message = (frame[0] & 0x80) == 0;
        else if (opcode == WSLAY_CONTINUATION_FRAME && (frame[0] & 0x80) != 0)
            session->in_fragmented_message = false;
        offset += frame_length;
        if (websocket_feed_frame(connection, frame, frame_length) != GIM_OK)
            break;
    }
    return offset;
}

/*
 * Reads what the stream has (once; again while TLS holds decrypted input), after what was kept,
 * and feeds the whole frames to wslay; keeps an unfinished frame, or the frames that arrived
 * behind an auth, in connection->input. Before auth at most one largest client frame is read
 * ahead, as on TCP. The wslay context exists only while a frame is parsed, a fragmented message
 * is half received or a close is under way: an idle WebSocket connection holds no wslay memory.
 */
static void websocket_pump(struct comet_connection *connection)
{
    struct websocket_session *session = ((struct websocket_session *)connection->framing_state);
    uint8_t *scratch = connection->set->loop->scratch;

    for (;;) {
        size_t held = connection->input_length, total, consumed;
        size_t limit =
            connection->state == CONNECTION_ACTIVE ? LOOP_SCRATCH_SIZE : WEBSOCKET_CLIENT_FRAME_MAX;
        ssize_t received = GIM_ERR_AGAIN;

        if (connection->state == CONNECTION_CLOSED || connection->close_after_flush ||
            connection->state == CONNECTION_AUTHENTICATING)
            return;
        if (held > 0)
            memcpy(scratch, connection->input, held);
        if (held < limit) {
            received = connection_read(connection, scratch + held, limit - held);
            if (received == GIM_ERR_CLOSED)
                return;
        }
        total = held + (received > 0 ? (size_t)received : 0);
        consumed = websocket_feed_frames(connection, scratch, total);
        if (connection->state == CONNECTION_CLOSED)
            return;
        if (connection->close_after_flush)
            consumed = total; /* what follows a close is not read */
        if (consumed > 0 || received > 0) {
            int status = connection_keep_input(connection, scratch + consumed, total - consumed,
                                               WEBSOCKET_CLIENT_FRAME_MAX);
            if (status != GIM_OK) {
                connection_close(connection, connection_close_reason_of(status));
                return;
            }
        }
        if (session->context != NULL && websocket_context_idle(session)) {
            wslay_event_context_free(session->context);
            session->context = NULL;
        }
        if (received <= 0 || !connection_has_buffered_input(connection))
            return;
    }
}

/* Answers 400 and closes once it is written; what else the client sent is discarded. */
static void websocket_reject(struct comet_connection *connection,
                             enum connection_close_reason reason)
{
    struct gim_shared_buffer *answer = gim_shared_buffer_copy(bad_request, sizeof(bad_request) - 1);

    free(connection->input);
    connection->input = NULL;
    connection->input_length = 0;
    /* read what is still there so the close does not turn into a reset that could
     * overtake the 400 (best effort: one read) */
    connection->stream->read(connection, connection->set->loop->scratch, LOOP_SCRATCH_SIZE);
    if (answer == NULL) {
        connection_close(connection, reason);
        return;
    }
    if (connection_reply(connection, answer) == GIM_OK)
        connection_close_after_flush(connection, reason);
    gim_shared_buffer_unref(answer);
}

/* Switches the connection to WebSocket messages: answers 101, keeps the request's Cookie header
 * (head[0..head_length)) for the auth and the bytes that came behind the head as input. */
static void websocket_accept(struct comet_connection *connection, const char *accept,
                             const char *head, size_t head_length, const uint8_t *early,
                             size_t early_length)
{
    char cookie[WEBSOCKET_MAX_REQUEST_HEAD];
    struct websocket_session *session = calloc(1, sizeof(*session));
    struct gim_shared_buffer *answer;
    char text[160];
    int length;

    if (session == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return;
    }
    connection->framing_state = session; /* freed with the connection (websocket_release) */
    if (find_header(head, head_length, "Cookie", cookie, sizeof(cookie)) && cookie[0] != '\0' &&
        (session->cookie = strdup(cookie)) == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return;
    }
    if (connection_keep_input(connection, early, early_length, WEBSOCKET_CLIENT_FRAME_MAX) !=
        GIM_OK) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return;
    }
    length = snprintf(text, sizeof(text),
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                      accept);
    answer = gim_shared_buffer_copy(text, (size_t)length);
    if (answer == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return;
    }
    if (connection_reply(connection, answer) == GIM_OK)
        websocket_pump(connection);
    gim_shared_buffer_unref(answer);
}

/* Collects the request head (bounded) and answers it. */
static void websocket_read_request(struct comet_connection *connection)
{
    uint8_t *scratch = connection->set->loop->scratch;
    size_t held = connection->input_length;
    const uint8_t *end = NULL;
    char accept[WEBSOCKET_ACCEPT_SIZE];
    const struct websocket_path *path = NULL;
    const struct framing_receiver *receiver;
    uint8_t *kept;

    if (held > 0)
        memcpy(scratch, connection->input, held);
    /* one byte more than the bound, so an oversized head is seen as such */
    while (end == NULL && held <= WEBSOCKET_MAX_REQUEST_HEAD) {
        ssize_t received =
            connection_read(connection, scratch + held, WEBSOCKET_MAX_REQUEST_HEAD + 1 - held);
        if (received == GIM_ERR_AGAIN)
            break;
        if (received < 0)
            return; /* closed */
        held += (size_t)received;
        end = memmem(scratch, held, "\r\n\r\n", 4);
    }
    if (end == NULL && held > 0)
        end = memmem(scratch, held, "\r\n\r\n", 4);
    if (end == NULL) {
        if (held > WEBSOCKET_MAX_REQUEST_HEAD) {
            websocket_reject(connection, CONNECTION_CLOSE_BAD_UPGRADE);
            return;
        }
        if (held == connection->input_length)
            return;
        kept = realloc(connection->input, held);
        if (kept == NULL) {
            connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
            return;
        }
        memcpy(kept, scratch, held);
        connection->input = kept;
        connection->input_length = (uint16_t)held;
        return;
    }
    end += 4;
    free(connection->input);
    connection->input = NULL;
    connection->input_length = 0;
    if (websocket_check_upgrade((const char *)scratch, (size_t)(end - scratch), served_paths,
                                served_path_count, &path, accept) != GIM_OK) {
        websocket_reject(connection, CONNECTION_CLOSE_BAD_UPGRADE);
        return;
    }
    connection_set_route(connection, path->route);
    receiver = framing_receiver_of(connection);
    if (receiver == NULL ||
        (receiver->open != NULL &&
         receiver->open(connection, (const char *)scratch, (size_t)(end - scratch)) != GIM_OK)) {
        if (connection->state != CONNECTION_CLOSED)
            websocket_reject(connection, CONNECTION_CLOSE_BAD_UPGRADE);
        return;
    }
    websocket_accept(connection, accept, (const char *)scratch, (size_t)(end - scratch), end,
                     held - (size_t)(end - scratch));
}

static void websocket_readable(struct comet_connection *connection)
{
    if (connection->state == CONNECTION_CLOSED || connection->close_after_flush)
        return;
    if (connection->framing_state == NULL)
        websocket_read_request(connection);
    else
        websocket_pump(connection);
}

static void websocket_release(struct comet_connection *connection)
{
    struct websocket_session *session = connection->framing_state;

    if (session == NULL)
        return;
    if (session->context != NULL)
        wslay_event_context_free(session->context);
    free(session->cookie);
    free(session);
    connection->framing_state = NULL;
}

const char *websocket_cookie(const struct comet_connection *connection)
{
    const struct websocket_session *session = connection->framing_state;

    return session != NULL && session->cookie != NULL ? session->cookie : "";
}

void websocket_forget_cookie(struct comet_connection *connection)
{
    struct websocket_session *session = connection->framing_state;

    if (session != NULL) {
        free(session->cookie);
        session->cookie = NULL;
    }
}

/* An upgraded connection is sent a close frame with 1001 "going away", written at once if the
 * socket takes it (best effort: nothing waits for it). */
static void websocket_going_away(struct comet_connection *connection)
{
    struct gim_shared_buffer *close_frame;

    if (connection->framing_state == NULL)
        return;
    close_frame = websocket_close_frame_new(WSLAY_CODE_GOING_AWAY);
    if (close_frame != NULL) {
        connection_reply(connection, close_frame);
        gim_shared_buffer_unref(close_frame);
    }
}

static struct gim_shared_buffer *websocket_framing_message_new(size_t payload_length, bool text,
                                                               uint8_t **payload)
{
    return websocket_message_new(payload_length, text, payload);
}

void websocket_set_paths(const struct websocket_path *paths, size_t count)
{
    served_paths = paths;
    served_path_count = count;
}

const struct framing framing_websocket = {
    .hooks =
        {
            .readable = websocket_readable,
            .closed = framing_pass_closed,
            .deadline = framing_pass_deadline,
            .going_away = websocket_going_away,
            .release = websocket_release,
        },
    .name = "websocket",
    .message_new = websocket_framing_message_new,
    .message_based = true,
};
