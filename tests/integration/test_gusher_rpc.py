"""logic's admission RPCs for gusher clients (GusherAuth 106, GusherConnect 107,
GusherDisconnect 108, GusherHeartbeat 109), called over nng as comet calls them.

JWTs are signed here by openssl with a key made for the test; tokens live gusher.tokenTTL
(2 s here, gusher's 60 s by default), so their expiry is watched in Redis, not waited out.
"""

import re
import time

import pytest

from support import gusher
from support.gopusher import call

APP = "TEST"
SOCKET = "ab" * 16


@pytest.fixture
def keys(tmp_path):
    private = str(tmp_path / "gusher.pem")
    other = str(tmp_path / "other.pem")
    public = gusher.make_key(private)
    gusher.make_key(other)
    return private, public, other


@pytest.fixture
def gu(make_cluster, keys):
    return make_cluster(extra_args={"logic": ["-gusher.publicKey", keys[1],
                                              "-gusher.tokenTTL", "2s"]})


def refused(cluster, jwt):
    with pytest.raises(RuntimeError) as error:
        gusher.auth(cluster.logic_rpc_port, jwt)
    return str(error.value)


def test_token_exchange_reuse_and_expiry(gu, keys):
    port = gu.logic_rpc_port
    # the reference's jwt.example payload, signed with the test's key
    token = gusher.auth(port, gusher.rs(keys[0], gusher.claim("TEST", "Test_User", ["AA", "BB"])))
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert gu.redis.get("gusher/token/" + token) == \
        '{"channels":["AA","BB"],"user_id":"Test_User","app_key":"TEST","remotes":null}'
    assert 0 < gu.redis.pttl("gusher/token/" + token) <= 2000

    first = gusher.connect(port, "comet-a", APP, token, SOCKET)
    assert first == {"status": gusher.OK, "user_id": "Test_User", "channels": ["AA", "BB"],
                     "remotes": [], "renew": first["renew"]}
    assert first["renew"] > 0
    # reusable within its life, not deleted on use
    second = gusher.connect(port, "comet-b", APP, token, "cd" * 16)
    assert second["status"] == gusher.OK
    assert gu.redis.get("gusher/socket/TEST/" + SOCKET) == "comet-a"
    assert gu.redis.hgetall("gusher/user/TEST/Test_User") == {SOCKET: "comet-a",
                                                              "cd" * 16: "comet-b"}
    assert gu.redis.ttl("gusher/user/TEST/Test_User") > 0

    other_app = gusher.connect(port, "comet-a", "OTHER", token, "ef" * 16)
    assert other_app["status"] == gusher.APPKEY_ERROR
    assert gusher.connect(port, "comet-a", APP, "f" * 32, SOCKET)["status"] == gusher.TOKEN_ERROR
    assert gusher.connect(port, "comet-a", APP, "not a token", SOCKET)["status"] == \
        gusher.TOKEN_ERROR

    # the token expires with Redis's TTL (watched, not slept for)
    deadline = time.monotonic() + 30
    while gu.redis.exists("gusher/token/" + token):
        assert time.monotonic() < deadline, "token never expired"
        time.sleep(0.1)
    assert gusher.connect(port, "comet-a", APP, token, "12" * 16)["status"] == gusher.TOKEN_ERROR

    metrics = call(gu.logic_http_port, "GET", "/metrics", auth=None).text
    for method, calls in (("gusher_auth", 1), ("gusher_connect", 6)):
        assert re.search(r'^logic_rpc_calls_total\{method="%s"\} %d$' % (method, calls), metrics,
                         re.M), metrics


def test_remotes_anonymous_users_and_sessions(gu, keys):
    port = gu.logic_rpc_port
    token = gusher.auth(port, gusher.rs(keys[0], gusher.claim(
        APP, "", ["*"], {"chat": True, "off": False, "bot": True}), bits=384))
    answer = gusher.connect(port, "comet-a", APP, token, SOCKET)
    assert (answer["status"], answer["user_id"], answer["channels"], answer["remotes"]) == \
        (gusher.OK, "", ["*"], ["bot", "chat"])
    # an anonymous socket has a socket session, no user hash
    assert gu.redis.get("gusher/socket/TEST/" + SOCKET) == "comet-a"
    assert gu.redis.keys("gusher/user/*") == []

    token = gusher.auth(port, gusher.rs(keys[0], gusher.claim(APP, "u 1"), bits=512))
    assert gusher.connect(port, "comet-b", APP, token, "99" * 16)["status"] == gusher.OK
    gu.redis.expire("gusher/socket/TEST/" + "99" * 16, 5)
    assert gusher.session(port, gusher.GUSHER_HEARTBEAT, "comet-b", APP, "u 1", "99" * 16) == 0
    assert gu.redis.ttl("gusher/socket/TEST/" + "99" * 16) > 5
    assert gusher.session(port, gusher.GUSHER_DISCONNECT, "comet-b", APP, "u 1", "99" * 16) == 0
    assert not gu.redis.exists("gusher/socket/TEST/" + "99" * 16)
    assert gu.redis.hgetall("gusher/user/TEST/u 1") == {}
    # a heartbeat after a lost session writes it again
    assert gusher.session(port, gusher.GUSHER_HEARTBEAT, "comet-b", APP, "u 1", "99" * 16) == 0
    assert gu.redis.hgetall("gusher/user/TEST/u 1") == {"99" * 16: "comet-b"}


def test_refused_tokens(gu, keys):
    private, public, other = keys
    now = int(time.time())
    good = gusher.claim(APP, "u")
    assert "bad signature" in refused(gu, gusher.rs(other, good))
    assert "expired" in refused(gu, gusher.rs(private, dict(good, exp=now - 10)))
    assert "not valid yet" in refused(gu, gusher.rs(private, dict(good, nbf=now + 600)))
    assert "before issued" in refused(gu, gusher.rs(private, dict(good, iat=now + 600)))
    # an HMAC token keyed with the public key's own text, and an unsigned one
    with open(public, "rb") as pem:
        assert refused(gu, gusher.hs256(pem.read(), good))
    assert refused(gu, gusher.unsigned(good))
    # claims of the wrong type, as Go's decoder refuses them
    assert "channels" in refused(gu, gusher.rs(private, gusher.claim(APP, "u", "AA")))
    assert "exp" in refused(gu, gusher.rs(private, dict(good, exp=now + 0.5)))
    assert "user_id" in refused(gu, gusher.rs(private, {"gusher": {"user_id": 5}}))
    assert refused(gu, "not.a.jwt")
    assert refused(gu, "")
    # still good: exp in the future, no exp at all
    assert gusher.auth(gu.logic_rpc_port, gusher.rs(private, dict(good, exp=now + 600)))
    assert gusher.auth(gu.logic_rpc_port, gusher.rs(private, good))


def test_without_a_public_key_every_auth_is_refused(make_cluster, keys):
    cluster = make_cluster()
    assert "gusher.publicKey" in refused(cluster, gusher.rs(keys[0], gusher.claim(APP)))
