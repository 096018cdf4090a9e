"""comet's own nng RPC, called directly as job (or any internal caller) would: the Rooms method
answers the rooms that have members on this comet, each mapped to true (goim's RoomsReply).
The wire format (common/rpc.h): request = 4-byte big-endian method id + protobuf; reply =
4-byte big-endian status + protobuf."""

import secrets
import struct

import pynng

from support.logic_wire import _fields, _varint
from support.util import wait_for

ROOMS = 4


def comet_rooms(cluster):
    with pynng.Req0(dial="tcp://127.0.0.1:%d" % cluster.comets[0].rpc_port,
                    recv_timeout=5000, send_timeout=5000) as socket:
        socket.send(struct.pack(">I", ROOMS))  # RoomsReq has no fields
        reply = socket.recv()
    status = struct.unpack(">i", reply[:4])[0]
    assert status == 0, reply
    rooms = {}
    for number, entry in _fields(reply[4:]):
        assert number == 1
        fields = dict(_fields(entry))
        rooms[fields.get(1, b"").decode()] = bool(fields.get(2, 0))
    return rooms


def test_rooms_lists_the_rooms_with_members(cluster):
    assert comet_rooms(cluster) == {}
    clients = []
    for room in ("live://1000", "live://1000", "chat://7"):
        c = cluster.client()
        assert c.auth(mid=secrets.randbelow(10**6) + 1, key="k-" + secrets.token_hex(6),
                      room_id=room, accepts=[1000]).op == 8
        clients.append(c)
    lone = cluster.client()
    assert lone.auth(mid=5, key="k-" + secrets.token_hex(6), room_id="", accepts=[1000]).op == 8
    assert comet_rooms(cluster) == {"live://1000": True, "chat://7": True}
    clients[2].close()
    wait_for(lambda: comet_rooms(cluster) == {"live://1000": True}, 10, interval=0.2,
             message="chat://7 leaves the room list when its last member closes")


PUSH_MSG = 1
BATCH = 0x7FFFFF00


def _bytes_field(number, value):
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def push_msg_req(keys, op, body):
    """A PushMsgReq (proto/comet.proto): keys, Proto{ver 1, op, body}, protoOp = op."""
    proto = _varint(1 << 3) + _varint(1) + _varint(2 << 3) + _varint(op) + _bytes_field(4, body)
    return (b"".join(_bytes_field(1, key.encode()) for key in keys) + _bytes_field(2, proto)
            + _varint(3 << 3) + _varint(op))


def comet_call(cluster, method, body):
    with pynng.Req0(dial="tcp://127.0.0.1:%d" % cluster.comets[0].rpc_port,
                    recv_timeout=5000, send_timeout=5000) as socket:
        socket.send(struct.pack(">I", method) + body)
        reply = socket.recv()
    return struct.unpack(">i", reply[:4])[0], reply[4:]


def batch(calls):
    """A batch request's payload (common/rpc.h): per call its method, length and request."""
    return b"".join(struct.pack(">II", method, len(body)) + body for method, body in calls)


def batch_answers(payload):
    """A batch reply's answers, [(status, bytes), ...]: per call its status, length, bytes."""
    answers, at = [], 0
    while at < len(payload):
        status, length = struct.unpack(">iI", payload[at:at + 8])
        answers.append((status, payload[at + 8:at + 8 + length]))
        at += 8 + length
    assert at == len(payload)
    return answers


def test_batch_of_pushes_delivers_each_and_answers_each_on_its_own(cluster):
    """job's PushMsg calls coalesced under load arrive as one batch (common/rpc.h); comet posts
    each to its loops, its answer deferred until its last loop queued it (comet/rpc_service.h),
    and answers each call on its own: a delivered push done, a malformed call its own error,
    whatever else the batch carries."""
    clients = []
    for _ in range(2):
        c, key = cluster.client(), "k-" + secrets.token_hex(6)
        assert c.auth(mid=secrets.randbelow(10**6) + 1, key=key, accepts=[1000]).op == 8
        clients.append((c, key))
    calls = [(PUSH_MSG, push_msg_req([clients[0][1]], 1000, b"first")),
             (PUSH_MSG, push_msg_req([], 1000, b"no keys: an argument error")),
             (PUSH_MSG, b"\xff\xff not a PushMsgReq"),
             (ROOMS, b""),
             (PUSH_MSG, push_msg_req([clients[1][1], "k-nobody"], 1000, b"second"))]
    status, reply = comet_call(cluster, BATCH, batch(calls))
    assert status == 0, reply
    answers = batch_answers(reply)
    assert [status for status, _ in answers] == [0, -2, -2, 0, 0]
    assert answers[0][1] == b"" and answers[4][1] == b""  # PushMsgReply is empty
    assert answers[1][1] == b"rpc pushmsg arg error"
    assert answers[2][1] == b"bad PushMsgReq"
    for (c, _), body in zip(clients, (b"first", b"second")):
        frame = c.read_frame(timeout=10)
        assert (frame.op, frame.body) == (1000, body)


def test_a_push_alone_is_answered_once_its_loops_queued_it(cluster):
    """A PushMsg that leaves alone (at rest) is answered done through the same deferred answer;
    its client has the push."""
    c, key = cluster.client(), "k-" + secrets.token_hex(6)
    assert c.auth(mid=secrets.randbelow(10**6) + 1, key=key, accepts=[1000]).op == 8
    status, reply = comet_call(cluster, PUSH_MSG, push_msg_req([key], 1000, b"alone"))
    assert (status, reply) == (0, b"")
    frame = c.read_frame(timeout=10)
    assert (frame.op, frame.body) == (1000, b"alone")


def test_malformed_batches_are_refused_whole(cluster):
    for payload in (b"",  # no call
                    struct.pack(">II", PUSH_MSG, 100) + b"short",  # a length past the payload
                    batch([(BATCH, batch([(ROOMS, b"")]))])):  # a batch inside a batch
        status, reply = comet_call(cluster, BATCH, payload)
        assert status == -2 and reply == b"bad batch", (payload, status, reply)
    status, _ = comet_call(cluster, 5, b"")  # method 5 (the PushMsgs of older builds) is gone
    assert status == -8  # GIM_ERR_NOT_FOUND: "unknown method"
