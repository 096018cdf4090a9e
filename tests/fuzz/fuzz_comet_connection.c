/*
 * fuzz_comet_connection.c: libFuzzer target for everything comet reads from an
 * untrusted client after accept, over TCP (goim frames back to back) and over
 * WebSocket (the upgrade head, then wslay's frame parser, unmasking,
 * reassembly, ping/pong and close, then one goim frame per message), through
 * the real connection, framing (goim stream, WebSocket) and goim protocol code.
 *
 * The harness drives one real event loop on its own thread
 * (event_loop_run_once) with one connection over a socketpair; the fuzz input
 * is the byte stream the client sends. Auth goes to an in-process stand-in for
 * logic on an nng inproc socket (Connect answers a fixed session, or an error
 * for a token starting with '!'; every other call an empty reply), so op 7
 * leads to the authenticated ops (heartbeat, change room, sub, unsub, Receive)
 * just as with the real logic.
 *
 * Input: byte 0 chooses how the rest is sent:
 *   bit 0    transport: 0 TCP, 1 WebSocket;
 *   bit 1    WebSocket only: the harness sends a valid upgrade head first, so
 *            the input can be frames only;
 *   bits 2-4 chunk size (1, 2, 3, 7, 16, 64, 512 or everything at once): the
 *            loop runs between chunks, so frames split anywhere are covered;
 *   bit 5    half-close the client side after the input (else a full close).
 * Oracle, besides ASan/UBSan and the absence of hangs: whatever comet writes
 * back must be well formed: goim frames on TCP; on WebSocket an HTTP 101 head
 * (or a 400 answer and nothing after it) followed by unmasked final server
 * frames, binary ones holding exactly one goim frame each. Anything else
 * aborts.
 */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "comet/comet.h"
#include "comet/config.h"
#include "comet/connection.h"
#include "comet/event_loop.h"
#include "comet/listener.h"
#include "comet/worker.h"
#include "common/frame.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "dialects.pb-c.h"
#include "common/websocket_frame.h"
#include "logic.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LOGIC_URL         "inproc://goim-fuzz-logic"
#define OUTPUT_KEPT_MAX   (1024 * 1024) /* what the oracle reads; the rest is drained unread */
#define AUTH_WAIT_ROUNDS  2000          /* x 1 ms: bound on waiting for the stand-in logic */
#define SETTLE_ROUNDS     64            /* loop iterations after the input, without waiting */
#define CLOSE_WAIT_ROUNDS 200           /* x 1 ms: bound on waiting for the close to be seen */

static const size_t chunk_sizes[8] = {1, 2, 3, 7, 16, 64, 512, SIZE_MAX};

static const char upgrade_head[] = "GET /sub HTTP/1.1\r\n"
                                   "Host: fuzz\r\n"
                                   "Upgrade: websocket\r\n"
                                   "Connection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                   "Sec-WebSocket-Version: 13\r\n"
                                   "Cookie: fuzz=1\r\n"
                                   "\r\n";

static struct comet_config config;
static struct comet comet;
static struct comet_worker *worker;
static struct event_loop *loop;
static struct connection_set *connections;
static struct gim_rpc_server *logic_server;

static uint8_t output[OUTPUT_KEPT_MAX];
static size_t output_length;

/* ---- the stand-in for logic --------------------------------------------------- */

