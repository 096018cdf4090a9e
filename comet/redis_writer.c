/* redis_writer.c: batches of Redis commands run on a thread of their own (see redis_writer.h). */
#include "comet/redis_writer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "comet/string_map.h"
#include "common/grow.h"
#include "common/log.h"
#include "common/redis.h"
#include "common/status.h"

#define DEFAULT_MAX_KEYS    65536
#define DEFAULT_MAX_BATCHES 4096

struct redis_command {
    int argc;
    char **argv;
    size_t *lengths;
};

struct redis_batch {
    struct redis_command *commands;
    size_t count, capacity;
    struct redis_batch *next; /* the writer's queue of one-off batches */
};

/* A keyed job waiting for its turn. */
struct keyed_job {
    struct keyed_job *next;
    redis_writer_build_fn build;
    void *context;
    char key[]; /* the map's key points here */
};

struct redis_writer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    /* under lock */
    struct string_map waiting_keys; /* key -> keyed_job */
    struct keyed_job *jobs_head, *jobs_tail;
    size_t job_count;
    struct redis_batch *batches_head, *batches_tail;
    size_t batch_count;
    redis_writer_build_fn last;
    void *last_context;
    /* set at start, read-only */
    struct redis_writer_options options;
    char *address, *password;
    struct gim_redis *redis; /* the writer's thread only */
    atomic_ullong dropped, failed, completed;
};

/* ---- batches ---------------------------------------------------------------------------- */

struct redis_batch *redis_batch_new(void)
{
    return calloc(1, sizeof(struct redis_batch));
}

int redis_batch_add(struct redis_batch *batch, int argc, const char *const *argv,
                    const size_t *lengths)
{
    struct redis_command command = {0};
    int index;

    if (argc < 1)
        return GIM_ERR_INVALID;
    if (gim_grow(&batch->commands, &batch->capacity, batch->count + 1, sizeof(*batch->commands), 8,
                 SIZE_MAX) != GIM_OK)
        return GIM_ERR_NO_MEMORY;
    command.argv = calloc((size_t)argc, sizeof(*command.argv));
    command.lengths = calloc((size_t)argc, sizeof(*command.lengths));
    if (command.argv == NULL || command.lengths == NULL)
        goto no_memory;
    for (index = 0; index < argc; index++) {
        size_t length = lengths != NULL ? lengths[index] : strlen(argv[index]);
        command.argv[index] = malloc(length + 1);
        if (command.argv[index] == NULL)
            goto no_memory;
        memcpy(command.argv[index], argv[index], length);
        command.argv[index][length] = '\0';
        command.lengths[index] = length;
        command.argc = index + 1;
    }
    batch->commands[batch->count++] = command;
    return GIM_OK;
no_memory:
    if (command.argv != NULL)
        for (index = 0; index < command.argc; index++)
            free(command.argv[index]);
    free(command.argv);
    free(command.lengths);
    return GIM_ERR_NO_MEMORY;
}

size_t redis_batch_count(const struct redis_batch *batch)
{
    return batch->count;
}

void redis_batch_free(struct redis_batch *batch)
{
    size_t index;
    int argument;

    if (batch == NULL)
        return;
    for (index = 0; index < batch->count; index++) {
        for (argument = 0; argument < batch->commands[index].argc; argument++)
            free(batch->commands[index].argv[argument]);
        free(batch->commands[index].argv);
        free(batch->commands[index].lengths);
    }
    free(batch->commands);
    free(batch);
}

/* ---- the writer's thread ---------------------------------------------------------------- */

/* Runs batch as one pipeline; counts it completed or failed. Frees nothing. */
static void run_batch(struct redis_writer *writer, const struct redis_batch *batch)
{
    size_t index, appended = 0;
    bool failed = false;

    if (batch->count == 0)
        return;
    for (index = 0; index < batch->count; index++) {
        if (gim_redis_append_argv(writer->redis, batch->commands[index].argc,
                                  (const char **)batch->commands[index].argv,
                                  batch->commands[index].lengths) != GIM_OK) {
            failed = true;
            break;
        }
        appended++;
    }
    for (index = 0; index < appended; index++) {
        redisReply *reply = gim_redis_reply(writer->redis);
        if (reply == NULL) {
            failed = true;
            break; /* the rest of the pipeline is lost with the connection */
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            gim_log_debug("redis writer: %s: %s", batch->commands[index].argv[0], reply->str);
            failed = true;
        }
        freeReplyObject(reply);
    }
    atomic_fetch_add_explicit(failed ? &writer->failed : &writer->completed, 1,
                              memory_order_relaxed);
}

