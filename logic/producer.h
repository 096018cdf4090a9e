/*
 * producer.h: logic's Kafka producer (librdkafka), one record per PushMsg.
 *
 * acks=all and message.timeout.ms = kafka.timeout, so librdkafka itself
 * gives up on a record after kafka.timeout and every record gets its
 * delivery report within that bound. A background thread calls
 * rd_kafka_poll to run the delivery reports. producer_send_async calls its
 * completion once every record it produced has its report, so a caller
 * learns that Kafka has the records before it answers its own client,
 * without a thread waiting meanwhile.
 *
 * Batching: linger.ms is small (a record at rest leaves within a
 * millisecond); under load the records produced while a request is in
 * flight to the broker form the next batch, so throughput grows with load
 * without adding latency at rest.
 */
#ifndef LOGIC_PRODUCER_H
#define LOGIC_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

struct producer;

/* One record to produce; every pointer stays the caller's (librdkafka copies). */
struct producer_record {
    const void *key;
    size_t key_length;
    const void *value;
    size_t value_length;
};

/*
 * Creates the producer for brokers (comma-separated host:port) and topic,
 * starts its poll thread. Does not wait for brokers to be reachable. On
 * GIM_OK *producer is the caller's (producer_destroy). On failure returns
 * GIM_ERR_INVALID (bad setting; text in error[0..error_size)) or
 * GIM_ERR_NO_MEMORY.
 */
int producer_create(struct producer **producer, const char *brokers, const char *topic,
                    int64_t timeout_ms, char *error, size_t error_size);

/*
 * The end of one producer_send_async: status is GIM_OK when Kafka
 * acknowledged every record (acks=all), else the first failure:
 * GIM_ERR_UNAVAILABLE (a record failed or the local queue was full),
 * GIM_ERR_TIMEOUT (no acknowledgement within kafka.timeout) or
 * GIM_ERR_NO_MEMORY; error is its text ("" on success), valid during the
 * call only. user is what the caller passed.
 */
typedef void (*producer_done_fn)(void *user, int status, const char *error);

/*
 * Produces records[0..count) to the topic and returns without waiting;
 * calls done(user, ...) exactly once when every produced record has its
 * delivery report. done runs on the producer's poll thread, or on the
 * calling thread before producer_send_async returns when nothing is left
 * in flight by then (count 0: GIM_OK; nothing could be produced: the
 * failure). Safe from several threads at once. Records stay the caller's
 * (librdkafka copies them).
 */
void producer_send_async(struct producer *producer, const struct producer_record *records,
                         size_t count, producer_done_fn done, void *user);

struct gim_counter;
struct gim_histogram;

/*
 * From now on counts every record's outcome: acknowledged or failed (a
 * delivery report with an error, or a record the local queue refused), and
 * observes the seconds from producing each acknowledged record to its
 * acknowledgement in latency_seconds. Each pointer may be NULL (not counted)
 * and stays the caller's; it must outlive the producer. Call before the
 * first producer_send_async.
 */
void producer_count_into(struct producer *producer, struct gim_counter *acknowledged,
                         struct gim_counter *failed, struct gim_histogram *latency_seconds);

/*
 * Flushes outstanding records for at most flush_ms (those left are logged
 * and lost), stops the poll thread and frees producer. NULL is allowed.
 * Every record still in flight gets its (failed) delivery report, so
 * every pending completion runs before this returns. Call only when no
 * producer_send_async is running.
 */
void producer_destroy(struct producer *producer, int flush_ms);

#endif
