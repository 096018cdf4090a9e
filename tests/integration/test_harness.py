"""Self-tests of the harness that need no goim-c daemon: the client codec on
hand-made bytes, the TCP client against a scripted fake server, and the Redis
and Kafka fixtures. They run first (file order), so a broken harness is not
mistaken for a broken daemon.
"""

import json
import os
import signal
import socket
import struct
import threading

import pytest

from support import goim_client as gc
from support.util import free_port, port_listening, wait_for


# ---- codec ------------------------------------------------------------------------

def test_encode_matches_hand_made_bytes():
    # packLen 21, headerLen 16, ver 1, op 7, seq 9, body "hello"
    want = bytes.fromhex("00000015" "0010" "0001" "00000007" "00000009") + b"hello"
    assert gc.encode(gc.OP_AUTH, b"hello", ver=1, seq=9) == want
    assert gc.encode(gc.Frame(op=7, body=b"hello", ver=1, seq=9)) == want


def test_decode_hand_made_heartbeat_reply():
    data = bytes.fromhex("00000014" "0010" "0001" "00000003" "0000002a" "00000005")
    f = gc.decode(data)
    assert (f.op, f.ver, f.seq, f.body) == (3, 1, 42, b"\x00\x00\x00\x05")


def test_negative_and_large_fields_round_trip():
    f = gc.Frame(op=-1, body=b"\x00\xff" * 3000, ver=-2, seq=2**31 - 1)
    assert gc.decode(gc.encode(f)) == f


def test_split_frames_walks_concatenated_frames_and_keeps_leftover():
    a = gc.encode(1000, b"one")
    b = gc.encode(1001, b"")
    c = gc.encode(1002, b"three")
    frames, rest = gc.split_frames(a + b + c[:10])
    assert [(f.op, f.body) for f in frames] == [(1000, b"one"), (1001, b"")]
    assert rest == c[:10]


def test_stream_decoder_handles_byte_by_byte_input():
    stream = gc.encode(1000, b"x" * 100, seq=0) + gc.encode(8, b"", seq=5)
    dec = gc.FrameDecoder()
    out = []
    for i in range(len(stream)):
        out += dec.feed(stream[i:i + 1])
    assert [(f.op, len(f.body), f.seq) for f in out] == [(1000, 100, 0), (8, 0, 5)]
    assert dec.pending == 0


@pytest.mark.parametrize("data", [
    gc.encode(1, b"abc", header_len=12),
    gc.encode(1, b"", pack_len=15),
])
def test_decoder_rejects_bad_headers(data):
    with pytest.raises(gc.ProtocolError):
        gc.FrameDecoder().feed(data)


def test_auth_body_fields():
    body = json.loads(gc.auth_body(123, key="k", room_id="live://1", platform="web",
                                   accepts=[1000, 1001]))
    assert body == {"mid": 123, "key": "k", "room_id": "live://1", "platform": "web",
                    "accepts": [1000, 1001]}


# ---- TCP client against a scripted fake comet ---------------------------------------

class FakeComet:
    """Accepts one connection and runs script(conn) in a thread."""

    def __init__(self, script):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = []
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(script,), daemon=True)
        self.thread.start()

    def _run(self, script):
        try:
            conn, _ = self.listener.accept()
            with conn:
                script(self, conn)
        except Exception as e:  # noqa: BLE001 - reported by join()
            self.error = e

    def recv_frame(self, conn):
        head = b""
        while len(head) < 16:
            head += conn.recv(16 - len(head))
        pack_len = struct.unpack(">i", head[:4])[0]
        body = b""
        while len(body) < pack_len - 16:
            body += conn.recv(pack_len - 16 - len(body))
        f = gc.decode(head + body)
        self.received.append(f)
        return f

    def join(self):
        self.thread.join(10)
        self.listener.close()
        assert not self.thread.is_alive()
        if self.error:
            raise self.error


