/*
 * redis.h: a synchronous Redis connection that heals itself.
 *
 * A thin owner of one hiredis context: it connects lazily with a timeout,
 * applies the same timeout to every read and write, and after any
 * connection error drops the context so that the next command reconnects.
 * One gim_redis belongs to one thread at a time (no locking inside). Never
 * use it on an event-loop thread: every call may block up to the timeout.
 */
#ifndef GIM_REDIS_H
#define GIM_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

struct gim_redis;

/*
 * Creates a connection object for address ("host:port"), with an optional
 * password (NULL or "" for none) and a timeout in milliseconds for connect,
 * read and write. Does not connect yet. On GIM_OK *redis is the caller's
 * (release with gim_redis_close). Returns GIM_ERR_INVALID for a bad address
 * or GIM_ERR_NO_MEMORY.
 */
int gim_redis_open(struct gim_redis **redis, const char *address, const char *password,
                   int timeout_ms);

/*
 * Runs one command (hiredis format string). Returns the reply, owned by the
 * caller (freeReplyObject), or NULL if Redis could not be reached or the
 * connection broke (logged once per outage at WARN; the first success after
 * it at NOTICE). A Redis error reply
 * (REDIS_REPLY_ERROR) is returned as a reply, not NULL.
 */
redisReply *gim_redis_command(struct gim_redis *redis, const char *format, ...);

/* Same with an argument vector (binary-safe; lengths may be NULL for C strings). */
redisReply *gim_redis_command_argv(struct gim_redis *redis, int argc, const char **argv,
                                   const size_t *lengths);

/*
 * Pipelining: queue commands with gim_redis_append, then read exactly as
 * many replies with gim_redis_reply. gim_redis_append returns GIM_OK or
 * GIM_ERR_UNAVAILABLE (not connected). gim_redis_reply returns the next
 * reply (caller frees) or NULL if the connection broke; after a NULL the
 * remaining replies of the pipeline are lost and the next command reconnects.
 */
int gim_redis_append(struct gim_redis *redis, const char *format, ...);
redisReply *gim_redis_reply(struct gim_redis *redis);

/* gim_redis_append with an argument vector (binary-safe; lengths may be NULL for C strings). */
int gim_redis_append_argv(struct gim_redis *redis, int argc, const char **argv,
                          const size_t *lengths);

/* Reads an integer reply and frees it (reply may be NULL, as the calls above return for a broken
 * connection): GIM_OK with *value set, GIM_ERR_UNAVAILABLE for NULL, GIM_ERR_REMOTE for a reply of
 * any other type (a Redis error); *value is left as it was on failure. */
int gim_redis_integer_reply(redisReply *reply, long long *value);

struct gim_counter;

/*
 * From now on, adds one to errors (common/metrics.h) for every command that
 * fails: Redis unreachable or the connection lost (a NULL reply, a failed
 * append) or an error reply. errors stays the caller's and must outlive
 * redis; NULL stops counting.
 */
void gim_redis_count_errors(struct gim_redis *redis, struct gim_counter *errors);

/* Closes the connection and frees redis. NULL is allowed. */
void gim_redis_close(struct gim_redis *redis);

#endif
