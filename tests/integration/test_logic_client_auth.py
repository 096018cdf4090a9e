"""Client authentication in logic's Connect (auth.jwtPublicKey, logic/client_auth.h): the auth
body's "token" is an RS256 JWT whose sub is the mid, with an optional "rooms" claim, and a
connection may take over a key only as the key's own mid. Tokens are made here with the openssl
command line, independently of libjwt."""

import json
import os
import secrets
import time

import pytest

from support import gusher
from support.goim_client import ConnectionClosed
from support.gusher import b64, hs256, make_key


def rs256(private_path, claims):
    return gusher.rs(private_path, claims, 256)


@pytest.fixture
def keys(tmp_path):
    private = str(tmp_path / "clients.pem")
    other = str(tmp_path / "other.pem")
    public = make_key(private)
    make_key(other)
    return private, public, other


def connect(cluster, mid, token, key=None, room=""):
    c = cluster.client()
    body = {"mid": mid, "key": key or "ca-" + secrets.token_hex(4), "room_id": room,
            "platform": "ios", "accepts": [1000]}
    if token is not None:
        body["token"] = token
    c.send_frame(7, json.dumps(body).encode())
    return c, c.read_frame(timeout=10)


def refused(cluster, mid, token, key=None, room=""):
    try:
        _, reply = connect(cluster, mid, token, key, room)
    except ConnectionClosed:
        return True
    return reply.op != 8


def test_jwt_client_authentication(make_cluster, keys):
    private, public, other = keys
    cluster = make_cluster(extra_args={"logic": ["-auth.jwtPublicKey", public]})
    now = int(time.time())
    mid = 7300 + secrets.randbelow(100)

    c, reply = connect(cluster, mid, rs256(private, {"sub": str(mid), "exp": now + 600}),
                       key="owner-key-%d" % mid)
    assert reply.op == 8  # positive control

    assert refused(cluster, mid, None)
    assert refused(cluster, mid, rs256(private, {"sub": str(mid + 1), "exp": now + 600}))
    assert refused(cluster, mid, rs256(private, {"sub": str(mid), "exp": now - 10}))
    assert refused(cluster, mid, rs256(private, {"sub": str(mid)}))  # no exp
    assert refused(cluster, mid, rs256(other, {"sub": str(mid), "exp": now + 600}))
    assert refused(cluster, mid, hs256(open(public, "rb").read(),
                                       {"sub": str(mid), "exp": now + 600}))
    assert refused(cluster, mid, b64(b'{"alg":"none"}') + "." +
                   b64(json.dumps({"sub": str(mid), "exp": now + 600}).encode()) + ".")
    rooms_token = rs256(private, {"sub": str(mid), "exp": now + 600, "rooms": ["live://1"]})
    assert refused(cluster, mid, rooms_token, room="live://2")
    _, reply = connect(cluster, mid, rooms_token, room="live://1")
    assert reply.op == 8

    # another user cannot take the owner's key; the owner keeps receiving
    intruder = mid + 50
    assert refused(cluster, intruder, rs256(private, {"sub": str(intruder), "exp": now + 600}),
                   key="owner-key-%d" % mid)
    assert cluster.redis.hget("mid_%d" % mid, "owner-key-%d" % mid) == cluster.comet_host
    deadline = time.monotonic() + 60
    while True:  # the push path may still be warming up: push until one arrives
        status, answer = cluster.push_keys(1000, ["owner-key-%d" % mid], b"still yours")
        assert status == 200 and answer["code"] == 0
        try:
            assert c.read_frame(timeout=1).body == b"still yours"
            break
        except TimeoutError:
            assert time.monotonic() < deadline, "no push reached the owner"
    # the same mid may take its own key over (a reconnect)
    _, reply = connect(cluster, mid, rs256(private, {"sub": str(mid), "exp": now + 600}),
                       key="owner-key-%d" % mid)
    assert reply.op == 8
