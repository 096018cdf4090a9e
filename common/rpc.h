/*
 * rpc.h: goim-c's internal RPC, nng request/reply carrying protobuf.
 *
 * Wire format (not gRPC, on purpose): a request is a 4-byte big-endian
 * method id followed by the protobuf-encoded request message; a reply is a
 * 4-byte big-endian signed status followed by the protobuf-encoded reply
 * message when the status is GIM_OK, or by a UTF-8 error text otherwise.
 * Method ids are the gim_rpc_method values below; messages are those of
 * proto/comet.proto and proto/logic.proto.
 *
 * Servers run a fixed pool of their own worker threads, so a handler may
 * block (on Redis, say) without stalling nng's own threads. A handler may
 * also defer its answer to another thread (gim_rpc_reply_defer) so that the
 * worker serves the next request meanwhile; at most 32 requests per worker
 * are in service at once (past that a worker waits for a deferred answer to
 * leave before it receives). Clients dial with nng's
 * automatic reconnect; calls carry a timeout and are safe from any thread. A client runs 64 calls
 * at once (one nng context each); up to 65536 more wait in order for a free one, and a call beyond
 * that bound is refused at once with GIM_ERR_AGAIN (the caller retries later or sheds the call;
 * nothing waits unbounded).
 *
 * Logging: a listen failure at ERROR, an abandoned socket close at WARN, a
 * peer's error reply (its text) at DEBUG; nothing else.
 */
#ifndef GIM_RPC_H
#define GIM_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gim_rpc_method {
    /* goim.comet.Comet */
    GIM_RPC_COMET_PUSH_MSG = 1,       /* PushMsgReq -> PushMsgReply */
    GIM_RPC_COMET_BROADCAST = 2,      /* BroadcastReq -> BroadcastReply */
    GIM_RPC_COMET_BROADCAST_ROOM = 3, /* BroadcastRoomReq -> BroadcastRoomReply */
    GIM_RPC_COMET_ROOMS = 4,          /* RoomsReq -> RoomsReply */
    /* goim.logic.Logic */
    GIM_RPC_LOGIC_CONNECT = 101,      /* ConnectReq -> ConnectReply */
    GIM_RPC_LOGIC_DISCONNECT = 102,   /* DisconnectReq -> DisconnectReply */
    GIM_RPC_LOGIC_HEARTBEAT = 103,    /* HeartbeatReq -> HeartbeatReply */
    GIM_RPC_LOGIC_RENEW_ONLINE = 104, /* OnlineReq -> OnlineReply */
    GIM_RPC_LOGIC_RECEIVE = 105,      /* ReceiveReq -> ReceiveReply */
    /* goim-c's own (proto/dialects.proto): admission of the other dialects' clients */
    GIM_RPC_LOGIC_GUSHER_AUTH = 106,       /* GusherAuthReq -> GusherAuthReply */
    GIM_RPC_LOGIC_GUSHER_CONNECT = 107,    /* GusherConnectReq -> GusherConnectReply */
    GIM_RPC_LOGIC_GUSHER_DISCONNECT = 108, /* GusherSessionReq -> GusherSessionReply */
    GIM_RPC_LOGIC_GUSHER_HEARTBEAT = 109,  /* GusherSessionReq -> GusherSessionReply */
    GIM_RPC_LOGIC_GOPUSHER_CONNECT = 110   /* GopusherConnectReq -> GopusherConnectReply */
};

/* Largest request or reply accepted (bytes); larger messages are refused. */
#define GIM_RPC_MAX_MESSAGE (16u * 1024u * 1024u)

/* ---- server ---- */

/* Exchanges per worker thread: the requests being served or deferred at once, workers x this in
 * all. At the bound a worker waits for a deferred answer to leave before it receives again (the
 * requests wait in the connection meanwhile). */
#define GIM_RPC_SERVER_EXCHANGES_PER_WORKER 32

/* What a handler answers: filled through the gim_rpc_reply_* functions. */
struct gim_rpc_reply;

/*
 * A server's handler. Runs on one of the server's worker threads, possibly
 * on several at once. request[0..request_length) is the protobuf payload,
 * valid only during the call. The handler answers with exactly one of
 * gim_rpc_reply_message or gim_rpc_reply_error; if it does neither, the
 * caller gets GIM_ERR_REMOTE with the text "no reply".
 */
