/*
 * pusher.c: HTTP push load for the benchmark: POSTs to logic over keep-alive HTTP/1.1 sockets.
 *
 *   pusher -addr 127.0.0.1:3111 -path '/goim/push/mids?operation=1000&mids={mid}'
 *          [-mid-base B -mid-count N] [-rate R] [-duration S | -count N] [-conns C]
 *          [-body-size BYTES] [-form FIELD]
 *
 * Every request body starts with the send time as ASCII decimal CLOCK_REALTIME microseconds
 * since the epoch, then a space and 'x' padding up to -body-size bytes: "1712345678901234 xxx".
 * tests/bench/loadgen_worker.c reads that number back from the pushed frame to measure latency.
 * In the path, "{mid}" is replaced by a random mid in [B, B + N) for each request.
 * -form FIELD: the body is an urlencoded form with that text as the value of FIELD
 * ("data=1712345678901234+xxx", the value -body-size bytes before encoding), for gusher's master
 * API (`POST /api/push/{app}/{channel}/{event}`); an answer then counts as ok when it is a 200
 * (gusher answers the envelope it pushed, not goim's {"code":0}).
 *
 * -rate R sends R requests per second in total (0 = each connection sends its next request as
 * soon as the previous answer arrived); -conns C connections each keep one request in flight.
 * It stops after -count requests or -duration seconds (default 10), waits at most 5 s for the
 * answers still outstanding, and prints one JSON line: requests sent, answered with HTTP 200 and
 * {"code":0}, failed, achieved rate, request latency percentiles (microseconds), the first error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/status.h"
#include "tests/bench/latency_histogram.h"

#define MAX_CONNECTIONS 256
#define MAX_BODY        65536
#define RESPONSE_LIMIT  16384

struct http_connection {
    int fd;
    int busy;        /* a request is in flight */
    int64_t sent_us; /* CLOCK_REALTIME when the request was written */
    char response[RESPONSE_LIMIT];
    size_t response_length;
};

struct pusher {
    struct sockaddr_in target;
    char host_header[160];
    const char *path_template;
    int64_t mid_base, mid_count;
    double rate;
    double duration_seconds;
    long count;
    int connection_count;
    size_t body_size;
    const char *form_field; /* NULL: text/plain body; else urlencoded form with this field */
    struct http_connection connections[MAX_CONNECTIONS];
    uint64_t sent, ok, failed;
    int64_t last_answer_us;
    char first_error[256];
    struct latency_histogram latency;
};

static int64_t realtime_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static void usage(void)
{
    fprintf(stderr, "usage: pusher -addr host:port -path PATH [-mid-base B -mid-count N] "
                    "[-rate R] [-duration S | -count N] [-conns C] [-body-size BYTES] "
                    "[-form FIELD]\n");
    exit(2);
}

static void note_error(struct pusher *pusher, const char *what)
{
    pusher->failed++;
    if (pusher->first_error[0] == '\0')
        snprintf(pusher->first_error, sizeof(pusher->first_error), "%s", what);
}

static int connect_to(const struct pusher *pusher)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);

    if (fd < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)&pusher->target, sizeof(pusher->target)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void drop_connection(struct http_connection *connection)
{
    if (connection->fd >= 0)
        close(connection->fd);
    connection->fd = -1;
    connection->busy = 0;
    connection->response_length = 0;
}

/* Writes the path with "{mid}" replaced into out; returns GIM_ERR_TOO_LARGE if it does not fit. */
static int expand_path(const struct pusher *pusher, char *out, size_t capacity)
{
    const char *marker = strstr(pusher->path_template, "{mid}");
    int length;

    if (marker == NULL)
        length = snprintf(out, capacity, "%s", pusher->path_template);
    else
        length = snprintf(out, capacity, "%.*s%lld%s", (int)(marker - pusher->path_template),
                          pusher->path_template,
                          (long long)(pusher->mid_base + (int64_t)(random() % pusher->mid_count)),
                          marker + 5);
    return length < 0 || (size_t)length >= capacity ? GIM_ERR_TOO_LARGE : GIM_OK;
}

