"""A stand-in comet for job: registers itself in the Redis registry as a comet
does (common/registry.h) and records the BroadcastRoom and PushMsg calls job sends it over nng
(proto/comet.proto, written by hand), alone or in a batch (common/rpc.h: job coalesces its
PushMsg calls under load; nng_responder.py splits a batch), answering each BroadcastRoom after
`delay` seconds so that job's lanes stay busy and merge what queues behind them, and each request
carrying PushMsg calls after `push_delay` seconds so that job's requests to it stay out and the
calls behind them are coalesced. A push to a key in `fail_once` is refused once (its call
answers an error, alone or within its batch)."""

import json
import queue
import statistics
import struct
import time

from support import logic_wire
from support.nng_responder import NngResponder

PUSH_MSG, BROADCAST_ROOM = 1, 3


def split_frames(body):
    """The goim frames of an OpRaw body: [(op, body), ...]."""
    frames, at = [], 0
    while at < len(body):
        length, header, _ver, op, _seq = struct.unpack(">IHHII", body[at:at + 16])
        frames.append((op, body[at + header:at + length]))
        at += length
    return frames


def broadcast_room_req(data):
    """{room, op, frames, pattern, text, close} of a BroadcastRoomReq."""
    request = {"room": "", "op": 0, "frames": [], "pattern": "", "text": False, "close": False}
    for number, value in logic_wire._fields(data):
        if number == 1:
            request["room"] = value.decode()
        elif number == 2:
            for inner, proto_value in logic_wire._fields(value):
                if inner == 2:
                    request["op"] = proto_value
                elif inner == 4:
                    request["frames"] = split_frames(proto_value)
        elif number == 3:
            request["pattern"] = value.decode()
        elif number == 4:
            request["text"] = bool(value)
        elif number == 5:
            request["close"] = bool(value)
    return request


def push_msg_req(data):
    """{keys, op (protoOp), frames} of a PushMsgReq."""
    request = {"keys": [], "op": 0, "frames": []}
    for number, value in logic_wire._fields(data):
        if number == 1:
            request["keys"].append(value.decode())
        elif number == 2:
            for inner, proto_value in logic_wire._fields(value):
                if inner == 4:
                    request["frames"] = split_frames(proto_value)
        elif number == 3:
            request["op"] = value
    return request


class RecordingComet(NngResponder):
    def __init__(self, redis, hostname, port, delay=0.0, push_delay=0.0, fail_once=()):
        self.rooms = queue.Queue()
        self.pushes = queue.Queue()
        self.calls = queue.Queue()  # the number of pushes each request carried (alone: 1)
        self.delay = delay
        self.push_delay = push_delay
        self.fail_once = set(fail_once)
        self._redis = redis
        self.hostname = hostname
        super().__init__(port)
        self.publish()

    def publish(self):
        instance = {"region": "", "zone": "", "env": "", "appid": "goim.comet",
                    "hostname": self.hostname, "addrs": [self.url], "version": "",
                    "latest_timestamp": time.time_ns(),
                    "metadata": {"addrs": "", "conn_count": "0", "ip_count": "0",
                                 "offline": "false", "weight": "10"}}
        self._redis.set("goim_comet_" + self.hostname, json.dumps(instance), ex=600)
        self._redis.zadd("goim_comets", {self.hostname: int(time.time())})

    def _push(self, request):
        """Records one push; False when it is refused (its key in fail_once, the first time)."""
        refused = bool(self.fail_once.intersection(request["keys"]))
        self.fail_once.difference_update(request["keys"])
        request["refused"] = refused
        self.pushes.put(request)
        return not refused

    def answer(self, method, body):
        if method == PUSH_MSG and not self._push(push_msg_req(body)):
            return (-2, b"refused by the recording comet")
        if method == BROADCAST_ROOM:
            self.rooms.put(broadcast_room_req(body))
            if self.delay:
                time.sleep(self.delay)
        return b""

    def served(self, methods):
        """A request carrying pushes is held push_delay seconds before its answer leaves."""
        pushes = methods.count(PUSH_MSG)
        if pushes:
            self.calls.put(pushes)
            if self.push_delay:
                time.sleep(self.push_delay)

    def next_room(self, timeout=30.0):
        return self.rooms.get(timeout=timeout)

    def found_by_job(self, probe, timeout=60.0):
        """The positive control before a test: calls probe() (a push to a room) until job
        delivers one here, then drains the rooms of further probes; returns the first."""
        deadline = time.monotonic() + timeout
        while True:
            probe()
            try:
                first = self.next_room(timeout=3)
                break
            except queue.Empty:
                assert time.monotonic() < deadline, "job never called the recording comet"
        while True:
            try:
                self.next_room(timeout=2)
            except queue.Empty:
                return first

    def next_push(self, timeout=30.0):
        return self.pushes.get(timeout=timeout)

    def time_room_pushes_at_rest(self, push, frames_of, count=100):
        """Times count room pushes made one at a time, each once the one before reached this
        comet (at rest: nothing in flight). push(number) makes the HTTP push and returns its
        answer (a .status and a .body); frames_of(number, answer) is the [(op, body)] its
        BroadcastRoom must carry. Returns a summary line of the milliseconds from each request
        to its 200 (Kafka acknowledged) and to its BroadcastRoom here (asserts nothing about
        time)."""
        acknowledged, delivered = [], []
        for number in range(count):
            started = time.perf_counter()
            answer = push(number)
            acknowledged.append((time.perf_counter() - started) * 1000)
            assert answer.status == 200, answer
            room = self.next_room()
            delivered.append((time.perf_counter() - started) * 1000)
            assert room["frames"] == frames_of(number, answer)
            time.sleep(0.01)  # at rest: nothing in flight
        return ("%d pushes: HTTP -> 200 (Kafka acknowledged) median %.2f ms, worst %.2f ms; "
                "HTTP -> BroadcastRoom at a comet median %.2f ms, worst %.2f ms"
                % (count, statistics.median(acknowledged), max(acknowledged),
                   statistics.median(delivered), max(delivered)))

    def close(self):
        super().close()
        self._redis.delete("goim_comet_" + self.hostname)
        self._redis.zrem("goim_comets", self.hostname)
