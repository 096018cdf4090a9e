/* http_edge.c: admission of logic's HTTP requests: limits, deadline, credentials (see http_edge.h).
 */
#include "logic/http_edge.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "common/clock.h"
#include "common/http_log.h"
#include "common/log.h"
#include "common/status.h"
#include "logic/config.h"
#include "logic/metrics.h"

#define HTTP_EDGE_REAP_INTERVAL_MS 250
#define HTTP_EDGE_MAX_TOKENS       64 /* httpServer.pushTokens entries; more is a config error */
#define HTTP_EDGE_LOG_PER_SECOND                                                                   \
    10 /* libmicrohttpd messages logged per second, the rest counted                               \
        */

/* One open connection (libmicrohttpd's socket context). */
struct http_edge_connection {
    struct http_edge_connection *previous, *next;
    int fd;
    int64_t deadline_ms; /* 0: off (a request is being served) */
    /* set by the URI callback, read by the access handler: same libmicrohttpd thread */
    bool url_too_long;
    bool path_escaped;
};

struct http_edge {
    struct logic_metrics *metrics;
    int64_t timeout_ms;
    size_t max_url;
    size_t body_limit;
    size_t output_limit;       /* largest push body a comet connection can hold */
    const char *gusher_prefix; /* gusher.apiPrefix: its paths are percent-decoded, as gorilla/mux */
    uint8_t tokens[HTTP_EDGE_MAX_TOKENS][SHA256_DIGEST_LENGTH];
    size_t token_count;

    pthread_mutex_t lock; /* connections, deadlines, stopping */
    pthread_cond_t wake;
    struct http_edge_connection *connections;
    bool stopping;
    pthread_t reaper;

    pthread_mutex_t log_lock; /* the three below */
    int64_t log_second;       /* monotonic second of the current window */
    int log_count;            /* messages logged in it */
    long log_suppressed;      /* messages dropped since the last line */
};

size_t http_edge_body_limit(const struct logic_config *config)
{
    size_t kafka = LOGIC_KAFKA_MAX_MESSAGE - LOGIC_KAFKA_RECORD_RESERVE;

    if (config->http_max_body > 0 && (size_t)config->http_max_body < kafka)
        return (size_t)config->http_max_body;
    return kafka;
}

size_t http_edge_connection_memory(const struct logic_config *config)
{
    /* The request line sits in the read buffer, and every query parameter takes a record of
     * about 56 bytes: 4 x the line holds parameters of 19 bytes and more (a mid is 5-25).
     * libmicrohttpd zeroes the whole pool before every request of a keep-alive connection, so
     * its size is paid on every request and stays resident per connection: 64 KiB at least
     * (the default, 16 KiB of request line), more only when httpServer.maxUrlBytes asks. */
    size_t memory = 4 * (size_t)config->http_max_url_bytes;
    return memory > 64 * 1024 ? memory : 64 * 1024;
}

void http_edge_reserve_descriptors(const struct logic_config *config)
{
    rlim_t needed = (rlim_t)config->http_max_connections + 1024;
    struct rlimit limit;

    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed)
        return;
    limit.rlim_cur =
        limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= needed ? needed : limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < needed)
        gim_log_warn("http: %llu file descriptors allowed, httpServer.maxConnections %lld needs "
                     "%llu: raise the hard limit (ulimit -Hn) or lower the setting",
                     (unsigned long long)limit.rlim_cur, (long long)config->http_max_connections,
                     (unsigned long long)needed);
}

static void *http_edge_reap(void *argument)
{
    struct http_edge *edge = argument;

    pthread_mutex_lock(&edge->lock);
    while (!edge->stopping) {
        struct timespec until;
        int64_t now = gim_monotonic_ms();
        struct http_edge_connection *connection;

        for (connection = edge->connections; connection != NULL; connection = connection->next) {
            if (connection->deadline_ms != 0 && connection->deadline_ms <= now) {
                /* Under the lock: libmicrohttpd closes the descriptor only after the CLOSED
                 * notification, which takes the lock too, so fd is still this connection's. */
                shutdown(connection->fd, SHUT_RDWR);
                connection->deadline_ms = 0;
                if (edge->metrics != NULL)
                    gim_counter_increment(edge->metrics->http_deadline_closes);
            }
        }
        gim_deadline_after_ms(&until, HTTP_EDGE_REAP_INTERVAL_MS);
        pthread_cond_timedwait(&edge->wake, &edge->lock, &until);
    }
    pthread_mutex_unlock(&edge->lock);
    return NULL;
}

