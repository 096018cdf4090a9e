/*
 * operations.h: comet's operations thread, where blocking work happens.
 *
 * Not an event loop: it may block on Redis. It publishes the comet in the
 * registry (common/registry.h) at start and every registry.ttl/3 with
 * hostname, RPC advertise URL, weight, offline, public addrs, conn_count
 * (authenticated connections over all loops), ip_count (distinct client
 * IPs) and latest_timestamp (unix ns), and withdraws it when stopped
 * (offline is also set once the comet drains, operations_go_offline).
 * Every online.interval it sends the comet-wide room counts (comet/online.h)
 * to logic RenewOnline (a blocking call, bounded by rpcClient.timeout) and
 * stores the cluster-wide counts of the answer for the heartbeat replies;
 * a failed call keeps the previous cluster-wide counts.
 * Before each publish it checks that its entry is still in Redis: when it is
 * gone (Redis restarted without its data, or was flushed) the sessions may be
 * gone too, so it collects (mid, key) of every authenticated connection from
 * the loops through their inboxes and sends them to logic Heartbeat (which
 * writes a missing session again) from this thread, 64 calls in flight at
 * most; a failed round is tried again at the next publish.
 */
#ifndef COMET_OPERATIONS_H
#define COMET_OPERATIONS_H

struct comet;
struct operations;

/* Starts the thread (first publish happens at once, on it). On GIM_OK *operations is the
 * caller's (operations_stop). Returns GIM_OK, GIM_ERR_NO_MEMORY or GIM_ERR_IO. */
int operations_start(struct comet *comet, struct operations **operations);

/* Marks the comet offline (drain): the registry entry is republished at once with offline
 * true, so logic stops offering it while job still delivers to it. Any thread. */
void operations_go_offline(struct operations *operations);

/* Stops the thread: withdraws the registry entry, joins, frees operations. */
void operations_stop(struct operations *operations);

#endif
