"""gusher.cluster's clients on comet (comet/protocol_gusher.c): the routes under /gusher/, the
WebSocket commands with their exact replies, wildcards, pushes of operations 2000-2002, the
liveness rules and what comet tells logic and Redis. The JWTs are signed here with a key made
here; logic's side of admission (RPC 106-109) is the recording stand-in
(support/recording_logic.py), which verifies them as docs/internals.md says logic does, so these
tests exercise comet alone (the real logic's handlers have their own tests)."""

import base64
import hashlib
import hmac
import json
import re
import struct
import time

import jwt
import pynng
import pytest
from websockets.exceptions import InvalidStatus

from support import gusher_client as gusher
from support.gusher_client import KeyPair, claim, open_socket, receive, send, socket_id_of
from support.logic_wire import _field_bytes, _field_varint
from support.recording_logic import GUSHER_CONNECT, GUSHER_DISCONNECT, RecordingLogic
from support.util import free_port, wait_for
from test_metrics import scrape
from test_metrics import value as metric

PUSH_MSG, BROADCAST_ROOM = 1, 3


@pytest.fixture(scope="module")
def keys():
    return KeyPair()


def start(make_cluster, keys, *comet_args, renew_seconds=600):
    port = free_port()
    logic = RecordingLogic(port, gusher_public_key=keys.public_pem, renew_seconds=renew_seconds)
    cluster = make_cluster(extra_args={"comet": ["-rpcClient.logic", "127.0.0.1:%d" % port]
                                       + list(comet_args)})
    return cluster, logic


@pytest.fixture
def gusher_cluster(make_cluster, keys):
    cluster, logic = start(make_cluster, keys)
    try:
        yield cluster, logic
    finally:
        logic.close()


def hs256(payload, secret):
    """An HS256 JWT keyed with secret (PyJWT refuses a PEM as an HMAC key; the attack uses the
    public key's text)."""
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=")
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + b"." + b64(json.dumps(payload).encode())
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


def comet_call(cluster, method, body):
    with pynng.Req0(dial="tcp://127.0.0.1:%d" % cluster.comet.rpc_port, recv_timeout=5000,
                    send_timeout=5000) as socket:
        socket.send(struct.pack(">I", method) + body)
        reply = socket.recv()
    assert struct.unpack(">i", reply[:4])[0] == 0, reply


def proto(operation, body):
    return _field_varint(1, 1) + _field_varint(2, operation) + _field_bytes(4, body)


def frame(operation, body):
    return struct.pack(">IHHii", 16 + len(body), 16, 1, operation, 0) + body


def push_channel(cluster, app, channel, body, operation=2000):
    comet_call(cluster, BROADCAST_ROOM,
               _field_bytes(1, "gusher/%s/%s" % (app, channel)) + _field_bytes(2, proto(operation, body))
               + _field_varint(4, 1))


def push_keys(cluster, keys_, operation, body, proto_operation=None):
    out = b"".join(_field_bytes(1, key) for key in keys_)
    out += _field_bytes(2, proto(operation, body)) + _field_varint(3, proto_operation or operation)
    comet_call(cluster, PUSH_MSG, out)


def socket_for(cluster, keys, the_claim=None, app=None):
    the_claim = the_claim or claim()
    token = gusher.token_for(cluster.comet.ws_port, keys, the_claim)
    return open_socket(cluster.comet.ws_port, app or the_claim["app_key"], token)


# ---- routes --------------------------------------------------------------------------------

def test_token_exchange_and_reuse(gusher_cluster, keys):
    cluster, logic = gusher_cluster
    port = cluster.comet.ws_port
    answer = gusher.auth(port, keys.sign(claim()))
    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["content-type"] == "application/json;charset=UTF-8"
    assert re.fullmatch(rb'\{"token":"[0-9a-f]{32}"\}\n', answer.body), answer.body
    token = json.loads(answer.body)["token"]
    first = open_socket(port, "TEST", token)
    second = open_socket(port, "TEST", token)  # reusable within 60 s, as gusher's
    try:
        connects = [logic.next_gusher_call(GUSHER_CONNECT) for _ in range(2)]
        for call in connects:
            assert (call.server, call.app_key, call.token) == (cluster.comet.host, "TEST", token)
            assert re.fullmatch("[0-9a-f]{32}", call.socket_id)
        assert connects[0].socket_id != connects[1].socket_id
        assert {socket_id_of(first), socket_id_of(second)} == {c.socket_id for c in connects}
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("case", ["bad_signature", "expired", "hs256", "none", "missing"])
def test_bad_jwts_are_refused(gusher_cluster, keys, case):
    cluster, logic = gusher_cluster
    if case == "bad_signature":
        token = KeyPair().sign(claim())
    elif case == "expired":
        token = keys.sign(claim(), exp=int(time.time()) - 60)
    elif case == "hs256":
        token = hs256({"gusher": claim()}, keys.public_pem)
    elif case == "none":
        token = jwt.encode({"gusher": claim()}, None, algorithm="none")
    if case == "missing":
        answer = gusher.request(cluster.comet.ws_port, "POST", "/gusher/auth", form={"x": "1"})
    else:
        answer = gusher.auth(cluster.comet.ws_port, token)
    assert (answer.status, answer.body) == (401, b"jwt decode fail\n")
    assert answer.headers["access-control-allow-origin"] == "*"
    assert logic.gusher_auths == 1  # the refusal is logic's, comet only asked


