/*
 * redis_writer.h: comet's writes to Redis, off the loop threads (layer 0 of comet).
 *
 * One thread with its own common/redis connection runs batches of commands (one pipeline per
 * batch; a batch may hold MULTI ... EXEC) handed over by any thread through a bounded queue, so
 * no loop ever waits for Redis. Two kinds of work:
 *   - keyed jobs (redis_writer_mark): "key's state changed, write it". At most one job per key
 *     waits: marking a key already waiting changes nothing, and the batch is built on the
 *     writer's thread when its turn comes (build callback), from the state at that moment, so a
 *     burst of changes becomes one write of the latest state and nothing is lost. Presence
 *     (gopusher's, gusher's) is written this way. At most max_keys keys wait; a mark past that
 *     is dropped and counted (redis_writer_dropped): the periodic refresh writes that key again.
 *   - one-off batches (redis_writer_send), e.g. gusher's `remote` RPUSH: run in order; at most
 *     max_batches wait, a batch past that is dropped and counted.
 * A batch whose Redis is unreachable is lost (counted in redis_writer_failed, logged once per
 * outage by common/redis); keyed state is written again by the next mark or refresh.
 * An optional tick callback runs on the writer's thread every tick_ms (e.g. to mark every key
 * for a periodic refresh). Stop runs what waits, then a last batch (e.g. withdraw presence).
 */
#ifndef COMET_REDIS_WRITER_H
#define COMET_REDIS_WRITER_H

#include <stddef.h>
#include <stdint.h>

/* Commands to run as one pipeline, in order. */
struct redis_batch;

/* A new empty batch (the caller's), or NULL when memory is short. */
struct redis_batch *redis_batch_new(void);

/*
 * Appends one command: argv[0..argc) with lengths (NULL: C strings), copied. Returns GIM_OK,
 * GIM_ERR_INVALID (argc < 1) or GIM_ERR_NO_MEMORY (the batch is unchanged).
 */
int redis_batch_add(struct redis_batch *batch, int argc, const char *const *argv,
                    const size_t *lengths);

/* The number of commands in batch. */
size_t redis_batch_count(const struct redis_batch *batch);

/* Frees batch (NULL allowed). */
void redis_batch_free(struct redis_batch *batch);

/*
 * Builds the batch of a keyed job on the writer's thread: appends the commands that write
 * key's current state (none: nothing is run). Returns GIM_OK, or an error (the batch is
 * dropped and counted as failed).
 */
typedef int (*redis_writer_build_fn)(void *context, const char *key, struct redis_batch *batch);

struct redis_writer_options {
    const char *address;  /* Redis "host:port" */
    const char *password; /* NULL or "" for none */
    int timeout_ms;       /* connect, read and write */
    size_t max_keys;      /* keyed jobs waiting at most (0: 65536) */
    size_t max_batches;   /* one-off batches waiting at most (0: 4096) */
    int tick_ms;          /* 0: no tick */
    void (*tick)(void *context);
    void *tick_context;
};

struct redis_writer;

/*
 * Starts the writer's thread (Redis is connected lazily, by the first batch). options is
 * copied (its strings too). On GIM_OK *writer is the caller's, released by redis_writer_stop.
 * Returns GIM_ERR_INVALID (bad address), GIM_ERR_NO_MEMORY or GIM_ERR_IO (no thread).
 */
int redis_writer_start(struct redis_writer **writer, const struct redis_writer_options *options);

/*
 * Asks for key's state to be written: build(context, key, batch) runs on the writer's thread
 * when the key's turn comes (key is copied; context must stay valid until redis_writer_stop).
 * A key already waiting keeps its place and its first build/context. Any thread; never blocks
 * on Redis. Returns GIM_OK, GIM_ERR_AGAIN (max_keys keys wait: dropped and counted),
 * GIM_ERR_CLOSED (stopping) or GIM_ERR_NO_MEMORY.
 */
int redis_writer_mark(struct redis_writer *writer, const char *key, redis_writer_build_fn build,
                      void *context);

/*
 * Queues batch to run after the batches queued before it; takes ownership of batch in every
 * case. Any thread. Returns GIM_OK, GIM_ERR_AGAIN (max_batches wait: dropped and counted) or
 * GIM_ERR_CLOSED (stopping: dropped).
 */
int redis_writer_send(struct redis_writer *writer, struct redis_batch *batch);

/* Marks and batches dropped at the bounds so far. Any thread. */
uint64_t redis_writer_dropped(const struct redis_writer *writer);

/* Batches that failed (Redis unreachable, an error reply, a build error) so far. Any thread. */
uint64_t redis_writer_failed(const struct redis_writer *writer);

/* Batches run to the end so far. Any thread. */
uint64_t redis_writer_completed(const struct redis_writer *writer);

/*
 * Stops: refuses new work, runs what waits (keyed jobs, then one-off batches), then, when
 * last is not NULL, builds and runs last(context, "", batch) (e.g. withdraw presence), then
 * joins the thread and frees writer. Blocks up to about the Redis timeout per batch; call it
 * from a thread that may block (not a loop), after the loops no longer mark. NULL is allowed.
 */
void redis_writer_stop(struct redis_writer *writer, redis_writer_build_fn last, void *context);

#endif
