/* logic_calls.c: asynchronous fire-and-forget calls from comet to logic (see logic_calls.h). */
#include "comet/logic_calls.h"

#include "comet/comet.h"
#include "common/log.h"
#include "common/rpc.h"
#include "common/status.h"
#include "logic.pb-c.h"

static void forget_reply(void *user, int status, ProtobufCMessage *reply)
{
    const char *what = user;
    if (status != GIM_OK)
        gim_log_debug("logic %s failed: %s", what, gim_strerror(status));
    if (reply != NULL)
        protobuf_c_message_free_unpacked(reply, NULL);
}

void logic_disconnect(struct comet *comet, int64_t mid, const char *key)
{
    Goim__Logic__DisconnectReq request = GOIM__LOGIC__DISCONNECT_REQ__INIT;
    int status;

    request.mid = mid;
    request.key = (char *)key;
    request.server = comet->config->host;
    status = gim_rpc_call_async(comet->logic, GIM_RPC_LOGIC_DISCONNECT, &request.base,
                                &goim__logic__disconnect_reply__descriptor,
                                (int)comet->config->rpc_client_timeout_ms, forget_reply,
                                (void *)"Disconnect");
    if (status != GIM_OK)
        gim_log_debug("logic Disconnect not sent: %s", gim_strerror(status));
}

void logic_heartbeat(struct comet *comet, int64_t mid, const char *key)
{
    Goim__Logic__HeartbeatReq request = GOIM__LOGIC__HEARTBEAT_REQ__INIT;
    int status;

    request.mid = mid;
    request.key = (char *)key;
    request.server = comet->config->host;
    status = gim_rpc_call_async(comet->logic, GIM_RPC_LOGIC_HEARTBEAT, &request.base,
                                &goim__logic__heartbeat_reply__descriptor,
                                (int)comet->config->rpc_client_timeout_ms, forget_reply,
                                (void *)"Heartbeat");
    if (status != GIM_OK)
        gim_log_debug("logic Heartbeat not sent: %s", gim_strerror(status));
}

void logic_receive(struct comet *comet, int64_t mid, int32_t version, int32_t operation,
                   int32_t sequence, const uint8_t *body, size_t body_length)
{
    Goim__Logic__ReceiveReq request = GOIM__LOGIC__RECEIVE_REQ__INIT;
    Goim__Protocol__Proto proto = GOIM__PROTOCOL__PROTO__INIT;
    int status;

    proto.ver = version;
    proto.op = operation;
    proto.seq = sequence;
    proto.body.data = (uint8_t *)body;
    proto.body.len = body_length;
    request.mid = mid;
    request.proto = &proto;
    status = gim_rpc_call_async(
        comet->logic, GIM_RPC_LOGIC_RECEIVE, &request.base, &goim__logic__receive_reply__descriptor,
        (int)comet->config->rpc_client_timeout_ms, forget_reply, (void *)"Receive");
    if (status != GIM_OK)
        gim_log_debug("logic Receive not sent: %s", gim_strerror(status));
}
