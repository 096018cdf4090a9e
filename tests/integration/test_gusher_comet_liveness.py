"""gusher sockets on comet over time (comet/protocol_gusher.c): the WebSocket ping and its pong
deadline seen from a raw client that does not answer, GusherHeartbeat at logic's renewSeconds,
and the presence a stopping comet withdraws. logic's admission is the recording stand-in, as in
test_gusher_comet.py."""

import json
import time

from support import gusher_client as gusher
from support.goim_ws import (OPCODE_PING, OPCODE_TEXT, encode_ws_frame, open_socket,
                             read_http_head, upgrade_request)
from support.gusher_client import KeyPair, claim, receive, send, socket_id_of
from support.recording_logic import GUSHER_HEARTBEAT
from test_gusher_comet import socket_for, start


def read_frames(sock, deadline):
    """The server frames (opcode, payload) until it closes or deadline passes; and whether it
    closed."""
    frames, data = [], b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            break
        except ConnectionResetError:
            return frames, True
        if not chunk:
            return frames, True
        data += chunk
        while len(data) >= 2 and len(data) >= 2 + (data[1] & 0x7F):
            length = data[1] & 0x7F  # the server's frames here are short
            frames.append((data[0] & 0x0F, data[2:2 + length]))
            data = data[2 + length:]
    return frames, False


def test_no_pong_closes_a_subscribed_socket(make_cluster):
    keys = KeyPair()
    cluster, logic = start(make_cluster, keys, "-gusher.pingInterval", "1s",
                           "-gusher.pongTimeout", "3s")
    try:
        port = cluster.comet.ws_port
        token = gusher.token_for(port, keys, claim())
        sock = open_socket("127.0.0.1", port)
        sock.sendall(upgrade_request("127.0.0.1", port, path="/gusher/ws/TEST?token=" + token))
        status, _, rest = read_http_head(sock)
        assert status == 101 and rest == b""
        sock.sendall(encode_ws_frame(OPCODE_TEXT,
                                     b'{"event":"gusher.subscribe","data":{"channel":"AA"}}'))
        # a socket that answers the pings (websockets does) stays: the positive control
        with socket_for(cluster, keys) as answering:
            send(answering, "gusher.subscribe", {"channel": "AA"})
            receive(answering)
            frames, closed = read_frames(sock, time.monotonic() + 15)
            assert closed, frames
            opcodes = [opcode for opcode, _ in frames]
            assert OPCODE_TEXT in opcodes  # the subscribe reply
            assert OPCODE_PING in opcodes, opcodes  # pinged, never answered
            send(answering, "gusher.ping", {})
            assert json.loads(receive(answering))["event"] == "gusher.querychannel_succeeded"
        sock.close()
    finally:
        logic.close()


def test_heartbeat_at_renew_seconds(make_cluster):
    keys = KeyPair()
    cluster, logic = start(make_cluster, keys, renew_seconds=1)
    try:
        with socket_for(cluster, keys) as socket:
            sid = socket_id_of(socket)
            for _ in range(2):
                call = logic.next_gusher_call(GUSHER_HEARTBEAT, timeout=10)
                assert (call.server, call.app_key, call.user_id, call.socket_id) == (
                    cluster.comet.host, "TEST", "Test_User", sid)
    finally:
        logic.close()


def test_a_stopping_comet_withdraws_its_presence(make_cluster):
    keys = KeyPair()
    cluster, logic = start(make_cluster, keys)
    try:
        redis, host = cluster.redis, cluster.comet.host
        socket = socket_for(cluster, keys)
        send(socket, "gusher.subscribe", {"channel": "AA"})
        receive(socket)
        gusher_keys = ["gusher/presence/TEST/%s/%s" % (host, name)
                       for name in ("users", "channels", "channel/AA")]
        deadline = time.monotonic() + 10
        while redis.exists(*gusher_keys) != 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert redis.exists(*gusher_keys) == 3
        cluster.stop("comet")
        assert redis.zscore("gusher/presence/TEST", host) is None
        assert redis.exists(*gusher_keys) == 0
        socket.close()
    finally:
        logic.close()
