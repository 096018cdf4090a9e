/*
 * logic_calls.h: comet's fire-and-forget calls to logic (Disconnect, Heartbeat, Receive, and
 * gusher's GusherDisconnect and GusherHeartbeat).
 *
 * Each call is asynchronous (gim_rpc_call_async); its completion only
 * frees the reply and logs failures at debug. Safe from a loop thread.
 * Connect, whose result matters, is in protocol_goim.c.
 */
#ifndef COMET_LOGIC_CALLS_H
#define COMET_LOGIC_CALLS_H

#include <stddef.h>
#include <stdint.h>

struct comet;

/* Tells logic that the connection (mid, key) on this comet is gone. */
void logic_disconnect(struct comet *comet, int64_t mid, const char *key);

/* Tells logic that the connection (mid, key) on this comet is alive (renews its Redis TTLs). */
void logic_heartbeat(struct comet *comet, int64_t mid, const char *key);

/* Forwards an upstream client frame to logic Receive. body is copied. */
void logic_receive(struct comet *comet, int64_t mid, int32_t version, int32_t operation,
                   int32_t sequence, const uint8_t *body, size_t body_length);

/*
 * Tells logic that gusher socket socket_id (app app_key, user user_id) on this comet is gone
 * (GusherDisconnect) or still open (GusherHeartbeat: renews its session keys). The strings are
 * copied into the request.
 */
void logic_gusher_disconnect(struct comet *comet, const char *app_key, const char *user_id,
                             const char *socket_id);
void logic_gusher_heartbeat(struct comet *comet, const char *app_key, const char *user_id,
                            const char *socket_id);

#endif
