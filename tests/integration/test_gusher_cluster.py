"""gusher.cluster end to end through the real cluster: logic (the JWT, admission RPC 106-109 and
the master API under /api/ on its API listener), Kafka, job, Redis and two comets (the routes
under /gusher/ on their WebSocket listeners, the commands, the presence writer and the push hook
of operations 2000-2002). Nothing stands in for a daemon here.

JWTs are signed in the test with a key pair made in the test (PyJWT); logic gets its public PEM
as gusher.publicKey. Sockets are the independent `websockets` client (support/gusher_client.py,
comet's side's client); HTTP is http.client (support/gopusher.call: exact bytes). Every push is checked at the socket as the exact text it
receives. A test that asserts something did NOT arrive first waits for a later push that did.
"""

import json
import re
import urllib.parse

import pytest
from websockets.exceptions import InvalidStatus

from support import gusher_client as client
from support.gopusher import call
from support.util import wait_for

APP = "TEST"
DELIVERY_TIMEOUT = 20.0  # seconds a push may take logic -> Kafka -> job -> comet on a busy host
PRESENCE_TIMEOUT = 15.0  # comet writes presence within about a second of a change


# ---- cluster and clients --------------------------------------------------------------------

@pytest.fixture(scope="module")
def keys():
    return client.KeyPair()


class GusherCluster:
    """A started cluster with two comets and its gusher clients (closed by close())."""

    def __init__(self, cluster, keys):
        self.cluster = cluster
        self.keys = keys
        self.sockets = []

    def api(self, method, path, form=None):
        """One request to logic's master API (/api/...)."""
        return call(self.cluster.logic_http_port, method, "/api/" + path, form=form, auth=None)

    def post(self, path, **form):
        """A master API POST that must answer 200; its body as text."""
        answer = self.api("POST", path, form=form)
        assert answer.status == 200, answer
        assert answer.headers.get("content-type") == "application/json;charset=UTF-8", answer
        return answer.body.decode()

    def get(self, path):
        """The body of a master API GET (200 required)."""
        answer = self.api("GET", path)
        assert answer.status == 200, answer
        return answer.body

    def port(self, comet):
        return self.cluster.comets[comet].ws_port

    def token(self, the_claim, comet=0, **standard):
        """The token comet `comet` answers for a JWT of the_claim (through the real logic)."""
        answer = client.auth(self.port(comet), self.keys.sign(the_claim, **standard))
        assert answer.status == 200, answer
        return json.loads(answer.body)["token"]

    def open(self, the_claim=None, comet=0, app=None, token=None):
        """A socket on comet `comet` admitted with a fresh token of the_claim (default: the
        reference's jwt.example payload)."""
        the_claim = the_claim or client.claim()
        token = token or self.token(the_claim, comet)
        socket = client.open_socket(self.port(comet), app or the_claim["app_key"], token)
        self.sockets.append(socket)
        return socket

    def close(self):
        for socket in self.sockets:
            socket.close()


def start(make_cluster, keys, tmp_path, *logic_args):
    """logic (with the key's public PEM and logic_args), job and two comets, the push path to
    both comets proven; a GusherCluster."""
    public = tmp_path / "gusher.pub.pem"
    public.write_bytes(keys.public_pem)
    cluster = make_cluster(extra_args={
        "logic": ["-gusher.publicKey", str(public), "-online.interval", "1s"] + list(logic_args),
        "comet": ["-registry.ttl", "3s"]}, start=False)
    cluster.add_comet(start=False)
    cluster.start()
    for comet in range(2):  # job has joined its group and found both comets
        cluster.ensure_push_path(comet=comet)
    return GusherCluster(cluster, keys)


@pytest.fixture
def gc(make_cluster, keys, tmp_path):
    out = start(make_cluster, keys, tmp_path)
    yield out
    out.close()


def command(socket, event, data):
    """Sends a command; its reply as a dict."""
    client.send(socket, event, data)
    return json.loads(client.receive(socket))


def subscribe(socket, channel):
    reply = command(socket, "gusher.subscribe", {"channel": channel})
    assert reply["event"] == "gusher.subscribe_succeeded", reply
    return reply


def arrives(socket, text):
    """The socket's next message is exactly text."""
    assert client.receive(socket, timeout=DELIVERY_TIMEOUT) == text


