/* rpc.c: nng request/reply with a method id and protobuf payloads (see rpc.h). */
#include "rpc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"
#include "log.h"
#include "status.h"

/* Translates an nng error once, at the edge. */
static int rpc_status_from_nng(int nng_error)
{
    switch (nng_error) {
    case 0:
        return GIM_OK;
    case NNG_ETIMEDOUT:
        return GIM_ERR_TIMEOUT;
    case NNG_ECLOSED:
    case NNG_ECANCELED:
        return GIM_ERR_CLOSED;
    case NNG_ENOMEM:
        return GIM_ERR_NO_MEMORY;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
        return GIM_ERR_INVALID;
    default:
        return GIM_ERR_IO;
    }
}

int gim_rpc_url(const char *address, bool listen, char *out, size_t size)
{
    const char *colon;
    int written;

    if (address == NULL || *address == '\0')
        return GIM_ERR_INVALID;
    if (strstr(address, "://") != NULL) {
        written = snprintf(out, size, "%s", address);
    } else {
        colon = strrchr(address, ':');
        if (colon == NULL || colon[1] == '\0')
            return GIM_ERR_INVALID;
        if (colon == address)
            written = snprintf(out, size, "tcp://%s%s", listen ? "0.0.0.0" : "127.0.0.1", colon);
        else
            written = snprintf(out, size, "tcp://%s", address);
    }
    return (written < 0 || (size_t)written >= size) ? GIM_ERR_INVALID : GIM_OK;
}

/* ---- server ---- */

struct gim_rpc_reply {
    int status;
    uint8_t *payload; /* malloc'd, or NULL */
    size_t length;
    int answered;
};

void gim_rpc_reply_message(struct gim_rpc_reply *reply, const ProtobufCMessage *message)
{
    size_t length = protobuf_c_message_get_packed_size(message);

    free(reply->payload);
    reply->payload = malloc(length ? length : 1);
    if (reply->payload == NULL) {
        reply->status = GIM_ERR_NO_MEMORY;
        reply->length = 0;
    } else {
        reply->length = protobuf_c_message_pack(message, reply->payload);
        reply->status = GIM_OK;
    }
    reply->answered = 1;
}

void gim_rpc_reply_error(struct gim_rpc_reply *reply, int status, const char *text)
{
    free(reply->payload);
    reply->length = text ? strlen(text) : 0;
    reply->payload = reply->length ? malloc(reply->length) : NULL;
    if (reply->payload != NULL)
        memcpy(reply->payload, text, reply->length);
    else
        reply->length = 0;
    reply->status = status < 0 ? status : GIM_ERR_REMOTE;
    reply->answered = 1;
}

struct rpc_worker {
    struct gim_rpc_server *server;
    pthread_t thread;
    int started;
};

struct gim_rpc_server {
    nng_socket socket;
    gim_rpc_handler_fn handler;
    void *user;
    int worker_count;
    struct rpc_worker *workers;
};

/* Builds the reply message: status, then payload. Returns NULL on allocation failure. */
static nng_msg *rpc_reply_build(const struct gim_rpc_reply *reply)
{
    nng_msg *message;

    if (nng_msg_alloc(&message, 0) != 0)
        return NULL;
    if (nng_msg_append_u32(message, (uint32_t)reply->status) != 0 ||
        (reply->length > 0 && nng_msg_append(message, reply->payload, reply->length) != 0)) {
        nng_msg_free(message);
        return NULL;
    }
    return message;
}

