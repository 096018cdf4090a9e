/* websocket.c: the WebSocket framing: the upgrade, wslay-driven message input, message output
 * (see websocket.h). */
#include "comet/websocket.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "comet/event_loop.h"
#include "comet/stream.h"
#include "common/url_form.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/status.h"
#include "common/websocket_frame.h"

#define CLIENT_FRAME_MAX (GIM_FRAME_HEADER_SIZE + GIM_FRAME_MAX_CLIENT_BODY)

static const char websocket_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* The routes served (websocket_set_routes): read-only once the loops run. */
static const struct websocket_route *served_routes;
static size_t served_route_count;

/* Where an upgraded connection is (its session exists from the upgrade's admission on). */
enum websocket_phase {
    WEBSOCKET_WAITING, /* the protocol's open answered "later": no 101 yet, nothing read */
    WEBSOCKET_OPEN     /* 101 sent: messages */
};

/* A connection's state after its upgrade was routed. */
struct websocket_session {
    wslay_event_context_ptr context; /* only while needed (websocket_pump), else NULL */
    const uint8_t *feed;             /* the frame wslay is reading (websocket_feed_frame) */
    size_t feed_length, feed_offset;
    /* WEBSOCKET_WAITING: the 101's Sec-WebSocket-Accept (WEBSOCKET_ACCEPT_SIZE bytes), freed
     * once the 101 is written, so an open connection does not keep it */
    char *accept;
    char *cookie;  /* the upgrade's Cookie header, until the auth sent it to logic; or NULL */
    uint8_t phase; /* enum websocket_phase */
    bool in_fragmented_message; /* a text/binary frame without FIN was fed, its end not yet */
};

/* ---- the upgrade request ---------------------------------------------------- */

/*
 * Finds the n-th (from 0) header name (case-insensitive) in the head; its trimmed value in
 * out[0..out_size). Returns GIM_OK, GIM_ERR_NOT_FOUND or GIM_ERR_TOO_LARGE.
 */