static int send_request(struct pusher *pusher, struct http_connection *connection)
{
    static char request[MAX_BODY + 2048 + 128]; /* head, "FIELD=", body */
    char path[1024];
    int64_t now_us = realtime_us();
    int header_length, body_length, prefix_length = 0;
    size_t total, written = 0;
    /* the form's "FIELD=" comes first; the value's space is encoded as '+' */
    size_t content_length =
        pusher->body_size + (pusher->form_field ? strlen(pusher->form_field) + 1 : 0);

    if (connection->fd < 0 && (connection->fd = connect_to(pusher)) < 0) {
        note_error(pusher, "connect failed");
        return GIM_ERR_IO;
    }
    if (expand_path(pusher, path, sizeof(path)) != GIM_OK)
        return GIM_ERR_TOO_LARGE;
    header_length = snprintf(
        request, 2048,
        "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
        "Content-Length: %zu\r\n\r\n",
        path, pusher->host_header,
        pusher->form_field ? "application/x-www-form-urlencoded" : "text/plain", content_length);
    if (header_length < 0 || header_length >= 2048)
        return GIM_ERR_TOO_LARGE;
    if (pusher->form_field != NULL)
        prefix_length = snprintf(request + header_length, MAX_BODY, "%s=", pusher->form_field);
    body_length = snprintf(request + header_length + prefix_length, MAX_BODY, "%lld%c",
                           (long long)now_us, pusher->form_field ? '+' : ' ');
    if ((size_t)body_length < pusher->body_size)
        memset(request + header_length + prefix_length + body_length, 'x',
               pusher->body_size - (size_t)body_length);
    total = (size_t)header_length + content_length;
    while (written < total) {
        ssize_t result = send(connection->fd, request + written, total - written, MSG_NOSIGNAL);
        if (result <= 0) {
            note_error(pusher, "send failed");
            drop_connection(connection);
            return GIM_ERR_IO;
        }
        written += (size_t)result;
    }
    connection->busy = 1;
    connection->sent_us = now_us;
    connection->response_length = 0;
    pusher->sent++;
    return GIM_OK;
}

/*
 * Checks whether response holds a whole HTTP response; returns its size, 0 if more bytes are
 * needed, or GIM_ERR_INVALID.
 */
static long complete_response(const char *response, size_t length)
{
    const char *end_of_headers, *content_length;
    long body_length;

    end_of_headers = memmem(response, length, "\r\n\r\n", 4);
    if (end_of_headers == NULL)
        return length >= RESPONSE_LIMIT ? GIM_ERR_INVALID : 0;
    content_length = memmem(response, (size_t)(end_of_headers - response), "Content-Length:", 15);
    if (content_length == NULL)
        content_length =
            memmem(response, (size_t)(end_of_headers - response), "content-length:", 15);
    if (content_length == NULL)
        return GIM_ERR_INVALID; /* logic always sends a length; chunked is not expected */
    body_length = strtol(content_length + 15, NULL, 10);
    if (body_length < 0 || body_length > RESPONSE_LIMIT)
        return GIM_ERR_INVALID;
    if ((size_t)(end_of_headers + 4 - response) + (size_t)body_length > length)
        return (size_t)(end_of_headers + 4 - response) + (size_t)body_length >= RESPONSE_LIMIT
                   ? GIM_ERR_INVALID
                   : 0;
    return (long)(end_of_headers + 4 - response) + body_length;
}

