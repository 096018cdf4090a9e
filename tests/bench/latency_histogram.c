/* latency_histogram.c: log-linear latency histogram (see latency_histogram.h). */
#include "tests/bench/latency_histogram.h"

#include <string.h>

#define SUB_COUNT (1u << LATENCY_HISTOGRAM_SUB_BITS)

static unsigned bucket_index(uint64_t value)
{
    unsigned exponent;

    if (value > LATENCY_HISTOGRAM_MAX_US)
        value = LATENCY_HISTOGRAM_MAX_US;
    if (value < SUB_COUNT)
        return (unsigned)value;
    /* group exponent >= 1 holds [SUB_COUNT << (exponent - 1), SUB_COUNT << exponent) in
     * SUB_COUNT buckets of width 1 << (exponent - 1) */
    exponent = (unsigned)(63 - __builtin_clzll(value)) - (LATENCY_HISTOGRAM_SUB_BITS - 1);
    return exponent * SUB_COUNT + (unsigned)(value >> (exponent - 1)) - SUB_COUNT;
}

/* The smallest value and the width of bucket index. */
static void bucket_range(unsigned index, uint64_t *lowest, uint64_t *width)
{
    unsigned exponent = index / SUB_COUNT;
    uint64_t sub = index % SUB_COUNT;

    if (exponent == 0) {
        *lowest = sub;
        *width = 1;
        return;
    }
    *lowest = (sub + SUB_COUNT) << (exponent - 1);
    *width = UINT64_C(1) << (exponent - 1);
}

void latency_histogram_reset(struct latency_histogram *histogram)
{
    memset(histogram, 0, sizeof(*histogram));
}

void latency_histogram_record(struct latency_histogram *histogram, uint64_t value_us)
{
    histogram->buckets[bucket_index(value_us)]++;
    histogram->count++;
    histogram->sum_us += value_us;
    if (value_us > histogram->max_us)
        histogram->max_us = value_us;
}

void latency_histogram_merge(struct latency_histogram *target,
                             const struct latency_histogram *source)
{
    for (unsigned index = 0; index < LATENCY_HISTOGRAM_BUCKETS; index++)
        target->buckets[index] += source->buckets[index];
    target->count += source->count;
    target->sum_us += source->sum_us;
    if (source->max_us > target->max_us)
        target->max_us = source->max_us;
}

uint64_t latency_histogram_quantile(const struct latency_histogram *histogram, double quantile)
{
    uint64_t rank, seen = 0, lowest, width, middle;

    if (histogram->count == 0)
        return 0;
    rank = (uint64_t)(quantile * (double)histogram->count + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank > histogram->count)
        rank = histogram->count;
    for (unsigned index = 0; index < LATENCY_HISTOGRAM_BUCKETS; index++) {
        seen += histogram->buckets[index];
        if (seen >= rank) {
            bucket_range(index, &lowest, &width);
            middle = lowest + width / 2;
            return middle > histogram->max_us ? histogram->max_us : middle;
        }
    }
    return histogram->max_us;
}