int http_edge_create(struct http_edge **out, const struct logic_config *config,
                     struct logic_metrics *metrics)
{
    struct http_edge *edge = calloc(1, sizeof(*edge));
    const char *cursor;

    *out = NULL;
    if (edge == NULL)
        return GIM_ERR_NO_MEMORY;
    edge->metrics = metrics;
    edge->timeout_ms = config->http_request_timeout_ms;
    edge->max_url = (size_t)config->http_max_url_bytes;
    edge->gusher_prefix = config->gusher_api_prefix;
    edge->body_limit = http_edge_body_limit(config);
    edge->output_limit = (size_t)config->comet_max_output_bytes > LOGIC_PUSH_FRAME_OVERHEAD
                             ? (size_t)config->comet_max_output_bytes - LOGIC_PUSH_FRAME_OVERHEAD
                             : 0;
    /* Tokens are kept as SHA-256 digests: comparing digests takes the same time whatever the
     * token's length or content. */
    for (cursor = config->http_push_tokens; cursor != NULL && *cursor != '\0';) {
        size_t length = strcspn(cursor, ",");
        if (length > 0 && edge->token_count < HTTP_EDGE_MAX_TOKENS)
            SHA256((const unsigned char *)cursor, length, edge->tokens[edge->token_count++]);
        cursor += length;
        if (*cursor == ',')
            cursor++;
    }
    pthread_mutex_init(&edge->lock, NULL);
    pthread_mutex_init(&edge->log_lock, NULL);
    gim_cond_init_monotonic(&edge->wake);
    if (pthread_create(&edge->reaper, NULL, http_edge_reap, edge) != 0) {
        pthread_mutex_destroy(&edge->lock);
        pthread_mutex_destroy(&edge->log_lock);
        pthread_cond_destroy(&edge->wake);
        free(edge);
        return GIM_ERR_IO;
    }
    *out = edge;
    return GIM_OK;
}

void http_edge_destroy(struct http_edge *edge)
{
    if (edge == NULL)
        return;
    pthread_mutex_lock(&edge->lock);
    edge->stopping = true;
    pthread_cond_signal(&edge->wake);
    pthread_mutex_unlock(&edge->lock);
    pthread_join(edge->reaper, NULL);
    while (edge->connections != NULL) { /* none once the daemon stopped; kept for safety */
        struct http_edge_connection *next = edge->connections->next;
        free(edge->connections);
        edge->connections = next;
    }
    pthread_mutex_destroy(&edge->lock);
    pthread_mutex_destroy(&edge->log_lock);
    pthread_cond_destroy(&edge->wake);
    free(edge);
}

void http_edge_log(void *cls, const char *format, va_list arguments)
{
    struct http_edge *edge = cls;
    int64_t second = gim_monotonic_ms() / 1000;
    long suppressed = 0;
    bool log;

    pthread_mutex_lock(&edge->log_lock);
    if (second != edge->log_second) {
        edge->log_second = second;
        edge->log_count = 0;
    }
    log = edge->log_count < HTTP_EDGE_LOG_PER_SECOND;
    if (log) {
        edge->log_count++;
        suppressed = edge->log_suppressed;
        edge->log_suppressed = 0;
    } else {
        edge->log_suppressed++;
    }
    pthread_mutex_unlock(&edge->log_lock);
    if (!log)
        return;
    if (suppressed > 0)
        gim_log_warn("http: %ld more messages of libmicrohttpd were not logged", suppressed);
    gim_http_log_message("http", format, arguments);
}

void http_edge_notify_connection(void *cls, struct MHD_Connection *connection,
                                 void **socket_context, enum MHD_ConnectionNotificationCode code)
{
    struct http_edge *edge = cls;
    struct http_edge_connection *entry = *socket_context;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        entry = calloc(1, sizeof(*entry));
        if (entry == NULL || info == NULL) {
            free(entry); /* no deadline for this one: the idle timeout still applies */
            *socket_context = NULL;
            return;
        }
        entry->fd = info->connect_fd;
        pthread_mutex_lock(&edge->lock);
        entry->deadline_ms = gim_monotonic_ms() + edge->timeout_ms;
        entry->next = edge->connections;
        if (edge->connections != NULL)
            edge->connections->previous = entry;
        edge->connections = entry;
        pthread_mutex_unlock(&edge->lock);
        *socket_context = entry;
        return;
    }
    if (entry == NULL)
        return;
    pthread_mutex_lock(&edge->lock);
    if (entry->previous != NULL)
        entry->previous->next = entry->next;
    else
        edge->connections = entry->next;
    if (entry->next != NULL)
        entry->next->previous = entry->previous;
    pthread_mutex_unlock(&edge->lock);
    free(entry);
    *socket_context = NULL;
}