static void logic_handler(void *user, uint32_t method, const uint8_t *request,
                          size_t request_length, struct gim_rpc_reply *reply)
{
    (void)user;
    switch (method) {
    case GIM_RPC_LOGIC_CONNECT: {
        Goim__Logic__ConnectReq *connect =
            goim__logic__connect_req__unpack(NULL, request_length, request);
        Goim__Logic__ConnectReply answer = GOIM__LOGIC__CONNECT_REPLY__INIT;
        int32_t accepts[] = {1000, 1001};

        if (connect == NULL) {
            gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad ConnectReq");
            return;
        }
        if (connect->token.len > 0 && connect->token.data[0] == '!') {
            gim_rpc_reply_error(reply, GIM_ERR_INVALID, "token refused");
        } else {
            answer.mid = 1;
            answer.key = (char *)"fuzz-key";
            answer.roomid = (char *)"live://1";
            answer.accepts = accepts;
            answer.n_accepts = 2;
            answer.heartbeat = 60LL * 1000 * 1000 * 1000; /* ns, as goim */
            gim_rpc_reply_message(reply, &answer.base);
        }
        goim__logic__connect_req__free_unpacked(connect, NULL);
        return;
    }
    case GIM_RPC_LOGIC_DISCONNECT: {
        Goim__Logic__DisconnectReply answer = GOIM__LOGIC__DISCONNECT_REPLY__INIT;
        gim_rpc_reply_message(reply, &answer.base);
        return;
    }
    case GIM_RPC_LOGIC_HEARTBEAT: {
        Goim__Logic__HeartbeatReply answer = GOIM__LOGIC__HEARTBEAT_REPLY__INIT;
        gim_rpc_reply_message(reply, &answer.base);
        return;
    }
    case GIM_RPC_LOGIC_RECEIVE: {
        Goim__Logic__ReceiveReply answer = GOIM__LOGIC__RECEIVE_REPLY__INIT;
        gim_rpc_reply_message(reply, &answer.base);
        return;
    }
    case GIM_RPC_LOGIC_GOPUSHER_CONNECT: { /* app "known" admits everyone, others are 404 */
        Goim__Dialects__GopusherConnectReq *connect =
            goim__dialects__gopusher_connect_req__unpack(NULL, request_length, request);
        Goim__Dialects__GopusherConnectReply answer = GOIM__DIALECTS__GOPUSHER_CONNECT_REPLY__INIT;

        if (connect == NULL) {
            gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad GopusherConnectReq");
            return;
        }
        if (strcmp(connect->appkey, "known") != 0) {
            answer.status = 404;
            answer.text = (char *)"app_key does not exist\n";
        }
        gim_rpc_reply_message(reply, &answer.base);
        goim__dialects__gopusher_connect_req__free_unpacked(connect, NULL);
        return;
    }
    case GIM_RPC_LOGIC_GUSHER_AUTH: { /* a JWT starting with '!' is refused */
        Goim__Dialects__GusherAuthReq *auth =
            goim__dialects__gusher_auth_req__unpack(NULL, request_length, request);
        Goim__Dialects__GusherAuthReply answer = GOIM__DIALECTS__GUSHER_AUTH_REPLY__INIT;

        if (auth == NULL || auth->jwt[0] == '!')
            gim_rpc_reply_error(reply, GIM_ERR_INVALID, "jwt refused");
        else {
            answer.token = (char *)"tok";
            gim_rpc_reply_message(reply, &answer.base);
        }
        if (auth != NULL)
            goim__dialects__gusher_auth_req__free_unpacked(auth, NULL);
        return;
    }
    case GIM_RPC_LOGIC_GUSHER_CONNECT: { /* token "tok" of app "TEST", any channel */
        Goim__Dialects__GusherConnectReq *connect =
            goim__dialects__gusher_connect_req__unpack(NULL, request_length, request);
        Goim__Dialects__GusherConnectReply answer = GOIM__DIALECTS__GUSHER_CONNECT_REPLY__INIT;
        char *channels[] = {(char *)"*"}, *remotes[] = {(char *)"chat"};

        if (connect == NULL) {
            gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad GusherConnectReq");
            return;
        }
        if (strcmp(connect->token, "tok") != 0)
            answer.status = GOIM__DIALECTS__GUSHER_CONNECT_REPLY__STATUS__TOKEN_ERROR;
        else if (strcmp(connect->appkey, "TEST") != 0)
            answer.status = GOIM__DIALECTS__GUSHER_CONNECT_REPLY__STATUS__APPKEY_ERROR;
        else {
            answer.userid = (char *)"u";
            answer.channels = channels;
            answer.n_channels = 1;
            answer.remotes = remotes;
            answer.n_remotes = 1;
            answer.renewseconds = 600;
        }
        gim_rpc_reply_message(reply, &answer.base);
        goim__dialects__gusher_connect_req__free_unpacked(connect, NULL);
        return;
    }
    case GIM_RPC_LOGIC_GUSHER_DISCONNECT:
    case GIM_RPC_LOGIC_GUSHER_HEARTBEAT: {
        Goim__Dialects__GusherSessionReply answer = GOIM__DIALECTS__GUSHER_SESSION_REPLY__INIT;
        gim_rpc_reply_message(reply, &answer.base);
        return;
    }
    default:
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "unexpected method");
    }
}

/* ---- one comet with one loop, no listeners, built once ------------------------ */

