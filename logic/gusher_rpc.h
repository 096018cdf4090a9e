/*
 * gusher_rpc.h: logic's RPC methods that admit gusher.cluster's WebSocket
 * clients on comet (proto/dialects.proto, common/rpc.h 106-109).
 *
 *   GusherAuth (106)        verify the JWT (logic/gusher_jwt.h), keep its gusher
 *                           claim under a new token for gusher.tokenTTL (60 s)
 *   GusherConnect (107)     redeem a token for a socket of an app, write the session
 *   GusherDisconnect (108)  forget the socket's session
 *   GusherHeartbeat (109)   renew the socket's session
 *
 * Keys are logic/gusher_store.h's. A refused JWT and every Redis failure are
 * RPC errors (comet answers 401 "jwt decode fail", or refuses the upgrade);
 * an unknown or expired token and a token of another app are Connect's
 * TOKEN_ERROR and APPKEY_ERROR answers.
 */
#ifndef LOGIC_GUSHER_RPC_H
#define LOGIC_GUSHER_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gim_rpc_reply;
struct logic_context;

/*
 * Answers method (106-109) with request[0..length) on the calling RPC
 * worker thread (blocks on Redis for up to redis.timeout per command).
 * Returns false, answering nothing, for any other method.
 */
bool gusher_rpc_handle(const struct logic_context *logic, uint32_t method, const uint8_t *request,
                       size_t length, struct gim_rpc_reply *reply);

#endif
