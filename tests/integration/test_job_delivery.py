"""job (issue 5): concurrent at-least-once delivery, room batching, back-pressure,
crash recovery, comet restarts, broadcast with speed, against a real Kafka broker.

ROOM and BROADCAST go through logic's /goim/push/room and /goim/push/all when
logic serves them; otherwise the records are produced straight to Kafka with
support/pushmsg.py, as an independent producer would.
"""

import queue
import secrets
import statistics
import threading
import time

import pytest

from support.pushmsg import PushMsgProducer

DELIVERY_TIMEOUT = 30.0
OP = 1000
ROOM_TYPE, ROOM_ID = "live", "1000"
ROOM = "%s://%s" % (ROOM_TYPE, ROOM_ID)


def new_key():
    return "key-%s" % secrets.token_hex(8)


def member(cluster, comet=0, mid=None, room=ROOM, accepts=(OP,)):
    c = cluster.client(comet=comet)
    key = new_key()
    reply = c.auth(mid=mid if mid is not None else 500000 + secrets.randbelow(100000), key=key,
                   room_id=room, accepts=list(accepts))
    assert reply.op == 8, reply
    return c, key


def ok(result):
    status, reply = result
    assert (status, reply) == (200, {"code": 0, "message": ""}), result


class Pusher:
    """ROOM/BROADCAST through logic's HTTP API, or straight to Kafka when logic lacks it."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.producer = None
        self.via_http = None

    def _kafka(self):
        if self.producer is None:
            self.producer = PushMsgProducer(self.cluster.kafka, self.cluster.topic)
        return self.producer

    def room(self, body, op=OP):
        if self.via_http is not False:
            status, reply = self.cluster.push_room(op, ROOM_TYPE, ROOM_ID, body)
            if status != 404:
                ok((status, reply))
                self.via_http = True
                return
            self.via_http = False
        self._kafka().room(op, ROOM, body)

    def broadcast(self, body, op=OP, speed=None):
        status, reply = self.cluster.push_all(op, body, speed=speed)
        if status != 404:
            ok((status, reply))
            return
        self._kafka().broadcast(op, body, speed=speed or 0)

    def flush(self):
        if self.producer is not None:
            self.producer.flush()

    def close(self):
        if self.producer is not None:
            self.producer.close()


@pytest.fixture
def pusher(cluster):
    """The test cluster's Pusher, closed after the test."""
    made = Pusher(cluster)
    yield made
    made.close()


@pytest.fixture
def producer(cluster):
    """A PushMsg producer to the test cluster's topic (support/pushmsg.py), closed after it."""
    made = PushMsgProducer(cluster.kafka, cluster.topic)
    yield made
    made.close()


def read_bodies(client, count, timeout=DELIVERY_TIMEOUT, op=OP):
    bodies = []
    while len(bodies) < count:
        f = client.read_frame(timeout=timeout)
        if f.op == op:
            bodies.append(f.body)
    return bodies


def test_key_mid_room_and_broadcast_pushes_are_delivered(cluster, pusher):
    mid = 424242
    c, key = member(cluster, mid=mid)
    cluster.ensure_push_path()
    ok(cluster.push_keys(OP, [key], b"by key"))
    assert read_bodies(c, 1) == [b"by key"]
    ok(cluster.push_mids(OP, [mid], b"by mid"))
    assert read_bodies(c, 1) == [b"by mid"]
    pusher.room(b"to the room")
    pusher.flush()
    assert read_bodies(c, 1) == [b"to the room"]
    pusher.broadcast(b"to everyone")
    pusher.flush()
    assert read_bodies(c, 1) == [b"to everyone"]


def test_1000_room_messages_arrive_in_order_at_every_member(cluster, pusher):
    cluster.add_comet()
    members = [member(cluster, comet=0)[0], member(cluster, comet=0)[0],
               member(cluster, comet=1)[0]]
    cluster.ensure_push_path()
    cluster.ensure_push_path(comet=1)
    want = [b"room-%04d" % n for n in range(1000)]
    t0 = time.monotonic()
    for body in want:
        pusher.room(body)
    pusher.flush()
    posted = time.monotonic() - t0
    for index, c in enumerate(members):
        got = read_bodies(c, len(want))
        assert got == want, "member %d: first difference at %d" % (
            index, next(i for i, (a, b) in enumerate(zip(got, want)) if a != b))
    print("1000 room messages (%s): posted in %.2fs, all members complete after %.2fs"
          % ("HTTP" if pusher.via_http else "Kafka", posted, time.monotonic() - t0))
    for c in members:
        c.expect_no_frame(timeout=1.0)


