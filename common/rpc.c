/* rpc.c: nng request/reply with a method id and protobuf payloads (see rpc.h). */
#include "rpc.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "frame.h"
#include "log.h"
#include "rpc_auth.h"
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

/*
 * nng 1.5's nng_close can wait forever for a dialer, listener or pipe that is being torn down
 * while it was busy (seen under load: every nng thread idle, nng_close blocked; a server's
 * close hangs this way when a connection is accepted as its listener closes: nng's reaper waits
 * forever on the listener's accept). Nothing of ours is left on the socket when this runs (its
 * contexts are closed, no operation of ours is in flight), so the close is handed to a detached
 * thread and waited for a bounded time; past it the socket is abandoned (logged), and the caller
 * goes on. A wedged close leaves nng's reaper stuck, so every later close would wedge too: once
 * one is abandoned, later ones are handed over without waiting.
 */
#define RPC_CLOSE_WAIT_MS 2000

static atomic_bool rpc_close_wedged; /* a close was abandoned: nng's reaper is stuck */

struct rpc_close_job {
    nng_socket socket;
    pthread_mutex_t lock;
    pthread_cond_t finished;
    int done;
    int abandoned;
};

static void *rpc_close_thread(void *argument)
{
    struct rpc_close_job *job = argument;
    int abandoned;

    nng_close(job->socket);
    pthread_mutex_lock(&job->lock);
    job->done = 1;
    abandoned = job->abandoned;
    pthread_cond_signal(&job->finished);
    pthread_mutex_unlock(&job->lock);
    if (abandoned)
        free(job); /* the waiter gave up and left it to us */
    return NULL;
}

/* Closes socket (what names it in the log: "the socket to <url>"), waiting a bounded time. */
static void rpc_socket_close_bounded(nng_socket socket, const char *what)
{
    struct rpc_close_job *job = calloc(1, sizeof(*job));
    struct timespec deadline;
    pthread_t thread;
    int done;

    if (job == NULL) {
        nng_close(socket);
        return;
    }
    job->socket = socket;
    pthread_mutex_init(&job->lock, NULL);
    gim_cond_init_monotonic(&job->finished);
    if (pthread_create(&thread, NULL, rpc_close_thread, job) != 0) {
        nng_close(socket);
        free(job);
        return;
    }
    pthread_detach(thread);
    gim_deadline_after_ms(&deadline, atomic_load(&rpc_close_wedged) ? 0 : RPC_CLOSE_WAIT_MS);
    pthread_mutex_lock(&job->lock);
    while (!job->done) {
        if (pthread_cond_timedwait(&job->finished, &job->lock, &deadline) != 0)
            break;
    }
    done = job->done;
    if (!done)
        job->abandoned = 1;
    pthread_mutex_unlock(&job->lock);
    if (done) {
        free(job);
    } else if (!atomic_exchange(&rpc_close_wedged, true)) {
        gim_log_warn("rpc: closing %s did not finish in %d ms (nng 1.5 close defect); abandoned, "
                     "and later closes are not waited for",
                     what, RPC_CLOSE_WAIT_MS);
    }
}

/* ---- server ----
 *
 * A request is served on an exchange: an nng context with its own send aio, taken from the
 * server's pool by a worker. The worker answers on its own aio and waits for the send (nng
 * completes it at once when the connection is free: no thread hand-off), keeping the exchange
 * for its next request; a deferred answer (gim_rpc_reply_defer) is sent later from another
 * thread on the exchange's aio, whose completion (an nng thread) gives the exchange back, and
 * the worker takes another one meanwhile. Contexts are
 * opened once and closed at stop, one by one from the stopping thread before the socket (closing
 * one from a callback while the socket closes crashes nng 1.5).
 */

/* Exchanges per worker thread: GIM_RPC_SERVER_EXCHANGES_PER_WORKER (rpc.h). */
#define RPC_SERVER_EXCHANGES_PER_WORKER GIM_RPC_SERVER_EXCHANGES_PER_WORKER

struct gim_rpc_server;

struct rpc_batch;

struct gim_rpc_deferred {
    struct gim_rpc_server *server;
    nng_ctx context;
    nng_aio *send_aio; /* completion: rpc_exchange_sent */
    struct gim_rpc_deferred *next_free;
    struct rpc_batch *batch; /* a call of a batch (its answer fills the batch's slot), or NULL */
    size_t index;            /* that slot */
};

