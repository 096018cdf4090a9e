/*
 * producer.h: logic's Kafka producer (librdkafka), one record per PushMsg.
 *
 * acks=all and message.timeout.ms = kafka.timeout, so librdkafka itself
 * gives up on a record after kafka.timeout. A background thread calls
 * rd_kafka_poll to run the delivery reports. producer_send waits for the
 * delivery report of every record it produced (a completion object with a
 * mutex and a condition variable), so a caller learns that Kafka has the
 * records before it answers its own client. The wait is bounded by
 * kafka.timeout + PRODUCER_WAIT_MARGIN_MS.
 */
#ifndef LOGIC_PRODUCER_H
#define LOGIC_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

/* Extra time a sender waits for delivery reports beyond kafka.timeout. */
#define PRODUCER_WAIT_MARGIN_MS 500

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
 * Produces records[0..count) to the topic and waits until Kafka has
 * acknowledged every one (acks=all) or the bound passed. Safe from several
 * threads at once; blocks the caller. Returns GIM_OK when all were
 * acknowledged; otherwise GIM_ERR_UNAVAILABLE (a record failed or the local
 * queue is full), GIM_ERR_TIMEOUT (no report in time; the record may still
 * be delivered later) or GIM_ERR_NO_MEMORY, with a text in
 * error[0..error_size). count 0 returns GIM_OK at once.
 */
int producer_send(struct producer *producer, const struct producer_record *records, size_t count,
                  char *error, size_t error_size);

struct gim_counter;
struct gim_histogram;

/*
 * From now on counts every record's outcome: acknowledged or failed (a
 * delivery report with an error, or a record the local queue refused), and
 * observes the seconds from producing each acknowledged record to its
 * acknowledgement in latency_seconds. Each pointer may be NULL (not counted)
 * and stays the caller's; it must outlive the producer. Call before the
 * first producer_send.
 */
void producer_count_into(struct producer *producer, struct gim_counter *acknowledged,
                         struct gim_counter *failed, struct gim_histogram *latency_seconds);

/*
 * Flushes outstanding records for at most flush_ms (those left are logged
 * and lost), stops the poll thread and frees producer. NULL is allowed.
 * Call only when no producer_send is running.
 */
void producer_destroy(struct producer *producer, int flush_ms);

#endif
