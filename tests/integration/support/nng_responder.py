"""An nng rep socket served by a thread, the base of the stand-in daemons (recording_logic.py,
recording_comet.py).

The wire of docs/internals.md: a request is a 4-byte big-endian method id and a protobuf, a
reply a 4-byte big-endian status and a protobuf (or, with a status other than 0, an error
text). Every request is answered with what the subclass's answer(method, body) returns: the
reply's bytes (status 0), or a (status, bytes) pair. A batch (method BATCH, common/rpc.h:
gim_rpc_call_coalesced's calls that left together) is split into its calls, each answered by
answer() as if it came alone, and answered with every call's answer in order; a malformed
batch is refused whole. served(methods) runs after each request is answered, with the methods
of the calls it carried (one, or a batch's).
"""

import struct
import threading

import pynng

BATCH = 0x7FFFFF00
ERR_INVALID = -2


def split_batch(body):
    """The calls of a batch's payload, [(method, request), ...], or None when it is malformed:
    each call a 4-byte big-endian method, a 4-byte big-endian length and the request."""
    calls, at = [], 0
    while at < len(body):
        if len(body) - at < 8:
            return None
        method, length = struct.unpack(">II", body[at:at + 8])
        if method == BATCH or length > len(body) - at - 8:
            return None
        calls.append((method, body[at + 8:at + 8 + length]))
        at += 8 + length
    return calls or None


def batch_reply(answers):
    """A batch's reply payload: each (status, bytes) answer as status, length, bytes."""
    return b"".join(struct.pack(">iI", status, len(body)) + body for status, body in answers)


def _as_answer(reply):
    return reply if isinstance(reply, tuple) else (0, reply)


class NngResponder:
    def __init__(self, port):
        """Listens on 127.0.0.1:port and starts serving: set what answer() reads first."""
        self.url = "tcp://127.0.0.1:%d" % port
        self._sock = pynng.Rep0(listen=self.url, recv_timeout=200)
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def answer(self, method, body):
        """The reply's protobuf bytes for one request, or (status, bytes) (runs on the serving
        thread)."""
        raise NotImplementedError

    def served(self, methods):
        """Runs after a request is answered (on the serving thread): methods are those of the
        calls it carried. Nothing by default."""

    def _serve(self):
        while not self._stopping:
            try:
                request = self._sock.recv()
            except pynng.Timeout:
                continue
            except pynng.NNGException:
                return
            method = struct.unpack(">I", request[:4])[0]
            if method == BATCH:
                calls = split_batch(request[4:])
                if calls is None:
                    status, body, methods = ERR_INVALID, b"bad batch", []
                else:
                    answers = [_as_answer(self.answer(m, b)) for m, b in calls]
                    status, body, methods = 0, batch_reply(answers), [m for m, _ in calls]
            else:
                status, body = _as_answer(self.answer(method, request[4:]))
                methods = [method]
            self.served(methods)
            self._sock.send(struct.pack(">i", status) + body)

    def close(self):
        self._stopping = True
        self._thread.join(5)
        self._sock.close()
