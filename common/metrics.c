/* metrics.c: the Prometheus registry and its text exposition (see metrics.h). */
#include "common/metrics.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/status.h"

/* Owned counters and gauges each start a line of their own (no false sharing). */
#define METRICS_CACHE_LINE 64

struct gim_histogram {
    size_t bound_count;
    double *bounds;                  /* bound_count finite, increasing upper bounds */
    atomic_uint_least64_t sum_bits;  /* the sum of observations, as the bits of a double */
    atomic_uint_least64_t buckets[]; /* bound_count + 1 (the last is +Inf), not cumulative */
};

enum sample_source { SAMPLE_OWNED, SAMPLE_CALLBACK };

struct metric_sample {
    union { /* first: the sample is allocated on a cache-line boundary */
        struct gim_counter counter;
        struct gim_gauge gauge;
    } value;
    enum sample_source source;
    struct gim_histogram *histogram; /* owned, for a histogram family */
    gim_metric_read_fn read;
    void *context;
    int argument;
    char *labels; /* rendered label pairs without braces: a="x",b="y"; "" for none */
    struct metric_sample *next;
};

struct metric_family {
    char *name;
    char *help;
    enum gim_metric_type type;
    struct metric_sample *samples, **samples_tail;
    struct metric_family *next;
};

struct gim_metrics {
    pthread_mutex_t lock;
    struct metric_family *families, **families_tail;
};

/* ---- a growing text buffer ---- */

struct text {
    char *data;
    size_t length, capacity;
    bool failed; /* an allocation failed: everything after is dropped */
};

static void text_append(struct text *text, const char *bytes, size_t length)
{
    if (text->failed)
        return;
    if (gim_grow(&text->data, &text->capacity, text->length + length + 1, 1, 1024, SIZE_MAX) !=
        GIM_OK) {
        text->failed = true;
        return;
    }
    memcpy(text->data + text->length, bytes, length);
    text->length += length;
    text->data[text->length] = '\0';
}

static void text_string(struct text *text, const char *string)
{
    text_append(text, string, strlen(string));
}

static void text_printf(struct text *text, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void text_printf(struct text *text, const char *format, ...)
{
    char line[128];
    va_list arguments;
    int length;

    va_start(arguments, format);
    length = vsnprintf(line, sizeof(line), format, arguments);
    va_end(arguments);
    if (length < 0 || (size_t)length >= sizeof(line)) {
        text->failed = true; /* only numbers go through here: cannot happen */
        return;
    }
    text_append(text, line, (size_t)length);
}

/* Appends value escaped as Prometheus wants: \ and newline always, " inside label values. */
static void text_escaped(struct text *text, const char *value, bool quote)
{
    const char *start = value;

    for (; *value != '\0'; value++) {
        const char *replacement = *value == '\\'           ? "\\\\"
                                  : *value == '\n'         ? "\\n"
                                  : quote && *value == '"' ? "\\\""
                                                           : NULL;
        if (replacement == NULL)
            continue;
        text_append(text, start, (size_t)(value - start));
        text_string(text, replacement);
        start = value + 1;
    }
    text_append(text, start, (size_t)(value - start));
}

/* Writes a double the shortest way that reads back the same ("0.005", "4000", "+Inf"). */
static void text_double(struct text *text, double value)
{
    char number[40];
    int precision;

    if (isnan(value)) {
        text_string(text, "NaN");
        return;
    }
    if (isinf(value)) {
        text_string(text, value > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (value == floor(value) && fabs(value) < 1e15) { /* whole numbers without an exponent */
        snprintf(number, sizeof(number), "%.0f", value);
        text_string(text, number);
        return;
    }
    for (precision = 1; precision <= 17; precision++) {
        snprintf(number, sizeof(number), "%.*g", precision, value);
        if (strtod(number, NULL) == value)
            break;
    }
    text_string(text, number);
}

/* ---- names and labels ---- */

static bool name_is_valid(const char *name, bool colons)
{
    const char *cursor;

    if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (cursor = name; *cursor != '\0'; cursor++) {
        char c = *cursor;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colons && c == ':')))
            return false;
    }
    return true;
}