static void *rpc_server_worker(void *argument)
{
    struct rpc_worker *worker = argument;
    struct gim_rpc_server *server = worker->server;
    nng_ctx context;
    nng_aio *aio;

    if (nng_ctx_open(&context, server->socket) != 0)
        return NULL;
    if (nng_aio_alloc(&aio, NULL, NULL) != 0) {
        nng_ctx_close(context);
        return NULL;
    }
    for (;;) {
        struct gim_rpc_reply reply = {GIM_ERR_REMOTE, NULL, 0, 0};
        nng_msg *request, *answer;
        int result;

        nng_ctx_recv(context, aio);
        nng_aio_wait(aio);
        result = nng_aio_result(aio);
        if (result == NNG_ECLOSED)
            break;
        if (result != 0)
            continue;
        request = nng_aio_get_msg(aio);
        if (nng_msg_len(request) < 4) {
            gim_rpc_reply_error(&reply, GIM_ERR_INVALID, "request shorter than a method id");
        } else {
            const uint8_t *body = nng_msg_body(request);
            server->handler(server->user, gim_read_u32(body), body + 4, nng_msg_len(request) - 4,
                            &reply);
            if (!reply.answered)
                gim_rpc_reply_error(&reply, GIM_ERR_REMOTE, "no reply");
        }
        nng_msg_free(request);
        answer = rpc_reply_build(&reply);
        free(reply.payload);
        if (answer == NULL)
            continue; /* the caller times out */
        nng_aio_set_msg(aio, answer);
        nng_ctx_send(context, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0)
            nng_msg_free(answer);
    }
    nng_aio_free(aio);
    nng_ctx_close(context);
    return NULL;
}

int gim_rpc_server_start(struct gim_rpc_server **out, const char *listen_url, int workers,
                         gim_rpc_handler_fn handler, void *user)
{
    struct gim_rpc_server *server;
    int index, result;

    *out = NULL;
    if (workers < 1)
        workers = 1;
    server = calloc(1, sizeof(*server));
    if (server == NULL)
        return GIM_ERR_NO_MEMORY;
    server->workers = calloc((size_t)workers, sizeof(*server->workers));
    if (server->workers == NULL) {
        free(server);
        return GIM_ERR_NO_MEMORY;
    }
    server->handler = handler;
    server->user = user;
    server->worker_count = workers;
    result = nng_rep0_open(&server->socket);
    if (result == 0)
        result = nng_socket_set_size(server->socket, NNG_OPT_RECVMAXSZ, GIM_RPC_MAX_MESSAGE);
    if (result == 0)
        result = nng_listen(server->socket, listen_url, NULL, 0);
    if (result != 0) {
        gim_log_error("rpc: cannot listen on %s: %s", listen_url, nng_strerror(result));
        nng_close(server->socket);
        free(server->workers);
        free(server);
        return result == NNG_EADDRINVAL || result == NNG_ENOTSUP ? GIM_ERR_INVALID : GIM_ERR_IO;
    }
    for (index = 0; index < workers; index++) {
        server->workers[index].server = server;
        if (pthread_create(&server->workers[index].thread, NULL, rpc_server_worker,
                           &server->workers[index]) == 0)
            server->workers[index].started = 1;
    }
    *out = server;
    return GIM_OK;
}

void gim_rpc_server_stop(struct gim_rpc_server *server)
{
    int index;

    if (server == NULL)
        return;
    nng_close(server->socket);
    for (index = 0; index < server->worker_count; index++) {
        if (server->workers[index].started)
            pthread_join(server->workers[index].thread, NULL);
    }
    free(server->workers);
    free(server);
}

/* ---- client ---- */

struct gim_rpc_client {
    nng_socket socket;
    char *url;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int in_flight;
};