def test_client_auth_heartbeat_push_and_close():
    def script(srv, conn):
        auth = srv.recv_frame(conn)
        conn.sendall(gc.encode(gc.OP_AUTH_REPLY, b"", ver=auth.ver, seq=auth.seq))
        hb = srv.recv_frame(conn)
        # a push interleaved before the heartbeat reply, split across writes
        push = gc.encode(1000, b"\x00pushed\xff")
        conn.sendall(push[:7])
        conn.sendall(push[7:] + gc.encode(gc.OP_HEARTBEAT_REPLY, struct.pack(">i", 77),
                                          ver=hb.ver, seq=hb.seq))
        # and two raw frames back to back, as comet writes an OpRaw body over TCP
        conn.sendall(gc.encode(1001, b"a") + gc.encode(1002, b"b"))

    srv = FakeComet(script)
    c = gc.connect("127.0.0.1", srv.port)
    reply = c.auth(mid=5, key="kk", accepts=[1000], seq=31)
    assert (reply.op, reply.seq, reply.ver) == (8, 31, 1)
    assert c.heartbeat() == 77
    f = c.read_frame(timeout=5)   # the push kept aside during heartbeat()
    assert (f.op, f.seq, f.body) == (1000, 0, b"\x00pushed\xff")
    assert [(f.op, f.body) for f in (c.read_frame(5), c.read_frame(5))] == [(1001, b"a"), (1002, b"b")]
    assert c.expect_closed(timeout=5)
    srv.join()
    auth_json = json.loads(srv.received[0].body)
    assert auth_json["mid"] == 5 and auth_json["key"] == "kk" and auth_json["accepts"] == [1000]


def test_expect_closed_fails_on_a_frame_and_read_frame_times_out():
    done = threading.Event()

    def script(srv, conn):
        srv.recv_frame(conn)
        conn.sendall(gc.encode(gc.OP_AUTH_REPLY, b"", seq=1))
        done.wait(10)

    srv = FakeComet(script)
    c = gc.connect("127.0.0.1", srv.port)
    c.send_frame(gc.OP_AUTH, b"{}", seq=1)
    with pytest.raises(AssertionError, match="expected close"):
        c.expect_closed(timeout=5)
    with pytest.raises(TimeoutError):
        c.read_frame(timeout=0.2)
    with pytest.raises(AssertionError, match="still open"):
        c.expect_closed(timeout=0.2)
    done.set()
    srv.join()
    with pytest.raises(gc.ConnectionClosed):
        c.read_frame(timeout=5)
    c.close()


# ---- fixtures that need no daemon -------------------------------------------------------

def test_redis_server_fixture(redis_server):
    import redis
    host, port = redis_server.split(":")
    assert host == "127.0.0.1"
    r = redis.Redis(host=host, port=int(port), decode_responses=True)
    r.set("harness", "ok", ex=60)
    assert r.get("harness") == "ok" and r.ttl("harness") > 0
    assert r.config_get("save") == {"save": ""}
    r.close()


def test_wait_for_returns_value_and_times_out():
    calls = []
    assert wait_for(lambda: calls.append(1) or len(calls) >= 3, timeout=5, interval=0.01)
    with pytest.raises(AssertionError, match="never"):
        wait_for(lambda: False, timeout=0.1, interval=0.01, message="never")


def test_port_listening_sees_listen_state_without_connecting():
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))
        assert not port_listening(port)  # bound is not listening
        s.listen(1)
        s.setblocking(False)
        assert port_listening(port)
        with pytest.raises(BlockingIOError):  # asking made no connection
            s.accept()
    assert not port_listening(port)


# Run in another process: free_port is offered the ports given as arguments first (then any).
_OFFER_PORTS_FIRST = """
import random, sys
from support import util
offered = [int(port) for port in sys.argv[1:]]
fallback = random.Random()
util.random.randint = lambda a, b: offered.pop(0) if offered else fallback.randint(a, b)
print(util.free_port())
"""