struct gim_rpc_reply {
    int status;
    uint8_t *payload; /* malloc'd, or NULL */
    size_t length;
    int answered;
    struct gim_rpc_deferred *exchange; /* the request's; NULL once deferred */
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
    pthread_mutex_t lock;
    pthread_cond_t freed; /* an exchange came back to the pool */
    struct gim_rpc_deferred *exchanges;
    int exchange_count; /* opened */
    struct gim_rpc_deferred *free_exchanges;
    int free_count;
    int closing;
    char url[256]; /* what it listens on, for log lines */
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

static void rpc_exchange_release(struct gim_rpc_deferred *exchange)
{
    struct gim_rpc_server *server = exchange->server;

    pthread_mutex_lock(&server->lock);
    exchange->next_free = server->free_exchanges;
    server->free_exchanges = exchange;
    server->free_count++;
    pthread_cond_broadcast(&server->freed);
    pthread_mutex_unlock(&server->lock);
}

/* The send aio's completion (an nng thread): the exchange is free again. */
static void rpc_exchange_sent(void *argument)
{
    struct gim_rpc_deferred *exchange = argument;

    if (nng_aio_result(exchange->send_aio) != 0) {
        nng_msg *unsent = nng_aio_get_msg(exchange->send_aio);
        if (unsent != NULL)
            nng_msg_free(unsent);
        nng_aio_set_msg(exchange->send_aio, NULL);
    }
    rpc_exchange_release(exchange);
}

static void rpc_batch_fill(struct rpc_batch *batch, size_t index, struct gim_rpc_reply *reply);

/* Sends reply on exchange without waiting (frees its payload); the completion frees the
 * exchange. Without memory for the message the caller times out. The answer of a call of a
 * batch goes to the batch instead. */
static void rpc_exchange_answer(struct gim_rpc_deferred *exchange, struct gim_rpc_reply *reply)
{
    nng_msg *answer;

    if (exchange->batch != NULL) {
        rpc_batch_fill(exchange->batch, exchange->index, reply);
        return;
    }
    answer = rpc_reply_build(reply);

    free(reply->payload);
    reply->payload = NULL;
    if (answer == NULL) {
        /* the context still waits for a reply: a new receive on it drops the request */
        rpc_exchange_release(exchange);
        return;
    }
    nng_aio_set_msg(exchange->send_aio, answer);
    nng_ctx_send(exchange->context, exchange->send_aio);
}

struct gim_rpc_deferred *gim_rpc_reply_defer(struct gim_rpc_reply *reply)
{
    struct gim_rpc_deferred *deferred = reply->exchange;

    reply->exchange = NULL;
    reply->answered = 1;
    return deferred;
}

void gim_rpc_deferred_message(struct gim_rpc_deferred *deferred, const ProtobufCMessage *message)
{
    struct gim_rpc_reply reply = {GIM_ERR_REMOTE, NULL, 0, 0, NULL};

    gim_rpc_reply_message(&reply, message);
    rpc_exchange_answer(deferred, &reply);
}

void gim_rpc_deferred_error(struct gim_rpc_deferred *deferred, int status, const char *text)
{
    struct gim_rpc_reply reply = {GIM_ERR_REMOTE, NULL, 0, 0, NULL};

    gim_rpc_reply_error(&reply, status, text);
    rpc_exchange_answer(deferred, &reply);
}

/* ---- batches, server side (rpc.h, GIM_RPC_BATCH) ---- */

/* One call's answer in a batch. */
struct rpc_batch_slot {
    int status;
    uint8_t *payload; /* malloc'd, or NULL */
    size_t length;
};

/*
 * A batch being answered: one reference per call not answered yet plus the serving worker's;
 * the last one answers the batch on its exchange and frees it. calls[i] is the stand-in
 * exchange a handler defers (its batch and index say where the answer goes).
 */
struct rpc_batch {
    struct gim_rpc_deferred *exchange; /* the batch's own, deferred */
    atomic_size_t references;
    size_t count;
    struct rpc_batch_slot *slots;
    struct gim_rpc_deferred calls[];
};

/* Every call is answered: the batch's answer leaves, and the batch is freed. */
static void rpc_batch_finish(struct rpc_batch *batch)
{
    struct gim_rpc_reply reply = {GIM_OK, NULL, 0, 1, NULL};
    size_t index, length = 0;
    uint8_t *at;

    for (index = 0; index < batch->count; index++)
        length += 8 + batch->slots[index].length;
    reply.payload = malloc(length ? length : 1);
    if (reply.payload == NULL) {
        gim_rpc_reply_error(&reply, GIM_ERR_NO_MEMORY, "batch: out of memory");
    } else {
        reply.length = length;
        at = reply.payload;
        for (index = 0; index < batch->count; index++) {
            const struct rpc_batch_slot *slot = &batch->slots[index];
            gim_write_u32(at, (uint32_t)slot->status);
            gim_write_u32(at + 4, (uint32_t)slot->length);
            if (slot->length > 0)
                memcpy(at + 8, slot->payload, slot->length);
            at += 8 + slot->length;
        }
    }
    rpc_exchange_answer(batch->exchange, &reply);
    for (index = 0; index < batch->count; index++)
        free(batch->slots[index].payload);
    free(batch->slots);
    free(batch);
}

static void rpc_batch_release(struct rpc_batch *batch)
{
    if (atomic_fetch_sub(&batch->references, 1) == 1)
        rpc_batch_finish(batch);
}

/* The answer of call index (any thread): takes reply's payload. */
static void rpc_batch_fill(struct rpc_batch *batch, size_t index, struct gim_rpc_reply *reply)
{
    struct rpc_batch_slot *slot = &batch->slots[index];

    slot->status = reply->status;
    slot->payload = reply->payload;
    slot->length = reply->payload != NULL ? reply->length : 0;
    reply->payload = NULL;
    rpc_batch_release(batch);
}

/* The number of calls in a batch's payload, or 0 when it is malformed (rpc.h's bounds). */
static size_t rpc_batch_count(const uint8_t *payload, size_t length)
{
    size_t count = 0, at = 0;

    while (at < length) {
        uint32_t call_length;
        if (length - at < 8 || count == GIM_RPC_BATCH_MAX_CALLS ||
            gim_read_u32(payload + at) == GIM_RPC_BATCH)
            return 0;
        call_length = gim_read_u32(payload + at + 4);
        if (call_length > length - at - 8)
            return 0;
        at += 8 + call_length;
        count++;
    }
    return count;
}

/*
 * Serves a batch (the worker's request) on reply: each call through the handler, in order, with
 * a reply of its own whose exchange is the batch's stand-in for that call; the batch's own
 * answer is deferred until the last call's answer (rpc_batch_fill).
 */
static void rpc_batch_serve(struct gim_rpc_server *server, const uint8_t *payload, size_t length,
                            struct gim_rpc_reply *reply)
{
    size_t count = rpc_batch_count(payload, length), index, at = 0;
    struct rpc_batch *batch;

