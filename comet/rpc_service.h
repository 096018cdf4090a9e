/*
 * rpc_service.h: comet's RPC server (goim.comet.Comet over common/rpc.h).
 *
 * PushMsg, BroadcastRoom and Broadcast encode the payload once into a shared
 * buffer, hand it to every loop as a push_job and answer only after every
 * loop has queued it to its connections (bounded by rpcServer.timeout; past
 * it the caller gets an error and may retry: delivery is at least once).
 * Over TCP an OpRaw (op 9) proto's body is written as is; any other proto is
 * written as one frame. Broadcast's speed is ignored for now (no pacing).
 * Rooms is not implemented yet and answers an error.
 */
#ifndef COMET_RPC_SERVICE_H
#define COMET_RPC_SERVICE_H

struct comet;
struct gim_rpc_server;

/*
 * Listens on rpcServer.addr with rpcServer.workers workers. On GIM_OK
 * *server is the caller's (gim_rpc_server_stop). comet must outlive it.
 * Returns GIM_OK or the error of gim_rpc_server_start.
 */
int rpc_service_start(struct comet *comet, struct gim_rpc_server **server);

#endif
