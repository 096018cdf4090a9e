/* consumer.c: Kafka consumption with commits after delivery (see consumer.h). */
#include "job/consumer.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "job/offset_tracker.h"

/* How long one poll waits for a record; also how often finished offsets are
 * stored and the stop flag checked while idle. */
#define POLL_TIMEOUT_MS 50
/* How long the consumer waits for room (back-pressure) before re-checking. */
#define ROOM_WAIT_MS 10
/* A record that holds its partition's commit back this long is reported (once), with what
 * the tracker knows of it: longer than a delivery takes unless comets fail (comet.timeout,
 * retries and backoff), so a report is a record that went astray or a comet failing long. */
#define STALL_REPORT_MS 60000
/* How often the stall watch looks at the partitions. */
#define STALL_WATCH_EVERY_MS 1000

/* One assigned partition seen in a record. */
struct consumer_partition {
    char *topic;
    int32_t partition;
    uint64_t generation; /* a revoke + assign gives a new one: stale completions are ignored */
    struct job_offset_tracker tracker;
    int64_t stored; /* last offset handed to rd_kafka_offsets_store, -1 none */
};

struct job_consumer {
    const struct job_config *config;
    rd_kafka_t *kafka;
    bool offsets_pending;   /* stored offsets not yet handed to a commit */
    int64_t last_commit_ms; /* monotonic time of the last commit request */
    int64_t last_watch_ms;  /* monotonic time of the last stall watch */

    pthread_mutex_t lock;                  /* guards partitions (the dispatcher finishes records) */
    pthread_cond_t progress;               /* a record finished */
    struct consumer_partition *partitions; /* one per partition read; bounded by the assignment */
    size_t partition_count;
    uint64_t next_generation;
};

/* librdkafka's own log lines go through ours (syslog levels -> ours). */
static void kafka_log(const rd_kafka_t *kafka, int level, const char *facility, const char *text)
{
    (void)kafka;
    if (level <= 3)
        gim_log_error("kafka %s: %s", facility, text);
    else if (level == 4)
        gim_log_warn("kafka %s: %s", facility, text);
    else if (level == 5)
        gim_log_notice("kafka %s: %s", facility, text);
    else if (level == 6)
        gim_log_info("kafka %s: %s", facility, text);
    else
        gim_log_debug("kafka %s: %s", facility, text);
}

static void kafka_error(rd_kafka_t *kafka, int error, const char *reason, void *opaque)
{
    (void)kafka;
    (void)opaque;
    gim_log_warn("kafka: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)error), reason);
}

static void kafka_commit_result(rd_kafka_t *kafka, rd_kafka_resp_err_t error,
                                rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct job_consumer *consumer = opaque; /* this runs inside consumer_poll, on its thread */
    int index;

    (void)kafka;
    if (error == RD_KAFKA_RESP_ERR__NO_OFFSET)
        return; /* nothing was stored since the last commit */
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
        gim_log_warn("kafka: offset commit failed: %s (retried at the next commit)",
                     rd_kafka_err2str(error));
        consumer->offsets_pending = true;
        return;
    }
    for (index = 0; offsets != NULL && index < offsets->cnt; index++)
        if (offsets->elems[index].offset >= 0)
            gim_log_debug("kafka: committed %s/%" PRId32 " at %" PRId64,
                          offsets->elems[index].topic, offsets->elems[index].partition,
                          offsets->elems[index].offset);
}

static void consumer_store_progress(struct job_consumer *consumer);
static void consumer_forget(struct job_consumer *consumer,
                            const rd_kafka_topic_partition_list_t *partitions);

static void log_partitions(const char *what, const rd_kafka_topic_partition_list_t *partitions)
{
    char text[512];
    size_t used = 0;
    int index;

    text[0] = '\0';
    for (index = 0; index < partitions->cnt && used < sizeof(text) - 1; index++) {
        int written = snprintf(text + used, sizeof(text) - used, "%s%s/%" PRId32, index ? " " : "",
                               partitions->elems[index].topic, partitions->elems[index].partition);
        if (written < 0)
            break;
        used += (size_t)written;
    }
    gim_log_notice("kafka: %s %d partitions: %s", what, partitions->cnt, text);
}

/*
 * Rebalances run inside rd_kafka_consumer_poll, between two records, so no
 * record is half-delivered here: before giving partitions away, commit what
 * was delivered so that the next owner does not deliver it again.
 */