    if (count == 0) {
        gim_rpc_reply_error(reply, GIM_ERR_INVALID, "bad batch");
        return;
    }
    batch = calloc(1, sizeof(*batch) + count * sizeof(batch->calls[0]));
    if (batch != NULL && (batch->slots = calloc(count, sizeof(*batch->slots))) == NULL) {
        free(batch);
        batch = NULL;
    }
    if (batch == NULL) {
        gim_rpc_reply_error(reply, GIM_ERR_NO_MEMORY, "batch: out of memory");
        return;
    }
    batch->count = count;
    atomic_init(&batch->references, count + 1);
    batch->exchange = gim_rpc_reply_defer(reply);
    for (index = 0; index < count; index++) {
        uint32_t method = gim_read_u32(payload + at);
        uint32_t call_length = gim_read_u32(payload + at + 4);
        struct gim_rpc_reply call = {GIM_ERR_REMOTE, NULL, 0, 0, &batch->calls[index]};

        batch->calls[index].server = server;
        batch->calls[index].batch = batch;
        batch->calls[index].index = index;
        server->handler(server->user, method, payload + at + 8, call_length, &call);
        if (!call.answered)
            gim_rpc_reply_error(&call, GIM_ERR_REMOTE, "no reply");
        if (call.exchange != NULL) /* answered now; else its deferred answer fills the slot */
            rpc_batch_fill(batch, index, &call);
        at += 8 + call_length;
    }
    rpc_batch_release(batch); /* the worker's: the last answer may already be in */
}

/* A free exchange, waiting while every one is busy; NULL once the server is closing. */
static struct gim_rpc_deferred *rpc_exchange_take(struct gim_rpc_server *server)
{
    struct gim_rpc_deferred *exchange;

