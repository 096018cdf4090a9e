/*
 * latency_histogram.h: a fixed-size log-linear histogram of latencies in microseconds.
 *
 * Values under 64 us have their own bucket; above that every power of two is split into 64
 * buckets, so a reported percentile is within 1/64 (1.6 %) of the true value. The struct has no
 * pointers, so it can live in shared memory and be summed across processes. Values above
 * LATENCY_HISTOGRAM_MAX_US are counted in the top bucket; the exact maximum is kept aside.
 */
#ifndef BENCH_LATENCY_HISTOGRAM_H
#define BENCH_LATENCY_HISTOGRAM_H

#include <stdint.h>

#define LATENCY_HISTOGRAM_SUB_BITS 6
#define LATENCY_HISTOGRAM_MAX_BITS 36 /* 2^36 us is about 19 hours */
#define LATENCY_HISTOGRAM_BUCKETS                                                                  \
    ((LATENCY_HISTOGRAM_MAX_BITS - LATENCY_HISTOGRAM_SUB_BITS + 1) << LATENCY_HISTOGRAM_SUB_BITS)
#define LATENCY_HISTOGRAM_MAX_US ((UINT64_C(1) << LATENCY_HISTOGRAM_MAX_BITS) - 1)

struct latency_histogram {
    uint64_t count;
    uint64_t sum_us;
    uint64_t max_us;
    uint64_t buckets[LATENCY_HISTOGRAM_BUCKETS];
};

/* Empties the histogram. */
void latency_histogram_reset(struct latency_histogram *histogram);

/* Counts one value (microseconds). */
void latency_histogram_record(struct latency_histogram *histogram, uint64_t value_us);

/* Adds every count of source into target. */
void latency_histogram_merge(struct latency_histogram *target,
                             const struct latency_histogram *source);

/*
 * Returns the value at quantile (0 < quantile <= 1, e.g. 0.99) in microseconds: the middle of the
 * bucket holding that rank, never above the recorded maximum. Returns 0 for an empty histogram.
 */
uint64_t latency_histogram_quantile(const struct latency_histogram *histogram, double quantile);

#endif