static void replace_string(char **field, const char *value)
{
    free(*field);
    *field = strdup(value);
    if (*field == NULL)
        abort();
}

static void start_comet(void)
{
    char *argv[] = {(char *)"fuzz_comet_connection", NULL};
    struct gim_config_command command;
    char error[256];

    signal(SIGPIPE, SIG_IGN);
    gim_log_init("fuzz", GIM_LOG_ERROR);
    if (comet_config_load(&config, 1, argv, &command, error, sizeof(error)) != GIM_OK)
        abort();
    replace_string(&config.tcp_bind, ""); /* the harness hands the loop its sockets itself */
    replace_string(&config.websocket_bind, "");
    config.websocket_tls_open = false;
    config.worker_threads = 1;
    comet.config = &config;
    atomic_init(&comet.auth_sequence, 0);
    ip_counter_init(&comet.client_addresses);
    comet_online_init(&comet.online);
    if (gim_rpc_server_start(&logic_server, LOGIC_URL, 1, logic_handler, NULL) != GIM_OK ||
        gim_rpc_client_open(&comet.logic, LOGIC_URL) != GIM_OK ||
        worker_create(&worker, &comet, 0) != GIM_OK)
        abort();
    comet.workers = &worker;
    comet.worker_count = 1;
    loop = worker->loop;
    connections = &worker->connections;
}

/* ---- driving the loop ---------------------------------------------------------- */

/* Reads what comet wrote to the client; keeps the first OUTPUT_KEPT_MAX bytes. */
static void drain_output(int client)
{
    uint8_t discard[4096];

    for (;;) {
        uint8_t *into = output_length < OUTPUT_KEPT_MAX ? output + output_length : discard;
        size_t room =
            output_length < OUTPUT_KEPT_MAX ? OUTPUT_KEPT_MAX - output_length : sizeof(discard);
        ssize_t received = read(client, into, room);
        if (received <= 0)
            return;
        if (into != discard)
            output_length += (size_t)received;
    }
}

static bool auth_in_flight(void)
{
    const struct comet_connection *connection;

    for (connection = connections->live; connection != NULL; connection = connection->next)
        if (connection->state == CONNECTION_AUTHENTICATING)
            return true;
    return false;
}

/* One loop iteration, then whatever comet wrote; waits out an auth with logic. */
static void run_loop(int client)
{
    int rounds;

    event_loop_run_once(loop, 0);
    drain_output(client);
    for (rounds = 0; auth_in_flight() && rounds < AUTH_WAIT_ROUNDS; rounds++) {
        event_loop_run_once(loop, 1);
        drain_output(client);
    }
}

/* Writes data[0..length) to the client socket in chunks, running the loop in between. */
static void send_input(int client, const uint8_t *data, size_t length, size_t chunk)
{
    size_t offset = 0;

    while (offset < length && connections->live != NULL) {
        size_t count = length - offset < chunk ? length - offset : chunk;
        ssize_t written = write(client, data + offset, count);
        if (written > 0)
            offset += (size_t)written;
        else if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return; /* comet closed the connection: the rest cannot be sent */
        run_loop(client);
    }
}

/* ---- the oracle: what comet wrote must be well formed -------------------------- */

/* Goim frames back to back; a last frame cut short (connection closed mid-write) is allowed. */
static void check_goim_frames(const uint8_t *data, size_t length)
{
    size_t offset = 0;

    while (offset < length) {
        struct gim_frame_header header;
        int status = gim_frame_decode_header(data + offset, length - offset,
                                             GIM_FRAME_MAX_CLIENT_BODY, &header);
        if (status == GIM_ERR_AGAIN)
            return;
        if (status != GIM_OK)
            abort();
        if (header.packet_length > length - offset)
            return;
        offset += header.packet_length;
    }
}