static struct http_edge_connection *http_edge_entry(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info != NULL ? info->socket_context : NULL;
}

void *http_edge_uri_log(void *cls, const char *uri, struct MHD_Connection *connection)
{
    struct http_edge *edge = cls;
    struct http_edge_connection *entry = http_edge_entry(connection);
    size_t path_length = strcspn(uri, "?");

    if (entry != NULL) {
        entry->url_too_long = strlen(uri) > edge->max_url;
        entry->path_escaped = memchr(uri, '%', path_length) != NULL;
    }
    return NULL;
}

/* Counts the Content-Length and Transfer-Encoding headers (header names are case-insensitive). */
struct http_edge_framing {
    int content_lengths;
    bool lengths_differ;
    const char *first_length;
    bool transfer_encoding;
};

static enum MHD_Result http_edge_framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                                const char *value)
{
    struct http_edge_framing *framing = cls;

    (void)kind;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (framing->content_lengths++ == 0)
            framing->first_length = value;
        else if (value == NULL || framing->first_length == NULL ||
                 strcmp(value, framing->first_length) != 0)
            framing->lengths_differ = true;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        framing->transfer_encoding = true;
    }
    return MHD_YES;
}

/* Whether path is under gusher.apiPrefix (empty: never). */
static bool http_edge_is_gusher(const struct http_edge *edge, const char *path)
{
    return edge->gusher_prefix != NULL && edge->gusher_prefix[0] != '\0' &&
           strncmp(path, edge->gusher_prefix, strlen(edge->gusher_prefix)) == 0;
}

/* goim's push/... and online/..., and gusher's whole master API but its ping. */
static bool http_edge_needs_credentials(const struct http_edge *edge, const char *path)
{
    if (http_edge_is_gusher(edge, path))
        return strcmp(path + strlen(edge->gusher_prefix), "ping") != 0;
    return strncmp(path, "/goim/push/", 11) == 0 || strncmp(path, "/goim/online/", 13) == 0;
}

static bool http_edge_is_push(const char *path)
{
    return strncmp(path, "/goim/push/", 11) == 0;
}

/* Whether the Authorization header holds one of the tokens; every token is compared. */
static bool http_edge_authorized(const struct http_edge *edge, struct MHD_Connection *connection)
{
    const char *header =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    uint8_t digest[SHA256_DIGEST_LENGTH];
    int matches = 0;
    size_t index;

    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
        return false;
    header += 7;
    while (*header == ' ')
        header++;
    SHA256((const unsigned char *)header, strlen(header), digest);
    for (index = 0; index < edge->token_count; index++)
        matches |= CRYPTO_memcmp(digest, edge->tokens[index], sizeof(digest)) == 0;
    return matches != 0;
}

static int http_edge_refuse_output(const struct http_edge *edge, size_t length,
                                   struct http_answer *answer)
{
    http_answer_error(answer, MHD_HTTP_CONTENT_TOO_LARGE, HTTP_CODE_REQUEST_ERR,
                      "push body of %zu bytes can never be delivered: a pushed frame must fit a "
                      "comet connection's output bound, protocol.maxOutputBytes (%zu bytes, "
                      "comet.maxOutputBytes in logic); raise both for larger pushes",
                      length, edge->output_limit + LOGIC_PUSH_FRAME_OVERHEAD);
    return GIM_ERR_TOO_LARGE;
}

int http_edge_admit(struct http_edge *edge, struct MHD_Connection *connection, const char *path,
                    struct http_answer *answer, const char **challenge)
{
    struct http_edge_connection *entry = http_edge_entry(connection);
    struct http_edge_framing framing = {0, false, NULL, false};
    const char *declared;