def test_socket_refusals_ping_and_unknown_paths(gusher_cluster, keys):
    cluster, logic = gusher_cluster
    port = cluster.comet.ws_port
    token = gusher.token_for(port, keys, claim())
    for app, token_, text in (("TEST", "", b"app_key is nil\n"),
                              ("TEST", "0" * 32, b"token error\n"),
                              ("OTHER", token, b"appkey error\n")):
        with pytest.raises(InvalidStatus) as refused:
            open_socket(port, app, token_)
        assert refused.value.response.status_code == 401
        assert refused.value.response.body == text
    answer = gusher.request(port, "GET", "/gusher/ping")
    assert (answer.status, answer.body) == (200, b"pong")
    answer = gusher.request(port, "GET", "/gusher/nothing")
    assert (answer.status, answer.body) == (404, b"404 page not found\n")
    assert gusher.request(port, "GET", "/gusher/auth").status == 405
    answer = gusher.request(port, "GET", "/gusher/ws/TEST")  # not an upgrade, no token
    assert (answer.status, answer.body) == (401, b"app_key is nil\n")


# ---- commands ------------------------------------------------------------------------------

def test_every_command_and_its_exact_reply(gusher_cluster, keys):
    cluster, logic = gusher_cluster
    with socket_for(cluster, keys, claim(remotes={"chat": True, "off": False})) as socket:
        sid = socket_id_of(socket)
        assert re.fullmatch("[0-9a-f]{32}", sid)

        def reply(event, data, **extra):
            send(socket, event, data, **extra)
            return receive(socket)

        assert reply("gusher.subscribe", {"channel": "AA"}) == (
            '{"event":"gusher.subscribe_succeeded","socket_id":"%s","data":{"channel":"AA"}}' % sid)
        assert reply("gusher.subscribe", {"channel": "CC"}) == (
            '{"event":"gusher.subscribe_error","socket_id":"%s","data":{"channel":"CC"}}' % sid)
        assert reply("gusher.unsubscribe", {"channel": "BB"}) == (
            '{"event":"gusher.unsubscribe_succeeded","socket_id":"%s","data":{"channel":"BB"}}'
            % sid)
        assert reply("gusher.unsubscribe", {"channel": "CC"}) == (
            '{"event":"gusher.unsubscribe_error","socket_id":"%s","data":{"channel":"CC"}}' % sid)
        assert reply("gusher.querychannel", {}) == (
            '{"event":"gusher.querychannel_succeeded","socket_id":"%s","data":{"channels":'
            '["AA","BB"]}}' % sid)
        socket.send('{"event":"gusher.ping","data":{"hello": "world"}}')
        pong = json.loads(receive(socket))
        assert list(pong) == ["event", "socket_id", "data", "time"]
        assert pong["event"] == "gusher.querychannel_succeeded" and pong["socket_id"] == sid
        assert pong["data"] == "eyJoZWxsbyI6ICJ3b3JsZCJ9"
        assert base64.b64decode(pong["data"]) == b'{"hello": "world"}'
        assert abs(pong["time"] - time.time()) < 60
        assert json.loads(reply("gusher.ping", "str"))["data"] == "c3Ry"
        assert reply("gusher.multi_subscribe", {"multi_channel": ["AA", "BB"]}) == (
            '{"event":"gusher.multi_subscribe_succeeded","socket_id":"%s","data":{"channel":'
            '["AA","BB"]}}' % sid)
        assert reply("gusher.multi_subscribe", {"multi_channel": ["AA", "CC"]}) == (
            '{"event":"gusher.multi_subscribe_error","socket_id":"%s","data":{"channel":'
            '["AA","CC"]}}' % sid)
        assert reply("gusher.multi_subscribe", {"multi_channel": []}) == (
            '{"event":"gusher.multi_subscribe_error","socket_id":"%s","data":{"channel":[]}}'
            % sid)
        assert reply("gusher.remote", {"remote": "off", "uid": "1", "payload": {}}) == (
            '{"event":"gusher.remote_error","socket_id":"%s","data":{"remote":"off","msg":null}}'
            % sid)
        assert reply("gusher.remote", {"remote": "chat", "uid": "2", "payload": {"b": 1}},
                     debug=True) == (
            '{"event":"gusher.remote_succeeded","socket_id":"%s","data":{"remote":"chat",'
            '"msg":null}}' % sid)
        # without debug a permitted remote is fire and forget: the next reply is the ping's
        send(socket, "gusher.remote", {"remote": "chat", "uid": "3", "payload": "x"})
        # the payload is read and written as gusher's JsonCheck does (Go's float64, sorted keys;
        # the bytes of logic's master API), written raw here so the numbers are the client's
        socket.send('{"event":"gusher.remote","data":{"remote":"chat","uid":"4","payload":'
                    '{"z":[0.1,1e21,12345678901234567890],"a":"<"}}}')
        socket.send('{"event":"gusher.remote","data":{"remote":"chat","uid":"5","payload":'
                    '"0.10"}}')
        assert json.loads(reply("gusher.ping", {}))["event"] == "gusher.querychannel_succeeded"
        jobs = wait_for(lambda: cluster.redis.lrange("TEST@chat", 0, -1) or None, 10,
                        message="the remote jobs in Redis")
        wait_for(lambda: len(cluster.redis.lrange("TEST@chat", 0, -1)) == 4, 10)
        jobs = cluster.redis.lrange("TEST@chat", 0, -1)
        assert jobs == [
            ('{"user_id":"Test_User","socket_id":"%s","uid":"2","app_key":"TEST","data":'
             '{"b":1}}' % sid),
            ('{"user_id":"Test_User","socket_id":"%s","uid":"3","app_key":"TEST","data":"x"}'
             % sid),
            ('{"user_id":"Test_User","socket_id":"%s","uid":"4","app_key":"TEST","data":'
             '{"a":"\\u003c","z":[0.1,1e+21,12345678901234567000]}}' % sid),
            ('{"user_id":"Test_User","socket_id":"%s","uid":"5","app_key":"TEST","data":0.1}'
             % sid)]


