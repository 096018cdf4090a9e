/*
 * consumer.h: the job's Kafka consumer (librdkafka high-level consumer).
 *
 * Joins group kafka.group on topic kafka.topic with automatic commits and
 * automatic offset stores both off. Records are handed to the dispatcher
 * (job/dispatch.h) without waiting for their delivery; they finish out of
 * order. Each partition has an offset tracker (job/offset_tracker.h): the
 * offset stored is one past the highest offset below which every record is
 * finished, and stored offsets are committed every kafka.commitInterval,
 * when the topic goes idle, before partitions are revoked in a rebalance,
 * and at close. So a record is committed only after every target comet
 * acknowledged it (at-least-once); a crash can deliver records again,
 * never lose them.
 *
 * Back-pressure: when the dispatcher has no room or a partition's tracker
 * is full, the consumer holds the record and stops polling until there is
 * room (it keeps storing and committing progress meanwhile). A pause longer
 * than max.poll.interval.ms (300 s) would make the group drop this member;
 * retries are bounded far below that.
 * A group without a committed offset starts at kafka.offsetReset
 * (default earliest, see job/config.c).
 */
#ifndef JOB_CONSUMER_H
#define JOB_CONSUMER_H

#include <stdatomic.h>
#include <stddef.h>

#include "job/config.h"
#include "job/dispatch.h"

struct job_consumer;

/*
 * Creates the consumer (does not contact Kafka yet). config must outlive
 * it. On GIM_OK *consumer is the caller's (job_consumer_close). Returns
 * GIM_OK, or GIM_ERR_INVALID with librdkafka's reason in error[0..size).
 */
int job_consumer_open(struct job_consumer **consumer, const struct job_config *config, char *error,
                      size_t error_size);

/*
 * Subscribes (logs "job ready group=<g> topic=<t>"), then hands records, in
 * partition order, to dispatch until *stopping turns true. dispatch must
 * have been created with job_consumer_record_finished and this consumer as
 * owner. dispatch and stopping stay the caller's. Returns GIM_OK after a
 * stop or GIM_ERR_INVALID if the subscription is refused.
 */
int job_consumer_run(struct job_consumer *consumer, struct job_dispatch *dispatch,
                     const atomic_bool *stopping);

/*
 * The dispatcher's job_record_finished_fn (owner = the consumer): marks the
 * record finished in its partition's tracker. Any thread. A record of a
 * partition revoked since it was read is ignored (its new owner reads it
 * again).
 */
void job_consumer_record_finished(void *owner, const struct job_record_ticket *ticket);

/*
 * Records read and not yet part of a committable prefix, over every
 * partition this consumer holds (job/offset_tracker.h). Any thread.
 */
size_t job_consumer_uncommitted(struct job_consumer *consumer);

/* Stores the finished offsets, commits them synchronously, leaves the group
 * and frees consumer. Stop the dispatcher first. NULL ok. */
void job_consumer_close(struct job_consumer *consumer);

#endif