static void kafka_rebalance(rd_kafka_t *kafka, rd_kafka_resp_err_t error,
                            rd_kafka_topic_partition_list_t *partitions, void *opaque)
{
    struct job_consumer *consumer = opaque;
    bool cooperative = strcmp(rd_kafka_rebalance_protocol(kafka), "COOPERATIVE") == 0;
    rd_kafka_error_t *failure = NULL;
    rd_kafka_resp_err_t result = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (error == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        log_partitions("assigned", partitions);
        if (cooperative)
            failure = rd_kafka_incremental_assign(kafka, partitions);
        else
            result = rd_kafka_assign(kafka, partitions);
    } else {
        log_partitions("revoked", partitions);
        if (!rd_kafka_assignment_lost(kafka)) {
            consumer_store_progress(consumer);
            rd_kafka_resp_err_t committed = rd_kafka_commit(kafka, NULL, 0);
            if (committed != RD_KAFKA_RESP_ERR_NO_ERROR &&
                committed != RD_KAFKA_RESP_ERR__NO_OFFSET)
                gim_log_warn("kafka: commit before revoke failed: %s", rd_kafka_err2str(committed));
        }
        consumer->offsets_pending = false;
        consumer_forget(consumer, partitions);
        if (cooperative)
            failure = rd_kafka_incremental_unassign(kafka, partitions);
        else
            result = rd_kafka_assign(kafka, NULL);
    }
    if (failure != NULL) {
        gim_log_error("kafka: rebalance: %s", rd_kafka_error_string(failure));
        rd_kafka_error_destroy(failure);
    } else if (result != RD_KAFKA_RESP_ERR_NO_ERROR) {
        gim_log_error("kafka: rebalance: %s", rd_kafka_err2str(result));
    }
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *error,
                    size_t error_size)
{
    return rd_kafka_conf_set(conf, name, value, error, error_size) == RD_KAFKA_CONF_OK
               ? GIM_OK
               : GIM_ERR_INVALID;
}

int job_consumer_open(struct job_consumer **out, const struct job_config *config, char *error,
                      size_t error_size)
{
    struct job_consumer *consumer;
    rd_kafka_conf_t *conf;
    char client_id[300], session_timeout[32], fetch_wait_max[32];
    int status = GIM_OK;

    *out = NULL;
    consumer = calloc(1, sizeof(*consumer));
    if (consumer == NULL)
        return GIM_ERR_NO_MEMORY;
    consumer->config = config;
    snprintf(client_id, sizeof(client_id), "goim-job-%s", config->host);
    conf = rd_kafka_conf_new();
    if (status == GIM_OK)
        status = conf_set(conf, "bootstrap.servers", config->kafka_brokers, error, error_size);
    if (status == GIM_OK)
        status = conf_set(conf, "group.id", config->kafka_group, error, error_size);
    if (status == GIM_OK)
        status = conf_set(conf, "client.id", client_id, error, error_size);
    snprintf(session_timeout, sizeof(session_timeout), "%lld",
             (long long)config->kafka_session_timeout);
    if (status == GIM_OK)
        status = conf_set(conf, "session.timeout.ms", session_timeout, error, error_size);
    snprintf(fetch_wait_max, sizeof(fetch_wait_max), "%lld",
             (long long)config->kafka_fetch_wait_max);
    if (status == GIM_OK)
        status = conf_set(conf, "fetch.wait.max.ms", fetch_wait_max, error, error_size);
    /* Offsets move only after delivery: no automatic commit, no automatic store. */
    if (status == GIM_OK)
        status = conf_set(conf, "enable.auto.commit", "false", error, error_size);
    if (status == GIM_OK)
        status = conf_set(conf, "enable.auto.offset.store", "false", error, error_size);
    if (status == GIM_OK)
        status = conf_set(conf, "auto.offset.reset", config->kafka_offset_reset, error, error_size);
    if (status != GIM_OK) {
        rd_kafka_conf_destroy(conf);
        free(consumer);
        return status;
    }
    rd_kafka_conf_set_log_cb(conf, kafka_log);
    rd_kafka_conf_set_error_cb(conf, kafka_error);
    rd_kafka_conf_set_offset_commit_cb(conf, kafka_commit_result);
    rd_kafka_conf_set_rebalance_cb(conf, kafka_rebalance);
    rd_kafka_conf_set_opaque(conf, consumer);
    consumer->kafka = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, error_size);
    if (consumer->kafka == NULL) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new owns conf only on success */
        free(consumer);
        return GIM_ERR_INVALID;
    }
    rd_kafka_poll_set_consumer(consumer->kafka);
    pthread_mutex_init(&consumer->lock, NULL);
    pthread_cond_init(&consumer->progress, NULL);
    consumer->last_commit_ms = gim_monotonic_ms();
    consumer->last_watch_ms = consumer->last_commit_ms;
    *out = consumer;
    return GIM_OK;
}

