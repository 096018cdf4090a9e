/*
 * session_batch.h: one thread that pipelines the session lookups of
 * concurrent pushes, and the session writes of concurrent Connects, on one
 * Redis connection.
 *
 * A push by mid looks its users up (HGETALL mid_<mid>) before it produces.
 * Done on the HTTP thread, every request pays its own write, its own read
 * and a sleep until Redis answers. Here one round runs at a time: a lookup
 * that finds no round running and none waiting runs at once on its caller's
 * thread (at rest: no hand-off); one that arrives during a round queues,
 * and the batch thread takes everything queued as its next round, sends it
 * as one pipeline, reads the replies and hands each request its routes.
 * Under load one write and one read serve many requests. "At rest" also
 * asks that the previous job came at least SESSION_BATCH_REST_GAP_US
 * before: under load (jobs closer than that) a job always goes to the
 * batch thread, even into an idle one, so that HTTP and RPC threads never
 * wait on Redis there. Running jobs inline whenever the thread was idle
 * cost, at push/mids with 64 HTTP connections, 3.25 context switches per
 * request against 1.74, for about 70 us saved per push at rest. A Connect's session
 * write (session_add's commands) takes the same way: its RPC answer is
 * deferred, so the RPC worker serves the next request while it waits.
 *
 * Bounds: a lookup of more than SESSION_BATCH_MAX_MIDS mids, or one that
 * finds SESSION_BATCH_MAX_QUEUED lookups already queued, is refused
 * (GIM_ERR_AGAIN) and the caller looks it up itself; one round sends at
 * most SESSION_BATCH_ROUND_MIDS mids (the rest wait for the next round).
 */
#ifndef LOGIC_SESSION_BATCH_H
#define LOGIC_SESSION_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "logic/session.h"

/* The most mids one queued lookup may carry; longer lists are the caller's. */
#define SESSION_BATCH_MAX_MIDS 64
/* Lookups waiting at most; more are refused (the caller looks up itself). */
#define SESSION_BATCH_MAX_QUEUED 4096
/* Mids sent in one pipeline at most (a round stops taking lookups there). */
#define SESSION_BATCH_ROUND_MIDS 1024
/* A job runs inline (at rest) only this long after the previous one, at least. */
#define SESSION_BATCH_REST_GAP_US 1000

struct redis_pool;
struct session_batch;

/*
 * The end of one lookup: status GIM_OK with routes (the lookup's; valid
 * during the call only: moved out with a struct copy to keep them), or
 * GIM_ERR_UNAVAILABLE / GIM_ERR_REMOTE / GIM_ERR_NO_MEMORY as
 * session_routes_by_mids. Runs on the batch thread or on the caller's
 * (session_batch_lookup_mids).
 */
typedef void (*session_batch_fn)(void *user, int status, struct session_routes *routes);

/* The end of one session write: status as session_add's. Runs on the batch thread or on the
 * caller's (session_batch_add). */
typedef void (*session_batch_written_fn)(void *user, int status);

/*
 * Starts the batch thread, which borrows a connection from pool for each
 * round. pool stays the caller's and must outlive the batch. On GIM_OK
 * *batch is the caller's (session_batch_destroy); else GIM_ERR_NO_MEMORY.
 */
int session_batch_create(struct session_batch **batch, struct redis_pool *pool);

/*
 * Looks mids[0..count) (copied) up: at once on the calling thread when no
 * round runs, none waits and the previous job came SESSION_BATCH_REST_GAP_US
 * or more before (done runs before this returns), else queued
 * for the batch thread (done runs there). done runs exactly once. Returns GIM_OK, or GIM_ERR_AGAIN
 * (count 0 or over SESSION_BATCH_MAX_MIDS, the queue full, or the batch stopping) or
 * GIM_ERR_NO_MEMORY, in which case done is never called.
 */
int session_batch_lookup_mids(struct session_batch *batch, const int64_t *mids, size_t count,
                              session_batch_fn done, void *user);

/*
 * Writes a session as session_add does (mid, key, server copied): at once on
 * the calling thread at rest, as session_batch_lookup_mids (written runs before
 * this returns), else queued (written runs on the batch thread), counting as
 * one mid in a round. written runs exactly once. Returns GIM_OK, or
 * GIM_ERR_AGAIN (the queue full, or the batch stopping) or GIM_ERR_NO_MEMORY,
 * in which case written is never called (the caller writes itself).
 */
int session_batch_add(struct session_batch *batch, int64_t mid, const char *key, const char *server,
                      int64_t expire_seconds, session_batch_written_fn written, void *user);

/* Runs the lookups and writes still queued, stops the thread and frees batch. NULL is allowed. */
void session_batch_destroy(struct session_batch *batch);

#endif
