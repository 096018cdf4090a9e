/*
 * http.h: logic's HTTP API server (libmicrohttpd) and what its handlers see.
 *
 * libmicrohttpd runs a pool of httpServer.threads threads, each with its own
 * poll loop; a handler runs on one of them. A handler that must wait (a push
 * waits for Kafka's acknowledgement) defers its answer
 * (http_request_defer): the connection is suspended and holds no thread
 * until another thread gives the answer (http_deferred_finish), which
 * resumes it. Requests are routed by
 * exact path through one route table (http.c); a known path with another
 * method gets 405, an unknown path 404, both with a JSON envelope. GET
 * /metrics answers logic's Prometheus metrics (logic/metrics.h) in the text
 * exposition format instead; every other answer is counted there.
 *
 * The request body is accumulated before the handler runs, bounded by
 * httpServer.maxBody: a larger body (by Content-Length, or once the bytes
 * exceed it) is answered with HTTP 413 without running the handler.
 *
 * Every answer is goim's envelope (http_answer.h), HTTP 200 unless a handler
 * says otherwise, Content-Type "application/json; charset=utf-8".
 */
#ifndef LOGIC_HTTP_H
#define LOGIC_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "logic/http_answer.h"

struct MHD_Connection;
struct logic_context;
struct http_server;

struct http_exchange;

/* What a handler gets: valid only during the handler call. */
struct http_request {
    struct MHD_Connection *connection; /* for query parameters (http_params.h) */
    const char *method;                /* "GET", "POST", ... */
    const char *path;                  /* the request's path, percent-decoded */
    const struct logic_context *logic;
    const uint8_t *body; /* the raw request body, body_length bytes (may be 0) */
    size_t body_length;
    struct http_exchange *exchange; /* the request's state in http.c, for http_request_defer */
};

/* A request whose answer comes later (http_request_defer). */
struct http_deferred;

/*
 * Defers the answer of request: once the handler returns, its answer is
 * ignored and the connection waits, suspended, holding no thread, until
 * http_deferred_finish. The request's body and the strings it holds stay
 * valid until then. Call at most once per request, from its handler.
 * Returns the token (the server's; valid until http_deferred_finish), or
 * NULL when request cannot be deferred (request->exchange is NULL): the
 * handler then answers at once.
 */
struct http_deferred *http_request_defer(const struct http_request *request);

/*
 * Gives a deferred request its answer (copied; answer->data is taken over)
 * and wakes its connection, from any thread (also from inside the handler,
 * before it returns). Call exactly once per token; the token is invalid
 * afterwards.
 */
void http_deferred_finish(struct http_deferred *deferred, struct http_answer *answer);

/* A route's handler: reads request, fills answer. Runs on an HTTP pool thread. */
typedef void (*http_handler_fn)(const struct http_request *request, struct http_answer *answer);

/*
 * Starts serving on address (goim style ":3111", "127.0.0.1:3111",
 * "[::1]:3111"; port 0 picks a free port) with `threads` threads. logic
 * stays the caller's and must outlive the server. On GIM_OK *server is the
 * caller's (http_server_stop). Otherwise returns GIM_ERR_INVALID (bad
 * address) or GIM_ERR_IO (cannot listen) with a text in error[0..error_size).
 */
int http_server_start(struct http_server **server, const struct logic_context *logic,
                      const char *address, int threads, size_t max_body, char *error,
                      size_t error_size);

/* The port actually bound (useful with port 0). */
unsigned int http_server_port(const struct http_server *server);

/*
 * Waits (at most wait_ms) for deferred answers still to come, then stops
 * accepting, waits for running handlers, closes connections and frees
 * server. NULL is allowed.
 */
void http_server_stop(struct http_server *server, int wait_ms);

#endif