/* Labels one sample may carry (every registration in the code uses one or two). */
#define METRICS_MAX_LABELS 8

/*
 * Checks a NULL-terminated name/value list and renders it as a="x",b="y", the names in
 * ascending order whatever the order given (so one label set is one sample, however written).
 * Returns a malloc'd text ("" for none) or NULL (*status set) when invalid or out of memory.
 */
static char *labels_render(const char *const *labels, int *status)
{
    struct text text = {0};
    size_t index, other, count = 0, order[METRICS_MAX_LABELS];

    *status = GIM_ERR_INVALID;
    for (index = 0; labels != NULL && labels[index] != NULL; index += 2) {
        const char *name = labels[index], *value = labels[index + 1];
        if (value == NULL || !name_is_valid(name, false) || strncmp(name, "__", 2) == 0 ||
            strcmp(name, "le") == 0 || count == METRICS_MAX_LABELS)
            return NULL;
        /* insertion sort by name; an equal name is a repeated label */
        for (other = count; other > 0 && strcmp(labels[order[other - 1]], name) > 0; other--)
            order[other] = order[other - 1];
        if (other > 0 && strcmp(labels[order[other - 1]], name) == 0)
            return NULL;
        order[other] = index;
        count++;
    }
    for (index = 0; index < count; index++) {
        if (index > 0)
            text_string(&text, ",");
        text_string(&text, labels[order[index]]);
        text_string(&text, "=\"");
        text_escaped(&text, labels[order[index] + 1], true);
        text_string(&text, "\"");
    }
    if (text.data == NULL && !text.failed)
        text.data = strdup("");
    if (text.failed || text.data == NULL) {
        free(text.data);
        *status = GIM_ERR_NO_MEMORY;
        return NULL;
    }
    *status = GIM_OK;
    return text.data;
}

/* ---- registry ---- */

int gim_metrics_create(struct gim_metrics **out)
{
    struct gim_metrics *metrics = calloc(1, sizeof(*metrics));

    *out = NULL;
    if (metrics == NULL)
        return GIM_ERR_NO_MEMORY;
    pthread_mutex_init(&metrics->lock, NULL);
    metrics->families_tail = &metrics->families;
    *out = metrics;
    return GIM_OK;
}

static void sample_free(struct metric_sample *sample)
{
    if (sample->histogram != NULL) {
        free(sample->histogram->bounds);
        free(sample->histogram);
    }
    free(sample->labels);
    free(sample);
}

void gim_metrics_destroy(struct gim_metrics *metrics)
{
    struct metric_family *family, *next_family;

    if (metrics == NULL)
        return;
    for (family = metrics->families; family != NULL; family = next_family) {
        struct metric_sample *sample, *next_sample;
        next_family = family->next;
        for (sample = family->samples; sample != NULL; sample = next_sample) {
            next_sample = sample->next;
            sample_free(sample);
        }
        free(family->name);
        free(family->help);
        free(family);
    }
    pthread_mutex_destroy(&metrics->lock);
    free(metrics);
}

/* True if a histogram called histogram_name renders a line named name (_bucket, _sum, _count). */
static bool histogram_renders_name(const char *histogram_name, const char *name)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    size_t length = strlen(histogram_name), index;

    if (strncmp(name, histogram_name, length) != 0)
        return false;
    for (index = 0; index < sizeof(suffixes) / sizeof(suffixes[0]); index++)
        if (strcmp(name + length, suffixes[index]) == 0)
            return true;
    return false;
}

/* The family called name, created if new. Called with the lock held. Returns NULL with *status
 * (GIM_ERR_INVALID also when the name would collide with a histogram's rendered lines). */
