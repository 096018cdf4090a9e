/* logic_calls.c: asynchronous fire-and-forget calls from comet to logic (see logic_calls.h). */
#include "comet/logic_calls.h"

#include "comet/comet.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "dialects.pb-c.h"
#include "logic.pb-c.h"

static void forget_reply(void *user, int status, ProtobufCMessage *reply)
{
    const char *what = user;
    if (status != GIM_OK)
        gim_log_debug("logic %s failed: %s", what, gim_strerror(status));
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
}

/* Sends request as method without waiting (coalesced with others under load, as a mass close's
 * Disconnects); the answer is only logged when it is an error. */
static void call_and_forget(struct comet *comet, uint32_t method, const ProtobufCMessage *request,
                            const ProtobufCMessageDescriptor *reply_type, const char *what)
{
    int status = gim_rpc_call_coalesced(comet->logic, method, request, reply_type,
                                        (int)comet->config->rpc_client_timeout_ms, forget_reply,
                                        (void *)what);
    if (status != GIM_OK)
        gim_log_debug("logic %s not sent: %s", what, gim_strerror(status));
}

void logic_disconnect(struct comet *comet, int64_t mid, const char *key)
{
    Goim__Logic__DisconnectReq request = GOIM__LOGIC__DISCONNECT_REQ__INIT;

    request.mid = mid;
    request.key = (char *)key;
    request.server = comet->config->host;
    call_and_forget(comet, GIM_RPC_LOGIC_DISCONNECT, &request.base,
                    &goim__logic__disconnect_reply__descriptor, "Disconnect");
}

void logic_heartbeat(struct comet *comet, int64_t mid, const char *key)
{
    Goim__Logic__HeartbeatReq request = GOIM__LOGIC__HEARTBEAT_REQ__INIT;

    request.mid = mid;
    request.key = (char *)key;
    request.server = comet->config->host;
    call_and_forget(comet, GIM_RPC_LOGIC_HEARTBEAT, &request.base,
                    &goim__logic__heartbeat_reply__descriptor, "Heartbeat");
}

void logic_receive(struct comet *comet, int64_t mid, int32_t version, int32_t operation,
                   int32_t sequence, const uint8_t *body, size_t body_length)
{
    Goim__Logic__ReceiveReq request = GOIM__LOGIC__RECEIVE_REQ__INIT;
    Goim__Protocol__Proto proto = GOIM__PROTOCOL__PROTO__INIT;

    proto.ver = version;
    proto.op = operation;
    proto.seq = sequence;
    proto.body.data = (uint8_t *)body;
    proto.body.len = body_length;
    request.mid = mid;
    request.proto = &proto;
    call_and_forget(comet, GIM_RPC_LOGIC_RECEIVE, &request.base,
                    &goim__logic__receive_reply__descriptor, "Receive");
}

/* A gusher session call (GusherDisconnect or GusherHeartbeat). */
static void gusher_session_call(struct comet *comet, uint32_t method, const char *app_key,
                                const char *user_id, const char *socket_id, const char *what)
{
    Goim__Dialects__GusherSessionReq request = GOIM__DIALECTS__GUSHER_SESSION_REQ__INIT;

    request.server = comet->config->host;
    request.appkey = (char *)app_key;
    request.userid = (char *)user_id;
    request.socketid = (char *)socket_id;
    call_and_forget(comet, method, &request.base, &goim__dialects__gusher_session_reply__descriptor,
                    what);
}

void logic_gusher_disconnect(struct comet *comet, const char *app_key, const char *user_id,
                             const char *socket_id)
{
    gusher_session_call(comet, GIM_RPC_LOGIC_GUSHER_DISCONNECT, app_key, user_id, socket_id,
                        "GusherDisconnect");
}

void logic_gusher_heartbeat(struct comet *comet, const char *app_key, const char *user_id,
                            const char *socket_id)
{
    gusher_session_call(comet, GIM_RPC_LOGIC_GUSHER_HEARTBEAT, app_key, user_id, socket_id,
                        "GusherHeartbeat");
}