/* Hands the stored offsets to an asynchronous commit when due (or when forced). */
static void consumer_commit_if_due(struct job_consumer *consumer, bool force)
{
    int64_t now = gim_monotonic_ms();
    rd_kafka_resp_err_t error;

    if (!consumer->offsets_pending)
        return;
    if (!force && now - consumer->last_commit_ms < consumer->config->kafka_commit_interval)
        return;
    error = rd_kafka_commit(consumer->kafka, NULL, 1);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR__NO_OFFSET)
        gim_log_warn("kafka: commit request failed: %s", rd_kafka_err2str(error));
    consumer->offsets_pending = false;
    consumer->last_commit_ms = now;
}

/* The partition's entry, or NULL. Called with the lock held. */
static struct consumer_partition *partition_find(struct job_consumer *consumer, int32_t partition)
{
    size_t index;

    for (index = 0; index < consumer->partition_count; index++)
        if (consumer->partitions[index].partition == partition)
            return &consumer->partitions[index];
    return NULL;
}

static void partition_clear(struct consumer_partition *entry)
{
    free(entry->topic);
    job_offset_tracker_clear(&entry->tracker);
}

/* Drops the entries of partitions given away (their late completions are ignored). */
static void consumer_forget(struct job_consumer *consumer,
                            const rd_kafka_topic_partition_list_t *partitions)
{
    int index;

    pthread_mutex_lock(&consumer->lock);
    for (index = 0; index < partitions->cnt; index++) {
        struct consumer_partition *entry =
            partition_find(consumer, partitions->elems[index].partition);
        if (entry == NULL)
            continue;
        partition_clear(entry);
        *entry = consumer->partitions[--consumer->partition_count];
    }
    pthread_mutex_unlock(&consumer->lock);
}

/* The entry of the record's partition, created on first sight. Called with the lock held. */
static struct consumer_partition *partition_get(struct job_consumer *consumer,
                                                const rd_kafka_message_t *record)
{
    struct consumer_partition *entry = partition_find(consumer, record->partition), *grown;

    if (entry != NULL)
        return entry;
    grown = realloc(consumer->partitions,
                    (consumer->partition_count + 1) * sizeof(*consumer->partitions));
    if (grown == NULL)
        return NULL;
    consumer->partitions = grown;
    entry = &grown[consumer->partition_count];
    entry->topic = strdup(rd_kafka_topic_name(record->rkt));
    if (entry->topic == NULL)
        return NULL;
    entry->partition = record->partition;
    entry->generation = ++consumer->next_generation;
    entry->stored = -1;
    job_offset_tracker_init(&entry->tracker, 0);
    consumer->partition_count++;
    return entry;
}

void job_consumer_record_finished(void *owner, const struct job_record_ticket *ticket)
{
    struct job_consumer *consumer = owner;
    struct consumer_partition *entry;

    pthread_mutex_lock(&consumer->lock);
    entry = partition_find(consumer, ticket->partition);
    if (entry != NULL && entry->generation == ticket->generation &&
        job_offset_tracker_finish(&entry->tracker, ticket->offset) != GIM_OK)
        gim_log_warn("kafka: %s finished twice or never read", ticket->origin);
    pthread_cond_signal(&consumer->progress);
    pthread_mutex_unlock(&consumer->lock);
}

/* Logs (once) a record that has held the partition's commit back for STALL_REPORT_MS. Called
 * with the lock held. */
static void partition_report_stall(struct consumer_partition *entry, int64_t now)
{
    struct job_offset_tracker_entry oldest;
    int64_t since;

    if (!job_offset_tracker_stalled(&entry->tracker, now, STALL_REPORT_MS, &oldest, &since))
        return;
    gim_log_warn("kafka: %s/%" PRId32 "@%" PRId64 " unfinished for %" PRId64
                 " ms (%s the dispatcher; generation %" PRIu64 ", %zu records from it on "
                 "tracked, committable %" PRId64 "): the partition's commit waits for it",
                 entry->topic, entry->partition, oldest.offset, now - since,
                 oldest.handed ? "handed to" : "NEVER handed to", entry->generation,
                 job_offset_tracker_outstanding(&entry->tracker),
                 job_offset_tracker_committable(&entry->tracker));
}

