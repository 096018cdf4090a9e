/*
 * push_calls.h: PushMsg calls to one comet, coalesced under load into PushMsgs calls.
 *
 * Every PushMsg record with its own connection keys is a call of its own, so a
 * push/mids load of thousands of requests per second would be as many round trips,
 * each a wake-up of every comet loop and an RPC answer (most of job's and comet's CPU
 * per record). Here at most JOB_PUSH_CALLS_IN_FLIGHT calls carrying pushes are out to a
 * comet at once. A push sent while fewer are out leaves at once, alone, as the PushMsg
 * it is (no added latency at rest); one sent while all are out waits, and when one comes
 * back every waiting push leaves in one PushMsgs call (proto/comet.proto, method 5), up
 * to JOB_PUSH_CALLS_MAX_ITEMS pushes or JOB_PUSH_CALLS_MAX_BYTES bytes per call (the rest
 * in the next). The comet answers each push on its own, all or nothing as its own call
 * would be, so each push's completion is what its PushMsg call's would have been.
 *
 * The bound: waiting pushes are not bounded here. The caller bounds them: job's delivery
 * core keeps at most comet.queue calls in flight per comet and counts a waiting push as
 * one (job/delivery.c).
 *
 * Threads: job_push_calls_send on any one thread at a time (job's dispatcher thread);
 * completions run on nng threads (gim_rpc_done_fn), where the next call also starts.
 */
#ifndef JOB_PUSH_CALLS_H
#define JOB_PUSH_CALLS_H

#include "comet.pb-c.h"
#include "common/rpc.h"

/* Calls carrying pushes out to one comet at once; the next pushes wait for one to end. */
#define JOB_PUSH_CALLS_IN_FLIGHT 2
/* At most this many pushes, or this many bytes of them, in one PushMsgs call. */
#define JOB_PUSH_CALLS_MAX_ITEMS 256
#define JOB_PUSH_CALLS_MAX_BYTES (4u * 1024u * 1024u)

struct job_push_calls;

/*
 * Creates the coalescer of the calls made on client (which must outlive it and every
 * call made through it). Returns GIM_OK and *calls (the caller's: job_push_calls_destroy),
 * or GIM_ERR_NO_MEMORY.
 */
int job_push_calls_create(struct job_push_calls **calls, struct gim_rpc_client *client);

/*
 * Sends request (a PushMsgReq, packed before this returns: it stays the caller's) to the
 * comet, now or with the next pushes, with timeout_ms for the call that carries it.
 * done(user, status, reply) runs exactly once later, on an nng thread, with reply always
 * NULL and status as a PushMsg call's (GIM_OK: queued by every comet loop). Returns GIM_OK;
 * or, with done never called, GIM_ERR_NO_MEMORY, or what gim_rpc_call_async refused the
 * call with when it left at once (GIM_ERR_AGAIN, GIM_ERR_CLOSED).
 */
int job_push_calls_send(struct job_push_calls *calls, const Goim__Comet__PushMsgReq *request,
                        int timeout_ms, gim_rpc_done_fn done, void *user);

/*
 * Frees calls. Nothing may wait or be in flight: the client is closed first (which waits
 * for its calls), and every push sent through it holds what keeps the client open.
 */
void job_push_calls_destroy(struct job_push_calls *calls);

#endif