static void read_response(struct pusher *pusher, struct http_connection *connection)
{
    ssize_t received = recv(connection->fd, connection->response + connection->response_length,
                            RESPONSE_LIMIT - 1 - connection->response_length, 0);
    long size;

    if (received <= 0) {
        note_error(pusher, "connection closed before the answer");
        drop_connection(connection);
        return;
    }
    connection->response_length += (size_t)received;
    connection->response[connection->response_length] = '\0';
    size = complete_response(connection->response, connection->response_length);
    if (size == 0)
        return;
    if (size < 0) {
        note_error(pusher, "malformed HTTP answer");
        drop_connection(connection);
        return;
    }
    pusher->last_answer_us = realtime_us();
    latency_histogram_record(&pusher->latency,
                             (uint64_t)(pusher->last_answer_us - connection->sent_us));
    if (strncmp(connection->response, "HTTP/1.1 200", 12) == 0 &&
        (pusher->form_field != NULL || strstr(connection->response, "\"code\":0") != NULL)) {
        pusher->ok++;
    } else {
        char line[200];
        snprintf(line, sizeof(line), "%.*s", (int)strcspn(connection->response, "\r\n"),
                 connection->response);
        const char *body = strstr(connection->response, "\r\n\r\n");
        char what[256];
        snprintf(what, sizeof(what), "%s %.100s", line, body ? body + 4 : "");
        note_error(pusher, what);
    }
    connection->busy = 0;
    connection->response_length = 0;
    if (strcasestr(connection->response, "Connection: close") != NULL)
        drop_connection(connection);
}

static void parse_options(int argc, char **argv, struct pusher *pusher)
{
    const char *address = NULL;

    pusher->mid_base = 1;
    pusher->mid_count = 1;
    pusher->duration_seconds = 10;
    pusher->connection_count = 1;
    pusher->body_size = 32;
    for (int index = 1; index + 1 < argc + 1; index += 2) {
        const char *name = argv[index];
        const char *value = index + 1 < argc ? argv[index + 1] : NULL;
        if (value == NULL)
            usage();
        if (strcmp(name, "-addr") == 0)
            address = value;
        else if (strcmp(name, "-path") == 0)
            pusher->path_template = value;
        else if (strcmp(name, "-mid-base") == 0)
            pusher->mid_base = strtoll(value, NULL, 10);
        else if (strcmp(name, "-mid-count") == 0)
            pusher->mid_count = strtoll(value, NULL, 10);
        else if (strcmp(name, "-rate") == 0)
            pusher->rate = strtod(value, NULL);
        else if (strcmp(name, "-duration") == 0)
            pusher->duration_seconds = strtod(value, NULL);
        else if (strcmp(name, "-count") == 0)
            pusher->count = strtol(value, NULL, 10);
        else if (strcmp(name, "-conns") == 0)
            pusher->connection_count = atoi(value);
        else if (strcmp(name, "-body-size") == 0)
            pusher->body_size = (size_t)strtoul(value, NULL, 10);
        else if (strcmp(name, "-form") == 0)
            pusher->form_field = value;
        else
            usage();
    }
    if (address == NULL || pusher->path_template == NULL || pusher->mid_count < 1 ||
        pusher->rate < 0 || pusher->connection_count < 1 ||
        pusher->connection_count > MAX_CONNECTIONS || pusher->body_size < 18 ||
        pusher->body_size > MAX_BODY || pusher->count < 0 ||
        (pusher->form_field != NULL &&
         (pusher->form_field[0] == '\0' || strlen(pusher->form_field) > 64 ||
          strpbrk(pusher->form_field, "=&%+ \r\n") != NULL)))
        usage();
    {
        char host[128];
        const char *colon = strrchr(address, ':');
        struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *found;
        size_t host_length = colon ? (size_t)(colon - address) : 0;
        if (colon == NULL || host_length >= sizeof(host))
            usage();
        memcpy(host, address, host_length);
        host[host_length] = '\0';
        if (getaddrinfo(host_length ? host : "127.0.0.1", colon + 1, &hints, &found) != 0)
            usage();
        memcpy(&pusher->target, found->ai_addr, sizeof(pusher->target));
        freeaddrinfo(found);
        snprintf(pusher->host_header, sizeof(pusher->host_header), "%s", address);
    }
}