/* Stores every partition's committable offset that moved since the last store. */
static void consumer_store_progress(struct job_consumer *consumer)
{
    rd_kafka_topic_partition_list_t *offsets = NULL;
    rd_kafka_resp_err_t error;
    int64_t now = gim_monotonic_ms();
    bool watch = now - consumer->last_watch_ms >= STALL_WATCH_EVERY_MS;
    size_t index;

    if (watch)
        consumer->last_watch_ms = now;
    pthread_mutex_lock(&consumer->lock);
    for (index = 0; index < consumer->partition_count; index++) {
        struct consumer_partition *entry = &consumer->partitions[index];
        int64_t committable = job_offset_tracker_committable(&entry->tracker);

        if (watch)
            partition_report_stall(entry, now);

        if (committable <= entry->stored)
            continue;
        if (offsets == NULL)
            offsets = rd_kafka_topic_partition_list_new((int)consumer->partition_count);
        rd_kafka_topic_partition_list_add(offsets, entry->topic, entry->partition)->offset =
            committable;
        entry->stored = committable;
    }
    pthread_mutex_unlock(&consumer->lock);
    if (offsets == NULL)
        return;
    error = rd_kafka_offsets_store(consumer->kafka, offsets);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
        gim_log_warn("kafka: cannot store offsets: %s", rd_kafka_err2str(error));
    else
        consumer->offsets_pending = true;
    rd_kafka_topic_partition_list_destroy(offsets);
}

/* Waits up to ROOM_WAIT_MS for a record to finish, keeping commits going. */
static void consumer_wait_for_room(struct job_consumer *consumer)
{
    struct timespec deadline;

    consumer_store_progress(consumer);
    consumer_commit_if_due(consumer, false);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += ROOM_WAIT_MS * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&consumer->lock);
    pthread_cond_timedwait(&consumer->progress, &consumer->lock, &deadline);
    pthread_mutex_unlock(&consumer->lock);
}

/*
 * Registers the record in its partition's tracker, waiting while the
 * tracker is full or memory is short (a record is never skipped: its offset
 * would be committed past it). Logs a jump forward over offsets Kafka never
 * handed out. Returns GIM_OK with *ticket filled, or GIM_ERR_CLOSED
 * (stopping).
 */
static int consumer_track(struct job_consumer *consumer, const rd_kafka_message_t *record,
                          const atomic_bool *stopping, struct job_record_ticket *ticket)
{
    bool short_of_memory_logged = false;

    for (;;) {
        struct consumer_partition *entry;
        int64_t expected = -1;
        int status;

        if (atomic_load(stopping))
            return GIM_ERR_CLOSED;
        pthread_mutex_lock(&consumer->lock);
        entry = partition_get(consumer, record);
        if (entry != NULL)
            expected = job_offset_tracker_next_expected(&entry->tracker);
        status =
            entry ? job_offset_tracker_add(&entry->tracker, record->offset) : GIM_ERR_NO_MEMORY;
        if (status == GIM_ERR_INVALID) {
            /* Offsets went back (a seek or an offset reset): start a new incarnation. */
            gim_log_notice("kafka: %s/%" PRId32 " went back to %" PRId64 "; tracking anew",
                           entry->topic, entry->partition, record->offset);
            job_offset_tracker_clear(&entry->tracker);
            entry->generation = ++consumer->next_generation;
            entry->stored = -1;
            expected = -1;
            status = job_offset_tracker_add(&entry->tracker, record->offset);
        }
        if (status == GIM_OK) {
            ticket->partition = record->partition;
            ticket->offset = record->offset;
            ticket->generation = entry->generation;
            if (expected >= 0 && record->offset > expected)
                gim_log_notice("kafka: %s/%" PRId32 " jumped from %" PRId64 " to %" PRId64
                               ": %" PRId64 " offsets never handed out (compaction, "
                               "transaction markers, or records skipped)",
                               entry->topic, entry->partition, expected, record->offset,
                               record->offset - expected);
        }
        pthread_mutex_unlock(&consumer->lock);
        if (status == GIM_OK)
            return GIM_OK;
        if (status == GIM_ERR_NO_MEMORY && !short_of_memory_logged) {
            gim_log_error("kafka: %s: out of memory to track it; waiting", ticket->origin);
            short_of_memory_logged = true;
        }
        consumer_wait_for_room(consumer); /* GIM_ERR_AGAIN (full) or GIM_ERR_NO_MEMORY */
    }
}

