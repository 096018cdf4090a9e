"""comet's own nng RPC, called directly as job (or any internal caller) would: the Rooms method
answers the rooms that have members on this comet, each mapped to true (goim's RoomsReply).
The wire format (common/rpc.h): request = 4-byte big-endian method id + protobuf; reply =
4-byte big-endian status + protobuf."""

import secrets
import struct

import pynng

from support.logic_wire import _fields
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
