/*
 * rpc_service.h: comet's RPC server (goim.comet.Comet over common/rpc.h).
 *
 * PushMsg, BroadcastRoom and Broadcast hand the request to every loop as a
 * push_job and defer their answer (gim_rpc_reply_defer): no RPC worker waits
 * for the loops, so the calls of a batch (common/rpc.h, GIM_RPC_BATCH: job's
 * PushMsg calls coalesced under load) are all posted before any is answered.
 * The loop that queues the push last to its connections answers done, on its
 * thread (sending a deferred answer does not block). The answer is all or
 * nothing, so that job's retry of a push answered with an error never delivers
 * it twice: a loop whose inbox holds LOOP_MAX_WAITING_JOBS items already
 * refuses the push before any loop has it (GIM_ERR_AGAIN, "comet busy"); a
 * push no loop has started when rpcServer.timeout passes is cancelled on every
 * loop and answered GIM_ERR_TIMEOUT by the service's deadline thread
 * (deadline_queue.h); a push one loop has started is delivered by all and
 * answered done at that deadline, even if others have not run it by then
 * (push_job.h). A push is encoded once per client wire (protocol and framing)
 * present among its targets, not once per connection. Broadcast's speed paces
 * the delivery (connections per second for this comet, split over the loops,
 * broadcast_pacer.h); it is acknowledged once each loop has taken its snapshot
 * of targets. Rooms answers every goim room with members on this comet (goim's
 * map of room -> true; comet/online.h).
 */
#ifndef COMET_RPC_SERVICE_H
#define COMET_RPC_SERVICE_H

struct comet;
struct comet_rpc_service;

/*
 * Listens on rpcServer.addr with rpcServer.workers workers, and starts the
 * thread that keeps the pushes' deadlines. On GIM_OK *service is the caller's
 * (rpc_service_stop). comet, and its loops, must outlive it. Returns GIM_OK,
 * the error of gim_rpc_server_start, GIM_ERR_IO (no thread) or
 * GIM_ERR_NO_MEMORY.
 */
int rpc_service_start(struct comet *comet, struct comet_rpc_service **service);

/*
 * Stops serving, waits until every push taken has been answered (by its loops,
 * or at its deadline: the loops must still run), then stops the deadline thread
 * and frees service. A push still in a loop's inbox afterwards (answered done
 * at its deadline) is delivered or dropped by that loop without the service.
 * NULL is ignored.
 */
void rpc_service_stop(struct comet_rpc_service *service);

#endif