def witness(gc, comet, channel):
    """A socket of another user on `comet` subscribed to channel: when it has a push of that
    channel, the push has reached that comet (a stronger control than a push on another
    channel, which job may deliver on its own lane first)."""
    socket = gc.open(client.claim(user_id="witness-" + channel, channels=[channel]), comet=comet)
    subscribe(socket, channel)
    return socket


def envelope(channel, event, data):
    """The envelope bytes gusher's master answers and sends (data already canonical JSON)."""
    def string(text):  # Go writes UTF-8 as is (no <, >, & in these names)
        return json.dumps(text, ensure_ascii=False)

    return '{"channel":%s,"event":%s,"data":%s}' % (string(channel), string(event), data)


# ---- token exchange ---------------------------------------------------------------------------

def test_token_exchange_with_the_jwt_example_payload_and_reuse(gc, keys):
    """The reference's jwt.example payload (user Test_User, channels AA and BB, app TEST) signed
    RS256 here: comet's /gusher/auth asks the real logic, the token lives 60 s in Redis and opens
    sockets on either comet, more than once."""
    example = {"gusher": {"app_key": "TEST", "channels": ["AA", "BB"], "user_id": "Test_User"}}
    jwt = keys.sign(example["gusher"])
    answer = client.auth(gc.port(0), jwt)
    assert answer.status == 200, answer
    assert answer.headers["access-control-allow-origin"] == "*"
    assert re.fullmatch(rb'\{"token":"[0-9a-f]{32}"\}\n', answer.body), answer.body
    token = json.loads(answer.body)["token"]
    ttl = gc.cluster.redis.pttl("gusher/token/" + token)
    assert 0 < ttl <= 60000, ttl

    # logic's decode of the same JWT is the claim as gusher's master writes it
    decoded = gc.api("POST", "decode", form={"data": jwt})
    assert (decoded.status, decoded.body) == (
        200, b'{"gusher":{"channels":["AA","BB"],"user_id":"Test_User","app_key":"TEST",'
             b'"remotes":null}}\n'), decoded

    first = gc.open(comet=0, token=token, app="TEST")
    second = gc.open(comet=1, token=token, app="TEST")  # reused, on the other comet
    replies = [command(s, "gusher.querychannel", {}) for s in (first, second)]
    for reply in replies:
        assert reply["event"] == "gusher.querychannel_succeeded"
        assert reply["data"] == {"channels": ["AA", "BB"]}
        assert re.fullmatch("[0-9a-f]{32}", reply["socket_id"])
    assert replies[0]["socket_id"] != replies[1]["socket_id"]
    assert subscribe(first, "AA")["data"] == {"channel": "AA"}
    refused = command(first, "gusher.subscribe", {"channel": "CC"})
    assert refused == {"event": "gusher.subscribe_error", "socket_id": replies[0]["socket_id"],
                       "data": {"channel": "CC"}}


def test_refused_jwts_and_tokens(gc, keys):
    port = gc.port(1)
    other = client.KeyPair()
    for jwt in (other.sign(client.claim()),  # another key
                keys.sign(client.claim(), exp=1),  # expired in 1970
                keys.sign(client.claim(), algorithm="RS512")[:-4] + "AAAA"):  # signature altered
        answer = client.auth(port, jwt)
        assert (answer.status, answer.body) == (401, b"jwt decode fail\n"), (jwt, answer)
    assert client.auth(port, keys.sign(client.claim(), algorithm="RS384")).status == 200

    token = gc.token(client.claim(), comet=1)
    for app, token_, text in (("OTHER", token, "appkey error"),
                              (APP, "0" * 32, "token error")):
        with pytest.raises(InvalidStatus) as refused:
            client.open_socket(port, app, token_)
        assert refused.value.response.status_code == 401
        assert refused.value.response.body == (text + "\n").encode()


