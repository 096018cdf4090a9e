/*
 * logic_calls.h: comet's fire-and-forget calls to logic (Disconnect, Heartbeat, Receive).
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

#endif
