/* test_metrics.c: unit tests of the Prometheus registry and its exposition (common/metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/metrics.h"
#include "common/metrics_http.h"
#include "common/status.h"

/* Renders metrics and compares the whole text. */
static void assert_rendered(struct gim_metrics *metrics, const char *expected)
{
    char *text;
    size_t length;

    assert_int_equal(gim_metrics_render(metrics, &text, &length), GIM_OK);
    assert_string_equal(text, expected);
    assert_int_equal(length, strlen(expected));
    free(text);
}

static void test_empty_registry_renders_nothing(void **state)
{
    struct gim_metrics *metrics;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_rendered(metrics, "");
    gim_metrics_destroy(metrics);
}

static void test_counters_and_gauges_render_exactly(void **state)
{
    struct gim_metrics *metrics;
    struct gim_counter *ok, *failed, *plain;
    struct gim_gauge *open;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_counter(metrics, "app_auth_total", "Authentications by result.",
                                         GIM_LABELS("result", "ok"), &ok),
                     GIM_OK);
    assert_int_equal(gim_metrics_counter(metrics, "app_auth_total", "Authentications by result.",
                                         GIM_LABELS("result", "failed"), &failed),
                     GIM_OK);
    assert_int_equal(gim_metrics_gauge(metrics, "app_open", "Open things.", NULL, &open), GIM_OK);
    assert_int_equal(gim_metrics_counter(metrics, "app_plain_total", "No labels.", NULL, &plain),
                     GIM_OK);
    gim_counter_increment(ok);
    gim_counter_add(ok, 41);
    gim_counter_increment(failed);
    gim_gauge_set(open, 7);
    gim_gauge_add(open, -10);
    assert_rendered(metrics, "# HELP app_auth_total Authentications by result.\n"
                             "# TYPE app_auth_total counter\n"
                             "app_auth_total{result=\"ok\"} 42\n"
                             "app_auth_total{result=\"failed\"} 1\n"
                             "# HELP app_open Open things.\n"
                             "# TYPE app_open gauge\n"
                             "app_open -3\n"
                             "# HELP app_plain_total No labels.\n"
                             "# TYPE app_plain_total counter\n"
                             "app_plain_total 0\n");
    assert_int_equal(gim_counter_value(ok), 42);
    assert_int_equal(gim_gauge_value(open), -3);
    gim_metrics_destroy(metrics);
}

static void test_several_labels_are_one_sample_in_name_order(void **state)
{
    struct gim_metrics *metrics;
    struct gim_counter *counter, *same;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_counter(metrics, "http_requests_total", "Requests.",
                                         GIM_LABELS("endpoint", "/goim/push/mids", "code", "-400"),
                                         &counter),
                     GIM_OK);
    /* the same label set written in the other order is the same sample, not a second series */
    assert_int_equal(gim_metrics_counter(metrics, "http_requests_total", "Requests.",
                                         GIM_LABELS("code", "-400", "endpoint", "/goim/push/mids"),
                                         &same),
                     GIM_OK);
    assert_ptr_equal(same, counter);
    gim_counter_add(counter, 3);
    assert_rendered(metrics, "# HELP http_requests_total Requests.\n"
                             "# TYPE http_requests_total counter\n"
                             "http_requests_total{code=\"-400\",endpoint=\"/goim/push/mids\"} 3\n");
    gim_metrics_destroy(metrics);
}

static void test_label_values_and_help_are_escaped(void **state)
{
    struct gim_metrics *metrics;
    struct gim_counter *counter;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_counter(metrics, "odd_total", "A back\\slash in help.",
                                         GIM_LABELS("value", "a\"b\\c\nd"), &counter),
                     GIM_OK);
    assert_rendered(metrics, "# HELP odd_total A back\\\\slash in help.\n"
                             "# TYPE odd_total counter\n"
                             "odd_total{value=\"a\\\"b\\\\c\\nd\"} 0\n");
    gim_metrics_destroy(metrics);
}