typedef void (*gim_rpc_handler_fn)(void *user, uint32_t method, const uint8_t *request,
                                   size_t request_length, struct gim_rpc_reply *reply);

/* Answers with a protobuf message (packed at once; message stays the caller's). */
void gim_rpc_reply_message(struct gim_rpc_reply *reply, const ProtobufCMessage *message);

/* Answers with a failure status (negative gim_status) and a text (copied). */
void gim_rpc_reply_error(struct gim_rpc_reply *reply, int status, const char *text);

/* A request whose answer was deferred (gim_rpc_reply_defer). */
struct gim_rpc_deferred;

/*
 * Defers the answer instead of giving it now: the handler returns, and
 * whoever holds the returned handle answers exactly once later, from any
 * thread, with gim_rpc_deferred_message or gim_rpc_deferred_error (which
 * consume it). Every deferred request must be answered: gim_rpc_server_stop
 * waits for it (after the stop the answer is dropped). Returns the handle
 * (never NULL).
 */
struct gim_rpc_deferred *gim_rpc_reply_defer(struct gim_rpc_reply *reply);

/* Answers a deferred request with a protobuf message (packed at once; message stays the
 * caller's). deferred is consumed. */
void gim_rpc_deferred_message(struct gim_rpc_deferred *deferred, const ProtobufCMessage *message);

/* Answers a deferred request with a failure status and a text (copied). deferred is consumed. */
void gim_rpc_deferred_error(struct gim_rpc_deferred *deferred, int status, const char *text);

struct gim_rpc_server;

/*
 * Listens on listen_url (an nng URL such as "tcp://0.0.0.0:3109") with
 * `workers` worker threads calling handler(user, ...). On success *server is
 * the caller's, to be released with gim_rpc_server_stop.
 * Returns GIM_OK, GIM_ERR_INVALID for a bad URL, GIM_ERR_IO if the address
 * cannot be bound, GIM_ERR_NO_MEMORY.
 */
int gim_rpc_server_start(struct gim_rpc_server **server, const char *listen_url, int workers,
                         gim_rpc_handler_fn handler, void *user);

/* Stops serving (requests in flight get no answer), waits for running handlers to return and
 * for every deferred request to be answered, joins the workers, then closes the socket (its
 * listener and connections), waiting for that a bounded time (nng 1.5 can wedge there; past the
 * bound the socket is left to the process's exit, logged), and frees server. */
void gim_rpc_server_stop(struct gim_rpc_server *server);

/* ---- client ---- */

struct gim_rpc_client;

/*
 * Dials dial_url in the background; nng reconnects by itself (backoff 100 ms
 * to 2 s), so a peer that is down now is found when it comes up.
 * Returns GIM_OK with *client the caller's (release with
 * gim_rpc_client_close), or GIM_ERR_INVALID (bad URL), GIM_ERR_NO_MEMORY
 * or GIM_ERR_IO (nng could not open the socket).
 */
int gim_rpc_client_open(struct gim_rpc_client **client, const char *dial_url);

/* The URL the client dials (owned by the client). */
const char *gim_rpc_client_url(const struct gim_rpc_client *client);

/*
 * Blocking call: sends request (packed here; it stays the caller's) as
 * `method` and waits at most timeout_ms for the reply. On GIM_OK, *reply is
 * the unpacked reply message of type reply_type, owned by the caller, freed
 * with protobuf_c_message_free_unpacked(*reply, NULL). On failure *reply is
 * NULL and the result is GIM_ERR_TIMEOUT (no answer in time, including a
 * peer that is not connected), GIM_ERR_REMOTE (the peer answered with an
 * error; its text is logged at debug), GIM_ERR_INVALID (a reply that does
 * not decode), GIM_ERR_AGAIN (the client's waiting calls are at their
 * bound; nothing was sent), GIM_ERR_CLOSED, GIM_ERR_IO (another transport
 * failure) or GIM_ERR_NO_MEMORY. Must not be called on an event-loop thread.
 */
int gim_rpc_call(struct gim_rpc_client *client, uint32_t method, const ProtobufCMessage *request,
                 const ProtobufCMessageDescriptor *reply_type, int timeout_ms,
                 ProtobufCMessage **reply);