/* Server WebSocket frames: final, unmasked, binary/close/pong; binary = one goim frame. */
static void check_websocket_frames(const uint8_t *data, size_t length)
{
    size_t offset = 0;

    while (offset < length) {
        struct gim_websocket_frame frame;
        struct gim_frame_header goim;
        int status = gim_websocket_decode_header(data + offset, length - offset, &frame);

        if (status == GIM_ERR_AGAIN)
            return; /* cut short by a close */
        if (status != GIM_OK || frame.masked || !frame.final || !frame.shortest_length ||
            (frame.opcode != GIM_WEBSOCKET_BINARY && frame.opcode != GIM_WEBSOCKET_CLOSE &&
             frame.opcode != GIM_WEBSOCKET_PONG && frame.opcode != GIM_WEBSOCKET_TEXT &&
             frame.opcode != GIM_WEBSOCKET_PING))
            abort();
        if (frame.payload_length > length - offset - frame.header_length)
            return;                               /* cut short by a close */
        if (frame.opcode == GIM_WEBSOCKET_TEXT) { /* gusher's replies: one JSON object each */
            json_t *reply = json_loadb((const char *)data + offset + frame.header_length,
                                       (size_t)frame.payload_length, 0, NULL);
            if (!json_is_object(reply))
                abort();
            json_decref(reply);
        }
        if (frame.opcode == GIM_WEBSOCKET_BINARY &&
            (gim_frame_decode_header(data + offset + frame.header_length,
                                     (size_t)frame.payload_length, GIM_FRAME_MAX_CLIENT_BODY,
                                     &goim) != GIM_OK ||
             goim.packet_length != frame.payload_length))
            abort();
        offset += frame.header_length + (size_t)frame.payload_length;
    }
}

static void check_output(bool websocket)
{
    static const char switching[] = "HTTP/1.1 101 Switching Protocols\r\n";
    /* 400, 404 (gopusher: unknown app, path not routed), 411 (chunked), 413 (body too large),
     * 503 (gopusher: admission unavailable) */
    static const char refused[] = "HTTP/1.1 4", unavailable[] = "HTTP/1.1 5",
                      answered[] = "HTTP/1.1 2"; /* gusher's auth and ping */
    const uint8_t *head_end;

    if (!websocket) {
        check_goim_frames(output, output_length);
        return;
    }
    if (output_length == 0)
        return;
    head_end = memmem(output, output_length, "\r\n\r\n", 4);
    if (head_end == NULL)
        return; /* cut short */
    head_end += 4;
    if (output_length >= sizeof(refused) - 1 &&
        (memcmp(output, refused, sizeof(refused) - 1) == 0 ||
         memcmp(output, unavailable, sizeof(unavailable) - 1) == 0 ||
         memcmp(output, answered, sizeof(answered) - 1) == 0)) {
        const uint8_t *length_header =
            memmem(output, (size_t)(head_end - output), "\r\nContent-Length: ", 18);
        if (length_header == NULL || strtoul((const char *)length_header + 18, NULL, 10) !=
                                         output_length - (size_t)(head_end - output))
            abort(); /* nothing may follow a refusal but its own body */
        return;
    }
    if (output_length < sizeof(switching) - 1 ||
        memcmp(output, switching, sizeof(switching) - 1) != 0)
        abort();
    check_websocket_frames(head_end, output_length - (size_t)(head_end - output));
}

/* ---- one input ------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(40000)};
    bool websocket, half_close;
    size_t chunk;
    int sockets[2], rounds;

    if (loop == NULL)
        start_comet();
    if (size < 1)
        return 0;
    websocket = data[0] & 1;
    chunk = chunk_sizes[(data[0] >> 2) & 7];
    half_close = data[0] & 0x20;
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sockets) != 0)
        abort();
    output_length = 0;
    if (connection_accept(connections, sockets[0], (struct sockaddr *)&peer,
                          websocket ? &comet_route_websocket_upgrade : &comet_route_goim_tcp,
                          websocket ? COMET_TRANSPORT_WEBSOCKET : COMET_TRANSPORT_TCP,
                          false) != GIM_OK)
        abort();
    if (websocket && (data[0] & 2))
        send_input(sockets[1], (const uint8_t *)upgrade_head, sizeof(upgrade_head) - 1, SIZE_MAX);
    send_input(sockets[1], data + 1, size - 1, chunk);
    if (half_close) {
        shutdown(sockets[1], SHUT_WR);
        for (rounds = 0; rounds < SETTLE_ROUNDS && connections->live != NULL; rounds++)
            run_loop(sockets[1]);
    }
    drain_output(sockets[1]);
    check_output(websocket);
    close(sockets[1]);
    for (rounds = 0; rounds < CLOSE_WAIT_ROUNDS && connections->live != NULL; rounds++)
        event_loop_run_once(loop, 1);
    if (connections->live != NULL)
        abort(); /* a peer that is gone must always be noticed, whatever state it left */
    event_loop_run_once(loop, 0); /* reaps */
    return 0;
}