int gim_rpc_client_open(struct gim_rpc_client **out, const char *dial_url)
{
    struct gim_rpc_client *client;
    int result;

    *out = NULL;
    client = calloc(1, sizeof(*client));
    if (client == NULL)
        return GIM_ERR_NO_MEMORY;
    client->url = strdup(dial_url);
    if (client->url == NULL) {
        free(client);
        return GIM_ERR_NO_MEMORY;
    }
    result = nng_req0_open(&client->socket);
    if (result != 0) {
        free(client->url);
        free(client);
        return rpc_status_from_nng(result);
    }
    /* No blind resend on a timer: a request is resent by nng only when the
     * pipe it went out on dies, which is what at-least-once delivery wants. */
    nng_socket_set_ms(client->socket, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(client->socket, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(client->socket, NNG_OPT_RECONNMAXT, 2000);
    nng_socket_set_size(client->socket, NNG_OPT_RECVMAXSZ, GIM_RPC_MAX_MESSAGE);
    result = nng_dial(client->socket, dial_url, NULL, NNG_FLAG_NONBLOCK);
    if (result != 0) {
        nng_close(client->socket);
        free(client->url);
        free(client);
        return rpc_status_from_nng(result);
    }
    pthread_mutex_init(&client->lock, NULL);
    pthread_cond_init(&client->idle, NULL);
    *out = client;
    return GIM_OK;
}

const char *gim_rpc_client_url(const struct gim_rpc_client *client)
{
    return client->url;
}

/* Packs method + request into a new nng message, or returns NULL. */
static nng_msg *rpc_request_build(uint32_t method, const ProtobufCMessage *request)
{
    size_t length = protobuf_c_message_get_packed_size(request);
    nng_msg *message;

    if (nng_msg_alloc(&message, 4 + length) != 0)
        return NULL;
    gim_write_u32(nng_msg_body(message), method);
    protobuf_c_message_pack(request, (uint8_t *)nng_msg_body(message) + 4);
    return message;
}

/* Decodes a reply message. Returns a status; *reply set only on GIM_OK. */
static int rpc_reply_decode(nng_msg *message, const ProtobufCMessageDescriptor *reply_type,
                            const char *url, ProtobufCMessage **reply)
{
    const uint8_t *body = nng_msg_body(message);
    size_t length = nng_msg_len(message);
    int32_t status;

    *reply = NULL;
    if (length < 4)
        return GIM_ERR_INVALID;
    status = (int32_t)gim_read_u32(body);
    if (status != GIM_OK) {
        gim_log_debug("rpc: %s answered %d: %.*s", url, status, (int)(length - 4), body + 4);
        return GIM_ERR_REMOTE;
    }
    *reply = protobuf_c_message_unpack(reply_type, NULL, length - 4, body + 4);
    return *reply ? GIM_OK : GIM_ERR_INVALID;
}

static int64_t rpc_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int gim_rpc_call(struct gim_rpc_client *client, uint32_t method, const ProtobufCMessage *request,
                 const ProtobufCMessageDescriptor *reply_type, int timeout_ms,
                 ProtobufCMessage **reply)
{
    int64_t deadline = rpc_now_ms() + timeout_ms;
    nng_msg *message;
    nng_ctx context;
    nng_aio *aio;
    int result, status;

    *reply = NULL;
    message = rpc_request_build(method, request);
    if (message == NULL)
        return GIM_ERR_NO_MEMORY;
    if ((result = nng_ctx_open(&context, client->socket)) != 0) {
        nng_msg_free(message);
        return rpc_status_from_nng(result);
    }
    if ((result = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
        nng_ctx_close(context);
        nng_msg_free(message);
        return rpc_status_from_nng(result);
    }
    nng_aio_set_timeout(aio, timeout_ms);
    nng_aio_set_msg(aio, message);
    nng_ctx_send(context, aio);
    nng_aio_wait(aio);
    result = nng_aio_result(aio);
    if (result != 0) {
        nng_msg_free(message);
        status = rpc_status_from_nng(result);
    } else {
        int64_t left = deadline - rpc_now_ms();
        nng_aio_set_timeout(aio, left > 0 ? (nng_duration)left : 1);
        nng_ctx_recv(context, aio);
        nng_aio_wait(aio);
        result = nng_aio_result(aio);
        if (result != 0) {
            status = rpc_status_from_nng(result);
        } else {
            message = nng_aio_get_msg(aio);
            status = rpc_reply_decode(message, reply_type, client->url, reply);
            nng_msg_free(message);
        }
    }
    nng_aio_free(aio);
    nng_ctx_close(context);
    return status;
}

enum rpc_call_state { RPC_CALL_SENDING, RPC_CALL_RECEIVING };

struct rpc_call {
    struct gim_rpc_client *client;
    nng_ctx context;
    nng_aio *aio;
    enum rpc_call_state state;
    int64_t deadline;
    const ProtobufCMessageDescriptor *reply_type;
    gim_rpc_done_fn done;
    void *user;
};

static void rpc_call_finish(struct rpc_call *call, int status, ProtobufCMessage *reply)
{
    struct gim_rpc_client *client = call->client;

    call->done(call->user, status, reply);
    nng_ctx_close(call->context);
    nng_aio_reap(call->aio); /* the aio is freed by nng after this callback returns */
    free(call);
    pthread_mutex_lock(&client->lock);
    if (--client->in_flight == 0)
        pthread_cond_broadcast(&client->idle);
    pthread_mutex_unlock(&client->lock);
}

static void rpc_call_callback(void *argument)
{
    struct rpc_call *call = argument;
    int result = nng_aio_result(call->aio);
    ProtobufCMessage *reply = NULL;
    nng_msg *message;
    int status;

    if (call->state == RPC_CALL_SENDING) {
        if (result != 0) {
            nng_msg_free(nng_aio_get_msg(call->aio));
            rpc_call_finish(call, rpc_status_from_nng(result), NULL);
            return;
        }
        int64_t left = call->deadline - rpc_now_ms();
        call->state = RPC_CALL_RECEIVING;
        nng_aio_set_timeout(call->aio, left > 0 ? (nng_duration)left : 1);
        nng_ctx_recv(call->context, call->aio);
        return;
    }
    if (result != 0) {
        rpc_call_finish(call, rpc_status_from_nng(result), NULL);
        return;
    }
    message = nng_aio_get_msg(call->aio);
    status = rpc_reply_decode(message, call->reply_type, call->client->url, &reply);
    nng_msg_free(message);
    rpc_call_finish(call, status, reply);
}

int gim_rpc_call_async(struct gim_rpc_client *client, uint32_t method,
                       const ProtobufCMessage *request,
                       const ProtobufCMessageDescriptor *reply_type, int timeout_ms,
                       gim_rpc_done_fn done, void *user)
{
    struct rpc_call *call = calloc(1, sizeof(*call));
    nng_msg *message;
    int result;

    if (call == NULL)
        return GIM_ERR_NO_MEMORY;
    message = rpc_request_build(method, request);
    if (message == NULL) {
        free(call);
        return GIM_ERR_NO_MEMORY;
    }
    if ((result = nng_ctx_open(&call->context, client->socket)) != 0) {
        nng_msg_free(message);
        free(call);
        return rpc_status_from_nng(result);
    }
    if ((result = nng_aio_alloc(&call->aio, rpc_call_callback, call)) != 0) {
        nng_ctx_close(call->context);
        nng_msg_free(message);
        free(call);
        return rpc_status_from_nng(result);
    }
    call->client = client;
    call->state = RPC_CALL_SENDING;
    call->deadline = rpc_now_ms() + timeout_ms;
    call->reply_type = reply_type;
    call->done = done;
    call->user = user;
    pthread_mutex_lock(&client->lock);
    client->in_flight++;
    pthread_mutex_unlock(&client->lock);
    nng_aio_set_timeout(call->aio, timeout_ms);
    nng_aio_set_msg(call->aio, message);
    nng_ctx_send(call->context, call->aio);
    return GIM_OK;
}

void gim_rpc_client_close(struct gim_rpc_client *client)
{
    if (client == NULL)
        return;
    nng_close(client->socket);
    pthread_mutex_lock(&client->lock);
    while (client->in_flight > 0)
        pthread_cond_wait(&client->idle, &client->lock);
    pthread_mutex_unlock(&client->lock);
    pthread_mutex_destroy(&client->lock);
    pthread_cond_destroy(&client->idle);
    free(client->url);
    free(client);
}