/* Builds and runs one keyed job's batch (key "" for the last one). */
static void run_built(struct redis_writer *writer, redis_writer_build_fn build, void *context,
                      const char *key)
{
    struct redis_batch *batch = redis_batch_new();

    if (batch == NULL || build(context, key, batch) != GIM_OK)
        atomic_fetch_add_explicit(&writer->failed, 1, memory_order_relaxed);
    else
        run_batch(writer, batch);
    redis_batch_free(batch);
}

static int64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void *writer_main(void *argument)
{
    struct redis_writer *writer = argument;
    int64_t next_tick = monotonic_ms() + writer->options.tick_ms;

    for (;;) {
        struct keyed_job *jobs;
        struct redis_batch *batches;
        bool stopping, tick_due;

        pthread_mutex_lock(&writer->lock);
        while (!writer->stopping && writer->jobs_head == NULL && writer->batches_head == NULL) {
            struct timespec until;
            int64_t now = monotonic_ms();
            if (writer->options.tick_ms <= 0) {
                pthread_cond_wait(&writer->wake, &writer->lock);
                continue;
            }
            if (now >= next_tick)
                break;
            until.tv_sec = next_tick / 1000;
            until.tv_nsec = (next_tick % 1000) * 1000000;
            pthread_cond_timedwait(&writer->wake, &writer->lock, &until);
        }
        jobs = writer->jobs_head;
        batches = writer->batches_head;
        writer->jobs_head = writer->jobs_tail = NULL;
        writer->batches_head = writer->batches_tail = NULL;
        writer->job_count = writer->batch_count = 0;
        /* keys leave the map now: a mark from here on waits for the next round */
        string_map_destroy(&writer->waiting_keys);
        string_map_init(&writer->waiting_keys);
        stopping = writer->stopping;
        pthread_mutex_unlock(&writer->lock);

        while (jobs != NULL) {
            struct keyed_job *job = jobs;
            jobs = job->next;
            run_built(writer, job->build, job->context, job->key);
            free(job);
        }
        while (batches != NULL) {
            struct redis_batch *batch = batches;
            batches = batch->next;
            run_batch(writer, batch);
            redis_batch_free(batch);
        }
        if (stopping)
            break;
        tick_due = writer->options.tick_ms > 0 && monotonic_ms() >= next_tick;
        if (tick_due) {
            next_tick = monotonic_ms() + writer->options.tick_ms;
            writer->options.tick(writer->options.tick_context);
        }
    }
    if (writer->last != NULL)
        run_built(writer, writer->last, writer->last_context, "");
    return NULL;
}

/* ---- the public side ---------------------------------------------------------------------- */

int redis_writer_start(struct redis_writer **out, const struct redis_writer_options *options)
{
    struct redis_writer *writer = calloc(1, sizeof(*writer));
    pthread_condattr_t attributes;
    int status;

    if (writer == NULL)
        return GIM_ERR_NO_MEMORY;
    writer->options = *options;
    if (writer->options.max_keys == 0)
        writer->options.max_keys = DEFAULT_MAX_KEYS;
    if (writer->options.max_batches == 0)
        writer->options.max_batches = DEFAULT_MAX_BATCHES;
    if (writer->options.tick == NULL)
        writer->options.tick_ms = 0;
    writer->address = strdup(options->address != NULL ? options->address : "");
    writer->password = strdup(options->password != NULL ? options->password : "");
    if (writer->address == NULL || writer->password == NULL) {
        status = GIM_ERR_NO_MEMORY;
        goto fail;
    }
    status = gim_redis_open(&writer->redis, writer->address, writer->password, options->timeout_ms);
    if (status != GIM_OK)
        goto fail;
    string_map_init(&writer->waiting_keys);
    pthread_mutex_init(&writer->lock, NULL);
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(&writer->wake, &attributes);
    pthread_condattr_destroy(&attributes);
    if (pthread_create(&writer->thread, NULL, writer_main, writer) != 0) {
        pthread_cond_destroy(&writer->wake);
        pthread_mutex_destroy(&writer->lock);
        string_map_destroy(&writer->waiting_keys);
        status = GIM_ERR_IO;
        goto fail;
    }
    *out = writer;
    return GIM_OK;
fail:
    gim_redis_close(writer->redis);
    free(writer->address);
    free(writer->password);
    free(writer);
    return status;
}