static struct metric_family *family_get(struct gim_metrics *metrics, const char *name,
                                        const char *help, enum gim_metric_type type, int *status)
{
    struct metric_family *family;

    for (family = metrics->families; family != NULL; family = family->next) {
        if ((family->type == GIM_METRIC_HISTOGRAM && histogram_renders_name(family->name, name)) ||
            (type == GIM_METRIC_HISTOGRAM && histogram_renders_name(name, family->name))) {
            *status = GIM_ERR_INVALID;
            return NULL;
        }
        if (strcmp(family->name, name) != 0)
            continue;
        if (family->type != type || strcmp(family->help, help) != 0) {
            *status = GIM_ERR_INVALID;
            return NULL;
        }
        return family;
    }
    family = calloc(1, sizeof(*family));
    if (family == NULL || (family->name = strdup(name)) == NULL ||
        (family->help = strdup(help)) == NULL) {
        if (family != NULL)
            free(family->name);
        free(family);
        *status = GIM_ERR_NO_MEMORY;
        return NULL;
    }
    family->type = type;
    family->samples_tail = &family->samples;
    *metrics->families_tail = family;
    metrics->families_tail = &family->next;
    return family;
}

static struct metric_sample *family_find_sample(const struct metric_family *family,
                                                const char *labels)
{
    struct metric_sample *sample;

    for (sample = family->samples; sample != NULL; sample = sample->next)
        if (strcmp(sample->labels, labels) == 0)
            return sample;
    return NULL;
}

static struct gim_histogram *histogram_new(const double *bounds, size_t bound_count)
{
    struct gim_histogram *histogram =
        calloc(1, sizeof(*histogram) + (bound_count + 1) * sizeof(histogram->buckets[0]));
    double zero = 0.0;
    uint64_t zero_bits;
    size_t index;

    if (histogram == NULL)
        return NULL;
    histogram->bounds = malloc(bound_count * sizeof(*bounds));
    if (histogram->bounds == NULL) {
        free(histogram);
        return NULL;
    }
    memcpy(histogram->bounds, bounds, bound_count * sizeof(*bounds));
    histogram->bound_count = bound_count;
    memcpy(&zero_bits, &zero, sizeof(zero_bits));
    atomic_init(&histogram->sum_bits, zero_bits);
    for (index = 0; index <= bound_count; index++)
        atomic_init(&histogram->buckets[index], 0);
    return histogram;
}

static bool bounds_are_valid(const double *bounds, size_t bound_count)
{
    size_t index;

    if (bounds == NULL || bound_count == 0)
        return false;
    for (index = 0; index < bound_count; index++) {
        if (!isfinite(bounds[index]) || (index > 0 && bounds[index] <= bounds[index - 1]))
            return false;
    }
    return true;
}

/* What a new sample reads from, besides its name and labels. */
struct sample_origin {
    enum sample_source source;
    const double *bounds; /* histograms */
    size_t bound_count;
    gim_metric_read_fn read; /* callbacks */
    void *context;
    int argument;
};

/*
 * Registers or finds one sample. For SAMPLE_OWNED, an existing owned sample
 * with the same labels is returned (histograms: with equal bounds). A new
 * sample is complete before it is linked, so a render never sees half of it.
 * Returns GIM_OK with *out set, or an error.
 */
static int metrics_register(struct gim_metrics *metrics, enum gim_metric_type type,
                            const char *name, const char *help, const char *const *labels,
                            const struct sample_origin *origin, struct metric_sample **out)
{
    const double *bounds = origin->bounds;
    size_t bound_count = origin->bound_count;
    struct metric_family *family;
    struct metric_sample *sample;
    char *rendered;
    int status;

    *out = NULL;
    if (metrics == NULL || !name_is_valid(name, true) || help == NULL || strchr(help, '\n') != NULL)
        return GIM_ERR_INVALID;
    if (type == GIM_METRIC_HISTOGRAM && !bounds_are_valid(bounds, bound_count))
        return GIM_ERR_INVALID;
    rendered = labels_render(labels, &status);
    if (rendered == NULL)
        return status;
    pthread_mutex_lock(&metrics->lock);
    family = family_get(metrics, name, help, type, &status);
    if (family == NULL)
        goto out;
    sample = family_find_sample(family, rendered);
    if (sample != NULL) {
        status = GIM_ERR_INVALID;
        if (origin->source == SAMPLE_OWNED && sample->source == SAMPLE_OWNED &&
            (type != GIM_METRIC_HISTOGRAM ||
             (sample->histogram->bound_count == bound_count &&
              memcmp(sample->histogram->bounds, bounds, bound_count * sizeof(*bounds)) == 0))) {
            *out = sample;
            status = GIM_OK;
        }
        goto out;
    }
    status = GIM_ERR_NO_MEMORY;
    sample = aligned_alloc(METRICS_CACHE_LINE, (sizeof(*sample) + METRICS_CACHE_LINE - 1) /
                                                   METRICS_CACHE_LINE * METRICS_CACHE_LINE);
    if (sample == NULL)
        goto out;
    memset(sample, 0, sizeof(*sample));
    if (type == GIM_METRIC_GAUGE)
        atomic_init(&sample->value.gauge.value, 0);
    else
        atomic_init(&sample->value.counter.value, 0);
    if (type == GIM_METRIC_HISTOGRAM) {
        sample->histogram = histogram_new(bounds, bound_count);
        if (sample->histogram == NULL) {
            free(sample);
            goto out;
        }
    }
    sample->source = origin->source;
    sample->read = origin->read;
    sample->context = origin->context;
    sample->argument = origin->argument;
    sample->labels = rendered;
    rendered = NULL;
    *family->samples_tail = sample;
    family->samples_tail = &sample->next;
    *out = sample;
    status = GIM_OK;
out:
    pthread_mutex_unlock(&metrics->lock);
    free(rendered);
    return status;
}

