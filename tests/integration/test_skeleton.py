"""The walking skeleton's done-criteria: one TCP client, logic's push API, Redis
mappings, delivery through Kafka and job, and the comet's reaction to bad input.

Every test gets its own cluster (see conftest.py). Delivery tests first call
cluster.ensure_push_path() so they never race job's Kafka group join; reads
use generous timeouts and nothing asserts on wall time.
"""

import secrets

import pytest

from support.goim_client import OP_AUTH, OP_HEARTBEAT, OP_HEARTBEAT_REPLY, auth_body
from support.util import wait_for

DELIVERY_TIMEOUT = 30.0
MID = 123
OP = 1000


def new_key():
    return "key-%s" % secrets.token_hex(8)


def authed_client(cluster, mid=MID, accepts=(OP,)):
    key = new_key()
    c = cluster.client()
    reply = c.auth(mid=mid, key=key, accepts=list(accepts))
    assert reply.op == 8, reply
    return c, key


def assert_push_ok(result):
    status, reply = result
    assert (status, reply) == (200, {"code": 0, "message": ""})


def test_auth_reply_echoes_ver_seq_and_writes_redis_mappings(cluster):
    key = new_key()
    c = cluster.client()
    reply = c.auth(mid=MID, key=key, accepts=[OP], ver=1, seq=0x1234ABCD)
    assert (reply.op, reply.ver, reply.seq, reply.body) == (8, 1, 0x1234ABCD, b"")

    r = cluster.redis
    assert r.type("mid_%d" % MID) == "hash"
    assert r.hget("mid_%d" % MID, key) == cluster.comet_host
    assert r.get("key_%s" % key) == cluster.comet_host
    assert r.ttl("key_%s" % key) > 0, "key_<key> must expire (logic sets a TTL)"


def test_heartbeat_replies_op3_with_int32_body_and_same_seq(cluster):
    c, _ = authed_client(cluster)
    c.send_frame(OP_HEARTBEAT, b"", ver=1, seq=4242)
    reply = c.read_frame(timeout=10)
    assert (reply.op, reply.ver, reply.seq) == (OP_HEARTBEAT_REPLY, 1, 4242)
    assert len(reply.body) == 4
    # and the helper agrees (fresh seq, int32 decoded)
    assert c.heartbeat() >= 0


def test_push_mids_delivers_exactly_one_frame(cluster):
    c, _ = authed_client(cluster)
    cluster.ensure_push_path()

    assert_push_ok(cluster.push_mids(OP, [MID], b"hello mid"))
    f = c.read_frame(timeout=DELIVERY_TIMEOUT)
    assert (f.op, f.seq, f.body) == (OP, 0, b"hello mid")

    # Exactly one: a second push through the same path must be the very next
    # frame, so no duplicate of the first one was queued before it.
    assert_push_ok(cluster.push_mids(OP, [MID], b"sentinel"))
    f = c.read_frame(timeout=DELIVERY_TIMEOUT)
    assert (f.op, f.body) == (OP, b"sentinel"), "duplicate or unexpected frame: %r" % f


def test_push_keys_delivers_binary_body_byte_for_byte(cluster):
    c, key = authed_client(cluster)
    cluster.ensure_push_path()

    body = b"\x00\xff" + bytes(range(256)) + b"\r\n\x00end\xff"
    assert_push_ok(cluster.push_keys(OP, [key], body))
    f = c.read_frame(timeout=DELIVERY_TIMEOUT)
    assert (f.op, f.seq) == (OP, 0)
    assert f.body == body


def test_push_of_unaccepted_op_is_not_delivered(cluster):
    c, key = authed_client(cluster, accepts=[OP])
    cluster.ensure_push_path()

    assert_push_ok(cluster.push_keys(OP + 1, [key], b"not for you"))
    assert_push_ok(cluster.push_keys(OP, [key], b"for you"))
    # Both go through the same key, so in order: had the op-1001 push been
    # delivered it would be read first.
    f = c.read_frame(timeout=DELIVERY_TIMEOUT)
    assert (f.op, f.body) == (OP, b"for you")


@pytest.mark.parametrize("path,query,param", [
    pytest.param("/goim/push/mids", [("operation", "abc"), ("mids", "123")], "operation",
                 id="mids-operation=abc"),
    pytest.param("/goim/push/mids", [("operation", "1000"), ("mids", "x")], "mids",
                 id="mids-mids=x"),
    pytest.param("/goim/push/keys", [("operation", "abc"), ("keys", "k")], "operation",
                 id="keys-operation=abc"),
])
def test_bad_query_parameter_is_400(cluster, path, query, param):
    status, reply = cluster.http("POST", path, query, b"payload")
    assert status == 400, (status, reply)
    assert isinstance(reply, dict) and reply.get("code") == -400, reply
    assert param in reply.get("message", ""), "message should name %r: %r" % (param, reply)


def test_auth_with_invalid_json_closes_without_reply(cluster):
    c = cluster.client()
    # The invalid auth is followed at once by a valid one: a comet that
    # ignored the first (instead of closing) would answer the second with an
    # op 8, so this does not depend on the handshake timeout.
    c.send_frame(OP_AUTH, b'{"mid": 123, "key": ', seq=1)
    c.send_frame(OP_AUTH, auth_body(MID, key=new_key(), accepts=[OP]), seq=2)
    c.expect_closed(timeout=10)


def test_client_close_removes_its_mapping(cluster):
    c, key = authed_client(cluster)
    r = cluster.redis
    assert r.get("key_%s" % key) == cluster.comet_host
    c.close()
    wait_for(lambda: r.exists("key_%s" % key) == 0, timeout=15,
             message="key_%s to be deleted after the client closed" % key)
    wait_for(lambda: not r.hexists("mid_%d" % MID, key), timeout=15,
             message="mid_%d to lose field %s after the client closed" % (MID, key))