    *challenge = NULL;
    if (entry != NULL && entry->url_too_long) {
        http_answer_error(answer, MHD_HTTP_URI_TOO_LONG, HTTP_CODE_REQUEST_ERR,
                          "request line longer than httpServer.maxUrlBytes (%zu bytes)",
                          edge->max_url);
        return GIM_ERR_INVALID;
    }
    if (entry != NULL && entry->path_escaped && !http_edge_is_gusher(edge, path)) {
        http_answer_error(answer, MHD_HTTP_NOT_FOUND, HTTP_CODE_NOT_FOUND,
                          "not found (paths are matched as sent, without percent-decoding)");
        return GIM_ERR_INVALID;
    }
    MHD_get_connection_values(connection, MHD_HEADER_KIND, http_edge_framing_header, &framing);
    if (framing.lengths_differ || (framing.content_lengths > 0 && framing.transfer_encoding)) {
        http_answer_error(answer, MHD_HTTP_BAD_REQUEST, HTTP_CODE_REQUEST_ERR,
                          "conflicting Content-Length / Transfer-Encoding headers");
        return GIM_ERR_INVALID;
    }
    if (edge->token_count > 0 && http_edge_needs_credentials(edge, path) &&
        !http_edge_authorized(edge, connection)) {
        http_answer_error(answer, MHD_HTTP_UNAUTHORIZED, HTTP_CODE_UNAUTHORIZED,
                          "missing or wrong credentials: send Authorization: Bearer <token>");
        *challenge = "Bearer realm=\"goim\"";
        return GIM_ERR_INVALID;
    }
    declared = framing.first_length;
    if (declared != NULL && http_edge_is_push(path) && http_edge_expects_continue(connection)) {
        /* The client waits for "100 Continue": refusing now costs it nothing. Otherwise the
         * body (at most the body limit) is read first and checked by http_edge_check_body. */
        char *end;
        unsigned long long length = strtoull(declared, &end, 10);
        if (*end == '\0' && length <= edge->body_limit && length > edge->output_limit)
            return http_edge_refuse_output(edge, (size_t)length, answer);
    }
    return GIM_OK;
}

bool http_edge_expects_continue(struct MHD_Connection *connection)
{
    const char *expect =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    return expect != NULL && strcasecmp(expect, "100-continue") == 0;
}

/* Adds the protobuf size of every "keys" parameter (tag, length, bytes) to *total. */
static enum MHD_Result http_edge_sum_keys(void *cls, enum MHD_ValueKind kind, const char *key,
                                          const char *value)
{
    size_t *total = cls;

    (void)kind;
    if (strcmp(key, "keys") == 0 && value != NULL)
        *total += strlen(value) + 4;
    return MHD_YES;
}

int http_edge_check_body(struct http_edge *edge, struct MHD_Connection *connection,
                         const char *path, size_t body_length, struct http_answer *answer)
{
    size_t keys = 0;

    if (!http_edge_is_push(path))
        return GIM_OK;
    if (body_length > edge->output_limit)
        return http_edge_refuse_output(edge, body_length, answer);
    if (strcmp(path, "/goim/push/keys") == 0) {
        MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, http_edge_sum_keys, &keys);
        if (body_length + keys + LOGIC_KAFKA_RECORD_RESERVE > LOGIC_KAFKA_MAX_MESSAGE) {
            http_answer_error(answer, MHD_HTTP_CONTENT_TOO_LARGE, HTTP_CODE_REQUEST_ERR,
                              "body (%zu bytes) and keys (%zu bytes) pass one Kafka record "
                              "(%d bytes): send fewer keys per request",
                              body_length, keys, LOGIC_KAFKA_MAX_MESSAGE);
            return GIM_ERR_TOO_LARGE;
        }
    }
    return GIM_OK;
}

void http_edge_request_received(struct http_edge *edge, struct MHD_Connection *connection)
{
    struct http_edge_connection *entry = http_edge_entry(connection);

    if (entry == NULL)
        return;
    pthread_mutex_lock(&edge->lock);
    entry->deadline_ms = 0;
    pthread_mutex_unlock(&edge->lock);
}

void http_edge_request_completed(struct http_edge *edge, struct MHD_Connection *connection)
{
    struct http_edge_connection *entry = http_edge_entry(connection);

    if (entry == NULL)
        return;
    pthread_mutex_lock(&edge->lock);
    entry->deadline_ms = gim_monotonic_ms() + edge->timeout_ms;
    pthread_mutex_unlock(&edge->lock);
}
