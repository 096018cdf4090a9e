"""An nng rep socket served by a thread, the base of the stand-in daemons (recording_logic.py,
recording_comet.py).

The wire of docs/internals.md: a request is a 4-byte big-endian method id and a protobuf, a
reply a 4-byte big-endian status and a protobuf (or, with a status other than 0, an error
text). Every request is answered with what the subclass's answer(method, body) returns: the
reply's bytes (status 0), or a (status, bytes) pair.
"""

import struct
import threading

import pynng


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

    def _serve(self):
        while not self._stopping:
            try:
                request = self._sock.recv()
            except pynng.Timeout:
                continue
            except pynng.NNGException:
                return
            method = struct.unpack(">I", request[:4])[0]
            reply = self.answer(method, request[4:])
            status, body = reply if isinstance(reply, tuple) else (0, reply)
            self._sock.send(struct.pack(">i", status) + body)

    def close(self):
        self._stopping = True
        self._thread.join(5)
        self._sock.close()
