"""Authenticated internal RPC (rpcAuth.secret, common/rpc_auth.h), over nng on real daemons.

With a secret, a signed request is: method | 0x80000000 (4) | sender (8) | counter (8) |
unix ms (8) | protobuf | HMAC-SHA256(secret, all before) (32), every integer big-endian. The
signing here is written from that description with Python's hmac module, independently of the C
code. A request that is unsigned, signed with another secret, out of the time window or replayed
is refused with an error reply, never reaches the handler, and is counted in
<daemon>_rpc_refused_total{reason}. Every refusal is checked after a positive control: a
correctly signed request (or a real push through job) that did arrive.
"""

import hashlib
import hmac
import secrets
import struct
import time

import pynng
import pytest

from support.goim_client import ConnectionClosed
from support.logic_wire import _field_bytes, _field_varint
from support.util import wait_for
from test_metrics import scrape, value

SECRET = "s3cret-" + secrets.token_hex(12)
FLAG = 0x80000000
BROADCAST = 2
DISCONNECT = 102

ARGS = {"logic": ["-rpcAuth.secret", SECRET], "job": ["-rpcAuth.secret", SECRET],
        "comet": ["-rpcAuth.secret", SECRET]}


def broadcast_req(op, body):
    proto = _field_varint(1, 1) + _field_varint(2, op) + _field_bytes(4, body)
    return _field_varint(1, op) + _field_bytes(2, proto)


def disconnect_req(mid, key, server):
    return _field_varint(1, mid) + _field_bytes(2, key) + _field_bytes(3, server)


class Signer:
    """One sender (random id, counter going up), as a daemon signs."""

    def __init__(self, secret):
        self.secret = secret.encode()
        self.sender = secrets.randbits(63) + 1
        self.counter = 0

    def sign(self, method, payload, at_ms=None):
        self.counter += 1
        at_ms = int(time.time() * 1000) if at_ms is None else at_ms
        head = struct.pack(">IQQQ", method | FLAG, self.sender, self.counter, at_ms) + payload
        return head + hmac.new(self.secret, head, hashlib.sha256).digest()


def call(port, data):
    """Sends one raw request; returns (status, rest of the reply)."""
    with pynng.Req0(dial="tcp://127.0.0.1:%d" % port, recv_timeout=5000,
                    send_timeout=5000) as socket:
        socket.send(data)
        reply = socket.recv()
    return struct.unpack(">i", reply[:4])[0], reply[4:]


def frames_until(client, op, timeout=10.0):
    """Frames read until one of op arrives (included); AssertionError when none does."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            f = client.read_frame(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        seen.append(f)
        if f.op == op:
            return seen
    raise AssertionError("no frame of op %d arrived; saw %r" % (op, seen))


@pytest.mark.cluster_args(**ARGS)
def test_comet_refuses_unsigned_forged_stale_and_replayed_requests(cluster):
    cluster.ensure_push_path()  # job -> comet and comet -> logic signed with the secret
    c = cluster.client()
    assert c.auth(mid=7001, key="rpc-auth-" + secrets.token_hex(4),
                  accepts=list(range(1001, 1006))).op == 8
    port = cluster.comet.rpc_port
    signer = Signer(SECRET)

    # Positive control: a request signed here with the secret is served and delivered.
    good = signer.sign(BROADCAST, broadcast_req(1001, b"signed"))
    status, _ = call(port, good)
    assert status == 0
    assert [f.body for f in frames_until(c, 1001)] == [b"signed"]

    refused = [
        ("unsigned", struct.pack(">I", BROADCAST) + broadcast_req(1002, b"unsigned")),
        ("bad_mac", Signer("another-secret-0123456789").sign(BROADCAST,
                                                            broadcast_req(1003, b"other key"))),
        ("stale", signer.sign(BROADCAST, broadcast_req(1004, b"old"),
                              at_ms=int(time.time() * 1000) - 120000)),
        ("replayed", good),
        ("unsigned", b"\x80\x00"),
    ]
    before = scrape(cluster.comet.metrics_port)
    for reason, data in refused:
        status, text = call(port, data)
        assert status != 0, reason
        assert text.decode() == "request refused: %s" % reason
    after = scrape(cluster.comet.metrics_port)
    for reason in ("unsigned", "bad_mac", "stale", "replayed"):
        expected = sum(1 for r, _ in refused if r == reason)
        assert (value(after, "comet_rpc_refused_total", reason=reason)
                - value(before, "comet_rpc_refused_total", reason=reason)) == expected, reason

    # After a later signed broadcast arrived, nothing refused reached the client.
    status, _ = call(port, signer.sign(BROADCAST, broadcast_req(1005, b"control")))
    assert status == 0
    assert [f.op for f in frames_until(c, 1005)] == [1005]


@pytest.mark.cluster_args(**ARGS)
def test_forged_disconnect_to_logic_leaves_the_session(cluster):
    cluster.ensure_push_path()
    key = "rpc-auth-" + secrets.token_hex(4)
    mid = 7100 + secrets.randbelow(1000)
    c = cluster.client()
    assert c.auth(mid=mid, key=key, accepts=[1000]).op == 8

    before = scrape(cluster.logic_http_port)
    status, text = call(cluster.logic_rpc_port,
                        struct.pack(">I", DISCONNECT) + disconnect_req(mid, key, cluster.comet_host))
    assert status != 0 and text == b"request refused: unsigned"
    status, text = call(cluster.logic_rpc_port, Signer("wrong-secret-0123456789").sign(
        DISCONNECT, disconnect_req(mid, key, cluster.comet_host)))
    assert status != 0 and text == b"request refused: bad_mac"
    after = scrape(cluster.logic_http_port)
    assert (value(after, "logic_rpc_refused_total", reason="unsigned")
            - value(before, "logic_rpc_refused_total", reason="unsigned")) == 1
    assert (value(after, "logic_rpc_refused_total", reason="bad_mac")
            - value(before, "logic_rpc_refused_total", reason="bad_mac")) == 1

    assert cluster.redis.hget("mid_%d" % mid, key) == cluster.comet_host
    status, reply = cluster.push_mids(1000, [mid], b"still here")
    assert status == 200 and reply["code"] == 0
    assert [f.body for f in frames_until(c, 1000)] == [b"still here"]


@pytest.mark.cluster_args(logic=["-rpcAuth.secret", SECRET], job=["-rpcAuth.secret", SECRET],
                          comet=["-rpcAuth.secret", "a-different-secret-0123"])
def test_comet_with_another_secret_cannot_authenticate_clients(cluster):
    c = cluster.client()
    with pytest.raises(ConnectionClosed):  # logic refuses comet's Connect: comet closes
        c.auth(mid=7200, key="rpc-auth-" + secrets.token_hex(4), accepts=[1000])
    wait_for(lambda: value(scrape(cluster.logic_http_port), "logic_rpc_refused_total",
                           reason="bad_mac") >= 1, 10, message="logic counts the refused Connect")


def test_a_short_secret_is_refused_by_the_configuration_check(bin_dir):
    import subprocess
    import os
    for role in ("logic", "comet", "job"):
        result = subprocess.run([os.path.join(bin_dir, role), "-t", "-rpcAuth.secret", "short"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode != 0, role
        assert "rpcAuth.secret" in result.stderr + result.stdout, role
