/*
 * metrics_http.h: GET /metrics over HTTP (libmicrohttpd) for a gim_metrics registry.
 *
 * Two uses: a daemon without an HTTP server of its own (comet, job) starts a
 * small one on its `metrics.addr` setting with gim_metrics_server_start; a
 * daemon that already runs libmicrohttpd (logic) answers its own /metrics
 * requests with gim_metrics_http_answer.
 *
 * The answer is the registry rendered in the text exposition format 0.0.4,
 * Content-Type "text/plain; version=0.0.4; charset=utf-8". On the metrics
 * server any other path is 404; /metrics with a method other than GET or
 * HEAD is 405 (Allow: GET, HEAD). Request bodies are never read. The server
 * runs one internal thread and at most METRICS_HTTP_MAX_CONNECTIONS
 * connections; a scrape renders the registry on that thread. The errors
 * libmicrohttpd reports on the metrics server are logged at WARN.
 */
#ifndef GIM_METRICS_HTTP_H
#define GIM_METRICS_HTTP_H

#include <stddef.h>

struct MHD_Connection;
struct gim_metrics;
struct gim_metrics_server;

/* Connections the metrics server holds at once; more wait in the listen backlog. */
#define METRICS_HTTP_MAX_CONNECTIONS 32

/* Connections one client address may hold, so that a few slow clients cannot take every
 * slot (beyond it a connection is refused at once). */
#define METRICS_HTTP_MAX_CONNECTIONS_PER_IP 4

/* Content-Type of the exposition. */
#define METRICS_HTTP_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Starts serving metrics on address (":3104" = every IPv4 interface,
 * "127.0.0.1:3104", "[::1]:3104"; port 0 picks a free port). metrics stays
 * the caller's and must outlive the server. On GIM_OK *server is the
 * caller's (gim_metrics_server_stop). Otherwise returns GIM_ERR_INVALID (bad
 * address), GIM_ERR_IO (cannot listen) or GIM_ERR_NO_MEMORY, with a text
 * naming metrics.addr in error[0..error_size).
 */
int gim_metrics_server_start(struct gim_metrics_server **server, struct gim_metrics *metrics,
                             const char *address, char *error, size_t error_size);

/* The port actually bound (useful with port 0). */
unsigned int gim_metrics_server_port(const struct gim_metrics_server *server);

/* Stops listening, waits for a scrape in progress, frees server. NULL is allowed. */
void gim_metrics_server_stop(struct gim_metrics_server *server);

/*
 * For a daemon's own libmicrohttpd access handler, on a request for
 * /metrics: queues 200 with the rendered registry for GET and HEAD, 405
 * otherwise. connection and metrics stay the caller's. Returns what the
 * access handler returns (an enum MHD_Result: MHD_YES, or MHD_NO when out of
 * memory, which makes libmicrohttpd close the connection).
 */
int gim_metrics_http_answer(struct MHD_Connection *connection, struct gim_metrics *metrics,
                            const char *method);

#endif
