/*
 * redis_pool.h: a fixed set of gim_redis connections shared by logic's
 * worker threads.
 *
 * gim_redis is one-thread-only, and logic calls Redis from two thread
 * families it does not own (the nng RPC workers and libmicrohttpd's pool).
 * So connections are lent out: a thread takes one for the duration of one
 * request and gives it back. The capacity is fixed at creation (RPC workers
 * + HTTP threads, so no thread ever waits in practice); connections are
 * created lazily and heal themselves (common/redis.h). At the bound (all
 * lent out) a borrower waits on a condition variable until one comes back.
 */
#ifndef LOGIC_REDIS_POOL_H
#define LOGIC_REDIS_POOL_H

#include <stddef.h>

struct gim_redis;
struct redis_pool;

/*
 * Creates a pool of at most capacity connections to address (host:port) with
 * an optional password and a timeout (ms) for every Redis operation. Does
 * not connect yet. On GIM_OK *pool is the caller's (redis_pool_destroy).
 * Returns GIM_ERR_INVALID (bad address or capacity) or GIM_ERR_NO_MEMORY.
 */
int redis_pool_create(struct redis_pool **pool, const char *address, const char *password,
                      int timeout_ms, size_t capacity);

/*
 * Lends one connection to the calling thread, waiting while all are lent
 * out. The connection stays the pool's: give it back with
 * redis_pool_release before the request ends. Returns NULL only if the
 * connection object cannot be allocated.
 */
struct gim_redis *redis_pool_acquire(struct redis_pool *pool);

/* Gives back a connection obtained from redis_pool_acquire (NULL is ignored). */
void redis_pool_release(struct redis_pool *pool, struct gim_redis *redis);

struct gim_counter;

/*
 * Makes every connection of the pool, lent now or later, count its failed
 * commands into errors (gim_redis_count_errors). errors stays the caller's
 * and must outlive the pool. Call before the pool is shared with other threads.
 */
void redis_pool_count_errors(struct redis_pool *pool, struct gim_counter *errors);

/* Closes every connection and frees pool. All connections must be back. NULL is allowed. */
void redis_pool_destroy(struct redis_pool *pool);

#endif