def test_claims_reach_the_socket_through_logic(gc):
    """Wildcards, the multi_subscribe rule and remotes as the real logic stored the claim."""
    the_claim = client.claim(user_id="claims", channels=["t*st", "app*", "AA"],
                             remotes={"chat": True, "off": False})
    socket = gc.open(the_claim, comet=1)
    socket_id = command(socket, "gusher.querychannel", {})["socket_id"]
    for channel, event in (("test", "succeeded"), ("toast", "succeeded"), ("tst", "error"),
                           ("apple", "succeeded"), ("app", "error")):
        reply = command(socket, "gusher.subscribe", {"channel": channel})
        assert reply["event"] == "gusher.subscribe_" + event, (channel, reply)
    assert command(socket, "gusher.multi_subscribe", {"multi_channel": ["AA", "test"]}) == {
        "event": "gusher.multi_subscribe_error", "socket_id": socket_id,
        "data": {"channel": ["AA", "test"]}}
    assert command(socket, "gusher.remote", {"remote": "off", "uid": "1", "payload": {}}) == {
        "event": "gusher.remote_error", "socket_id": socket_id,
        "data": {"remote": "off", "msg": None}}
    client.send(socket, "gusher.remote", {"remote": "chat", "uid": "2", "payload": {"b": 1}},
                debug=True)
    assert json.loads(client.receive(socket))["event"] == "gusher.remote_succeeded"
    job = wait_for(lambda: gc.cluster.redis.lrange("TEST@chat", 0, -1), PRESENCE_TIMEOUT,
                   message="the remote's job in Redis")
    assert [json.loads(item) for item in job] == [
        {"user_id": "claims", "socket_id": socket_id, "uid": "2", "app_key": "TEST",
         "data": {"b": 1}}]
    # a channel push reaches the glob-granted subscriptions
    body = gc.post("push/TEST/toast/e", data="1")
    arrives(socket, body)


def test_sessions_follow_sockets(gc):
    """logic's sessions (GusherConnect, GusherDisconnect from comet) decide where a user push
    goes: a closed socket leaves its user's sessions and the user's other socket still gets it."""
    user = client.claim(user_id="u-session", channels=["AA"])
    here = gc.open(user, comet=0)
    there = gc.open(user, comet=1)
    here_id = subscribe(here, "AA")["socket_id"]
    there_id = subscribe(there, "AA")["socket_id"]
    sessions = "gusher/user/TEST/u-session"
    redis = gc.cluster.redis
    assert redis.hgetall(sessions) == {here_id: gc.cluster.comets[0].host,
                                       there_id: gc.cluster.comets[1].host}
    assert redis.get("gusher/socket/TEST/%s" % there_id) == gc.cluster.comets[1].host
    here.close()
    wait_for(lambda: redis.hgetall(sessions) == {there_id: gc.cluster.comets[1].host},
             PRESENCE_TIMEOUT, message="the closed socket's session deleted")
    assert redis.exists("gusher/socket/TEST/%s" % here_id) == 0
    gc.post("push/user/TEST/u-session", data="still here")
    arrives(there, '"still here"')


def test_tokens_expire_and_sessions_are_renewed(make_cluster, keys, tmp_path):
    """With a 1 s token and 6 s sessions: an unused token is refused once Redis dropped it, and
    comet's GusherHeartbeat (every third of the session TTL) keeps a live socket's session, so a
    user push still finds it after the session TTL has run out more than once."""
    short = start(make_cluster, keys, tmp_path, "-gusher.tokenTTL", "1s", "-redis.expire", "6s")
    try:
        redis = short.cluster.redis
        token = short.token(client.claim(user_id="u-renew"), comet=1)
        wait_for(lambda: redis.exists("gusher/token/" + token) == 0, 10,
                 message="the token expired in Redis")
        with pytest.raises(InvalidStatus) as refused:
            client.open_socket(short.port(1), APP, token)
        assert (refused.value.response.status_code, refused.value.response.body) == \
            (401, b"token error\n")

        socket = short.open(client.claim(user_id="u-renew"), comet=1)
        subscribe(socket, "AA")
        sessions = "gusher/user/TEST/u-renew"
        renewals = []

        def renewed_three_times():
            ttl = redis.pttl(sessions)
            assert ttl > 0, "the session expired (pttl %d)" % ttl
            if renewals and ttl > renewals[-1] + 500:
                renewals.append(ttl)
            elif not renewals:
                renewals.append(ttl)
            else:
                renewals[-1] = ttl
            return len(renewals) >= 4

        wait_for(renewed_three_times, 30, interval=0.2,
                 message="three renewals of the session")
        assert short.post("push/user/TEST/u-renew", data="renewed") == \
            '{"user_id":"u-renew","data":"renewed"}'
        arrives(socket, '"renewed"')
    finally:
        short.close()


