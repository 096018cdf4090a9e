/*
 * loadgen_worker.h: one load-generator process: its goim clients (TCP or WebSocket) and what they
 * counted.
 *
 * A worker opens its share of the connections with non-blocking connects (at most
 * connect_concurrency not yet authenticated at a time), authenticates each with goim's op-7 JSON
 * body, sends op-2 heartbeats every heartbeat_seconds, and counts every frame it receives by
 * operation. Frames arriving back to back in one read are split with common/frame.h; an op-9
 * (OpRaw) frame is unwrapped into its inner frames.
 *
 * With options->websocket, each connection first sends an HTTP upgrade for /sub with a random
 * Sec-WebSocket-Key and checks the 101 and its Sec-WebSocket-Accept (loadgen_websocket.h); then
 * every goim frame it sends is one masked binary message, and every binary message it receives
 * must hold exactly one goim frame (a push is one op-9 frame whose body holds the inner frames,
 * counted as on TCP). A ping is answered with a pong, a close with a close, after which the
 * connection is closed; a text or fragmented message, or any malformed frame, is a protocol error
 * (comet sends neither).
 *
 * With options->protocol LOADGEN_PROTOCOL_GUSHER (always over WebSocket), each connection
 * upgrades on `{gusher_prefix}ws/{gusher_app}?token=` with the current token (the parent keeps it
 * in control->gusher_tokens, loadgen.c), sends one gusher.subscribe for gusher_channel as a text
 * message and counts as ready ("authed") once gusher.subscribe_succeeded arrives; a
 * subscribe_error is a protocol error. Then every text message that is a channel envelope is a
 * push (timed by its data, as below); other text messages are counted only; a binary message is a
 * protocol error (gusher sends text). No application heartbeat is sent: gusher's liveness is the
 * server's WebSocket ping, which is answered.
 *
 * Push latency: a business push (operation >= 1000) whose body starts with ASCII decimal digits is
 * taken to carry its send time as CLOCK_REALTIME microseconds since the epoch, written by the
 * pusher (tests/bench/pusher.c) at the start of the body, e.g. "1712345678901234 x...". The
 * worker records receive time minus that value into its histogram. Bodies without a leading digit
 * are counted as untimed. A gusher push is timed by its envelope's data member the same way: the
 * pusher's form value "1712345678901234 xxx" is not JSON, so it arrives as a JSON string, whose
 * leading digits are read (loadgen_gusher.h).
 *
 * Workers publish a copy of their counters into a slot of shared memory every 100 ms; the parent
 * process (loadgen.c) sums the slots. A slot may be read while it is being copied, so a snapshot
 * can be off by one tick: fine for a benchmark report.
 */
#ifndef BENCH_LOADGEN_WORKER_H
#define BENCH_LOADGEN_WORKER_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tests/bench/latency_histogram.h"
#include "tests/bench/loadgen_gusher.h"

#define LOADGEN_MAX_TARGETS 16
#define LOADGEN_CONTROL_OPS 18 /* goim's operations 0..17 */
#define LOADGEN_PUSH_OPS    4  /* business operations 1000..1003 counted one by one */

enum loadgen_protocol {
    LOADGEN_PROTOCOL_GOIM,  /* goim frames over TCP, or in binary messages over WebSocket */
    LOADGEN_PROTOCOL_GUSHER /* gusher.cluster's JSON text messages over WebSocket */
};

struct loadgen_options {
    struct sockaddr_in targets[LOADGEN_MAX_TARGETS]; /* comet TCP addresses, used round robin */
    int target_count;
    long connections;        /* over all workers */
    int processes;           /* workers */
    int64_t mid_base;        /* connection i authenticates as mid_base + i */
    char room[128];          /* room_id of the auth body, "" for none */
    char accepts[128];       /* JSON array body of accepts, e.g. "1000,1001,1002" */
    int heartbeat_seconds;   /* op-2 interval */
    int connect_concurrency; /* per worker: connections between connect() and op 8 */
    int source_addresses;    /* 0: kernel picks; n: connection i binds 127.0.0.(2 + i % n) */
    double duration_seconds; /* 0: until SIGTERM/SIGINT */
    const char *status_path; /* JSON snapshot rewritten every 250 ms, or NULL */
    int comet_pid;           /* 0: none; else its CPU and RSS are reported */
    bool websocket;          /* targets are comet WebSocket ports (path /sub), not goim TCP */
    enum loadgen_protocol protocol;               /* gusher implies websocket */
    char gusher_prefix[64];                       /* gusher.clientPrefix, e.g. "/gusher/" */
    char gusher_app[128];                         /* app_key of the ws path (URL-safe) */
    char gusher_channel[128];                     /* every connection subscribes to it */
    char gusher_token[LOADGEN_GUSHER_TOKEN_SIZE]; /* -token: a fixed token, or "" */
    const char *gusher_jwt_path; /* -jwt-file: exchanged for tokens by the parent, or NULL */
};

/* Written by the parent, read by workers. */
struct loadgen_control {
    atomic_int stop;
    atomic_uint reset_epoch; /* a change asks workers to clear frame counters and latency */
    /* gusher: the current token is gusher_tokens[gusher_token_generation % 2]. The parent writes
     * a new token into the other slot, then advances the generation, so a worker copying the
     * current one is not disturbed unless two refreshes (tens of seconds apart) pass meanwhile. */
    atomic_uint gusher_token_generation;
    char gusher_tokens[2][LOADGEN_GUSHER_TOKEN_SIZE];
};

/* One worker's counters, copied into shared memory. */
struct loadgen_worker_stats {
    uint64_t connect_started, connected, authed, closed, connect_failed, protocol_errors;
    uint64_t upgraded;                      /* WebSocket: 101 answers accepted */
    int64_t first_connect_us, last_auth_us; /* CLOCK_REALTIME; 0 until it happened */
    uint64_t frames_by_control_op[LOADGEN_CONTROL_OPS];
    uint64_t frames_by_push_op[LOADGEN_PUSH_OPS];
    uint64_t other_push_frames; /* operations >= 1000 + LOADGEN_PUSH_OPS, or in 18..999 */
    uint64_t push_frames, push_bytes, untimed_pushes;
    uint64_t reads; /* recv calls that returned bytes (each takes all the socket has, up to the
                       buffer), since the last reset: push_frames / reads shows the coalescing */
    uint64_t heartbeats_sent;
    uint64_t text_messages; /* gusher: every text message received, pushes and replies */
    double cpu_seconds;     /* getrusage of this worker */
    unsigned epoch_seen;    /* last reset_epoch this worker applied */
    struct latency_histogram latency;
};

/*
 * Runs worker worker_index of options->processes until control->stop is set: opens connections
 * [first, first + count) of options->connections, where the range is this worker's share.
 * Publishes into *slot. Returns 0, or GIM_ERR_IO / GIM_ERR_NO_MEMORY if it could not start.
 */
int loadgen_worker_run(const struct loadgen_options *options, int worker_index,
                       struct loadgen_control *control, struct loadgen_worker_stats *slot);

#endif