static void test_histogram_renders_cumulative_buckets(void **state)
{
    static const double bounds[] = {0.005, 0.25, 1, 2.5};
    struct gim_metrics *metrics;
    struct gim_histogram *latency, *other;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_histogram(metrics, "produce_seconds", "Produce latency.",
                                           GIM_LABELS("topic", "t"), bounds, 4, &latency),
                     GIM_OK);
    gim_histogram_observe(latency, 0.005); /* on a bound: counted in that bucket (le) */
    gim_histogram_observe(latency, 0.125);
    gim_histogram_observe(latency, 0.5);
    gim_histogram_observe(latency, 4);
    assert_int_equal(gim_histogram_count(latency), 4);
    assert_rendered(metrics, "# HELP produce_seconds Produce latency.\n"
                             "# TYPE produce_seconds histogram\n"
                             "produce_seconds_bucket{topic=\"t\",le=\"0.005\"} 1\n"
                             "produce_seconds_bucket{topic=\"t\",le=\"0.25\"} 2\n"
                             "produce_seconds_bucket{topic=\"t\",le=\"1\"} 3\n"
                             "produce_seconds_bucket{topic=\"t\",le=\"2.5\"} 3\n"
                             "produce_seconds_bucket{topic=\"t\",le=\"+Inf\"} 4\n"
                             "produce_seconds_sum{topic=\"t\"} 4.63\n"
                             "produce_seconds_count{topic=\"t\"} 4\n");
    /* the same bounds give the same histogram; other bounds are refused */
    assert_int_equal(gim_metrics_histogram(metrics, "produce_seconds", "Produce latency.",
                                           GIM_LABELS("topic", "t"), bounds, 4, &other),
                     GIM_OK);
    assert_ptr_equal(other, latency);
    assert_int_equal(gim_metrics_histogram(metrics, "produce_seconds", "Produce latency.",
                                           GIM_LABELS("topic", "t"), bounds, 3, &other),
                     GIM_ERR_INVALID);
    gim_metrics_destroy(metrics);
}

static void test_histogram_without_labels(void **state)
{
    static const double bounds[] = {1};
    struct gim_metrics *metrics;
    struct gim_histogram *histogram;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_histogram(metrics, "h", "H.", NULL, bounds, 1, &histogram),
                     GIM_OK);
    assert_rendered(metrics, "# HELP h H.\n"
                             "# TYPE h histogram\n"
                             "h_bucket{le=\"1\"} 0\n"
                             "h_bucket{le=\"+Inf\"} 0\n"
                             "h_sum 0\n"
                             "h_count 0\n");
    gim_metrics_destroy(metrics);
}

static int64_t read_argument_times_context(void *context, int argument)
{
    return *(int64_t *)context * argument;
}

static void test_callbacks_are_read_at_render_time(void **state)
{
    struct gim_metrics *metrics;
    int64_t factor = 10;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_callback(metrics, GIM_METRIC_GAUGE, "loop_items", "Items.",
                                          GIM_LABELS("kind", "a"), read_argument_times_context,
                                          &factor, 1),
                     GIM_OK);
    assert_int_equal(gim_metrics_callback(metrics, GIM_METRIC_GAUGE, "loop_items", "Items.",
                                          GIM_LABELS("kind", "b"), read_argument_times_context,
                                          &factor, -2),
                     GIM_OK);
    assert_rendered(metrics, "# HELP loop_items Items.\n"
                             "# TYPE loop_items gauge\n"
                             "loop_items{kind=\"a\"} 10\n"
                             "loop_items{kind=\"b\"} -20\n");
    factor = 3;
    assert_rendered(metrics, "# HELP loop_items Items.\n"
                             "# TYPE loop_items gauge\n"
                             "loop_items{kind=\"a\"} 3\n"
                             "loop_items{kind=\"b\"} -6\n");
    /* the same labels again, and a callback histogram, are refused */
    assert_int_equal(gim_metrics_callback(metrics, GIM_METRIC_GAUGE, "loop_items", "Items.",
                                          GIM_LABELS("kind", "a"), read_argument_times_context,
                                          &factor, 1),
                     GIM_ERR_INVALID);
    assert_int_equal(gim_metrics_callback(metrics, GIM_METRIC_HISTOGRAM, "loop_h", "H.", NULL,
                                          read_argument_times_context, &factor, 1),
                     GIM_ERR_INVALID);
    gim_metrics_destroy(metrics);
}