def test_pings_on_comet_logic_and_the_socket(gc):
    for comet in range(2):
        answer = client.request(gc.port(comet), "GET", "/gusher/ping")
        assert (answer.status, answer.body) == (200, b"pong"), answer
    answer = gc.api("GET", "ping")
    assert (answer.status, answer.body) == (200, b"pong"), answer
    socket = gc.open(comet=1)
    reply = command(socket, "gusher.ping", {"hello": "world"})
    assert reply["event"] == "gusher.querychannel_succeeded"  # the event gusher's code sends
    assert reply["data"] == "eyJoZWxsbyI6IndvcmxkIn0="  # base64 of the data as sent
    assert isinstance(reply["time"], int)


# ---- channel pushes -------------------------------------------------------------------------

def test_channel_push_reaches_subscribers_on_both_comets_as_the_envelope(gc):
    here = gc.open(comet=0)
    there = gc.open(comet=1)
    subscribe(here, "AA")
    subscribe(there, "AA")
    subscribe(there, "BB")
    body = gc.post("push/TEST/AA/chat", data='{"b": 1, "a": ["x", 2.50]}')
    assert body == envelope("AA", "chat", '{"a":["x",2.5],"b":1}')
    arrives(here, body)
    arrives(there, body)
    # a BB push reaches BB's subscriber only: `here`'s next messages are AA's
    control = gc.post("push/TEST/BB/news", data="hello")
    assert control == envelope("BB", "news", '"hello"')
    arrives(there, control)
    # in order per channel
    bodies = [gc.post("push/TEST/AA/seq", data=str(n)) for n in range(5)]
    for socket in (here, there):
        for body in bodies:
            arrives(socket, body)


def test_pattern_push_reaches_live_channels_only(gc):
    everything = client.claim(user_id="pattern-user", channels=["*"])
    socket = gc.open(everything, comet=0)
    other = gc.open(everything, comet=1)
    for channel in ("room-1", "room-22", "hall"):
        subscribe(socket, channel)
    subscribe(other, "room-5")
    reply = command(other, "gusher.unsubscribe", {"channel": "room-5"})
    assert reply["event"] == "gusher.unsubscribe_succeeded", reply
    subscribe(other, "room-3")
    wait_for(lambda: gc.get("TEST/channels") == b'["hall","room-1","room-22","room-3"]',
             PRESENCE_TIMEOUT, message="the four live channels (room-5 left)")

    body = gc.post("push/TEST", channel_pattern="room-[0-9]+", event="tick", data='{"n":1}')
    assert body == '{"total":3,"pattern":"room-[0-9]+"}'
    got = {client.receive(socket, DELIVERY_TIMEOUT) for _ in range(2)}
    assert got == {envelope("room-1", "tick", '{"n":1}'), envelope("room-22", "tick", '{"n":1}')}
    arrives(other, envelope("room-3", "tick", '{"n":1}'))

    # room-5 has no subscriber and is never matched; a channel push to it is not received
    assert gc.post("push/TEST", channel_pattern="^room-5$", event="tick", data="x") == \
        '{"total":0,"pattern":"^room-5$"}'
    gc.post("push/TEST/room-5/direct", data="lost")
    control = gc.post("push/TEST/room-3/after", data="control")
    arrives(other, control)
    anchored = gc.post("push/TEST", channel_pattern="^h", event="e", data="1")
    assert anchored == '{"total":1,"pattern":"^h"}'
    arrives(socket, envelope("hall", "e", "1"))


def test_push_batch_sends_each_item_as_its_envelope(gc):
    socket = gc.open(comet=1)
    subscribe(socket, "AA")
    subscribe(socket, "BB")
    batch = json.dumps([{"channel": "AA", "event": "one", "data": {"z": 1, "a": [1, 2]}},
                        {"channel": "BB", "event": "two", "data": "text"},
                        {"channel": "AA", "event": "three", "data": None}])
    body = gc.post("push_batch/TEST", batch_data=batch)
    assert body == '{"total":3,"cap":%d}' % len(batch.encode())
    got = [client.receive(socket, DELIVERY_TIMEOUT) for _ in range(3)]
    aa = [m for m in got if m.startswith('{"channel":"AA"')]
    assert aa == [envelope("AA", "one", '{"a":[1,2],"z":1}'), envelope("AA", "three", "null")]
    assert set(got) - set(aa) == {envelope("BB", "two", '"text"')}