/*
 * Completion of an asynchronous call: status is GIM_OK and reply the
 * unpacked reply (owned by the callback, which must free it with
 * protobuf_c_message_free_unpacked), or a negative status as for
 * gim_rpc_call and reply NULL. Runs on an nng thread: it must not block and
 * should only hand the result to its owner (a queue plus a wake-up).
 */
typedef void (*gim_rpc_done_fn)(void *user, int status, ProtobufCMessage *reply);

/*
 * Starts a call without blocking. On GIM_OK, done(user, ...) runs exactly
 * once later. On failure done is never called: GIM_ERR_AGAIN (the client
 * already has 65536 calls waiting for a free context: back off and retry),
 * GIM_ERR_CLOSED (the client is closing) or GIM_ERR_NO_MEMORY. request is
 * packed before this returns and stays the caller's.
 */
int gim_rpc_call_async(struct gim_rpc_client *client, uint32_t method,
                       const ProtobufCMessage *request,
                       const ProtobufCMessageDescriptor *reply_type, int timeout_ms,
                       gim_rpc_done_fn done, void *user);

/*
 * Batches of calls. A batch is one request of method GIM_RPC_BATCH whose payload is its calls,
 * each a 4-byte big-endian method id, a 4-byte big-endian length and that many bytes of
 * protobuf request; its reply is each call's answer in order, each a 4-byte big-endian status,
 * a 4-byte big-endian length and that many bytes (the reply protobuf, or the error text). The
 * server runs every call of a batch through its handler as if it had come alone (its answer may
 * be deferred) and answers the batch once every call has its answer; a batch of more than
 * GIM_RPC_BATCH_MAX_CALLS calls, a length past the payload, or a call of method
 * GIM_RPC_BATCH is refused whole (GIM_ERR_INVALID). Authentication (rpc_auth.h) signs and
 * checks the batch as one request.
 */
#define GIM_RPC_BATCH           0x7FFFFF00u
#define GIM_RPC_BATCH_MAX_CALLS 256
/* Bytes of requests gim_rpc_call_coalesced puts in one batch at most (a call larger than this
 * leaves in a batch of its own), well under GIM_RPC_MAX_MESSAGE, which a batch of 256 large
 * calls (job's pushes of up to ~1 MB each) would pass: the server would refuse it whole, and
 * every retry would be refused the same way. */
#define GIM_RPC_BATCH_MAX_BYTES (4u * 1024u * 1024u)
/* Batches (or calls alone) gim_rpc_call_coalesced keeps out per client at once. */
#define GIM_RPC_COALESCE_IN_FLIGHT 2

/*
 * As gim_rpc_call_async, but the call may share one request with others made this way on the
 * same client: while fewer than GIM_RPC_COALESCE_IN_FLIGHT of them are out, it leaves at once,
 * alone (no added latency at rest); else it waits, and when one comes back every waiting call
 * leaves in one GIM_RPC_BATCH request (at most GIM_RPC_BATCH_MAX_CALLS calls and
 * GIM_RPC_BATCH_MAX_BYTES bytes of requests, but at least one call; the rest in the next).
 * done runs exactly once, as for gim_rpc_call_async (a call the server answered with an
 * error is GIM_ERR_REMOTE). At most 65536 calls wait (GIM_ERR_AGAIN past that, as for
 * gim_rpc_call_async); timeout_ms counts from when the call leaves. Returns as
 * gim_rpc_call_async; a waiting call that cannot leave later (the client closing, its queue
 * full) completes with that status.
 */
int gim_rpc_call_coalesced(struct gim_rpc_client *client, uint32_t method,
                           const ProtobufCMessage *request,
                           const ProtobufCMessageDescriptor *reply_type, int timeout_ms,
                           gim_rpc_done_fn done, void *user);

/* Closes the socket; calls in flight finish with GIM_ERR_CLOSED. Frees client. */
void gim_rpc_client_close(struct gim_rpc_client *client);

/*
 * Turns a goim-style listen address (":3109", "0.0.0.0:3109",
 * "127.0.0.1:3109") or an nng URL ("tcp://...", "ipc://...") into an nng URL
 * in out[0..size). An empty host means every interface when listen is true
 * and 127.0.0.1 otherwise. Returns GIM_OK or GIM_ERR_INVALID.
 */
int gim_rpc_url(const char *address, bool listen, char *out, size_t size);

#endif
