/*
 * metrics.h: a daemon's Prometheus metrics, rendered in the text exposition
 * format 0.0.4.
 *
 * A registry (struct gim_metrics) holds metric families: a name, a help
 * line, a type (counter, gauge, histogram) and one sample per label set.
 * Label sets are fixed when a sample is registered (per operation, per
 * endpoint, ...): a value coming from a client never becomes a label, so the
 * exposition stays small and bounded.
 *
 * A sample is either owned by the registry (gim_metrics_counter / _gauge /
 * _histogram hand out a pointer the daemon updates) or read at scrape time
 * through a callback (gim_metrics_callback), for values that already live
 * elsewhere, such as comet's per-loop counters summed over the loops.
 *
 * Hot path: updating a sample takes no lock and allocates nothing. A
 * counter increment is one relaxed atomic add; a gauge update one atomic
 * store or add; a histogram observation one atomic add on its bucket plus a
 * compare-and-swap loop on its sum. Each owned counter and gauge sits on a
 * cache line of its own, so threads counting different things never share
 * a line. Registration and rendering take the registry's mutex; they run at
 * start-up and at scrape time only.
 *
 * Rendering lists families in registration order and, inside a family,
 * samples in registration order:
 *   # HELP <name> <help>
 *   # TYPE <name> counter|gauge|histogram
 *   <name>{<label>="<value>",...} <value>
 * a histogram as cumulative <name>_bucket{...,le="<bound>"} lines ending
 * with le="+Inf", then <name>_sum and <name>_count.
 */
#ifndef GIM_METRICS_H
#define GIM_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A count that only goes up. */
struct gim_counter {
    atomic_uint_least64_t value;
};

/* A value that goes up and down. */
struct gim_gauge {
    atomic_int_least64_t value;
};

/* A distribution over fixed buckets (opaque; see gim_metrics_histogram). */
struct gim_histogram;

/* The registry (opaque). */
struct gim_metrics;

enum gim_metric_type { GIM_METRIC_COUNTER, GIM_METRIC_GAUGE, GIM_METRIC_HISTOGRAM };

/*
 * Reads a callback sample at scrape time: context and argument are the ones
 * given to gim_metrics_callback. Runs on the scraping thread with the
 * registry's mutex held: it must not call into the registry, and it must be
 * safe to call from any thread.
 */
typedef int64_t (*gim_metric_read_fn)(void *context, int argument);

/* A label list for the registration functions: name, value, name, value, ..., NULL. */
#define GIM_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Adds amount to counter: one relaxed atomic add. counter must not be NULL. */
static inline void gim_counter_add(struct gim_counter *counter, uint64_t amount)
{
    atomic_fetch_add_explicit(&counter->value, amount, memory_order_relaxed);
}

/* Adds one to counter. */
static inline void gim_counter_increment(struct gim_counter *counter)
{
    gim_counter_add(counter, 1);
}

/* The counter's current value. */
static inline uint64_t gim_counter_value(struct gim_counter *counter)
{
    return atomic_load_explicit(&counter->value, memory_order_relaxed);
}

/* Sets gauge to value. */
static inline void gim_gauge_set(struct gim_gauge *gauge, int64_t value)
{
    atomic_store_explicit(&gauge->value, value, memory_order_relaxed);
}

/* Adds delta (may be negative) to gauge. */
static inline void gim_gauge_add(struct gim_gauge *gauge, int64_t delta)
{
    atomic_fetch_add_explicit(&gauge->value, delta, memory_order_relaxed);
}

/* The gauge's current value. */
static inline int64_t gim_gauge_value(struct gim_gauge *gauge)
{
    return atomic_load_explicit(&gauge->value, memory_order_relaxed);
}

/* Records one observation: the first bucket whose bound is >= value (else +Inf) and the sum. */
void gim_histogram_observe(struct gim_histogram *histogram, double value);

/* Observations recorded so far (all buckets). */
uint64_t gim_histogram_count(struct gim_histogram *histogram);

/*
 * Creates an empty registry. On GIM_OK *metrics is the caller's
 * (gim_metrics_destroy). Returns GIM_OK or GIM_ERR_NO_MEMORY.
 */
int gim_metrics_create(struct gim_metrics **metrics);

/*
 * Frees the registry and every sample it owns; pointers it handed out become
 * invalid. No thread may update or render it any more. NULL is allowed.
 */
void gim_metrics_destroy(struct gim_metrics *metrics);

/*
 * Registers (or finds) the counter sample name{labels}. name is a Prometheus
 * metric name ([a-zA-Z_:][a-zA-Z0-9_:]*, by convention ending in _total),
 * help one line of text, labels a GIM_LABELS(...) list or NULL for none
 * (label names [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__", not "le",
 * each once, at most 8; values any text, escaped when rendered; rendered in
 * name order, so the same set given in another order is the same sample). Every string is
 * copied. Registering the same name and labels again gives the same counter.
 * On GIM_OK *counter points into the registry (valid until
 * gim_metrics_destroy). Returns GIM_OK, GIM_ERR_INVALID (a bad name or label,
 * or name already registered with another type or help, or name{labels}
 * already taken by a callback) or GIM_ERR_NO_MEMORY.
 */
int gim_metrics_counter(struct gim_metrics *metrics, const char *name, const char *help,
                        const char *const *labels, struct gim_counter **counter);

/* Same as gim_metrics_counter for a gauge (starts at 0). */
int gim_metrics_gauge(struct gim_metrics *metrics, const char *name, const char *help,
                      const char *const *labels, struct gim_gauge **gauge);

/*
 * Same as gim_metrics_counter for a histogram with bucket upper bounds
 * bounds[0..bound_count) (finite, strictly increasing, at least one; copied;
 * the +Inf bucket is implicit). Registering the same name and labels again
 * gives the same histogram when the bounds are equal, GIM_ERR_INVALID if not.
 */
int gim_metrics_histogram(struct gim_metrics *metrics, const char *name, const char *help,
                          const char *const *labels, const double *bounds, size_t bound_count,
                          struct gim_histogram **histogram);

/*
 * Registers a sample whose value read(context, argument) returns at scrape
 * time; type is GIM_METRIC_COUNTER or GIM_METRIC_GAUGE. context stays the
 * caller's and must stay valid until the registry is destroyed or no longer
 * rendered. Same naming rules as gim_metrics_counter; name{labels} must not
 * be registered yet. Returns GIM_OK, GIM_ERR_INVALID or GIM_ERR_NO_MEMORY.
 */
int gim_metrics_callback(struct gim_metrics *metrics, enum gim_metric_type type, const char *name,
                         const char *help, const char *const *labels, gim_metric_read_fn read,
                         void *context, int argument);

/*
 * Renders every family in the text exposition format 0.0.4. On GIM_OK *text
 * is a malloc'd NUL-terminated string the caller frees and *length its
 * length without the NUL. Any thread, concurrently with updates. Returns
 * GIM_OK or GIM_ERR_NO_MEMORY.
 */
int gim_metrics_render(struct gim_metrics *metrics, char **text, size_t *length);

#endif