def test_unsubscribe_stops_a_channel(gc):
    socket = gc.open(comet=0)
    seen = witness(gc, 0, "AA")
    subscribe(socket, "AA")
    subscribe(socket, "BB")
    reply = command(socket, "gusher.unsubscribe", {"channel": "AA"})
    assert reply["event"] == "gusher.unsubscribe_succeeded" and reply["data"] == {"channel": "AA"}
    arrives(seen, gc.post("push/TEST/AA/e", data="after unsubscribe"))
    control = gc.post("push/TEST/BB/e", data="control")
    arrives(socket, control)  # not the AA push the same comet delivered before
    seen.close()
    wait_for(lambda: gc.get("TEST/channels") == b'["BB"]', PRESENCE_TIMEOUT,
             message="AA no longer live")


def test_channel_names_needing_escapes_and_large_messages(gc):
    """A channel name percent-encoded in the API path is the name the socket subscribed to; a
    push of 200 KB reaches sockets on both comets whole."""
    anything = client.claim(user_id="wide", channels=["*"])
    here = gc.open(anything, comet=0)
    there = gc.open(anything, comet=1)
    names = ["\u4e2d\u6587 room", "a@b#c?d", "x%y+z"]
    for socket in (here, there):
        for name in names:
            subscribe(socket, name)
    for name in names:
        body = gc.post("push/TEST/%s/e" % urllib.parse.quote(name, safe=""), data="1")
        assert body == envelope(name, "e", "1")
        arrives(here, body)
        arrives(there, body)
    wait_for(lambda: sorted(json.loads(gc.get("TEST/channels"))) == sorted(names),
             PRESENCE_TIMEOUT, message="the three names live")

    large = json.dumps({"blob": "z" * 200000, "n": 1}, separators=(",", ":"))
    body = gc.post("push/TEST/%s/big" % urllib.parse.quote(names[1], safe=""), data=large)
    assert body == envelope(names[1], "big", large)
    arrives(here, body)
    arrives(there, body)


def test_a_channel_push_fans_out_to_many_sockets_on_both_comets(gc):
    sockets = []
    for n in range(40):
        socket = gc.open(client.claim(user_id="fan-%d" % n, channels=["AA"]), comet=n % 2)
        subscribe(socket, "AA")
        sockets.append(socket)
    bodies = [gc.post("push/TEST/AA/fan", data=str(n)) for n in range(3)]
    for socket in sockets:
        for body in bodies:
            arrives(socket, body)
    wait_for(lambda: gc.get("TEST/online/bychannel/AA/count") == b'{"count":40}',
             PRESENCE_TIMEOUT, message="40 users on AA")


# ---- user and socket pushes -----------------------------------------------------------------

def test_user_push_reaches_every_socket_of_the_user_on_both_comets(gc):
    user = client.claim(user_id="u-both", channels=["AA"])
    here = gc.open(user, comet=0)
    there = gc.open(user, comet=1)
    bystander = gc.open(client.claim(user_id="u-other", channels=["AA"]), comet=0)
    for socket in (here, there, bystander):
        subscribe(socket, "AA")

    assert gc.post("push/user/TEST/u-both", data="hello") == '{"user_id":"u-both","data":"hello"}'
    arrives(here, '"hello"')
    arrives(there, '"hello"')
    assert gc.post("push/user/TEST/u-both", data='{"k": [1, 2]}') == \
        '{"user_id":"u-both","data":"{\\"k\\": [1, 2]}"}'
    arrives(here, '{"k":[1,2]}')
    arrives(there, '{"k":[1,2]}')
    # the bystander got neither: its next message is a later push to itself
    gc.post("push/user/TEST/u-other", data="mine")
    arrives(bystander, '"mine"')