def test_wildcards(gusher_cluster, keys):
    cluster, logic = gusher_cluster
    with socket_for(cluster, keys, claim(channels=["t*st", "app*"])) as socket:
        for channel, event in (("test", "succeeded"), ("toast", "succeeded"), ("tst", "error"),
                               ("apple", "succeeded"), ("app", "error"), ("xapple", "error")):
            send(socket, "gusher.subscribe", {"channel": channel})
            assert json.loads(receive(socket))["event"] == "gusher.subscribe_" + event, channel
        # multi_subscribe is exact: a name a pattern allows is not enough
        send(socket, "gusher.multi_subscribe", {"multi_channel": ["test"]})
        assert json.loads(receive(socket))["event"] == "gusher.multi_subscribe_error"
    with socket_for(cluster, keys, claim(channels=["*"])) as socket:
        for channel in ("anything", "x"):
            send(socket, "gusher.subscribe", {"channel": channel})
            assert json.loads(receive(socket))["event"] == "gusher.subscribe_succeeded"
        send(socket, "gusher.multi_subscribe", {"multi_channel": ["a", "b"]})
        assert json.loads(receive(socket))["event"] == "gusher.multi_subscribe_succeeded"


def test_subscriptions_are_bounded_per_socket(gusher_cluster, keys):
    cluster, logic = gusher_cluster
    with socket_for(cluster, keys, claim(channels=["*"])) as socket:
        for index in range(1024):  # GUSHER_MAX_SUBSCRIPTIONS
            socket.send('{"event":"gusher.subscribe","data":{"channel":"c%d"}}' % index)
        for index in range(1024):
            assert json.loads(receive(socket))["event"] == "gusher.subscribe_succeeded"
        send(socket, "gusher.subscribe", {"channel": "one-more"})
        assert json.loads(receive(socket))["event"] == "gusher.subscribe_error"
        send(socket, "gusher.subscribe", {"channel": "c7"})  # subscribed already: fine
        assert json.loads(receive(socket))["event"] == "gusher.subscribe_succeeded"
        send(socket, "gusher.unsubscribe", {"channel": "c0"})
        receive(socket)
        send(socket, "gusher.subscribe", {"channel": "one-more"})
        assert json.loads(receive(socket))["event"] == "gusher.subscribe_succeeded"