def test_job_sigkilled_mid_stream_loses_nothing(cluster):
    c, key = member(cluster)
    cluster.ensure_push_path()
    total = 600
    errors = []

    def stream():
        try:
            for n in range(total):
                ok(cluster.push_keys(OP, [key], b"%d" % n))
                time.sleep(0.002)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    poster = threading.Thread(target=stream)
    poster.start()
    seen = {}
    # Kill job once a third of the numbers arrived, while pushes keep coming.
    while sum(seen.values()) < total // 3:
        n = int(read_bodies(c, 1)[0])
        seen[n] = seen.get(n, 0) + 1
    cluster.kill("job")
    time.sleep(0.5)
    cluster.start("job")
    poster.join(120)
    assert not errors, errors
    deadline = time.monotonic() + 90  # the dead member's session (10 s) must expire first
    while len(seen) < total:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "missing numbers: %s" % sorted(set(range(total)) - set(seen))[:50]
        try:
            f = c.read_frame(timeout=remaining)
        except TimeoutError:
            continue
        if f.op == OP:
            n = int(f.body)
            seen[n] = seen.get(n, 0) + 1
    duplicates = {n: k for n, k in seen.items() if k > 1}
    print("job SIGKILL: %d numbers all arrived; %d duplicated: %s"
          % (total, len(duplicates), sorted(duplicates)[:100]))
    assert set(seen) == set(range(total))


def test_pushes_resume_after_a_comet_restart(cluster):
    mid = 777001
    c, key = member(cluster, mid=mid)
    cluster.ensure_push_path()
    ok(cluster.push_keys(OP, [key], b"before"))
    assert read_bodies(c, 1) == [b"before"]
    cluster.restart("comet")
    c2, key2 = member(cluster, mid=mid)
    cluster.ensure_push_path(timeout=60)
    ok(cluster.push_keys(OP, [key2], b"after, by key"))
    assert read_bodies(c2, 1) == [b"after, by key"]
    ok(cluster.push_mids(OP, [mid], b"after, by mid"))
    assert read_bodies(c2, 1) == [b"after, by mid"]


def test_broadcast_with_speed_reaches_every_connection(cluster, pusher):
    cluster.add_comet()
    clients = [member(cluster, comet=i % 2, room="")[0] for i in range(6)]
    cluster.ensure_push_path()
    cluster.ensure_push_path(comet=1)
    pusher.broadcast(b"slow broadcast", speed=4)
    pusher.flush()
    for c in clients:
        assert read_bodies(c, 1) == [b"slow broadcast"]


def test_measure_room_push_latency_at_rest(cluster, pusher, capsys):
    c, _ = member(cluster)
    cluster.ensure_push_path()
    samples = []
    for n in range(100):
        body = b"latency-%d" % n
        t0 = time.perf_counter()
        pusher.room(body)
        pusher.flush()
        assert read_bodies(c, 1) == [body]
        samples.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.01)  # at rest: nothing in flight for the room
    with capsys.disabled():
        print("\nroom push latency at rest (%s -> client frame), 100 pushes: median %.2f ms, "
              "worst %.2f ms" % ("HTTP request" if pusher.via_http else "Kafka produce",
                                 statistics.median(samples), max(samples)))


def _recorded_pushes(comet, keys, timeout=DELIVERY_TIMEOUT):
    """Every push the recording comet records until each of keys has arrived accepted."""
    pushes, missing = [], set(keys)
    deadline = time.monotonic() + timeout
    while missing:
        try:
            push = comet.next_push(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError("never delivered: %s" % sorted(missing)[:5])
        pushes.append(push)
        if not push["refused"]:
            missing.difference_update(push["keys"])
    return pushes


def test_pushes_to_one_comet_are_coalesced_under_load_each_answered_on_its_own(
        cluster, producer, recording_comet):
    """PushMsg records to keys of their own (a push/mids load): while job's requests carrying
    PushMsg calls to a comet are out (the recording comet holds each answer), the calls behind
    them leave together in batches (gim_rpc_call_coalesced, common/rpc.h); each push is answered
    on its own within its batch, so one the comet refuses is retried alone, and none is
    delivered twice."""
    comet = recording_comet(cluster.redis, push_delay=0.05)
    comet.found_by_job(lambda: ok(cluster.push_room(OP, "probe", "1", b"probe")))
    keys = ["coalesce-%03d" % n for n in range(200)]
    comet.fail_once = {keys[150]}
    for key in keys:
        producer.push(OP, comet.hostname, [key], key.encode())
    producer.flush()
    pushes = _recorded_pushes(comet, keys)
    accepted = [push["keys"][0] for push in pushes if not push["refused"]]
    refused = [push["keys"][0] for push in pushes if push["refused"]]
    assert refused == [keys[150]]
    assert sorted(accepted) == keys  # each once, the refused one after its retry
    assert all(push["frames"] == [(OP, push["keys"][0].encode())] for push in pushes)
    sizes = []
    while True:
        try:
            sizes.append(comet.calls.get_nowait())
        except queue.Empty:
            break
    assert max(sizes) > 1, sizes  # some batches carried several pushes
    assert sum(sizes) == len(pushes)

    # Positive control before "nothing more came": a later push arrives, no duplicate
    # of the 200 before it.
    producer.push(OP, comet.hostname, ["coalesce-control"], b"control")
    producer.flush()
    later = _recorded_pushes(comet, ["coalesce-control"])
    assert [push["keys"][0] for push in later] == ["coalesce-control"]
