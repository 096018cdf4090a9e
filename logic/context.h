/*
 * context.h: what logic's request handlers share (RPC and HTTP alike).
 *
 * One instance lives in main.c for the life of the process; handlers only
 * read the pointers. Each member is thread-safe on its own (the Redis pool
 * lends connections, the producer takes concurrent sends).
 */
#ifndef LOGIC_CONTEXT_H
#define LOGIC_CONTEXT_H

struct logic_config;
struct redis_pool;
struct session_batch;
struct producer;
struct logic_online;
struct balancer;
struct logic_metrics;
struct client_auth;
struct gusher_jwt;

struct logic_context {
    const struct logic_config *config; /* read-only after start-up */
    struct redis_pool *redis;
    /* pipelines the session lookups of concurrent pushes (session_batch.h); NULL: none */
    struct session_batch *sessions;
    struct producer *producer;
    struct logic_online *online; /* cluster-wide comets and room counts (online.h) */
    struct balancer *balancer;   /* nodes/weighted's choice of comets (balancer.h) */
    /* what the handlers count (metrics.h); NULL: nothing is counted */
    struct logic_metrics *metrics;
    /* client authentication in Connect (client_auth.h); NULL: off, as goim */
    struct client_auth *client_auth;
    /* gopusher's connect hooks (gopusher_hook.h), for GopusherConnect */
    struct gopusher_hook *gopusher_hook;
    /* gusher's JWT key (gusher_jwt.h, gusher.publicKey); NULL: gusher auth and decode refused */
    struct gusher_jwt *gusher_jwt;
};

#endif