static void test_registration_rules(void **state)
{
    static const double bad_bounds[] = {1, 1};
    struct gim_metrics *metrics;
    struct gim_counter *counter, *again;
    struct gim_gauge *gauge;
    struct gim_histogram *histogram;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_counter(metrics, "x_total", "X.", NULL, &counter), GIM_OK);
    /* the same name and labels: the same counter */
    assert_int_equal(gim_metrics_counter(metrics, "x_total", "X.", NULL, &again), GIM_OK);
    assert_ptr_equal(again, counter);
    /* the same name with another type or another help */
    assert_int_equal(gim_metrics_gauge(metrics, "x_total", "X.", NULL, &gauge), GIM_ERR_INVALID);
    assert_null(gauge);
    assert_int_equal(gim_metrics_counter(metrics, "x_total", "Other.", NULL, &again),
                     GIM_ERR_INVALID);
    /* a sample owned by the registry cannot be taken by a callback */
    assert_int_equal(gim_metrics_callback(metrics, GIM_METRIC_COUNTER, "x_total", "X.", NULL,
                                          read_argument_times_context, NULL, 0),
                     GIM_ERR_INVALID);
    /* bad names */
    assert_int_equal(gim_metrics_counter(metrics, "1x", "X.", NULL, &again), GIM_ERR_INVALID);
    assert_int_equal(gim_metrics_counter(metrics, "x-y", "X.", NULL, &again), GIM_ERR_INVALID);
    assert_int_equal(gim_metrics_counter(metrics, "", "X.", NULL, &again), GIM_ERR_INVALID);
    assert_int_equal(gim_metrics_counter(metrics, "ns:x_total", "X.", NULL, &again), GIM_OK);
    assert_int_equal(gim_metrics_counter(metrics, "y_total", "two\nlines", NULL, &again),
                     GIM_ERR_INVALID);
    /* bad labels: reserved, repeated, without a value, with a colon */
    assert_int_equal(gim_metrics_counter(metrics, "y_total", "Y.", GIM_LABELS("le", "1"), &again),
                     GIM_ERR_INVALID);
    assert_int_equal(
        gim_metrics_counter(metrics, "y_total", "Y.", GIM_LABELS("__name", "1"), &again),
        GIM_ERR_INVALID);
    assert_int_equal(
        gim_metrics_counter(metrics, "y_total", "Y.", GIM_LABELS("a", "1", "a", "2"), &again),
        GIM_ERR_INVALID);
    assert_int_equal(gim_metrics_counter(metrics, "y_total", "Y.", GIM_LABELS("a"), &again),
                     GIM_ERR_INVALID);
    assert_int_equal(gim_metrics_counter(metrics, "y_total", "Y.", GIM_LABELS("a:b", "1"), &again),
                     GIM_ERR_INVALID);
    /* histogram bounds must increase strictly */
    assert_int_equal(
        gim_metrics_histogram(metrics, "z_seconds", "Z.", NULL, bad_bounds, 2, &histogram),
        GIM_ERR_INVALID);
    assert_int_equal(
        gim_metrics_histogram(metrics, "z_seconds", "Z.", NULL, bad_bounds, 0, &histogram),
        GIM_ERR_INVALID);
    /* nothing refused was registered */
    assert_rendered(metrics, "# HELP x_total X.\n"
                             "# TYPE x_total counter\n"
                             "x_total 0\n"
                             "# HELP ns:x_total X.\n"
                             "# TYPE ns:x_total counter\n"
                             "ns:x_total 0\n");
    gim_metrics_destroy(metrics);
}

#define THREADS    4
#define INCREMENTS 200000

struct worker {
    pthread_t thread;
    struct gim_counter *shared;
    struct gim_counter *own;
    struct gim_gauge *gauge;
    struct gim_histogram *histogram;
};

static void *worker_run(void *argument)
{
    struct worker *worker = argument;
    int index;

    for (index = 0; index < INCREMENTS; index++) {
        gim_counter_increment(worker->shared);
        gim_counter_increment(worker->own);
        gim_gauge_add(worker->gauge, index % 2 == 0 ? 1 : -1);
        if (index % 100 == 0)
            gim_histogram_observe(worker->histogram, 0.5);
    }
    return NULL;
}