int gim_metrics_counter(struct gim_metrics *metrics, const char *name, const char *help,
                        const char *const *labels, struct gim_counter **counter)
{
    struct sample_origin origin = {SAMPLE_OWNED, NULL, 0, NULL, NULL, 0};
    struct metric_sample *sample;
    int status =
        metrics_register(metrics, GIM_METRIC_COUNTER, name, help, labels, &origin, &sample);

    *counter = status == GIM_OK ? &sample->value.counter : NULL;
    return status;
}

int gim_metrics_gauge(struct gim_metrics *metrics, const char *name, const char *help,
                      const char *const *labels, struct gim_gauge **gauge)
{
    struct sample_origin origin = {SAMPLE_OWNED, NULL, 0, NULL, NULL, 0};
    struct metric_sample *sample;
    int status = metrics_register(metrics, GIM_METRIC_GAUGE, name, help, labels, &origin, &sample);

    *gauge = status == GIM_OK ? &sample->value.gauge : NULL;
    return status;
}

int gim_metrics_histogram(struct gim_metrics *metrics, const char *name, const char *help,
                          const char *const *labels, const double *bounds, size_t bound_count,
                          struct gim_histogram **histogram)
{
    struct sample_origin origin = {SAMPLE_OWNED, bounds, bound_count, NULL, NULL, 0};
    struct metric_sample *sample;
    int status =
        metrics_register(metrics, GIM_METRIC_HISTOGRAM, name, help, labels, &origin, &sample);

    *histogram = status == GIM_OK ? sample->histogram : NULL;
    return status;
}

int gim_metrics_callback(struct gim_metrics *metrics, enum gim_metric_type type, const char *name,
                         const char *help, const char *const *labels, gim_metric_read_fn read,
                         void *context, int argument)
{
    struct sample_origin origin = {SAMPLE_CALLBACK, NULL, 0, read, context, argument};
    struct metric_sample *sample;

    if (read == NULL || (type != GIM_METRIC_COUNTER && type != GIM_METRIC_GAUGE))
        return GIM_ERR_INVALID;
    return metrics_register(metrics, type, name, help, labels, &origin, &sample);
}

/* ---- histograms ---- */

void gim_histogram_observe(struct gim_histogram *histogram, double value)
{
    size_t index = 0;
    uint64_t old_bits, new_bits;
    double sum;

    if (value != value)
        return; /* NaN: no bucket, and it would make the sum NaN for good */
    while (index < histogram->bound_count && !(value <= histogram->bounds[index]))
        index++;
    atomic_fetch_add_explicit(&histogram->buckets[index], 1, memory_order_relaxed);
    old_bits = atomic_load_explicit(&histogram->sum_bits, memory_order_relaxed);
    do {
        memcpy(&sum, &old_bits, sizeof(sum));
        sum += value;
        memcpy(&new_bits, &sum, sizeof(new_bits));
    } while (!atomic_compare_exchange_weak_explicit(&histogram->sum_bits, &old_bits, new_bits,
                                                    memory_order_relaxed, memory_order_relaxed));
}