/* Notes the record handed to the dispatcher (unless it finished already), for the stall
 * report. */
static void consumer_mark_handed(struct job_consumer *consumer,
                                 const struct job_record_ticket *ticket)
{
    struct consumer_partition *entry;

    pthread_mutex_lock(&consumer->lock);
    entry = partition_find(consumer, ticket->partition);
    if (entry != NULL && entry->generation == ticket->generation)
        (void)job_offset_tracker_mark_handed(&entry->tracker, ticket->offset);
    pthread_mutex_unlock(&consumer->lock);
}

int job_consumer_run(struct job_consumer *consumer, struct job_dispatch *dispatch,
                     const atomic_bool *stopping)
{
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t error;
    int status = GIM_OK;

    rd_kafka_topic_partition_list_add(topics, consumer->config->kafka_topic, RD_KAFKA_PARTITION_UA);
    error = rd_kafka_subscribe(consumer->kafka, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
        gim_log_error("kafka: cannot subscribe to %s: %s", consumer->config->kafka_topic,
                      rd_kafka_err2str(error));
        return GIM_ERR_INVALID;
    }
    gim_log_notice("job ready group=%s topic=%s", consumer->config->kafka_group,
                   consumer->config->kafka_topic);
    while (!atomic_load(stopping)) {
        rd_kafka_message_t *record;
        struct job_record_ticket ticket;

        consumer_store_progress(consumer);
        record = rd_kafka_consumer_poll(consumer->kafka, POLL_TIMEOUT_MS);
        if (record == NULL) {
            consumer_store_progress(consumer);
            consumer_commit_if_due(consumer, true); /* idle: commit at once */
            continue;
        }
        if (record->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (record->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                gim_log_warn("kafka: %s", rd_kafka_message_errstr(record));
            rd_kafka_message_destroy(record);
            continue;
        }
        snprintf(ticket.origin, sizeof(ticket.origin), "%s/%" PRId32 "@%" PRId64,
                 rd_kafka_topic_name(record->rkt), record->partition, record->offset);
        status = consumer_track(consumer, record, stopping, &ticket);
        while (status == GIM_OK) {
            status = job_dispatch_submit(dispatch, record->payload, record->len, &ticket);
            if (status == GIM_OK)
                consumer_mark_handed(consumer, &ticket);
            if (status != GIM_ERR_AGAIN && status != GIM_ERR_NO_MEMORY)
                break;
            if (atomic_load(stopping)) {
                status = GIM_ERR_CLOSED;
                break;
            }
            consumer_wait_for_room(consumer); /* back-pressure: no polling meanwhile */
        }
        rd_kafka_message_destroy(record);
        if (status == GIM_ERR_CLOSED) {
            gim_log_notice("kafka: stopped before %s was handed over; it stays uncommitted",
                           ticket.origin);
            status = GIM_OK;
            break;
        }
        consumer_commit_if_due(consumer, false);
    }
    return GIM_OK;
}

size_t job_consumer_uncommitted(struct job_consumer *consumer)
{
    size_t total = 0, index;

    pthread_mutex_lock(&consumer->lock);
    for (index = 0; index < consumer->partition_count; index++)
        total += job_offset_tracker_outstanding(&consumer->partitions[index].tracker);
    pthread_mutex_unlock(&consumer->lock);
    return total;
}

void job_consumer_close(struct job_consumer *consumer)
{
    rd_kafka_resp_err_t error;
    size_t index;

    if (consumer == NULL)
        return;
    consumer_store_progress(consumer);
    if (consumer->offsets_pending) {
        error = rd_kafka_commit(consumer->kafka, NULL, 0);
        if (error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR__NO_OFFSET)
            gim_log_warn("kafka: final commit failed: %s", rd_kafka_err2str(error));
        else
            gim_log_info("kafka: delivered offsets committed");
    }
    error = rd_kafka_consumer_close(consumer->kafka);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR)
        gim_log_warn("kafka: leaving the group: %s", rd_kafka_err2str(error));
    rd_kafka_destroy(consumer->kafka);
    for (index = 0; index < consumer->partition_count; index++)
        partition_clear(&consumer->partitions[index]);
    free(consumer->partitions);
    pthread_cond_destroy(&consumer->progress);
    pthread_mutex_destroy(&consumer->lock);
    free(consumer);
}
