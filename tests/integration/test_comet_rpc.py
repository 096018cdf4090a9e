"""comet's own nng RPC, called directly as job (or any internal caller) would: the Rooms method
answers the rooms that have members on this comet, each mapped to true (goim's RoomsReply).
The wire format (common/rpc.h): request = 4-byte big-endian method id + protobuf; reply =
4-byte big-endian status + protobuf."""

import secrets
import struct

import pynng

from support.logic_wire import _fields, _read_varint, _varint
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


PUSH_MSGS = 5


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


def sint32_list(data):
    """The packed repeated sint32 field 1 of a PushMsgsReply."""
    values = []
    for number, packed in _fields(data):
        assert number == 1
        at = 0
        while at < len(packed):
            value, at = _read_varint(packed, at)
            values.append((value >> 1) ^ -(value & 1))
    return values


def test_push_msgs_delivers_each_item_and_answers_each_on_its_own(cluster):
    """PushMsgs (method 5, job's coalesced PushMsg calls): each item is delivered as its own
    PushMsg would be, and answered on its own; a malformed item fails alone."""
    clients = []
    for _ in range(2):
        c, key = cluster.client(), "k-" + secrets.token_hex(6)
        assert c.auth(mid=secrets.randbelow(10**6) + 1, key=key, accepts=[1000]).op == 8
        clients.append((c, key))
    items = [push_msg_req([clients[0][1]], 1000, b"first"),
             push_msg_req([], 1000, b"no keys: an argument error"),
             b"\xff\xff not a PushMsgReq",
             push_msg_req([clients[1][1], "k-nobody"], 1000, b"second")]
    status, reply = comet_call(cluster, PUSH_MSGS, b"".join(_bytes_field(1, i) for i in items))
    assert status == 0, reply
    assert sint32_list(reply) == [0, -2, -2, 0]
    for (c, _), body in zip(clients, (b"first", b"second")):
        frame = c.read_frame(timeout=10)
        assert (frame.op, frame.body) == (1000, body)
    status, reply = comet_call(cluster, PUSH_MSGS, b"")  # no items: nothing to answer
    assert (status, sint32_list(reply)) == (0, [])
    status, reply = comet_call(cluster, PUSH_MSGS, b"\x0a\xff")  # a truncated request
    assert status != 0
