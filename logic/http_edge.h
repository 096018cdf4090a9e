/*
 * http_edge.h: what logic's HTTP API admits, before a request reaches its
 * route (logic/http.c calls in here from libmicrohttpd's callbacks).
 *
 * - Connections: at most httpServer.maxConnections in all and
 *   httpServer.maxConnectionsPerIP per client address (libmicrohttpd
 *   closes a connection past either at accept; http_edge_limits gives the
 *   numbers to its options).
 * - Deadline: a request must be received whole (request line, headers,
 *   body) within httpServer.requestTimeout of the connection's start or of
 *   the previous answer on it; sending a byte now and then does not extend
 *   it. A reaper thread shuts down the socket of a connection past its
 *   deadline (libmicrohttpd then closes it). The deadline is off while a
 *   request is being served.
 * - Request line: at most httpServer.maxUrlBytes bytes, else 414 with the
 *   envelope; libmicrohttpd's per-connection memory is sized from it
 *   (http_edge_connection_memory) so that goim's 10,000 mids or keys fit.
 * - Paths are matched as sent: a path with a percent escape routes nowhere
 *   (404), so "/goim/push/mids%00" and "/goim/push%2Fmids" are not
 *   "/goim/push/mids". gusher's master API (gusher.apiPrefix) is the
 *   exception: its paths are percent-decoded, as gorilla/mux matches them,
 *   so channel names that need escapes can be addressed.
 * - Content-Length given twice with different values, or together with
 *   Transfer-Encoding, is refused with 400.
 * - Credentials: with httpServer.pushTokens set, /goim/push/... and
 *   /goim/online/... need "Authorization: Bearer <one of them>" (compared in
 *   constant time), else 401; so does gusher's master API under
 *   gusher.apiPrefix (gusher has no authentication), except its ping;
 *   nodes/... and /metrics stay public.
 * - Bodies: the body limit is one Kafka record (LOGIC_KAFKA_MAX_MESSAGE)
 *   less room for the rest of the PushMsg, or httpServer.maxBody when that
 *   is lower (http_edge_body_limit); a push whose body cannot fit a comet
 *   connection's output bound (comet.maxOutputBytes, comet's
 *   protocol.maxOutputBytes) is refused with 413 before anything is
 *   produced, and so is push/keys whose keys and body together pass one
 *   Kafka record.
 */
#ifndef LOGIC_HTTP_EDGE_H
#define LOGIC_HTTP_EDGE_H

#include <microhttpd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "logic/http_answer.h"

struct logic_config;
struct logic_metrics;
struct http_edge;

/* Largest Kafka record (key + value) logic produces: librdkafka's message.max.bytes. */
#define LOGIC_KAFKA_MAX_MESSAGE 1000000
/* Room kept in a record for everything but the body: fields, server, room key, record key. */
#define LOGIC_KAFKA_RECORD_RESERVE 4096
/* Bytes a pushed frame adds to its body on a comet connection (goim header, OpRaw, WebSocket). */
#define LOGIC_PUSH_FRAME_OVERHEAD 64

/*
 * A refused body of at most this many bytes (by Content-Length) is still read
 * and dropped before the 413 is sent: a client that sends its whole body
 * before reading would otherwise meet a reset instead of the answer. Larger
 * bodies, and clients that sent "Expect: 100-continue", get the 413 at once.
 */
#define LOGIC_HTTP_DISCARD_LIMIT (8u * 1024u * 1024u)

/* Whether the request asked "Expect: 100-continue" (it then waits for our go before the body). */
bool http_edge_expects_continue(struct MHD_Connection *connection);

/* The body limit: min(httpServer.maxBody, LOGIC_KAFKA_MAX_MESSAGE - LOGIC_KAFKA_RECORD_RESERVE). */
size_t http_edge_body_limit(const struct logic_config *config);

/* libmicrohttpd's memory per connection for config's httpServer.maxUrlBytes. */
size_t http_edge_connection_memory(const struct logic_config *config);

/*
 * Makes room for httpServer.maxConnections descriptors plus 1024 for the
 * rest of logic (Redis, Kafka, RPC): raises the soft RLIMIT_NOFILE up to
 * the hard one when needed, and logs a warning when even that is short (a
 * connection past the descriptors would fail at accept before the limit).
 */
void http_edge_reserve_descriptors(const struct logic_config *config);

/*
 * Creates the edge for config (read now; both stay the caller's; metrics may
 * be NULL) and starts its reaper thread. On GIM_OK *edge is the caller's
 * (http_edge_destroy). Returns GIM_OK, GIM_ERR_NO_MEMORY or GIM_ERR_IO.
 */
int http_edge_create(struct http_edge **edge, const struct logic_config *config,
                     struct logic_metrics *metrics);

/* Stops the reaper and frees edge; the HTTP daemon must be stopped first. NULL allowed. */
void http_edge_destroy(struct http_edge *edge);

/*
 * MHD_OPTION_EXTERNAL_LOGGER callback; cls is the edge. Logs libmicrohttpd's
 * messages at warning level, at most HTTP_EDGE_LOG_PER_SECOND a second
 * (a crowd of bad clients would otherwise flood the log); the rest are
 * counted and reported as one line in the next second that logs.
 */
void http_edge_log(void *cls, const char *format, va_list arguments);

/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the edge. */
void http_edge_notify_connection(void *cls, struct MHD_Connection *connection,
                                 void **socket_context, enum MHD_ConnectionNotificationCode code);

/* MHD_OPTION_URI_LOG_CALLBACK callback; cls is the edge. Returns NULL (no request state). */
void *http_edge_uri_log(void *cls, const char *uri, struct MHD_Connection *connection);

/*
 * First look at a request whose headers are in (the access handler's first
 * call). Returns GIM_OK to go on, or GIM_ERR_INVALID with *answer filled
 * (414, 404, 400, 401 or 413, with the envelope) and, for a 401, *challenge
 * set to the WWW-Authenticate value to send (static text).
 */
int http_edge_admit(struct http_edge *edge, struct MHD_Connection *connection, const char *path,
                    struct http_answer *answer, const char **challenge);

/*
 * Checks a received body of body_length bytes for path before its route
 * runs. Returns GIM_OK, or GIM_ERR_TOO_LARGE with a 413 *answer.
 */
int http_edge_check_body(struct http_edge *edge, struct MHD_Connection *connection,
                         const char *path, size_t body_length, struct http_answer *answer);

/* The request on connection is received whole: its deadline is off while it is served. */
void http_edge_request_received(struct http_edge *edge, struct MHD_Connection *connection);

/* The answer on connection is done: the next request's deadline starts now. */
void http_edge_request_completed(struct http_edge *edge, struct MHD_Connection *connection);

#endif