static int find_header_at(const char *head, size_t length, const char *name, int n, char *out,
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
        if (n-- > 0)
            continue;
        value = start + name_length + 1;
        while (value < stop && (*value == ' ' || *value == '\t'))
            value++;
        while (stop > value && (stop[-1] == '\r' || stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        value_length = (size_t)(stop - value);
        if (value_length >= out_size)
            return GIM_ERR_TOO_LARGE;
        memcpy(out, value, value_length);
        out[value_length] = '\0';
        return GIM_OK;
    }
    return GIM_ERR_NOT_FOUND;
}

/* The first header name's trimmed value in out; false if absent or too long. */
static bool find_header(const char *head, size_t length, const char *name, char *out,
                        size_t out_size)
{
    return find_header_at(head, length, name, 0, out, out_size) == GIM_OK;
}

/* True if the head has header name at all (even too long to read). */
static bool has_header(const char *head, size_t length, const char *name)
{
    char ignored[1];
    return find_header_at(head, length, name, 0, ignored, sizeof(ignored)) != GIM_ERR_NOT_FOUND;
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

/* The first route of routes whose path matches path[0..length) (with a query string or not). */
static const struct websocket_route *match_route(const char *path, size_t length, bool has_query,
                                                 const struct websocket_route *routes, size_t count)
{
    size_t index;

    for (index = 0; index < count; index++) {
        const struct websocket_route *route = &routes[index];
        size_t route_length = strlen(route->path);
        if (has_query && !route->query)
            continue;
        if (route->prefix ? length >= route_length && memcmp(path, route->path, route_length) == 0
                          : length == route_length && memcmp(path, route->path, length) == 0)
            return route;
    }
    return NULL;
}

int websocket_parse_request(const char *head, size_t length, const struct websocket_route *routes,
                            size_t count, struct websocket_request *request)
{
    static const char version[] = " HTTP/1.1\r\n";
    const char *target, *target_end, *question;
    char value[64], second[64];
    size_t method_length;

    memset(request, 0, sizeof(*request));
    request->head = head;
    request->head_length = length;
    request->query = request->rest = "";
    if (length >= 4 && memcmp(head, "GET ", 4) == 0) {
        method_length = 3;
    } else if (length >= 5 && memcmp(head, "POST ", 5) == 0) {
        method_length = 4;
        request->post = true;
    } else {
        return 400;
    }
    target = head + method_length + 1;
    target_end = target;
    while (target_end < head + length && (unsigned char)*target_end > ' ' && *target_end != 0x7f)
        target_end++;
    if (target_end == target || *target != '/' ||
        (size_t)(head + length - target_end) < sizeof(version) - 1 ||
        memcmp(target_end, version, sizeof(version) - 1) != 0)
        return 400;
    question = memchr(target, '?', (size_t)(target_end - target));
    request->path = target;
    request->path_length = (size_t)((question != NULL ? question : target_end) - target);
    if (question != NULL) {
        request->query = question + 1;
        request->query_length = (size_t)(target_end - question - 1);
    }
    request->route =
        match_route(request->path, request->path_length, question != NULL, routes, count);
    if (request->route == NULL)
        return 400;
    if (request->route->prefix) {
        size_t route_length = strlen(request->route->path);
        request->rest = request->path + route_length;
        request->rest_length = request->path_length - route_length;
    }
    request->upgrade = has_header(head, length, "Upgrade");
    if (find_header_at(head, length, "Content-Length", 1, second, sizeof(second)) !=
        GIM_ERR_NOT_FOUND)
        return 400; /* two of them: which one frames the body is ambiguous */
    if (find_header(head, length, "Content-Length", value, sizeof(value))) {
        char *end;
        unsigned long long parsed;
        if (value[0] < '0' || value[0] > '9')
            return 400;
        errno = 0;
        parsed = strtoull(value, &end, 10);
        if (*end != '\0')
            return 400;
        if (errno != 0 || parsed > WEBSOCKET_MAX_REQUEST_BODY)
            return 413;
        request->content_length = (size_t)parsed;
        if (has_header(head, length, "Transfer-Encoding"))
            return 400; /* both: a smuggling attempt or a broken client */
    } else if (has_header(head, length, "Transfer-Encoding")) {
        return 411; /* chunked bodies are not read */
    } else if (has_header(head, length, "Content-Length")) {
        return 400; /* present but unreadable (too long a value) */
    }
    if (find_header(head, length, "Content-Type", value, sizeof(value))) {
        char *semicolon = strchr(value, ';');
        size_t type_length = semicolon != NULL ? (size_t)(semicolon - value) : strlen(value);
        while (type_length > 0 && (value[type_length - 1] == ' ' || value[type_length - 1] == '\t'))
            type_length--;
        request->form_body =
            type_length == strlen("application/x-www-form-urlencoded") &&
            strncasecmp(value, "application/x-www-form-urlencoded", type_length) == 0;
    }
    return 0;
}

int websocket_check_upgrade(const struct websocket_request *request,
                            char accept[WEBSOCKET_ACCEPT_SIZE])
{
    char value[256], key_and_guid[256 + sizeof(websocket_guid)];
    unsigned char digest[SHA_DIGEST_LENGTH];
    const char *head = request->head;
    size_t length = request->head_length;

    if (request->post || request->route == NULL || request->route->upgrade == NULL)
        return GIM_ERR_INVALID;
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
    return GIM_OK;
}

int websocket_request_header(const struct websocket_request *request, const char *name, char *out,
                             size_t size)
{
    return find_header_at(request->head, request->head_length, name, 0, out, size);
}

int websocket_form_value(const struct websocket_request *request, const char *name, char *out,
                         size_t size)
{
    int status = GIM_ERR_NOT_FOUND;

    if (request->form_body && request->body != NULL)
        status = gim_url_form_value((const char *)request->body, request->content_length, name, out,
                                    size);
    if (status == GIM_ERR_NOT_FOUND)
        status = gim_url_form_value(request->query, request->query_length, name, out, size);
    return status;
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
    if (message->opcode == WSLAY_PONG && receiver != NULL && receiver->pong != NULL &&
        connection->state == CONNECTION_ACTIVE) {
        receiver->pong(connection);
        return;
    }
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

/* The reason phrase of the HTTP statuses comet answers. */
static const char *status_text(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 411:
        return "Length Required";
    case 413:
        return "Payload Too Large";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

int websocket_answer(struct comet_connection *connection, int status, const char *content_type,
                     const char *extra_headers, const void *body, size_t length)
{
    struct gim_shared_buffer *answer;
    char head[512];
    int head_length;

    if (connection->state == CONNECTION_CLOSED || connection->close_after_flush)
        return GIM_ERR_CLOSED;
    free(connection->input);
    connection->input = NULL;
    connection->input_length = 0;
    /* read what is still there so the close does not turn into a reset that could
     * overtake the answer (best effort: one read) */
    connection->stream->read(connection, connection->set->loop->scratch, LOOP_SCRATCH_SIZE);
    head_length = snprintf(
        head, sizeof(head), "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n", status,
        status_text(status), content_type != NULL ? "Content-Type: " : "",
        content_type != NULL ? content_type : "", content_type != NULL ? "\r\n" : "", length);
    if (head_length < 0 || (size_t)head_length >= sizeof(head)) {
        connection_close(connection, CONNECTION_CLOSE_BAD_UPGRADE);
        return GIM_ERR_CLOSED;
    }
    if (extra_headers == NULL)
        extra_headers = "";
    answer = gim_shared_buffer_new((size_t)head_length + strlen(extra_headers) +
                                   strlen("Connection: close\r\n\r\n") + length);
    if (answer == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    {
        uint8_t *cursor = answer->data;
        memcpy(cursor, head, (size_t)head_length);
        cursor += head_length;
        memcpy(cursor, extra_headers, strlen(extra_headers));
        cursor += strlen(extra_headers);
        memcpy(cursor, "Connection: close\r\n\r\n", strlen("Connection: close\r\n\r\n"));
        cursor += strlen("Connection: close\r\n\r\n");
        if (length > 0)
            memcpy(cursor, body, length);
    }
    if (connection_reply(connection, answer) == GIM_OK)
        connection_close_after_flush(connection, status < 400 ? CONNECTION_CLOSE_ANSWERED
                                                 : status == 401 || status == 403 || status == 404
                                                     ? CONNECTION_CLOSE_AUTH_FAILED
                                                     : CONNECTION_CLOSE_BAD_UPGRADE);
    gim_shared_buffer_unref(answer);
    return GIM_OK;
}

/* Answers status with an empty body (a refused request) and closes once it is written. */
static void websocket_reject(struct comet_connection *connection, int status)
{
    websocket_answer(connection, status, NULL, NULL, NULL, 0);
}

/* Answers 101 and switches the connection to WebSocket messages (session in WEBSOCKET_WAITING,
 * early input in connection->input). Returns GIM_OK or GIM_ERR_CLOSED. */
static int websocket_switch(struct comet_connection *connection)
{
    struct websocket_session *session = connection->framing_state;
    struct gim_shared_buffer *answer;
    char text[160];
    int length, status;

    length = snprintf(text, sizeof(text),
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                      session->accept);
    free(session->accept);
    session->accept = NULL;
    answer = gim_shared_buffer_copy(text, (size_t)length);
    if (answer == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    session->phase = WEBSOCKET_OPEN;
    status = connection_reply(connection, answer);
    gim_shared_buffer_unref(answer);
    return status;
}

/* Makes the session of a routed upgrade: keeps the accept value, the request's Cookie header
 * (head[0..head_length)) for the auth and the bytes that came behind the head as input.
 * Returns GIM_OK or GIM_ERR_CLOSED (closed for want of memory). */
static int websocket_session_start(struct comet_connection *connection, const char *accept,
                                   const char *head, size_t head_length, const uint8_t *early,
                                   size_t early_length)
{
    char cookie[WEBSOCKET_MAX_REQUEST_HEAD];
    struct websocket_session *session = calloc(1, sizeof(*session));

    if (session == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    session->phase = WEBSOCKET_WAITING;
    connection->framing_state = session; /* freed with the connection (websocket_release) */
    if ((session->accept = malloc(WEBSOCKET_ACCEPT_SIZE)) == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    memcpy(session->accept, accept, WEBSOCKET_ACCEPT_SIZE);
    if (find_header(head, head_length, "Cookie", cookie, sizeof(cookie)) && cookie[0] != '\0' &&
        (session->cookie = strdup(cookie)) == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    if (connection_keep_input(connection, early, early_length, WEBSOCKET_CLIENT_FRAME_MAX) !=
        GIM_OK) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    return GIM_OK;
}

int websocket_admit(struct comet_connection *connection, const struct connection_identity *identity)
{
    struct websocket_session *session = connection->framing_state;

    if (connection->state == CONNECTION_CLOSED || connection->close_after_flush)
        return GIM_ERR_CLOSED;
    if (connection->route->framing != &framing_websocket.hooks || session == NULL ||
        session->phase != WEBSOCKET_WAITING)
        return GIM_ERR_INVALID;
    connection->state = CONNECTION_HANDSHAKE;
    if (websocket_switch(connection) != GIM_OK)
        return GIM_ERR_CLOSED;
    if (identity != NULL && connection_authenticate(connection, identity) != GIM_OK)
        return GIM_ERR_CLOSED;
    connection_resume_reading(connection);
    return connection->state == CONNECTION_CLOSED ? GIM_ERR_CLOSED : GIM_OK;
}

/* A complete upgrade request (head[0..head_length), early[0..early_length) behind it): checks
 * it and hands it to its protocol's open. */
static void websocket_upgrade(struct comet_connection *connection,
                              const struct websocket_request *request, const uint8_t *early,
                              size_t early_length)
{
    char accept[WEBSOCKET_ACCEPT_SIZE];
    const struct framing_receiver *receiver;
    int status;

    if (websocket_check_upgrade(request, accept) != GIM_OK) {
        websocket_reject(connection, 400);
        return;
    }
    connection_set_route(connection, request->route->upgrade);
    receiver = framing_receiver_of(connection);
    if (receiver == NULL) {
        websocket_reject(connection, 400);
        return;
    }
    if (websocket_session_start(connection, accept, request->head, request->head_length, early,
                                early_length) != GIM_OK)
        return;
    status = receiver->open != NULL ? receiver->open(connection, request) : GIM_OK;
    if (connection->state == CONNECTION_CLOSED || connection->close_after_flush)
        return; /* answered (websocket_answer) or closed by the protocol */
    if (status == GIM_ERR_AGAIN) {
        /* admission later: nothing is read meanwhile, the handshake deadline still runs */
        connection->state = CONNECTION_AUTHENTICATING;
        connection_set_reading(connection, false);
        return;
    }
    if (status != GIM_OK) {
        websocket_reject(connection, 400);
        return;
    }
    if (websocket_switch(connection) == GIM_OK)
        websocket_pump(connection);
}

/* A complete plain HTTP request (body included): hands it to its route's handler. */
static void websocket_plain_request(struct comet_connection *connection,
                                    const struct websocket_request *request)
{
    int status;

    if (request->route->request == NULL) {
        websocket_reject(connection, 400);
        return;
    }
    connection->state = CONNECTION_AUTHENTICATING; /* nothing more is read */
    connection_set_reading(connection, false);
    status = request->route->request(connection, request);
    if (status == GIM_ERR_AGAIN || connection->state == CONNECTION_CLOSED ||
        connection->close_after_flush)
        return;
    websocket_answer(connection, 500, NULL, NULL, NULL, 0); /* the handler did not answer */
}

/*
 * Collects the request head (bounded), and for a plain request with a body, the body; routes
 * and answers it once whole. What is not whole yet waits in connection->input.
 */
static void websocket_read_request(struct comet_connection *connection)
{
    uint8_t *scratch = connection->set->loop->scratch;
    size_t held = connection->input_length, head_length = 0, want;
    const uint8_t *end = NULL;
    struct websocket_request request;
    uint8_t *kept;

    if (held > 0)
        memcpy(scratch, connection->input, held);
    for (;;) {
        ssize_t received;
        if (head_length == 0 && held > 0 && (end = memmem(scratch, held, "\r\n\r\n", 4)) != NULL) {
            int answer;
            head_length = (size_t)(end - scratch) + 4;
            answer = websocket_parse_request((const char *)scratch, head_length, served_routes,
                                             served_route_count, &request);
            if (answer != 0) {
                websocket_reject(connection, answer);
                return;
            }
        }
        if (head_length == 0 && held > WEBSOCKET_MAX_REQUEST_HEAD) {
            websocket_reject(connection, 400);
            return;
        }
        /* an upgrade's early bytes are WebSocket frames: read no further than the head bound */
        want = head_length == 0 || request.upgrade ? WEBSOCKET_MAX_REQUEST_HEAD + 1
                                                   : head_length + request.content_length;
        if (head_length != 0 && (request.upgrade || held >= want))
            break;
        received = connection_read(connection, scratch + held, want - held);
        if (received == GIM_ERR_AGAIN)
            break;
        if (received < 0)
            return; /* closed */
        held += (size_t)received;
    }
    if (head_length == 0 || (!request.upgrade && held < head_length + request.content_length)) {
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
    free(connection->input);
    connection->input = NULL;
    connection->input_length = 0;
    if (request.upgrade) {
        websocket_upgrade(connection, &request, scratch + head_length, held - head_length);
        return;
    }
    request.body = scratch + head_length;
    websocket_plain_request(connection, &request);
}

static void websocket_readable(struct comet_connection *connection)
{
    const struct websocket_session *session = connection->framing_state;

    if (connection->state == CONNECTION_CLOSED || connection->close_after_flush)
        return;
    if (session == NULL) {
        if (connection->state != CONNECTION_AUTHENTICATING) /* a plain request being answered */
            websocket_read_request(connection);
    } else if (session->phase == WEBSOCKET_OPEN) {
        websocket_pump(connection);
    }
}

static void websocket_release(struct comet_connection *connection)
{
    struct websocket_session *session = connection->framing_state;

    if (session == NULL)
        return;
    if (session->context != NULL)
        wslay_event_context_free(session->context);
    free(session->accept);
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
    const struct websocket_session *session = connection->framing_state;

    if (session == NULL || session->phase != WEBSOCKET_OPEN)
        return;
    close_frame = websocket_close_frame_new(WSLAY_CODE_GOING_AWAY);
    if (close_frame != NULL) {
        connection_reply(connection, close_frame);
        gim_shared_buffer_unref(close_frame);
    }
}

int websocket_ping(struct comet_connection *connection)
{
    uint8_t frame[GIM_WEBSOCKET_MAX_HEADER];
    size_t length;
    struct gim_shared_buffer *ping;
    int status;

    if (connection->state == CONNECTION_CLOSED || connection->close_after_flush)
        return GIM_ERR_CLOSED;
    length = gim_websocket_encode_header(frame, true, GIM_WEBSOCKET_PING, 0, NULL);
    ping = gim_shared_buffer_copy(frame, length);
    if (ping == NULL) {
        connection_close(connection, CONNECTION_CLOSE_OUT_OF_MEMORY);
        return GIM_ERR_CLOSED;
    }
    status = connection_reply(connection, ping);
    gim_shared_buffer_unref(ping);
    return status;
}

void websocket_close(struct comet_connection *connection, uint16_t status_code,
                     enum connection_close_reason reason)
{
    const struct websocket_session *session = connection->framing_state;

    if (connection->state == CONNECTION_CLOSED || connection->close_after_flush)
        return;
    if (session == NULL || session->phase != WEBSOCKET_OPEN) {
        connection_close(connection, reason);
        return;
    }
    websocket_refuse(connection, status_code, reason);
}

static struct gim_shared_buffer *websocket_framing_message_new(size_t payload_length, bool text,
                                                               uint8_t **payload)
{
    return websocket_message_new(payload_length, text, payload);
}

void websocket_set_routes(const struct websocket_route *routes, size_t count)
{
    served_routes = routes;
    served_route_count = count;
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