@pytest.mark.parametrize("message", [
    '{"event":"gusher.login","data":{}}',
    'not json',
    '{"event":"gusher.subscribe"}',
    '{"event":"gusher.subscribe","data":{}}',
    '{"event":"gusher.remote","data":{"remote":"chat"}}',
    '{"event":"gusher.ping","data":"%s"}' % ("x" * 480),  # 513 bytes
])
def test_fatal_and_oversized_messages_close(gusher_cluster, keys, message):
    cluster, logic = gusher_cluster
    with socket_for(cluster, keys) as socket:
        sid = socket_id_of(socket)
        socket.send(message)
        assert gusher.closed_within(socket)
    assert logic.next_gusher_call(GUSHER_DISCONNECT).socket_id == sid


def test_a_message_of_512_bytes_is_read(gusher_cluster, keys):
    cluster, logic = gusher_cluster
    with socket_for(cluster, keys) as socket:
        text = '{"event":"gusher.ping","data":"%s"}' % ("x" * 479)
        assert len(text) == 512
        socket.send(text)
        assert json.loads(receive(socket))["event"] == "gusher.querychannel_succeeded"


# ---- pushes --------------------------------------------------------------------------------

def test_channel_user_and_socket_pushes(gusher_cluster, keys):
    cluster, logic = gusher_cluster
    with socket_for(cluster, keys) as socket, socket_for(cluster, keys) as other:
        sid = socket_id_of(socket)
        send(socket, "gusher.subscribe", {"channel": "AA"})
        receive(socket)
        envelope = b'{"channel":"AA","event":"ev","data":{"a":1}}'
        push_channel(cluster, "TEST", "AA", envelope)
        assert receive(socket) == envelope.decode()
        # an OpRaw of channel messages: one text message each, in order
        raw = frame(2000, b'"one"') + frame(2000, b'"two"')
        push_channel(cluster, "TEST", "AA", raw, operation=9)
        assert [receive(socket), receive(socket)] == ['"one"', '"two"']
        # a socket push is the bare value, to that socket only
        push_keys(cluster, ["gusher/TEST/%s" % sid], 2000, b"123")
        assert receive(socket) == "123"
        send(other, "gusher.ping", {})
        assert json.loads(receive(other))["event"] == "gusher.querychannel_succeeded"


def test_reload_and_add_channels(gusher_cluster, keys):
    cluster, logic = gusher_cluster
    with socket_for(cluster, keys, claim(channels=["AA", "B*"])) as socket:
        sid = socket_id_of(socket)
        for channel in ("AA", "BX"):
            send(socket, "gusher.subscribe", {"channel": channel})
            assert json.loads(receive(socket))["event"] == "gusher.subscribe_succeeded"
        # reload to ["B*", "CC"]: AA and BX (only allowed by a pattern) are left
        push_keys(cluster, ["gusher/TEST/%s" % sid], 2001, b'["B*","CC"]')
        assert receive(socket) == (
            '{"event":"gusher.reloadchannel","socket_id":"","data":{"channels":["B*","CC"]}}')
        push_channel(cluster, "TEST", "AA", b'"gone"')
        push_channel(cluster, "TEST", "BX", b'"gone too"')
        send(socket, "gusher.subscribe", {"channel": "CC"})
        assert json.loads(receive(socket))["event"] == "gusher.subscribe_succeeded"
        push_channel(cluster, "TEST", "CC", b'"kept"')
        assert receive(socket) == '"kept"'  # and nothing from AA or BX before it
        push_keys(cluster, ["gusher/TEST/%s" % sid], 2002, b"DD")
        assert receive(socket) == (
            '{"event":"gusher.addchannel","socket_id":"","data":{"channel":"DD"}}')
        send(socket, "gusher.querychannel", {})
        assert json.loads(receive(socket))["data"]["channels"] == ["B*", "CC", "DD"]


# ---- liveness and sessions -----------------------------------------------------------------