def test_socket_push_reaches_only_the_socket_named_by_its_reply(gc):
    user = client.claim(user_id="u-sock", channels=["AA"])
    here = gc.open(user, comet=0)
    there = gc.open(user, comet=1)
    here_id = subscribe(here, "AA")["socket_id"]
    there_id = subscribe(there, "AA")["socket_id"]
    assert here_id != there_id

    assert gc.post("push/socket/TEST/%s" % there_id, data="[1, 2.0]") == \
        '{"socket_id":"%s","data":"[1, 2.0]"}' % there_id
    arrives(there, "[1,2]")
    assert gc.post("push/socket/TEST/%s" % here_id, data="") == \
        '{"socket_id":"%s","data":""}' % here_id
    arrives(here, '""')  # the first thing `here` gets: not `there`'s push
    # a socket id of another app reaches nobody: a later push to the user is the next message
    gc.post("push/socket/OTHER/%s" % there_id, data="wrong app")
    gc.post("push/user/TEST/u-sock", data="after")
    arrives(here, '"after"')
    arrives(there, '"after"')


# ---- reload and add ---------------------------------------------------------------------------

def test_reload_removes_a_subscription_and_notifies(gc):
    socket = gc.open(comet=1)
    seen = witness(gc, 1, "AA")
    subscribe(socket, "AA")
    subscribe(socket, "BB")
    before = gc.post("push/TEST/AA/e", data="before")
    arrives(socket, before)  # positive control: AA reaches the socket
    arrives(seen, before)

    answer = gc.post("reload/channel/user/TEST/Test_User", data='["BB", "CC"]')
    assert answer == '{"user_id":"Test_User","data":"[\\"BB\\", \\"CC\\"]"}'
    # a message to the user right after (operation 2000 after 2001, same sockets): job keeps
    # one lane per key set whatever the operation, so the notice comes first
    gc.post("push/user/TEST/Test_User", data="after the reload")
    arrives(socket, '{"event":"gusher.reloadchannel","socket_id":"",'
                    '"data":{"channels":["BB","CC"]}}')
    arrives(socket, '"after the reload"')
    arrives(seen, gc.post("push/TEST/AA/e", data="after reload"))  # socket no longer on AA
    control = gc.post("push/TEST/BB/e", data="control")
    arrives(socket, control)
    seen.close()
    reply = command(socket, "gusher.querychannel", {})
    assert reply["data"] == {"channels": ["BB", "CC"]}
    assert command(socket, "gusher.subscribe", {"channel": "AA"})["event"] == \
        "gusher.subscribe_error"
    subscribe(socket, "CC")  # allowed now, not subscribed by the reload
    wait_for(lambda: gc.get("TEST/channels") == b'["BB","CC"]', PRESENCE_TIMEOUT,
             message="AA no longer live after the reload")


def test_reload_drops_subscriptions_a_pattern_allowed(gc):
    """gusher's literal rule: a subscription a pattern allowed is left unless the new list holds
    its very name."""
    socket = gc.open(client.claim(user_id="globber", channels=["AA", "B*"]), comet=0)
    seen = witness(gc, 0, "BX")
    subscribe(socket, "BX")
    subscribe(socket, "BY")
    gc.post("reload/channel/user/TEST/globber", data='["B*", "BY"]')
    arrives(socket, '{"event":"gusher.reloadchannel","socket_id":"",'
                    '"data":{"channels":["B*","BY"]}}')
    arrives(seen, gc.post("push/TEST/BX/e", data="dropped"))
    control = gc.post("push/TEST/BY/e", data="kept")
    arrives(socket, control)


def test_add_channel_notifies_and_a_later_subscribe_succeeds(gc):
    socket = gc.open(client.claim(user_id="adder", channels=["AA"]), comet=0)
    subscribe(socket, "AA")
    refused = command(socket, "gusher.subscribe", {"channel": "DD"})
    assert refused["event"] == "gusher.subscribe_error"

    assert gc.post("add/channel/user/TEST/adder", data="DD") == '{"user_id":"adder","data":"DD"}'
    arrives(socket, '{"event":"gusher.addchannel","socket_id":"","data":{"channel":"DD"}}')
    subscribe(socket, "DD")
    body = gc.post("push/TEST/DD/e", data="added")
    arrives(socket, body)
    reply = command(socket, "gusher.querychannel", {})
    assert reply["data"] == {"channels": ["AA", "DD"]}


# ---- presence -------------------------------------------------------------------------------

