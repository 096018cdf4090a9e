/*
 * gopusher_hook.h: gopusher's connect hooks, called for logic's GopusherConnect (RPC 110).
 *
 * An app registered with a connect_hook URL admits a client only when a POST of
 * `token=<token>` (urlencoded) to that URL answers a body equal to the client's user_tag, byte
 * for byte (the status code is ignored, as gopusher). The calls run on one thread of their own
 * through libcurl's multi interface (http and https only, no redirects, 5 s each, bodies read up
 * to 4 KiB). A call does not block its caller: the hook thread reports its end through a
 * callback, so the RPC worker that asked defers its answer (common/rpc.h) and serves the next
 * request meanwhile.
 *
 * Bound: at most max_in_flight calls (gopusher.hookConcurrency, 64) are started and not yet
 * ended; a call past it is refused at once with GIM_ERR_AGAIN (logic answers 503 "connect hooks
 * busy"): no queue, since a hook that stalls would only make a queue wait longer, and a client
 * refused at once may retry.
 */
#ifndef LOGIC_GOPUSHER_HOOK_H
#define LOGIC_GOPUSHER_HOOK_H

#include <stdbool.h>
#include <stddef.h>

#define GOPUSHER_HOOK_MAX_BODY 4096

struct gopusher_hook;

/*
 * The end of one call, on the hook thread. status GIM_OK: body[0..body_length) is the answer's
 * body (up to GOPUSHER_HOOK_MAX_BODY bytes, NUL-terminated; a longer one has body_length past
 * GOPUSHER_HOOK_MAX_BODY so it cannot equal a tag). Else GIM_ERR_TIMEOUT, GIM_ERR_IO (transport
 * failure), GIM_ERR_NO_MEMORY or GIM_ERR_CLOSED (the hook stopped before the call ended), and
 * error says what (libcurl's words when libcurl gave them). body and error are valid during the
 * call only. Must not block; must not call gopusher_hook_stop or gopusher_hook_destroy.
 */
typedef void (*gopusher_hook_done_fn)(void *user, int status, const char *body, size_t body_length,
                                      const char *error);

/*
 * Starts the hook thread: each call at most timeout_ms, at most max_in_flight calls at once.
 * On GIM_OK *hook is the caller's (gopusher_hook_stop, then gopusher_hook_destroy). Returns
 * GIM_ERR_NO_MEMORY or GIM_ERR_IO (libcurl or the thread could not start).
 */
int gopusher_hook_start(struct gopusher_hook **hook, int timeout_ms, int max_in_flight);

/*
 * Starts a POST of token=<token> to url (both copied) without waiting. On GIM_OK done(user, ...)
 * runs exactly once later on the hook thread, within the timeout. On failure done is never
 * called: GIM_ERR_AGAIN (max_in_flight calls run already: refused at once), GIM_ERR_CLOSED (the
 * hook is stopped) or GIM_ERR_NO_MEMORY. Safe from any thread.
 */
int gopusher_hook_call(struct gopusher_hook *hook, const char *url, const char *token,
                       gopusher_hook_done_fn done, void *user);

/*
 * Stops the hook thread: every call not yet ended (queued or in flight) ends now with
 * GIM_ERR_CLOSED, its done called before this returns; later calls are refused with
 * GIM_ERR_CLOSED. hook stays valid (for callers still running) until gopusher_hook_destroy.
 * Idempotent; NULL is ignored.
 */
void gopusher_hook_stop(struct gopusher_hook *hook);

/* Frees a stopped hook (stops it first if needed). Call once no thread calls gopusher_hook_call
 * any more. NULL is ignored. */
void gopusher_hook_destroy(struct gopusher_hook *hook);

#endif
