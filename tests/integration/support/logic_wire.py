"""Hand-written protobuf for the logic integration tests (no generated code).

Encodes goim's PushMsg and OnlineReq and decodes OnlineReply
(proto/logic.proto field numbers), and calls logic's nng RPC the way a comet
does: request = 4-byte big-endian method id + protobuf, reply = 4-byte
big-endian status + protobuf or error text (docs/internals.md).
"""

import struct

PUSH, ROOM, BROADCAST = 0, 1, 2
RENEW_ONLINE = 104


def _varint(value):
    value &= (1 << 64) - 1  # negative int32 -> 10-byte two's complement, as protobuf
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(number, value):
    return _varint(number << 3) + _varint(value) if value else b""


def _field_bytes(number, data):
    if isinstance(data, str):
        data = data.encode()
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def push_msg(type_, operation, speed=0, server="", room="", keys=(), msg=b""):
    out = _field_varint(1, type_) + _field_varint(2, operation) + _field_varint(3, speed)
    if server:
        out += _field_bytes(4, server)
    if room:
        out += _field_bytes(5, room)
    for key in keys:
        out += _field_bytes(6, key)
    if msg:
        out += _field_bytes(7, msg)
    return out


def online_req(server, room_count):
    out = _field_bytes(1, server)
    for room, count in room_count.items():
        out += _field_bytes(2, _field_bytes(1, room) + _field_varint(2, count))
    return out


def _read_varint(data, pos):
    shift = value = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(data):
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        else:
            raise ValueError("unexpected wire type %d" % wire)
        yield number, value


def online_reply(data):
    """{room: count} of an OnlineReply."""
    rooms = {}
    for number, entry in _fields(data):
        if number != 1:
            continue
        room, count = "", 0
        for inner, value in _fields(entry):
            if inner == 1:
                room = value.decode()
            elif inner == 2:
                count = value - (1 << 64) if value >= 1 << 63 else value
        rooms[room] = count
    return rooms


def renew_online(logic_rpc_port, server, room_count, timeout=5.0):
    """RenewOnline as a comet calls it; returns the reply's allRoomCount."""
    import pynng

    with pynng.Req0(dial="tcp://127.0.0.1:%d" % logic_rpc_port, recv_timeout=int(timeout * 1000),
                    send_timeout=int(timeout * 1000)) as sock:
        sock.send(struct.pack(">I", RENEW_ONLINE) + online_req(server, room_count))
        reply = sock.recv()
    status = struct.unpack(">i", reply[:4])[0]
    if status != 0:
        raise RuntimeError("RenewOnline failed: status %d: %r" % (status, reply[4:]))
    return online_reply(reply[4:])
