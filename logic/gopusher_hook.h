/*
 * gopusher_hook.h: gopusher's connect hooks, called for logic's GopusherConnect (RPC 110).
 *
 * An app registered with a connect_hook URL admits a client only when a POST of
 * `token=<token>` (urlencoded) to that URL answers a body equal to the client's user_tag, byte
 * for byte (the status code is ignored, as gopusher). The calls run on one thread of their own
 * through libcurl's multi interface (http and https only, no redirects, 5 s each, bodies read up
 * to 4 KiB). The RPC worker that asks waits for its answer: nng's server answers a request on
 * the worker that took it (common/rpc.h has no deferred reply), so the number of workers that
 * may wait on hooks at once is bounded (gopusher.hookWorkers, below rpcServer.workers): past it
 * a check is refused at once, and the other workers stay free for goim's Connect, Heartbeat...
 */
#ifndef LOGIC_GOPUSHER_HOOK_H
#define LOGIC_GOPUSHER_HOOK_H

#include <stdbool.h>
#include <stddef.h>

#define GOPUSHER_HOOK_MAX_BODY 4096

struct gopusher_hook;

/*
 * Starts the hook thread: each call at most timeout_ms, at most max_waiting callers at once.
 * On GIM_OK *hook is the caller's (gopusher_hook_stop). Returns GIM_ERR_NO_MEMORY or
 * GIM_ERR_IO (libcurl or the thread could not start).
 */
int gopusher_hook_start(struct gopusher_hook **hook, int timeout_ms, int max_waiting);

/*
 * POSTs token=<token> to url and waits for the answer (at most the timeout, plus a second).
 * On GIM_OK body[0..*body_length) holds the answer's body (up to GOPUSHER_HOOK_MAX_BODY bytes,
 * NUL-terminated; a longer one sets *body_length past the size so it cannot equal a tag).
 * Returns GIM_ERR_AGAIN (max_waiting callers wait already: refused at once), GIM_ERR_TIMEOUT,
 * GIM_ERR_IO (transport failure: error[0..error_size) says what, as libcurl words it),
 * GIM_ERR_CLOSED (stopping) or GIM_ERR_NO_MEMORY. Blocks: never on an event loop.
 */
int gopusher_hook_call(struct gopusher_hook *hook, const char *url, const char *token,
                       char body[GOPUSHER_HOOK_MAX_BODY + 1], size_t *body_length, char *error,
                       size_t error_size);

/* Stops: calls not started end with GIM_ERR_CLOSED, calls in flight are let finish (each within
 * the timeout); frees hook. Call once no RPC worker calls gopusher_hook_call any more. */
void gopusher_hook_stop(struct gopusher_hook *hook);

#endif