struct renderer {
    pthread_t thread;
    struct gim_metrics *metrics;
    atomic_bool stop;
    int renders;
};

static void *renderer_run(void *argument)
{
    struct renderer *renderer = argument;

    while (!atomic_load(&renderer->stop)) {
        char *text;
        size_t length;
        if (gim_metrics_render(renderer->metrics, &text, &length) != GIM_OK)
            abort();
        free(text);
        renderer->renders++;
    }
    return NULL;
}

static void test_names_a_histogram_renders_are_refused(void **state)
{
    const double bounds[] = {0.1, 1.0};
    struct gim_metrics *metrics;
    struct gim_histogram *histogram;
    struct gim_counter *counter;
    struct gim_gauge *gauge;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_histogram(metrics, "w_seconds", "W.", NULL, bounds, 2, &histogram),
                     GIM_OK);
    /* its lines are w_seconds_bucket, w_seconds_sum and w_seconds_count */
    assert_int_equal(gim_metrics_counter(metrics, "w_seconds_count", "C.", NULL, &counter),
                     GIM_ERR_INVALID);
    assert_int_equal(gim_metrics_gauge(metrics, "w_seconds_sum", "S.", NULL, &gauge),
                     GIM_ERR_INVALID);
    assert_int_equal(gim_metrics_counter(metrics, "w_seconds_total", "T.", NULL, &counter), GIM_OK);
    /* and the other way round: a histogram whose lines an existing family already uses */
    assert_int_equal(gim_metrics_counter(metrics, "v_bucket", "B.", NULL, &counter), GIM_OK);
    assert_int_equal(gim_metrics_histogram(metrics, "v", "V.", NULL, bounds, 2, &histogram),
                     GIM_ERR_INVALID);
    gim_metrics_destroy(metrics);
}

static void test_increments_from_several_threads_are_all_counted(void **state)
{
    static const double bounds[] = {0.25, 1};
    static const char *const names[THREADS] = {"0", "1", "2", "3"};
    struct gim_metrics *metrics;
    struct gim_counter *shared;
    struct gim_gauge *gauge;
    struct gim_histogram *histogram;
    struct worker workers[THREADS];
    struct renderer renderer;
    char *text, expected[128];
    size_t length;
    int index;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_counter(metrics, "shared_total", "Shared.", NULL, &shared),
                     GIM_OK);
    assert_int_equal(gim_metrics_gauge(metrics, "level", "Level.", NULL, &gauge), GIM_OK);
    assert_int_equal(gim_metrics_histogram(metrics, "value", "Value.", NULL, bounds, 2, &histogram),
                     GIM_OK);
    for (index = 0; index < THREADS; index++) {
        workers[index].shared = shared;
        workers[index].gauge = gauge;
        workers[index].histogram = histogram;
        assert_int_equal(gim_metrics_counter(metrics, "own_total", "Own.",
                                             GIM_LABELS("thread", names[index]),
                                             &workers[index].own),
                         GIM_OK);
    }
    renderer.metrics = metrics;
    renderer.renders = 0;
    atomic_init(&renderer.stop, false);
    assert_int_equal(pthread_create(&renderer.thread, NULL, renderer_run, &renderer), 0);
    for (index = 0; index < THREADS; index++)
        assert_int_equal(pthread_create(&workers[index].thread, NULL, worker_run, &workers[index]),
                         0);
    for (index = 0; index < THREADS; index++)
        pthread_join(workers[index].thread, NULL);
    atomic_store(&renderer.stop, true);
    pthread_join(renderer.thread, NULL);

    assert_int_equal(gim_counter_value(shared), (uint64_t)THREADS * INCREMENTS);
    for (index = 0; index < THREADS; index++)
        assert_int_equal(gim_counter_value(workers[index].own), INCREMENTS);
    assert_int_equal(gim_gauge_value(gauge), 0);
    assert_int_equal(gim_histogram_count(histogram), THREADS * (INCREMENTS / 100));
    assert_int_equal(gim_metrics_render(metrics, &text, &length), GIM_OK);
    snprintf(expected, sizeof(expected), "\nshared_total %d\n", THREADS * INCREMENTS);
    assert_non_null(strstr(text, expected));
    snprintf(expected, sizeof(expected), "\nown_total{thread=\"3\"} %d\n", INCREMENTS);
    assert_non_null(strstr(text, expected));
    snprintf(expected, sizeof(expected), "\nvalue_sum %d\n", THREADS * (INCREMENTS / 100) / 2);
    assert_non_null(strstr(text, expected));
    free(text);
    gim_metrics_destroy(metrics);
}