def test_presence_after_connect_and_after_disconnect(gc):
    one = gc.open(client.claim(user_id="U1", channels=["AA", "BB"]), comet=0)
    two = gc.open(client.claim(user_id="U2", channels=["AA", "BB"]), comet=1)
    anonymous = gc.open(client.claim(user_id="", channels=["BB"]), comet=0)
    subscribe(one, "AA")
    subscribe(two, "AA")
    subscribe(two, "BB")
    subscribe(anonymous, "BB")

    expected = {"TEST/online": b'["U1","U2"]', "TEST/online/count": b'{"count":2}',
                "TEST/channels": b'["AA","BB"]', "TEST/channels/count": b'{"count":2}',
                "TEST/online/bychannel/AA": b'["U1","U2"]',
                "TEST/online/bychannel/AA/count": b'{"count":2}',
                "TEST/online/bychannel/BB": b'["","U2"]',
                "TEST/online/bychannel/BB/count": b'{"count":2}'}

    def presence():
        return {path: gc.get(path) for path in expected}

    wait_for(lambda: presence() == expected, PRESENCE_TIMEOUT,
             message="presence of three sockets on two comets")

    two.close()  # U2 leaves: gone within seconds, not gusher's 60 to 120
    expected.update({"TEST/online": b'["U1"]', "TEST/online/count": b'{"count":1}',
                     "TEST/online/bychannel/AA": b'["U1"]',
                     "TEST/online/bychannel/AA/count": b'{"count":1}',
                     "TEST/online/bychannel/BB": b'[""]',
                     "TEST/online/bychannel/BB/count": b'{"count":1}'})
    wait_for(lambda: presence() == expected, PRESENCE_TIMEOUT, message="presence after U2 left")

    one.close()
    anonymous.close()
    expected = {"TEST/online": b"[]", "TEST/online/count": b'{"count":0}',
                "TEST/channels": b"[]", "TEST/channels/count": b'{"count":0}',
                "TEST/online/bychannel/AA": b"[]", "TEST/online/bychannel/BB/count":
                b'{"count":0}'}
    wait_for(lambda: presence() == expected, PRESENCE_TIMEOUT, message="presence when all left")


def test_a_stopped_comet_leaves_presence_and_sessions(gc):
    """A comet told to stop withdraws its presence and its sockets' sessions: the app's presence
    and a user push follow at once, not after the presence deadline."""
    one = gc.open(client.claim(user_id="U1", channels=["AA"]), comet=0)
    two = gc.open(client.claim(user_id="U2", channels=["AA", "BB"]), comet=1)
    subscribe(one, "AA")
    subscribe(two, "BB")
    wait_for(lambda: (gc.get("TEST/online"), gc.get("TEST/channels")) ==
             (b'["U1","U2"]', b'["AA","BB"]'), PRESENCE_TIMEOUT, message="both comets' presence")
    gc.cluster.stop("comet2")
    wait_for(lambda: (gc.get("TEST/online"), gc.get("TEST/channels")) == (b'["U1"]', b'["AA"]'),
             PRESENCE_TIMEOUT, message="the stopped comet's presence withdrawn")
    wait_for(lambda: gc.cluster.redis.exists("gusher/user/TEST/U2") == 0, PRESENCE_TIMEOUT,
             message="the stopped comet's sessions deleted")
    body = gc.post("push/TEST/AA/e", data="after the stop")
    arrives(one, body)


def test_user_push_to_sockets_on_one_comet_and_another(gc):
    user = client.claim(user_id="u-three", channels=["AA"])
    sockets = [gc.open(user, comet=comet) for comet in (0, 0, 1)]
    for socket in sockets:
        subscribe(socket, "AA")
    for n in range(3):  # in order per user and socket
        gc.post("push/user/TEST/u-three", data="m%d" % n)
    for socket in sockets:
        for n in range(3):
            arrives(socket, '"m%d"' % n)