def test_free_port_skips_ports_another_test_process_reserved():
    """Two test runs on one machine pick ports in the same range: a port one has picked (its
    daemon perhaps not bound yet) is never handed to the other."""
    import subprocess
    import sys

    mine = [free_port() for _ in range(50)]
    child = subprocess.run([sys.executable, "-c", _OFFER_PORTS_FIRST] + [str(p) for p in mine],
                           cwd=os.path.dirname(os.path.abspath(__file__)), capture_output=True,
                           text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    assert int(child.stdout) not in mine  # offered all 50 first, free to bind, and took none


def test_kafka_fixture_creates_topics(kafka_broker, kafka):
    assert kafka == kafka_broker.bootstrap and kafka.startswith("127.0.0.1:")
    assert kafka_broker.create_topic("goim-harness-selftest", partitions=4) == 4


# ---- daemon supervision, with fake daemons --------------------------------------------

FAKE_DAEMON = r'''#!/usr/bin/env python3
# A stand-in daemon: listens on the ports its flags name, logs "<role> ready"
# in goim-c's log format, and reacts to SIGTERM as FAKE_MODE says.
import json, os, signal, socket, sys, time
role = os.path.basename(sys.argv[0])
mode = os.environ.get("FAKE_MODE", "ok")
args = sys.argv[1:]
flags = dict(zip(args[0::2], args[1::2]))
with open(os.environ["FAKE_ARGV_DIR"] + "/" + flags.get("-host", role) + ".json", "w") as f:
    json.dump(args, f)
socks = []
for flag in ("-httpServer.addr", "-gopusher.addr", "-tcp.bind"):
    if flag in flags:
        host, port = flags[flag].rsplit(":", 1)
        s = socket.create_server((host, int(port)))
        socks.append(s)
def log(level, msg):
    sys.stderr.write("%d:%s 2026-11-23T10:00:00.000Z %s %s\n" % (os.getpid(), role, level, msg))
    sys.stderr.flush()
if mode == "ignore_term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    def on_term(*_):
        if mode == "runtime_error":
            sys.stderr.write("comet/x.c:1:2: runtime error: signed integer overflow\n")
        sys.exit(3 if mode == "exit3" else 0)
    signal.signal(signal.SIGTERM, on_term)
log("I", "%s starting" % role)
log("N", "%s ready host=%s" % (role, flags.get("-host")))
while True:
    time.sleep(0.05)
'''


@pytest.fixture
def fake_bin(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for role in ("comet", "logic", "job"):
        p = bin_dir / role
        p.write_text(FAKE_DAEMON)
        p.chmod(0o755)
    monkeypatch.setenv("FAKE_ARGV_DIR", str(tmp_path))
    return bin_dir


class _FakeKafka:
    bootstrap = "127.0.0.1:1"

    def __init__(self):
        self.topics = []

    def create_topic(self, name, partitions=4):
        self.topics.append((name, partitions))
        return partitions


def test_cluster_wiring_with_fake_daemons(fake_bin, tmp_path, redis_server):
    from support.cluster import Cluster
    kafka = _FakeKafka()
    c = Cluster(str(fake_bin), tmp_path / "c", redis_server, kafka)
    try:
        c.start()
        assert kafka.topics == [(c.topic, 4)]
        argv = {n: json.loads((tmp_path / (n + "-%s.json" % c.id)).read_text())
                for n in ("logic", "comet", "job")}
        flags = {n: dict(zip(a[0::2], a[1::2])) for n, a in argv.items()}
        assert flags["logic"]["-kafka.topic"] == flags["job"]["-kafka.topic"] == c.topic
        assert flags["job"]["-kafka.group"] == c.group
        assert flags["comet"]["-host"] == c.comet_host
        assert flags["comet"]["-rpcClient.logic"] == flags["logic"]["-rpcServer.addr"]
        assert flags["comet"]["-tcp.bind"] == "%s:%d" % c.comet_tcp_addr
        assert flags["logic"]["-redis.addr"] == redis_server
        addrs = [v for f in flags.values() for v in f.values() if ":" in v]
        assert addrs and all(v.startswith(("127.0.0.1:", "tcp://127.0.0.1:")) for v in addrs)
        c.kill("job")
        c.start("job")
        c.restart("comet")
        client = c.client()
        client.close()
    finally:
        problems = c.close()
    assert problems == []


@pytest.mark.parametrize("mode,expect", [
    ("ignore_term", "did not exit"),
    ("exit3", "exited with code 3"),
    ("runtime_error", "runtime error"),
])
def test_daemon_problems_are_reported(fake_bin, tmp_path, monkeypatch, mode, expect):
    from support.cluster import Daemon
    monkeypatch.setenv("FAKE_MODE", mode)
    d = Daemon("job", "job", str(fake_bin / "job"), ["-host", "j1"], str(tmp_path / "job.log"),
               env=dict(os.environ))
    d.start(timeout=20)
    d.stop(timeout=1)
    problems = d.final_check()
    assert len(problems) == 1 and expect in problems[0], problems


def test_daemon_that_dies_is_reported(fake_bin, tmp_path):
    from support.cluster import Daemon
    d = Daemon("job", "job", str(fake_bin / "job"), ["-host", "j2"], str(tmp_path / "job.log"))
    d.start(timeout=20)
    os.kill(d.pid, signal.SIGKILL)
    d.proc.wait()
    assert d.stop() is None
    problems = d.final_check()
    assert len(problems) == 1 and "died on its own" in problems[0], problems