/* Sends one HTTP/1.0 request to 127.0.0.1:port and reads the whole answer into out. */
static void http_exchange(unsigned int port, const char *request, char *out, size_t size)
{
    struct sockaddr_in address = {0};
    size_t used = 0;
    ssize_t received;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
    assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
    while (used + 1 < size && (received = read(fd, out + used, size - 1 - used)) > 0)
        used += (size_t)received;
    out[used] = '\0';
    close(fd);
}

static void test_metrics_server_answers_get_404_and_405(void **state)
{
    struct gim_metrics *metrics;
    struct gim_metrics_server *server;
    struct gim_counter *counter;
    char answer[4096], error[256];
    unsigned int port;

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_counter(metrics, "served_total", "Served.", NULL, &counter),
                     GIM_OK);
    gim_counter_add(counter, 5);
    assert_int_equal(
        gim_metrics_server_start(&server, metrics, "127.0.0.1:0", error, sizeof(error)), GIM_OK);
    port = gim_metrics_server_port(server);
    assert_true(port > 0);

    http_exchange(port, "GET /metrics HTTP/1.0\r\n\r\n", answer, sizeof(answer));
    assert_int_equal(strncmp(answer, "HTTP/1.", 7), 0);
    assert_int_equal(strncmp(answer + 8, " 200 ", 5), 0);
    assert_non_null(strstr(answer, "Content-Type: " METRICS_HTTP_CONTENT_TYPE "\r\n"));
    assert_non_null(strstr(answer, "\r\n\r\n# HELP served_total Served.\n"
                                   "# TYPE served_total counter\n"
                                   "served_total 5\n"));
    http_exchange(port, "GET /other HTTP/1.0\r\n\r\n", answer, sizeof(answer));
    assert_int_equal(strncmp(answer + 8, " 404 ", 5), 0);
    http_exchange(port, "DELETE /metrics HTTP/1.0\r\n\r\n", answer, sizeof(answer));
    assert_int_equal(strncmp(answer + 8, " 405 ", 5), 0);
    assert_non_null(strstr(answer, "Allow: GET, HEAD\r\n"));
    gim_metrics_server_stop(server);
    gim_metrics_destroy(metrics);
}

static void test_metrics_server_refuses_a_bad_address(void **state)
{
    struct gim_metrics *metrics;
    struct gim_metrics_server *server;
    char error[256];

    (void)state;
    assert_int_equal(gim_metrics_create(&metrics), GIM_OK);
    assert_int_equal(gim_metrics_server_start(&server, metrics, "no-port", error, sizeof(error)),
                     GIM_ERR_INVALID);
    assert_null(server);
    assert_non_null(strstr(error, "metrics.addr"));
    gim_metrics_destroy(metrics);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_registry_renders_nothing),
        cmocka_unit_test(test_counters_and_gauges_render_exactly),
        cmocka_unit_test(test_several_labels_are_one_sample_in_name_order),
        cmocka_unit_test(test_label_values_and_help_are_escaped),
        cmocka_unit_test(test_histogram_renders_cumulative_buckets),
        cmocka_unit_test(test_histogram_without_labels),
        cmocka_unit_test(test_callbacks_are_read_at_render_time),
        cmocka_unit_test(test_registration_rules),
        cmocka_unit_test(test_names_a_histogram_renders_are_refused),
        cmocka_unit_test(test_increments_from_several_threads_are_all_counted),
        cmocka_unit_test(test_metrics_server_answers_get_404_and_405),
        cmocka_unit_test(test_metrics_server_refuses_a_bad_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
