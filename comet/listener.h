/*
 * listener.h: a loop's listening sockets and the table of what each serves (layer 5 of comet).
 *
 * One SO_REUSEPORT socket per tcp.bind, websocket.bind and (websocket.tlsOpen)
 * websocket.tlsBind address per loop, so the kernel spreads new connections
 * over the loops and no hand-off is needed. The route table in listener.c
 * says, per listener kind, which framing and client protocol its connections
 * take (TCP: goim frames, goim), and per HTTP path of a WebSocket listener
 * which protocol an upgrade gets and which handler a plain HTTP request
 * gets (exact paths or prefixes, comet/websocket.h; /sub: goim). A new
 * protocol is one more row there and one more protocol file.
 *
 * When accept fails for want of descriptors or memory (EMFILE, ENFILE,
 * ENOBUFS, ENOMEM) the listener stops being watched for
 * LISTENER_BACKOFF_MS (it is level-triggered: watched, the loop would
 * return to it at once and spin), the worker re-arms it before a wait once
 * the backoff is over (comet_listeners_resume), and the failure is logged at
 * most once per LISTENER_REPORT_MS per listener with the number of failures
 * since the last report.
 */
#ifndef COMET_LISTENER_H
#define COMET_LISTENER_H

#include <stddef.h>
#include <stdint.h>

#include "comet/connection.h"
#include "comet/event_loop.h"
#include "comet/websocket.h"

struct listener_kind;

#define LISTENER_BACKOFF_MS 250  /* accepts paused this long after a descriptor shortage */
#define LISTENER_REPORT_MS  5000 /* at most one log line per listener this often */

struct comet_listener {
    struct loop_handle handle; /* first: epoll data points here */
    struct connection_set *set;
    const struct listener_kind *kind;
    int64_t paused_until_ms;  /* 0: watched; else not watched until then (loop clock) */
    int64_t next_report_ms;   /* the earliest time the next failure may be logged */
    long failures_unreported; /* accept failures since the last log line */
};

struct comet_listeners {
    struct comet_listener *items;
    int count;
};

/*
 * Opens a listener on every configured address for set's loop (none when no
 * address is configured: a loop driven by tests or fuzzing). Also installs the
 * WebSocket route table (websocket_set_routes). Returns GIM_OK, GIM_ERR_IO (a
 * listener cannot bind; logged) or GIM_ERR_NO_MEMORY; on error what opened
 * stays in listeners for comet_listeners_close.
 */
int comet_listeners_open(struct comet_listeners *listeners, struct connection_set *set);

/*
 * Re-arms every listener whose accept backoff is over (on the loop's thread,
 * before a wait, with loop->now_ms current). Returns the ms until the next
 * paused listener is due, or -1 when none is paused.
 */
int comet_listeners_resume(struct comet_listeners *listeners, struct event_loop *loop);

/* Closes every listener (idempotent); new connections are refused by the kernel from now on. */
void comet_listeners_close(struct comet_listeners *listeners, struct event_loop *loop);

/* Closes and frees the listeners. */
void comet_listeners_free(struct comet_listeners *listeners, struct event_loop *loop);

/* The route of a TCP listener's connections (goim frames, goim protocol). */
extern const struct connection_route comet_route_goim_tcp;

/* The route of a WebSocket listener's connections before the upgrade chose a path. */
extern const struct connection_route comet_route_websocket_upgrade;

/* The route of a WebSocket connection upgraded on /sub (goim protocol). */
extern const struct connection_route comet_route_goim_websocket;

/* The route of a WebSocket connection upgraded on /ws/{app_key}/{user_tag} (gopusher). */
extern const struct connection_route comet_route_gopusher_websocket;

/* The route of a WebSocket connection upgraded under gusher.clientPrefix (gusher protocol). */
extern const struct connection_route comet_route_gusher_websocket;

/* The HTTP routes every WebSocket listener serves (/sub: goim, /ws/: gopusher,
 * gusher.clientPrefix (default /gusher/, set by comet_listeners_open): gusher), and their
 * number. */
extern struct websocket_route comet_websocket_routes[];
extern const size_t comet_websocket_route_count;

#endif