    pthread_mutex_lock(&server->lock);
    while (server->free_exchanges == NULL && !server->closing)
        pthread_cond_wait(&server->freed, &server->lock);
    exchange = server->closing ? NULL : server->free_exchanges;
    if (exchange != NULL) {
        server->free_exchanges = exchange->next_free;
        server->free_count--;
    }
    pthread_mutex_unlock(&server->lock);
    return exchange;
}

static void *rpc_server_worker(void *argument)
{
    struct rpc_worker *worker = argument;
    struct gim_rpc_server *server = worker->server;
    nng_aio *aio;

    if (nng_aio_alloc(&aio, NULL, NULL) != 0)
        return NULL;
    struct gim_rpc_deferred *exchange = NULL;

    for (;;) {
        struct gim_rpc_reply reply = {GIM_ERR_REMOTE, NULL, 0, 0, NULL};
        enum gim_rpc_refusal refusal;
        const uint8_t *payload;
        size_t payload_length;
        uint32_t method;
        nng_msg *request, *answer;
        int result;

        if (exchange == NULL && (exchange = rpc_exchange_take(server)) == NULL)
            break;
        reply.exchange = exchange;
        nng_ctx_recv(exchange->context, aio);
        nng_aio_wait(aio);
        result = nng_aio_result(aio);
        if (result == NNG_ECLOSED)
            break;
        if (result != 0)
            continue;
        request = nng_aio_get_msg(aio);
        if (gim_rpc_auth_verify(nng_msg_body(request), nng_msg_len(request), &method, &payload,
                                &payload_length, &refusal) != GIM_OK) {
            char text[64];
            snprintf(text, sizeof(text), "request refused: %s", gim_rpc_auth_refusal_name(refusal));
            gim_log_debug("rpc: %s", text);
            gim_rpc_reply_error(&reply, GIM_ERR_INVALID, text);
        } else if (method == GIM_RPC_BATCH) {
            rpc_batch_serve(server, payload, payload_length, &reply);
        } else {
            server->handler(server->user, method, payload, payload_length, &reply);
            if (!reply.answered)
                gim_rpc_reply_error(&reply, GIM_ERR_REMOTE, "no reply");
        }
        nng_msg_free(request);
        if (reply.exchange == NULL) { /* deferred: its holder answers; take another next */
            free(reply.payload);
            exchange = NULL;
            continue;
        }
        answer = rpc_reply_build(&reply);
        free(reply.payload);
        if (answer == NULL)
            continue; /* the caller times out */
        nng_aio_set_msg(aio, answer);
        nng_ctx_send(exchange->context, aio);
        nng_aio_wait(aio);
        if (nng_aio_result(aio) != 0)
            nng_msg_free(answer);
    }
    if (exchange != NULL)
        rpc_exchange_release(exchange);
    nng_aio_free(aio);
    return NULL;
}

/* Opens count exchanges on server's socket (as many as it can). Returns GIM_OK if any. */
static int rpc_exchanges_open(struct gim_rpc_server *server, int count)
{
    int index;

    server->exchanges = calloc((size_t)count, sizeof(*server->exchanges));
    if (server->exchanges == NULL)
        return GIM_ERR_NO_MEMORY;
    for (index = 0; index < count; index++) {
        struct gim_rpc_deferred *exchange = &server->exchanges[index];
        exchange->server = server;
        if (nng_ctx_open(&exchange->context, server->socket) != 0)
            break;
        if (nng_aio_alloc(&exchange->send_aio, rpc_exchange_sent, exchange) != 0)
            break; /* the context is closed with the socket */
        exchange->next_free = server->free_exchanges;
        server->free_exchanges = exchange;
        server->exchange_count++;
        server->free_count++;
    }
    return server->exchange_count > 0 ? GIM_OK : GIM_ERR_NO_MEMORY;
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
    snprintf(server->url, sizeof(server->url), "%s", listen_url);
    server->worker_count = workers;
    pthread_mutex_init(&server->lock, NULL);
    pthread_cond_init(&server->freed, NULL);
    result = nng_rep0_open(&server->socket);
    if (result == 0)
        result = nng_socket_set_size(server->socket, NNG_OPT_RECVMAXSZ, GIM_RPC_MAX_MESSAGE);
    if (result == 0)
        result = nng_listen(server->socket, listen_url, NULL, 0);
    if (result == 0 &&
        rpc_exchanges_open(server, workers * RPC_SERVER_EXCHANGES_PER_WORKER) != GIM_OK)
        result = NNG_ENOMEM;
    if (result != 0) {
        if (result != NNG_ENOMEM)
            gim_log_error("rpc: cannot listen on %s: %s", listen_url, nng_strerror(result));
        nng_close(server->socket);
        for (index = 0; index < server->exchange_count; index++)
            nng_aio_free(server->exchanges[index].send_aio);
        free(server->exchanges);
        pthread_mutex_destroy(&server->lock);
        pthread_cond_destroy(&server->freed);
        free(server->workers);
        free(server);
        if (result == NNG_ENOMEM)
            return GIM_ERR_NO_MEMORY;
        return result == NNG_EADDRINVAL || result == NNG_ENOTSUP ? GIM_ERR_INVALID : GIM_ERR_IO;
    }
    if (!gim_rpc_auth_enabled() && gim_rpc_url_is_public(listen_url))
        gim_log_warn("rpc: WARNING: %s accepts requests from other machines WITHOUT "
                     "credentials: anyone who reaches it can push to clients or drop sessions. "
                     "Set rpcAuth.secret (the same on every daemon) or bind 127.0.0.1.",
                     listen_url);
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
    pthread_mutex_lock(&server->lock);
    server->closing = 1;
    pthread_cond_broadcast(&server->freed);
    pthread_mutex_unlock(&server->lock);
    /* Contexts are closed one by one, outside any callback, before the socket: a worker's receive
     * ends with NNG_ECLOSED, and an answer sent after this fails at once. */
    for (index = 0; index < server->exchange_count; index++)
        nng_ctx_close(server->exchanges[index].context);
    for (index = 0; index < server->worker_count; index++) {
        if (server->workers[index].started)
            pthread_join(server->workers[index].thread, NULL);
    }
    /* answers still leaving, and deferred ones (their holders answer; a send on a closed
     * context fails at once and gives the exchange back) */
    pthread_mutex_lock(&server->lock);
    while (server->free_count < server->exchange_count)
        pthread_cond_wait(&server->freed, &server->lock);
    pthread_mutex_unlock(&server->lock);
    for (index = 0; index < server->exchange_count; index++)
        nng_aio_free(server->exchanges[index].send_aio); /* waits for a callback returning */
    {
        char what[300];
        snprintf(what, sizeof(what), "the server socket on %s", server->url);
        /* Last: the listener and the connections (a connection accepted as the listener closes
         * can wedge nng_close; nothing of ours is on the socket any more). */
        rpc_socket_close_bounded(server->socket, what);
    }
    free(server->exchanges);
    pthread_mutex_destroy(&server->lock);
    pthread_cond_destroy(&server->freed);
    free(server->workers);
    free(server);
}

/* ---- client ----
 *
 * A client owns a fixed set of slots, each an nng context with its own aio, opened once and
 * closed only by nng_close of the socket (closing a context from its own callback while the
 * socket closes crashes nng 1.5). A call takes a free slot, or waits in a bounded pending queue
 * until one is free; a slot whose call finished starts the next pending call from its callback.
 */

#define RPC_CLIENT_SLOTS       64
#define RPC_CLIENT_MAX_PENDING 65536 /* at the bound a call fails at once with GIM_ERR_AGAIN */

enum rpc_slot_state { RPC_SLOT_IDLE, RPC_SLOT_SENDING, RPC_SLOT_RECEIVING };

/* A batch's completion: status, and on GIM_OK its answers (the reply's payload). */
typedef void (*rpc_batch_done_fn)(void *user, int status, const uint8_t *answers, size_t length);

struct rpc_call {
    nng_msg *request;
    int64_t deadline;
    const ProtobufCMessageDescriptor *reply_type;
    gim_rpc_done_fn done;
    rpc_batch_done_fn batch_done; /* a batch's completion instead of done, or NULL */
    void *user;
    struct rpc_call *next; /* in the pending queue, or in the coalesced waiting list */
    bool coalesced;        /* gim_rpc_call_coalesced's: its completion frees a place first */
    uint32_t method;       /* a coalesced call's, for its batch */
    int timeout_ms;        /* a coalesced call's, counted from when it leaves */
};

struct rpc_slot {
    struct gim_rpc_client *client;
    nng_ctx context;
    nng_aio *aio;
    enum rpc_slot_state state;
    struct rpc_call *call;
    struct rpc_slot *next_free;
};

struct gim_rpc_client {
    nng_socket socket;
    char *url;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int in_flight; /* calls accepted and not yet completed (pending + on a slot) */
    int closing;
    struct rpc_slot slots[RPC_CLIENT_SLOTS];
    int slots_opened;
    struct rpc_slot *free_slots;
    struct rpc_call *pending_head, *pending_tail;
    int pending_count;
    int coalesced_out;                       /* coalesced requests out, under lock */
    struct rpc_call *waiting, *waiting_tail; /* coalesced calls for the next batch */
    int waiting_count;                       /* at RPC_CLIENT_MAX_PENDING: GIM_ERR_AGAIN */
};

static void rpc_slot_callback(void *argument);

int gim_rpc_client_open(struct gim_rpc_client **out, const char *dial_url)
{
    struct gim_rpc_client *client;
    int index, result;

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
    pthread_mutex_init(&client->lock, NULL);
    gim_cond_init_monotonic(&client->idle);
    /* No blind resend on a timer: a request is resent by nng only when the
     * pipe it went out on dies, which is what at-least-once delivery wants. */
    nng_socket_set_ms(client->socket, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(client->socket, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(client->socket, NNG_OPT_RECONNMAXT, 2000);
    nng_socket_set_size(client->socket, NNG_OPT_RECVMAXSZ, GIM_RPC_MAX_MESSAGE);
    for (index = 0; index < RPC_CLIENT_SLOTS && result == 0; index++) {
        struct rpc_slot *slot = &client->slots[index];
        slot->client = client;
        result = nng_ctx_open(&slot->context, client->socket);
        if (result == 0) {
            result = nng_aio_alloc(&slot->aio, rpc_slot_callback, slot);
            if (result != 0)
                break; /* the context is closed with the socket */
            client->slots_opened++;
            slot->next_free = client->free_slots;
            client->free_slots = slot;
        }
    }
    if (result == 0)
        result = nng_dial(client->socket, dial_url, NULL, NNG_FLAG_NONBLOCK);
    if (result != 0) {
        gim_rpc_client_close(client);
        return rpc_status_from_nng(result);
    }
    *out = client;
    return GIM_OK;
}

const char *gim_rpc_client_url(const struct gim_rpc_client *client)
{
    return client->url;
}

/*
 * A new nng message for a request of method with room for length bytes of payload, which start
 * at *payload; NULL when out of memory. With authentication on, room is left for the header and
 * the MAC, filled by gim_rpc_auth_sign when the request is sent (so its time is fresh).
 */
static nng_msg *rpc_request_alloc(uint32_t method, size_t length, uint8_t **payload)
{
    size_t header = gim_rpc_auth_enabled() ? GIM_RPC_AUTH_HEADER : 0;
    size_t trailer = gim_rpc_auth_enabled() ? GIM_RPC_AUTH_MAC : 0;
    nng_msg *message;

    if (nng_msg_alloc(&message, 4 + header + length + trailer) != 0)
        return NULL;
    gim_write_u32(nng_msg_body(message), method);
    *payload = (uint8_t *)nng_msg_body(message) + 4 + header;
    return message;
}

/* Packs method + request into a new nng message (rpc_request_alloc), or returns NULL. */
static nng_msg *rpc_request_build(uint32_t method, const ProtobufCMessage *request)
{
    uint8_t *payload;
    nng_msg *message =
        rpc_request_alloc(method, protobuf_c_message_get_packed_size(request), &payload);

    if (message != NULL)
        protobuf_c_message_pack(request, payload);
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

static void rpc_coalesce_next(struct gim_rpc_client *client);

/* Runs a call's completion and forgets the call; a batch's gets answers[0..length) (its reply's
 * payload, on GIM_OK). Never called with the client lock held. */
static void rpc_call_complete_batch(struct gim_rpc_client *client, struct rpc_call *call,
                                    int status, ProtobufCMessage *reply, const uint8_t *answers,
                                    size_t length)
{
    if (call->request != NULL)
        nng_msg_free(call->request);
    if (call->coalesced) /* its place goes to the waiting calls before its owner learns */
        rpc_coalesce_next(client);
    if (call->batch_done != NULL)
        call->batch_done(call->user, status, answers, length);
    else
        call->done(call->user, status, reply);
    free(call);
    pthread_mutex_lock(&client->lock);
    if (--client->in_flight == 0)
        pthread_cond_broadcast(&client->idle);
    pthread_mutex_unlock(&client->lock);
}

/* Runs a call's completion and forgets the call. Never called with the client lock held. */
static void rpc_call_complete(struct gim_rpc_client *client, struct rpc_call *call, int status,
                              ProtobufCMessage *reply)
{
    rpc_call_complete_batch(client, call, status, reply, NULL, 0);
}

/* Sends call on slot (the slot is the caller's, not on the free list). */
static void rpc_slot_start(struct rpc_slot *slot, struct rpc_call *call)
{
    int64_t left = call->deadline - gim_monotonic_ms();

    if (gim_rpc_auth_enabled())
        gim_rpc_auth_sign(nng_msg_body(call->request), nng_msg_len(call->request));
    slot->call = call;
    slot->state = RPC_SLOT_SENDING;
    nng_aio_set_timeout(slot->aio, left > 0 ? (nng_duration)left : 1);
    nng_aio_set_msg(slot->aio, call->request);
    call->request = NULL; /* owned by the aio until the send completes */
    nng_ctx_send(slot->context, slot->aio);
}

/* The slot is done with its call: start the next pending one, or go back to the free list. */
static void rpc_slot_next(struct rpc_slot *slot)
{
    struct gim_rpc_client *client = slot->client;

    for (;;) {
        struct rpc_call *call;

        pthread_mutex_lock(&client->lock);
        call = client->closing ? NULL : client->pending_head;
        if (call == NULL) {
            slot->state = RPC_SLOT_IDLE;
            slot->call = NULL;
            slot->next_free = client->free_slots;
            client->free_slots = slot;
            pthread_mutex_unlock(&client->lock);
            return;
        }
        client->pending_head = call->next;
        if (client->pending_head == NULL)
            client->pending_tail = NULL;
        client->pending_count--;
        pthread_mutex_unlock(&client->lock);
        if (call->deadline > gim_monotonic_ms()) {
            rpc_slot_start(slot, call);
            return;
        }
        rpc_call_complete(client, call, GIM_ERR_TIMEOUT, NULL);
    }
}

static void rpc_slot_callback(void *argument)
{
    struct rpc_slot *slot = argument;
    struct gim_rpc_client *client = slot->client;
    struct rpc_call *call = slot->call;
    int result = nng_aio_result(slot->aio);
    ProtobufCMessage *reply = NULL;
    nng_msg *message;
    int status;

    if (call == NULL)
        return; /* an idle slot's aio cancelled by close */
    if (slot->state == RPC_SLOT_SENDING && result == 0) {
        int64_t left = call->deadline - gim_monotonic_ms();
        slot->state = RPC_SLOT_RECEIVING;
        nng_aio_set_timeout(slot->aio, left > 0 ? (nng_duration)left : 1);
        nng_ctx_recv(slot->context, slot->aio);
        return;
    }
    if (slot->state == RPC_SLOT_SENDING) {
        nng_msg_free(nng_aio_get_msg(slot->aio)); /* the request was not sent */
        status = rpc_status_from_nng(result);
    } else if (result != 0) {
        status = rpc_status_from_nng(result);
    } else if (call->batch_done != NULL) {
        const uint8_t *body;
        size_t length;
        message = nng_aio_get_msg(slot->aio);
        body = nng_msg_body(message);
        length = nng_msg_len(message);
        status = length < 4                              ? GIM_ERR_INVALID
                 : (int32_t)gim_read_u32(body) != GIM_OK ? GIM_ERR_REMOTE
                                                         : GIM_OK;
        slot->call = NULL;
        rpc_call_complete_batch(client, call, status, NULL, status == GIM_OK ? body + 4 : NULL,
                                status == GIM_OK ? length - 4 : 0);
        nng_msg_free(message);
        rpc_slot_next(slot);
        return;
    } else {
        message = nng_aio_get_msg(slot->aio);
        status = rpc_reply_decode(message, call->reply_type, client->url, &reply);
        nng_msg_free(message);
    }
    slot->call = NULL;
    rpc_call_complete(client, call, status, reply);
    rpc_slot_next(slot);
}

/* Queues call on client (a free slot, or the pending queue). Returns GIM_OK, or
 * GIM_ERR_CLOSED / GIM_ERR_AGAIN after freeing the call (its done never runs). */
static int rpc_call_start(struct gim_rpc_client *client, struct rpc_call *call)
{
    struct rpc_slot *slot = NULL;

    pthread_mutex_lock(&client->lock);
    if (client->closing ||
        (client->free_slots == NULL && client->pending_count >= RPC_CLIENT_MAX_PENDING)) {
        int status = client->closing ? GIM_ERR_CLOSED : GIM_ERR_AGAIN;
        pthread_mutex_unlock(&client->lock);
        nng_msg_free(call->request);
        free(call);
        return status;
    }
    client->in_flight++;
    if (client->free_slots != NULL) {
        slot = client->free_slots;
        client->free_slots = slot->next_free;
    } else {
        if (client->pending_tail != NULL)
            client->pending_tail->next = call;
        else
            client->pending_head = call;
        client->pending_tail = call;
        client->pending_count++;
    }
    pthread_mutex_unlock(&client->lock);
    if (slot != NULL)
        rpc_slot_start(slot, call);
    return GIM_OK;
}

/* A call with its request packed (on the caller's thread) and its completion; not started.
 * Returns it (the caller's), or NULL when out of memory. */
static struct rpc_call *rpc_call_new(uint32_t method, const ProtobufCMessage *request,
                                     const ProtobufCMessageDescriptor *reply_type,
                                     gim_rpc_done_fn done, void *user)
{
    struct rpc_call *call = calloc(1, sizeof(*call));

    if (call == NULL)
        return NULL;
    call->request = rpc_request_build(method, request);
    if (call->request == NULL) {
        free(call);
        return NULL;
    }
    call->reply_type = reply_type;
    call->done = done;
    call->user = user;
    return call;
}

int gim_rpc_call_async(struct gim_rpc_client *client, uint32_t method,
                       const ProtobufCMessage *request,
                       const ProtobufCMessageDescriptor *reply_type, int timeout_ms,
                       gim_rpc_done_fn done, void *user)
{
    struct rpc_call *call = rpc_call_new(method, request, reply_type, done, user);

    if (call == NULL)
        return GIM_ERR_NO_MEMORY;
    call->deadline = gim_monotonic_ms() + timeout_ms;
    return rpc_call_start(client, call);
}

/* ---- coalesced calls, client side (rpc.h, gim_rpc_call_coalesced) ----
 *
 * A coalesced call is an rpc_call like any other (its request packed on the caller's thread),
 * marked coalesced: one that leaves alone is started as it is, and its completion gives its
 * place to the waiting calls; one that waits is kept on the client's waiting list, and leaves
 * with the others as a batch (its payload copied into the batch's request, its own request
 * freed), whose completion gives each its answer.
 */

/* The calls of a batch out, in their order, and their client. */
struct rpc_batch_out {
    struct gim_rpc_client *client;
    struct rpc_call *calls;
};

/* Runs each waiting call's completion with status (no reply) and frees it. */
static void rpc_waiting_complete(struct rpc_call *calls, int status)
{
    while (calls != NULL) {
        struct rpc_call *next = calls->next;
        if (calls->request != NULL)
            nng_msg_free(calls->request);
        calls->done(calls->user, status, NULL);
        free(calls);
        calls = next;
    }
}

/* A batch came back (an nng thread; its own completion already gave its place to the waiting
 * calls): each call's answer, in order. */
static void rpc_batch_done(void *user, int status, const uint8_t *answers, size_t length)
{
    struct rpc_batch_out *out = user;
    struct rpc_call *call = out->calls;
    size_t at = 0;

    while (call != NULL) {
        struct rpc_call *next = call->next;
        ProtobufCMessage *reply = NULL;
        int call_status = status;

        if (status == GIM_OK) {
            uint32_t answer_length;
            if (length - at < 8 ||
                (answer_length = gim_read_u32(answers + at + 4)) > length - at - 8) {
                call_status = GIM_ERR_INVALID; /* the server left this answer out */
                at = length;
            } else {
                if ((int32_t)gim_read_u32(answers + at) != GIM_OK) {
                    call_status = GIM_ERR_REMOTE;
                } else {
                    reply = protobuf_c_message_unpack(call->reply_type, NULL, answer_length,
                                                      answers + at + 8);
                    call_status = reply != NULL ? GIM_OK : GIM_ERR_INVALID;
                }
                at += 8 + answer_length;
            }
        }
        call->done(call->user, call_status, reply);
        free(call);
        call = next;
    }
    free(out);
}

/* The protobuf request of a call built by rpc_request_build, and its length. */
static const uint8_t *rpc_request_payload(nng_msg *request, size_t *length)
{
    size_t header = gim_rpc_auth_enabled() ? GIM_RPC_AUTH_HEADER : 0;
    size_t trailer = gim_rpc_auth_enabled() ? GIM_RPC_AUTH_MAC : 0;

    *length = nng_msg_len(request) - 4 - header - trailer;
    return (const uint8_t *)nng_msg_body(request) + 4 + header;
}

/* Sends calls (off the waiting list) as one batch. Returns GIM_OK, or the refusal with the calls
 * still the caller's (their requests freed when the batch was built). */
static int rpc_batch_send(struct gim_rpc_client *client, struct rpc_call *calls)
{
    struct rpc_call *batch = calloc(1, sizeof(*batch));
    struct rpc_batch_out *out = malloc(sizeof(*out));
    struct rpc_call *call;
    size_t length = 0, payload_length;
    const uint8_t *payload;
    uint8_t *at;
    int status;

    for (call = calls; call != NULL; call = call->next) {
        rpc_request_payload(call->request, &payload_length);
        length += 8 + payload_length;
    }
    if (batch == NULL || out == NULL ||
        (batch->request = rpc_request_alloc(GIM_RPC_BATCH, length, &at)) == NULL) {
        free(batch);
        free(out);
        return GIM_ERR_NO_MEMORY;
    }
    /* Each call's request is copied into the batch's and freed now: once the batch is started,
     * its completion may free the calls at any moment. */
    for (call = calls; call != NULL; call = call->next) {
        payload = rpc_request_payload(call->request, &payload_length);
        gim_write_u32(at, call->method);
        gim_write_u32(at + 4, (uint32_t)payload_length);
        memcpy(at + 8, payload, payload_length);
        at += 8 + payload_length;
        nng_msg_free(call->request);
        call->request = NULL;
    }
    out->client = client;
    out->calls = calls;
    batch->deadline = gim_monotonic_ms() + calls->timeout_ms;
    batch->batch_done = rpc_batch_done;
    batch->user = out;
    batch->coalesced = true;
    status = rpc_call_start(client, batch); /* frees batch on a refusal */
    if (status != GIM_OK)
        free(out);
    return status;
}

/*
 * A coalesced request's place is free: every waiting call leaves in batches of at most
 * GIM_RPC_BATCH_MAX_CALLS calls and GIM_RPC_BATCH_MAX_BYTES bytes of requests (at least one
 * call), one at a time while a batch is refused at once (its calls then complete with the
 * refusal here), or the place is given back.
 */
static void rpc_coalesce_next(struct gim_rpc_client *client)
{
    for (;;) {
        struct rpc_call *first, *last;
        size_t count = 1, bytes;
        int status;

        pthread_mutex_lock(&client->lock);
        if (client->waiting == NULL) {
            client->coalesced_out--;
            pthread_mutex_unlock(&client->lock);
            return;
        }
        first = last = client->waiting;
        rpc_request_payload(first->request, &bytes);
        while (last->next != NULL && count < GIM_RPC_BATCH_MAX_CALLS) {
            size_t next_bytes;
            rpc_request_payload(last->next->request, &next_bytes);
            if (bytes > GIM_RPC_BATCH_MAX_BYTES || next_bytes > GIM_RPC_BATCH_MAX_BYTES - bytes)
                break;
            bytes += next_bytes;
            last = last->next;
            count++;
        }
        client->waiting = last->next;
        if (client->waiting == NULL)
            client->waiting_tail = NULL;
        client->waiting_count -= (int)count;
        last->next = NULL;
        pthread_mutex_unlock(&client->lock);
        status = rpc_batch_send(client, first);
        if (status == GIM_OK)
            return;
        rpc_waiting_complete(first, status);
    }
}

int gim_rpc_call_coalesced(struct gim_rpc_client *client, uint32_t method,
                           const ProtobufCMessage *request,
                           const ProtobufCMessageDescriptor *reply_type, int timeout_ms,
                           gim_rpc_done_fn done, void *user)
{
    struct rpc_call *call = rpc_call_new(method, request, reply_type, done, user); /* unlocked */
    int status;

    if (call == NULL)
        return GIM_ERR_NO_MEMORY;
    call->coalesced = true;
    call->method = method;
    call->timeout_ms = timeout_ms;
    pthread_mutex_lock(&client->lock);
    if (client->closing ||
        (client->coalesced_out >= GIM_RPC_COALESCE_IN_FLIGHT &&
         client->waiting_count >= RPC_CLIENT_MAX_PENDING)) { /* the bound, as for pending */
        status = client->closing ? GIM_ERR_CLOSED : GIM_ERR_AGAIN;
        pthread_mutex_unlock(&client->lock);
        nng_msg_free(call->request);
        free(call);
        return status;
    }
    if (client->coalesced_out >= GIM_RPC_COALESCE_IN_FLIGHT) {
        client->waiting_count++;
        if (client->waiting_tail != NULL)
            client->waiting_tail->next = call;
        else
            client->waiting = call;
        client->waiting_tail = call;
        pthread_mutex_unlock(&client->lock);
        return GIM_OK;
    }
    client->coalesced_out++;
    pthread_mutex_unlock(&client->lock);
    /* At once, alone, as the call it is. */
    call->deadline = gim_monotonic_ms() + timeout_ms;
    status = rpc_call_start(client, call); /* frees call on a refusal */
    if (status != GIM_OK)
        rpc_coalesce_next(client); /* the place taken goes to the waiting calls, if any */
    return status;
}

struct rpc_sync_call {
    pthread_mutex_t lock;
    pthread_cond_t done;
    int finished;
    int status;
    ProtobufCMessage *reply;
};

static void rpc_sync_done(void *user, int status, ProtobufCMessage *reply)
{
    struct rpc_sync_call *sync = user;

    pthread_mutex_lock(&sync->lock);
    sync->status = status;
    sync->reply = reply;
    sync->finished = 1;
    pthread_cond_signal(&sync->done);
    pthread_mutex_unlock(&sync->lock);
}

int gim_rpc_call(struct gim_rpc_client *client, uint32_t method, const ProtobufCMessage *request,
                 const ProtobufCMessageDescriptor *reply_type, int timeout_ms,
                 ProtobufCMessage **reply)
{
    struct rpc_sync_call sync = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL};
    int status;

    *reply = NULL;
    status =
        gim_rpc_call_async(client, method, request, reply_type, timeout_ms, rpc_sync_done, &sync);
    if (status != GIM_OK)
        return status;
    pthread_mutex_lock(&sync.lock);
    while (!sync.finished)
        pthread_cond_wait(&sync.done, &sync.lock);
    pthread_mutex_unlock(&sync.lock);
    pthread_mutex_destroy(&sync.lock);
    pthread_cond_destroy(&sync.done);
    *reply = sync.reply;
    return sync.status;
}

void gim_rpc_client_close(struct gim_rpc_client *client)
{
    struct rpc_call *pending;
    int index;

    if (client == NULL)
        return;
    pthread_mutex_lock(&client->lock);
    client->closing = 1;
    pending = client->pending_head;
    client->pending_head = client->pending_tail = NULL;
    client->pending_count = 0;
    pthread_mutex_unlock(&client->lock);
    while (pending != NULL) {
        struct rpc_call *next = pending->next;
        rpc_call_complete(client, pending, GIM_ERR_CLOSED, NULL);
        pending = next;
    }
    /* Let the calls on the slots finish by themselves (each has a deadline), up to a bound:
     * nng 1.5.2 may hang in nng_close when a reply arrives on a pipe being closed, so closing
     * after the last reply is the safe order. What is still running after the bound is
     * cancelled and completes with GIM_ERR_CLOSED. */
    {
        struct timespec deadline;
        gim_deadline_after_ms(&deadline, RPC_CLOSE_WAIT_MS);
        pthread_mutex_lock(&client->lock);
        while (client->in_flight > 0) {
            if (pthread_cond_timedwait(&client->idle, &client->lock, &deadline) != 0)
                break;
        }
        pthread_mutex_unlock(&client->lock);
    }
    for (index = 0; index < client->slots_opened; index++)
        nng_aio_stop(client->slots[index].aio);
    /* A stopped aio never calls back again, and an operation begun on it after the stop (a
     * callback that raced with the stop and went on to receive, or to send the next call) fails
     * without calling back: such calls are completed here. */
    for (index = 0; index < client->slots_opened; index++) {
        struct rpc_slot *slot = &client->slots[index];
        if (slot->call != NULL) {
            struct rpc_call *call = slot->call;
            if (slot->state == RPC_SLOT_SENDING) {
                nng_msg *unsent = nng_aio_get_msg(slot->aio);
                if (unsent != NULL)
                    nng_msg_free(unsent);
                nng_aio_set_msg(slot->aio, NULL);
            }
            slot->call = NULL;
            rpc_call_complete(client, call, GIM_ERR_CLOSED, NULL);
        }
    }
    /* Contexts are closed one by one, outside any callback, before the socket. */
    for (index = 0; index < client->slots_opened; index++)
        nng_ctx_close(client->slots[index].context);
    {
        char what[300];
        snprintf(what, sizeof(what), "the socket to %s", client->url);
        rpc_socket_close_bounded(client->socket, what);
    }
    pthread_mutex_lock(&client->lock);
    while (client->in_flight > 0)
        pthread_cond_wait(&client->idle, &client->lock);
    pthread_mutex_unlock(&client->lock);
    for (index = 0; index < client->slots_opened; index++)
        nng_aio_free(client->slots[index].aio); /* waits for a callback still returning */
    pthread_mutex_destroy(&client->lock);
    pthread_cond_destroy(&client->idle);
    free(client->url);
    free(client);
}