def test_disconnect_tells_logic(gusher_cluster, keys):
    cluster, logic = gusher_cluster
    socket = socket_for(cluster, keys)
    sid = socket_id_of(socket)
    socket.close()
    call = logic.next_gusher_call(GUSHER_DISCONNECT)
    assert (call.server, call.app_key, call.user_id, call.socket_id) == (
        cluster.comet.host, "TEST", "Test_User", sid)


def test_a_socket_without_subscription_is_closed_at_a_ping(make_cluster, keys):
    cluster, logic = start(make_cluster, keys, "-gusher.pingInterval", "1s")
    try:
        with socket_for(cluster, keys) as idle, socket_for(cluster, keys) as busy:
            send(busy, "gusher.subscribe", {"channel": "AA"})
            receive(busy)
            assert gusher.closed_within(idle, 10)
            # the subscribed socket answered the pings (websockets does) and is still there
            send(busy, "gusher.ping", {})
            assert json.loads(receive(busy))["event"] == "gusher.querychannel_succeeded"
    finally:
        logic.close()


def test_presence_after_connect_and_after_disconnect(gusher_cluster, keys):
    cluster, logic = gusher_cluster
    redis = cluster.redis
    host = cluster.comet.host
    base = "gusher/presence/TEST/%s" % host
    socket = socket_for(cluster, keys)
    send(socket, "gusher.subscribe", {"channel": "AA"})
    receive(socket)
    wait_for(lambda: redis.hgetall(base + "/channel/AA") == {"Test_User": "1"}, 10,
             message="the channel's presence")
    assert redis.hgetall(base + "/users") == {"Test_User": "1"}
    assert redis.hgetall(base + "/channels") == {"AA": "1"}
    deadline = redis.zscore("gusher/presence/TEST", host)
    assert deadline is not None and deadline > time.time() * 1000
    assert redis.pttl(base + "/users") > 0
    socket.close()
    wait_for(lambda: redis.zscore("gusher/presence/TEST", host) is None, 10,
             message="the comet leaves the app's presence")
    assert redis.exists(base + "/users", base + "/channels", base + "/channel/AA") == 0


def test_gusher_sockets_count_in_online_total_and_metrics(make_cluster, keys):
    """online/total (and nodes/weighted, which reads the same registry counts) count gusher
    sockets; /metrics has them by protocol."""
    port = free_port()
    logic = RecordingLogic(port, gusher_public_key=keys.public_pem)
    cluster = make_cluster(extra_args={
        "comet": ["-rpcClient.logic", "127.0.0.1:%d" % port, "-registry.ttl", "3s"],
        "logic": ["-online.interval", "1s"]})
    try:
        def total():
            status, reply = cluster.http("GET", "/goim/online/total")
            assert status == 200, reply
            return reply["data"]

        def gusher_gauge():
            samples = scrape(cluster.comet.metrics_port)
            return (metric(samples, "comet_protocol_connections", protocol="gusher"),
                    metric(samples, "comet_protocol_connections", protocol="goim"))

        sockets = [socket_for(cluster, keys) for _ in range(2)]
        goim = cluster.client()
        assert goim.auth(mid=7, key="goim-key", room_id="live://1", accepts=[1000]).op == 8
        wait_for(lambda: total() == {"conn_count": 3, "ip_count": 1}, 20,
                 message="online/total with two gusher sockets and a goim client")
        assert gusher_gauge() == (2, 1)
        sockets[0].close()
        wait_for(lambda: gusher_gauge() == (1, 1), 10, message="one gusher socket left")
        wait_for(lambda: total() == {"conn_count": 2, "ip_count": 1}, 20,
                 message="online/total after a gusher socket closed")
        sockets[1].close()
    finally:
        logic.close()


def test_the_client_prefix_is_configurable_and_can_be_off(make_cluster, keys):
    cluster, logic = start(make_cluster, keys, "-gusher.clientPrefix", "/gcs/")
    try:
        port = cluster.comet.ws_port
        answer = gusher.request(port, "GET", "/gcs/ping")
        assert (answer.status, answer.body) == (200, b"pong")
        answer = gusher.request(port, "POST", "/gcs/auth", form={"jwt": keys.sign(claim())})
        assert answer.status == 200 and json.loads(answer.body)["token"]
        assert gusher.request(port, "GET", "/gusher/ping").status == 400  # no such route now
    finally:
        logic.close()
    cluster, logic = start(make_cluster, keys, "-gusher.clientPrefix", "")
    try:
        assert gusher.request(cluster.comet.ws_port, "GET", "/gusher/ping").status == 400
    finally:
        logic.close()