def test_a_killed_comet_does_not_hold_up_the_others(gc):
    """A comet that dies without a word: a user push still reaches the user's socket on the live
    comet at once, and the dead comet's presence goes when its deadline passes (refresh + 30 s)."""
    user = client.claim(user_id="u-kill", channels=["AA"])
    alive = gc.open(user, comet=0)
    doomed = gc.open(user, comet=1)
    other = gc.open(client.claim(user_id="u-doomed", channels=["AA"]), comet=1)
    for socket in (alive, doomed, other):
        subscribe(socket, "AA")
    wait_for(lambda: gc.get("TEST/online/bychannel/AA") == b'["u-doomed","u-kill"]',
             PRESENCE_TIMEOUT, message="both users on AA")
    wait_for(lambda: len(gc.cluster.redis.hgetall("gusher/user/TEST/u-kill")) == 2,
             PRESENCE_TIMEOUT, message="both sessions")
    gc.cluster.kill("comet2")
    gc.sockets.remove(doomed)
    gc.sockets.remove(other)
    for n in range(3):
        gc.post("push/user/TEST/u-kill", data="n%d" % n)
        body = gc.post("push/TEST/AA/e", data=str(n))
        arrives(alive, '"n%d"' % n)
        arrives(alive, body)
    # logic drops a server past its deadline when it reads the app's presence
    wait_for(lambda: (gc.get("TEST/online"), gc.get("TEST/online/bychannel/AA")) ==
             (b'["u-kill"]', b'["u-kill"]'), 60, interval=0.5,
             message="the dead comet's presence gone after its deadline")
    assert gc.cluster.redis.zscore("gusher/presence/TEST", gc.cluster.comets[1].host) is None


# ---- apps are apart -------------------------------------------------------------------------

def test_two_apps_with_the_same_channel_and_user_do_not_leak(gc):
    mine = gc.open(client.claim(app_key="TEST"), comet=0)
    theirs = gc.open(client.claim(app_key="OTHER"), comet=0)
    theirs_far = gc.open(client.claim(app_key="OTHER"), comet=1)
    for socket in (mine, theirs, theirs_far):
        subscribe(socket, "AA")

    first = gc.post("push/TEST/AA/e", data="for TEST")
    second = gc.post("push/OTHER/AA/e", data="for OTHER")
    arrives(mine, first)
    arrives(theirs, second)  # not TEST's push before it
    arrives(theirs_far, second)
    gc.post("push/user/OTHER/Test_User", data="user of OTHER")
    arrives(theirs, '"user of OTHER"')
    arrives(theirs_far, '"user of OTHER"')
    control = gc.post("push/TEST/AA/e", data="control")
    arrives(mine, control)  # neither OTHER's channel push nor its user push came first

    wait_for(lambda: (gc.get("TEST/online/bychannel/AA/count"),
                      gc.get("OTHER/online/bychannel/AA/count")) ==
             (b'{"count":1}', b'{"count":1}'), PRESENCE_TIMEOUT,
             message="each app's presence counts its own user once")
    # a reload in OTHER leaves TEST's socket subscribed
    gc.post("reload/channel/user/OTHER/Test_User", data='["BB"]')
    notice = '{"event":"gusher.reloadchannel","socket_id":"","data":{"channels":["BB"]}}'
    arrives(theirs, notice)
    arrives(theirs_far, notice)
    again = gc.post("push/TEST/AA/e", data="still subscribed")
    arrives(mine, again)


# ---- goim's counts ---------------------------------------------------------------------------

def test_gusher_sockets_count_in_online_total_and_nodes_weighted(gc):
    cluster = gc.cluster

    def total():
        status, reply = cluster.http("GET", "/goim/online/total")
        assert status == 200 and reply["code"] == 0, reply
        return reply["data"]["conn_count"]

    wait_for(lambda: total() == 0, 20,
             message="no connections once the probes left")
    for n in range(4):
        subscribe(gc.open(client.claim(user_id="load-%d" % n), comet=0), "AA")
    wait_for(lambda: total() == 4, 20,
             message="four gusher sockets on the first comet counted")

    # equal weights; the comet without connections is offered first
    def first_node():
        status, reply = cluster.http("GET", "/goim/nodes/weighted", [("platform", "web")])
        assert status == 200 and reply["code"] == 0, reply
        return reply["data"]["nodes"][0]

    wait_for(lambda: first_node() == "%s.goim.io" % cluster.comets[1].host, 20,
             message="nodes/weighted offers the idle comet first")
    subscribe(gc.open(comet=1), "BB")
    wait_for(lambda: total() == 5, 20,
             message="the second comet's gusher socket counted too")