int redis_writer_mark(struct redis_writer *writer, const char *key, redis_writer_build_fn build,
                      void *context)
{
    size_t key_length = strlen(key);
    struct keyed_job *job;
    int status = GIM_OK;

    pthread_mutex_lock(&writer->lock);
    if (writer->stopping) {
        status = GIM_ERR_CLOSED;
    } else if (string_map_get(&writer->waiting_keys, key) != NULL) {
        status = GIM_OK; /* waiting already: its build reads the latest state */
    } else if (writer->job_count >= writer->options.max_keys) {
        atomic_fetch_add_explicit(&writer->dropped, 1, memory_order_relaxed);
        status = GIM_ERR_AGAIN;
    } else if ((job = malloc(sizeof(*job) + key_length + 1)) == NULL) {
        status = GIM_ERR_NO_MEMORY;
    } else {
        memcpy(job->key, key, key_length + 1);
        job->build = build;
        job->context = context;
        job->next = NULL;
        if (string_map_put(&writer->waiting_keys, job->key, job, NULL) != GIM_OK) {
            free(job);
            status = GIM_ERR_NO_MEMORY;
        } else {
            if (writer->jobs_tail != NULL)
                writer->jobs_tail->next = job;
            else
                writer->jobs_head = job;
            writer->jobs_tail = job;
            writer->job_count++;
            pthread_cond_signal(&writer->wake);
        }
    }
    pthread_mutex_unlock(&writer->lock);
    return status;
}

int redis_writer_send(struct redis_writer *writer, struct redis_batch *batch)
{
    int status = GIM_OK;

    pthread_mutex_lock(&writer->lock);
    if (writer->stopping) {
        status = GIM_ERR_CLOSED;
    } else if (writer->batch_count >= writer->options.max_batches) {
        atomic_fetch_add_explicit(&writer->dropped, 1, memory_order_relaxed);
        status = GIM_ERR_AGAIN;
    } else {
        batch->next = NULL;
        if (writer->batches_tail != NULL)
            writer->batches_tail->next = batch;
        else
            writer->batches_head = batch;
        writer->batches_tail = batch;
        writer->batch_count++;
        pthread_cond_signal(&writer->wake);
    }
    pthread_mutex_unlock(&writer->lock);
    if (status != GIM_OK)
        redis_batch_free(batch);
    return status;
}

uint64_t redis_writer_dropped(const struct redis_writer *writer)
{
    return atomic_load_explicit(&writer->dropped, memory_order_relaxed);
}

uint64_t redis_writer_failed(const struct redis_writer *writer)
{
    return atomic_load_explicit(&writer->failed, memory_order_relaxed);
}

uint64_t redis_writer_completed(const struct redis_writer *writer)
{
    return atomic_load_explicit(&writer->completed, memory_order_relaxed);
}

void redis_writer_stop(struct redis_writer *writer, redis_writer_build_fn last, void *context)
{
    if (writer == NULL)
        return;
    pthread_mutex_lock(&writer->lock);
    writer->stopping = true;
    writer->last = last;
    writer->last_context = context;
    pthread_cond_signal(&writer->wake);
    pthread_mutex_unlock(&writer->lock);
    pthread_join(writer->thread, NULL);
    string_map_destroy(&writer->waiting_keys);
    pthread_cond_destroy(&writer->wake);
    pthread_mutex_destroy(&writer->lock);
    gim_redis_close(writer->redis);
    free(writer->address);
    free(writer->password);
    free(writer);
}
