/*
 * rpc_service.h: comet's RPC server (goim.comet.Comet over common/rpc.h).
 *
 * PushMsg, BroadcastRoom and Broadcast hand the request to every loop as a
 * push_job and answer only after every loop has queued it to its connections
 * (bounded by rpcServer.timeout). The answer is all or nothing, so that
 * job's retry of a push answered with an error never delivers it twice: a
 * loop whose inbox holds LOOP_MAX_WAITING_JOBS items already refuses the push
 * before any loop has it (GIM_ERR_AGAIN, "comet busy"); a push no loop has
 * started by the deadline is cancelled on every loop (GIM_ERR_TIMEOUT); a
 * push one loop has started is delivered by all and answered as done, even
 * if others have not run it by the deadline (push_job.h). A push is encoded
 * once per client wire (protocol and framing) present among its targets, not
 * once per connection. Broadcast's speed paces the delivery (connections per
 * second for this comet, split over the loops, broadcast_pacer.h); it is
 * acknowledged once each loop has taken its snapshot of targets. Rooms
 * answers every goim room with members on this comet (goim's map of room -> true;
 * comet/online.h).
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