int main(int argc, char **argv)
{
    static struct pusher pusher;
    struct pollfd polls[MAX_CONNECTIONS];
    int64_t start_us, stop_sending_us, give_up_us, now_us;
    double elapsed;

    parse_options(argc, argv, &pusher);
    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned)getpid());
    for (int index = 0; index < pusher.connection_count; index++)
        pusher.connections[index].fd = -1;
    start_us = realtime_us();
    stop_sending_us = start_us + (int64_t)(pusher.duration_seconds * 1e6);
    give_up_us = INT64_MAX;

    for (;;) {
        int in_flight = 0, timeout_ms = 100;
        now_us = realtime_us();
        int sending =
            now_us < stop_sending_us && (pusher.count == 0 || pusher.sent < (uint64_t)pusher.count);
        for (int index = 0; sending && index < pusher.connection_count; index++) {
            struct http_connection *connection = &pusher.connections[index];
            if (connection->busy)
                continue;
            if (pusher.rate > 0) {
                int64_t due_us = start_us + (int64_t)((double)pusher.sent * 1e6 / pusher.rate);
                if (due_us > now_us) {
                    int64_t wait_ms = (due_us - now_us) / 1000;
                    timeout_ms = wait_ms < timeout_ms ? (int)wait_ms : timeout_ms;
                    break;
                }
            }
            send_request(&pusher, connection);
            if (pusher.count != 0 && pusher.sent >= (uint64_t)pusher.count)
                break;
        }
        for (int index = 0; index < pusher.connection_count; index++) {
            polls[index].fd = pusher.connections[index].busy ? pusher.connections[index].fd : -1;
            polls[index].events = POLLIN;
            in_flight += pusher.connections[index].busy;
        }
        if (!sending) {
            if (give_up_us == INT64_MAX)
                give_up_us = now_us + 5000000;
            if (in_flight == 0 || now_us > give_up_us)
                break;
        }
        if (in_flight == pusher.connection_count || pusher.rate > 0 || !sending) {
            if (poll(polls, (nfds_t)pusher.connection_count, in_flight ? timeout_ms : 1) < 0 &&
                errno != EINTR)
                break;
        } else {
            poll(polls, (nfds_t)pusher.connection_count, 0);
        }
        for (int index = 0; index < pusher.connection_count; index++)
            if (polls[index].fd >= 0 && (polls[index].revents & (POLLIN | POLLERR | POLLHUP)))
                read_response(&pusher, &pusher.connections[index]);
    }
    /* the rate counts up to the last answer, not the wait for stragglers */
    elapsed = (double)((pusher.last_answer_us > start_us ? pusher.last_answer_us : realtime_us()) -
                       start_us) /
              1e6;
    for (int index = 0; index < pusher.connection_count; index++)
        drop_connection(&pusher.connections[index]);
    printf("{\"sent\":%llu,\"ok\":%llu,\"failed\":%llu,\"unanswered\":%llu,\"elapsed_s\":%.3f,"
           "\"rate\":%.1f,\"request_latency_us\":{\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,"
           "\"max\":%llu},\"first_error\":\"",
           (unsigned long long)pusher.sent, (unsigned long long)pusher.ok,
           (unsigned long long)pusher.failed,
           (unsigned long long)(pusher.sent > pusher.ok + pusher.failed
                                    ? pusher.sent - pusher.ok - pusher.failed
                                    : 0),
           elapsed, elapsed > 0 ? (double)pusher.ok / elapsed : 0.0,
           (unsigned long long)latency_histogram_quantile(&pusher.latency, 0.5),
           (unsigned long long)latency_histogram_quantile(&pusher.latency, 0.99),
           (unsigned long long)latency_histogram_quantile(&pusher.latency, 0.999),
           (unsigned long long)pusher.latency.max_us);
    for (const char *c = pusher.first_error; *c != '\0'; c++)
        if (*c >= 0x20 && *c != '"' && *c != '\\')
            putchar(*c);
    printf("\"}\n");
    return 0;
}
