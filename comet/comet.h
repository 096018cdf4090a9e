/*
 * comet.h: the comet process as one object shared by its threads.
 *
 * Built by main.c and read by every thread: the configuration (immutable
 * after start), the event loops, the RPC client to logic, the comet-wide
 * counters. Each loop's own state is private to its thread (event_loop.h);
 * what crosses threads here is either immutable, atomic or locked.
 */
#ifndef COMET_COMET_H
#define COMET_COMET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "comet/config.h"
#include "comet/gusher_presence.h"
#include "comet/ip_counter.h"
#include "comet/metrics.h"
#include "comet/online.h"

struct comet_worker;
struct gim_rpc_client;
struct gopusher_presence;
struct redis_writer;
struct ssl_ctx_st;

struct comet {
    const struct comet_config *config;
    struct comet_worker **workers; /* one per worker.threads: a loop and its connections */
    int worker_count;
    struct gim_rpc_client *logic;       /* calls to logic (async from loops) */
    struct ip_counter client_addresses; /* distinct client IPs of authenticated connections */
    atomic_uint_fast64_t auth_sequence; /* orders authentications (same-key replacement) */
    struct ssl_ctx_st *tls_context;     /* WSS (websocket.tlsOpen), else NULL; owned by main */
    struct comet_online online;         /* comet-wide room counts (loops + operations thread) */
    struct comet_counters counters;     /* RPC calls served (metrics.h) */
    struct redis_writer *redis_writer;  /* Redis writes off the loops (presence); or NULL */
    struct gopusher_presence *gopusher_presence; /* gopusher's user_tags per app; or NULL */
    /* gusher sockets per app, user and channel, written to Redis by redis_writer */
    struct gusher_presence gusher_presence;
    /* the gusher remote command's RPUSH: redis_writer, or its own on gusher.remoteRedis */
    struct redis_writer *gusher_remote;
};

#endif
