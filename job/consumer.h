/*
 * consumer.h: the job's Kafka consumer (librdkafka high-level consumer).
 *
 * Joins group kafka.group on topic kafka.topic with automatic commits and
 * automatic offset stores both off: an offset is stored only after the
 * dispatcher finished its record (job/dispatch.h), and stored offsets are
 * committed every kafka.commitInterval, when the topic goes idle, before
 * partitions are revoked in a rebalance, and at close. So a record is
 * committed only after every target comet acknowledged it (at-least-once);
 * a crash can deliver the last records again, never lose them.
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
 * Subscribes (logs "job ready group=<g> topic=<t>"), then hands records one
 * by one, in partition order, to dispatch until *stopping turns true.
 * dispatch and stopping stay the caller's. Returns GIM_OK after a stop,
 * GIM_ERR_INVALID if the subscription is refused, or the dispatcher's error
 * (GIM_ERR_NO_MEMORY) after which the record is left uncommitted.
 */
int job_consumer_run(struct job_consumer *consumer, struct job_dispatch *dispatch,
                     const atomic_bool *stopping);

/* Commits the stored offsets synchronously, leaves the group and frees consumer. NULL ok. */
void job_consumer_close(struct job_consumer *consumer);

#endif
