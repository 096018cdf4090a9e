"""A stand-in for logic's RPC that records what a comet asks of it.

Listens on nng rep (support/nng_responder.py). Connect is
answered with a fixed ConnectReply and its request (server, cookie, token) is
recorded; Disconnect, Heartbeat, RenewOnline and Receive get an empty reply
(all fields default). Used where a test must see the request itself, which
the real logic does not expose.
"""

import queue

from support.logic_wire import _field_bytes, _field_varint, _fields, _varint
from support.nng_responder import NngResponder

CONNECT = 101


def connect_reply(mid, key, room, accepts, heartbeat_ns):
    out = _field_varint(1, mid) + _field_bytes(2, key) + _field_bytes(3, room)
    packed = b"".join(_varint(op) for op in accepts)
    if packed:
        out += _field_bytes(4, packed)
    return out + _field_varint(5, heartbeat_ns)


def connect_req(data):
    """{"server": str, "cookie": str, "token": bytes} of a ConnectReq."""
    fields = {"server": "", "cookie": "", "token": b""}
    for number, value in _fields(data):
        if number == 1:
            fields["server"] = value.decode()
        elif number == 2:
            fields["cookie"] = value.decode()
        elif number == 3:
            fields["token"] = bytes(value)
    return fields


class RecordingLogic(NngResponder):
    def __init__(self, port, key="recorded-key", room="live://1000", accepts=(1000,),
                 heartbeat_ns=240 * 10**9):
        self.connects = queue.Queue()
        self._reply = connect_reply(1, key, room, accepts, heartbeat_ns)
        super().__init__(port)

    def answer(self, method, body):
        if method != CONNECT:
            return b""
        self.connects.put(connect_req(body))
        return self._reply

    def next_connect(self, timeout=10.0):
        """The next recorded ConnectReq (waits at most timeout seconds)."""
        return self.connects.get(timeout=timeout)
