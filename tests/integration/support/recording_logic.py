"""A stand-in for logic's RPC that records what a comet asks of it.

Listens on nng rep (the wire of docs/internals.md: request = 4-byte big-endian
method id + protobuf, reply = 4-byte big-endian status + protobuf). Connect is
answered with a fixed ConnectReply and its request (server, cookie, token) is
recorded; Disconnect, Heartbeat, RenewOnline and Receive get an empty reply
(all fields default). Used where a test must see the request itself, which
the real logic does not expose.
"""

import queue
import struct
import threading

import pynng

from support.logic_wire import _field_bytes, _field_varint, _fields, _varint

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


class RecordingLogic:
    def __init__(self, port, key="recorded-key", room="live://1000", accepts=(1000,),
                 heartbeat_ns=240 * 10**9):
        self.url = "tcp://127.0.0.1:%d" % port
        self.connects = queue.Queue()
        self._reply = connect_reply(1, key, room, accepts, heartbeat_ns)
        self._sock = pynng.Rep0(listen=self.url, recv_timeout=200)
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stopping:
            try:
                request = self._sock.recv()
            except pynng.Timeout:
                continue
            except pynng.NNGException:
                return
            method = struct.unpack(">I", request[:4])[0]
            body = b""
            if method == CONNECT:
                self.connects.put(connect_req(request[4:]))
                body = self._reply
            self._sock.send(struct.pack(">i", 0) + body)

    def next_connect(self, timeout=10.0):
        """The next recorded ConnectReq (waits at most timeout seconds)."""
        return self.connects.get(timeout=timeout)

    def close(self):
        self._stopping = True
        self._thread.join(5)
        self._sock.close()
