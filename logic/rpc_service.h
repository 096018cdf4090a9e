/*
 * rpc_service.h: logic's nng RPC methods for comets (goim.logic.Logic).
 *
 * Connect, Disconnect, Heartbeat, RenewOnline and Receive, with the
 * messages of proto/logic.proto over common/rpc.h. Session state goes to
 * Redis (session.h); a Redis failure is an error reply, so a comet refuses
 * the connection rather than keep one nobody can push to.
 */
#ifndef LOGIC_RPC_SERVICE_H
#define LOGIC_RPC_SERVICE_H

#include <stddef.h>
#include <stdint.h>

struct gim_rpc_reply;

/*
 * The gim_rpc_handler_fn of logic's RPC server. user is the process's
 * struct logic_context (read only). Runs on an RPC worker thread and may
 * block on Redis for up to redis.timeout per command. Answers every call
 * exactly once; unknown methods get GIM_ERR_NOT_FOUND.
 */
void rpc_service_handle(void *user, uint32_t method, const uint8_t *request, size_t request_length,
                        struct gim_rpc_reply *reply);

#endif
