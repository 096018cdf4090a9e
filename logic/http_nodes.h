/*
 * http_nodes.h: the /goim/nodes/... handlers (goim v2): which comets a
 * client should dial, and the raw list of live comets.
 */
#ifndef LOGIC_HTTP_NODES_H
#define LOGIC_HTTP_NODES_H

#include "logic/http.h"

/*
 * GET /goim/nodes/weighted[?platform=<p>]: goim's NodesReply, fields in
 * goim's order, zero values left out as Go's omitempty:
 *   {"domain","tcp_port","ws_port","wss_port","heartbeat" (seconds),
 *    "nodes":[...],"backoff":{"max_delay","base_delay","factor","jitter"},
 *    "heartbeat_max"}
 * nodes: the balancer's choice (balancer.h), as hostname + node.hostDomain
 * for platform "web", otherwise every public address (metadata addrs) of
 * the chosen comets; [node.defaultDomain] when there is none. The client's
 * region is "" (goim has no GeoIP either), so only comets registered with
 * an empty region get node.regionWeight.
 */
void http_nodes_weighted(const struct http_request *request, struct http_answer *answer);

/*
 * GET /goim/nodes/instances: data = the live, not offline comets as
 * registry instances (common/registry.h), null when there is none; -500
 * when the last refresh could not read Redis.
 */
void http_nodes_instances(const struct http_request *request, struct http_answer *answer);

#endif