uint64_t gim_histogram_count(struct gim_histogram *histogram)
{
    uint64_t count = 0;
    size_t index;

    for (index = 0; index <= histogram->bound_count; index++)
        count += atomic_load_explicit(&histogram->buckets[index], memory_order_relaxed);
    return count;
}

/* ---- rendering ---- */

/* name + suffix + {labels[,extra]} */
static void render_series(struct text *text, const char *name, const char *suffix,
                          const char *labels, const char *extra)
{
    text_string(text, name);
    text_string(text, suffix);
    if (labels[0] == '\0' && extra == NULL)
        return;
    text_string(text, "{");
    text_string(text, labels);
    if (extra != NULL) {
        if (labels[0] != '\0')
            text_string(text, ",");
        text_string(text, extra);
    }
    text_string(text, "}");
}

static void render_histogram(struct text *text, const struct metric_family *family,
                             const struct metric_sample *sample)
{
    struct gim_histogram *histogram = sample->histogram;
    uint64_t cumulative = 0, sum_bits;
    double sum;
    size_t index;

    for (index = 0; index <= histogram->bound_count; index++) {
        struct text bound = {0};
        cumulative += atomic_load_explicit(&histogram->buckets[index], memory_order_relaxed);
        text_string(&bound, "le=\"");
        text_double(&bound,
                    index < histogram->bound_count ? histogram->bounds[index] : (double)INFINITY);
        text_string(&bound, "\"");
        if (bound.failed) {
            text->failed = true;
            free(bound.data);
            return;
        }
        render_series(text, family->name, "_bucket", sample->labels, bound.data);
        text_printf(text, " %" PRIu64 "\n", cumulative);
        free(bound.data);
    }
    sum_bits = atomic_load_explicit(&histogram->sum_bits, memory_order_relaxed);
    memcpy(&sum, &sum_bits, sizeof(sum));
    render_series(text, family->name, "_sum", sample->labels, NULL);
    text_string(text, " ");
    text_double(text, sum);
    text_string(text, "\n");
    render_series(text, family->name, "_count", sample->labels, NULL);
    text_printf(text, " %" PRIu64 "\n", cumulative);
}

static void render_sample(struct text *text, const struct metric_family *family,
                          struct metric_sample *sample)
{
    if (family->type == GIM_METRIC_HISTOGRAM) {
        render_histogram(text, family, sample);
        return;
    }
    render_series(text, family->name, "", sample->labels, NULL);
    if (sample->source == SAMPLE_CALLBACK)
        text_printf(text, " %" PRId64 "\n", sample->read(sample->context, sample->argument));
    else if (family->type == GIM_METRIC_COUNTER)
        text_printf(text, " %" PRIu64 "\n", gim_counter_value(&sample->value.counter));
    else
        text_printf(text, " %" PRId64 "\n", gim_gauge_value(&sample->value.gauge));
}

static const char *type_name(enum gim_metric_type type)
{
    return type == GIM_METRIC_COUNTER ? "counter"
           : type == GIM_METRIC_GAUGE ? "gauge"
                                      : "histogram";
}

int gim_metrics_render(struct gim_metrics *metrics, char **out, size_t *length)
{
    struct text text = {0};
    struct metric_family *family;

    *out = NULL;
    *length = 0;
    pthread_mutex_lock(&metrics->lock);
    for (family = metrics->families; family != NULL; family = family->next) {
        struct metric_sample *sample;
        text_string(&text, "# HELP ");
        text_string(&text, family->name);
        text_string(&text, " ");
        text_escaped(&text, family->help, false);
        text_string(&text, "\n# TYPE ");
        text_string(&text, family->name);
        text_string(&text, " ");
        text_string(&text, type_name(family->type));
        text_string(&text, "\n");
        for (sample = family->samples; sample != NULL; sample = sample->next)
            render_sample(&text, family, sample);
    }
    pthread_mutex_unlock(&metrics->lock);
    if (text.data == NULL && !text.failed)
        text.data = strdup("");
    if (text.failed || text.data == NULL) {
        free(text.data);
        return GIM_ERR_NO_MEMORY;
    }
    *out = text.data;
    *length = text.length;
    return GIM_OK;
}
