"""What comet sends to logic Connect when a client authenticates (goim's ConnectReq): server =
comet's host, cookie = the WebSocket upgrade's Cookie header ("" over TCP or without one), token =
the op-7 body byte for byte. Logic ignores the cookie, so a recording stand-in for logic's RPC
(support/recording_logic.py) takes the place of the real one for these tests."""

import pytest

from support.goim_client import TcpClient, auth_body
from support.goim_ws import WsClient
from support.recording_logic import RecordingLogic
from support.util import free_port


@pytest.fixture
def recorded(make_cluster):
    port = free_port()
    logic = RecordingLogic(port)
    try:
        cluster = make_cluster(extra_args={"comet": ["-rpcClient.logic", "127.0.0.1:%d" % port]})
        yield cluster, logic
    finally:
        logic.close()


def test_websocket_cookie_and_token_reach_connect(recorded):
    cluster, logic = recorded
    d = cluster.comet
    cookie = "session=abc123; theme=dark"
    c = WsClient.connect("127.0.0.1", d.ws_port, headers={"Cookie": cookie})
    cluster.clients.append(c)
    reply = c.auth(mid=5, key="cookie-key", room_id="live://9")
    assert reply.body == b""
    request = logic.next_connect()
    assert request["server"] == d.host
    assert request["cookie"] == cookie
    assert request["token"] == auth_body(5, key="cookie-key", room_id="live://9")


def test_websocket_without_cookie_sends_empty_cookie(recorded):
    cluster, logic = recorded
    c = WsClient.connect("127.0.0.1", cluster.comet.ws_port)
    cluster.clients.append(c)
    c.auth(mid=6)
    assert logic.next_connect()["cookie"] == ""


def test_tcp_sends_empty_cookie(recorded):
    cluster, logic = recorded
    c = TcpClient.connect("127.0.0.1", cluster.comet.tcp_port)
    cluster.clients.append(c)
    c.auth(mid=7, key="tcp-key")
    request = logic.next_connect()
    assert request["cookie"] == ""
    assert request["token"] == auth_body(7, key="tcp-key")
