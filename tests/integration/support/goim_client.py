"""An independent goim v2 client for goim-c's integration tests.

Written from the protocol description (shared reference, section 2), not from
the C code. Two layers, so a WebSocket client can reuse the first:

* the codec: Frame, encode(), decode_header(), FrameDecoder (incremental,
  for byte streams), split_frames() (walks concatenated frames, e.g. the body
  of a WebSocket OpRaw message);
* the client: Client implements the goim conversation (auth, heartbeat,
  reading pushes, expecting a close) on top of two transport primitives,
  send_frame() and _recv_frame(); TcpClient provides them over a TCP socket.

Frame layout (all big-endian): int32 packet length (16 + body), int16 header
length (16), int16 ver, int32 op, int32 seq, then the body.

    from support.goim_client import connect, OP_AUTH_REPLY

    c = connect("127.0.0.1", 3101)
    reply = c.auth(mid=123, key="k1", accepts=[1000])
    online = c.heartbeat()
    push = c.read_frame(timeout=30)     # Frame(op=1000, seq=0, body=b"...")
    c.close()
"""

import collections
import json
import socket
import struct
import time
from dataclasses import dataclass

# ---- protocol constants -----------------------------------------------------

HEADER_LEN = 16
MAX_CLIENT_BODY = 4096
_HEADER = struct.Struct(">ihhii")  # pack len, header len, ver, op, seq

OP_HANDSHAKE = 0
OP_HANDSHAKE_REPLY = 1
OP_HEARTBEAT = 2
OP_HEARTBEAT_REPLY = 3
OP_SEND_MSG = 4
OP_SEND_MSG_REPLY = 5
OP_DISCONNECT_REPLY = 6
OP_AUTH = 7
OP_AUTH_REPLY = 8
OP_RAW = 9
OP_CHANGE_ROOM = 12
OP_CHANGE_ROOM_REPLY = 13
OP_SUB = 14
OP_SUB_REPLY = 15
OP_UNSUB = 16
OP_UNSUB_REPLY = 17


class ProtocolError(Exception):
    """Bytes that are not a valid goim frame, or a reply that breaks the protocol."""


class ConnectionClosed(Exception):
    """The server closed the connection (EOF or reset)."""


# ---- codec --------------------------------------------------------------------

@dataclass
class Frame:
    op: int
    body: bytes = b""
    ver: int = 1
    seq: int = 0

    def __repr__(self):
        body = self.body if len(self.body) <= 64 else self.body[:64] + b"..."
        return "Frame(op=%d, ver=%d, seq=%d, body=%r [%d bytes])" % (
            self.op, self.ver, self.seq, body, len(self.body))


def encode(frame_or_op, body=b"", ver=1, seq=0, header_len=HEADER_LEN, pack_len=None):
    """Serialise one frame. Accepts a Frame or (op, body, ver, seq).

    header_len / pack_len may be forced to build malformed frames on purpose.
    """
    if isinstance(frame_or_op, Frame):
        f = frame_or_op
        op, body, ver, seq = f.op, f.body, f.ver, f.seq
    else:
        op = frame_or_op
    body = bytes(body)
    if pack_len is None:
        pack_len = HEADER_LEN + len(body)
    return _HEADER.pack(pack_len, header_len, ver, op, seq) + body


def decode_header(data):
    """(pack_len, header_len, ver, op, seq) from the first 16 bytes of data."""
    if len(data) < HEADER_LEN:
        raise ProtocolError("short header: %d bytes" % len(data))
    return _HEADER.unpack_from(data, 0)


def _check_header(pack_len, header_len):
    if header_len != HEADER_LEN:
        raise ProtocolError("header length %d, want %d" % (header_len, HEADER_LEN))
    if pack_len < HEADER_LEN:
        raise ProtocolError("packet length %d < header length" % pack_len)


def decode(data):
    """Decode exactly one frame occupying all of data."""
    frames, rest = split_frames(data)
    if len(frames) != 1 or rest:
        raise ProtocolError("expected exactly one frame, got %d frame(s) and %d trailing bytes"
                            % (len(frames), len(rest)))
    return frames[0]


def split_frames(data):
    """Walk back-to-back frames in data: returns (frames, leftover_bytes)."""
    frames = []
    data = bytes(data)
    pos = 0
    while len(data) - pos >= HEADER_LEN:
        pack_len, header_len, ver, op, seq = _HEADER.unpack_from(data, pos)
        _check_header(pack_len, header_len)
        if len(data) - pos < pack_len:
            break
        frames.append(Frame(op=op, body=data[pos + HEADER_LEN:pos + pack_len], ver=ver, seq=seq))
        pos += pack_len
    return frames, data[pos:]


class FrameDecoder:
    """Incremental decoder for a byte stream (TCP)."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data):
        """Add bytes; return the list of frames now complete (maybe empty)."""
        self._buf += data
        frames, rest = split_frames(self._buf)
        self._buf = bytearray(rest)
        return frames

    @property
    def pending(self):
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)


def auth_body(mid, key="", room_id="", platform="ios", accepts=(1000,)):
    """The op-7 JSON body (fields as in goim's examples)."""
    return json.dumps({"mid": mid, "key": key, "room_id": room_id,
                       "platform": platform, "accepts": list(accepts)}).encode()


# ---- client -------------------------------------------------------------------

class Client:
    """The goim conversation, independent of the transport.

    Subclasses implement send_bytes(data), _recv_frame(timeout) (returning one
    Frame, raising TimeoutError or ConnectionClosed) and close(). Frames that
    arrive while a helper waits for a specific reply (e.g. a push during a
    heartbeat) are kept and returned later by read_frame(), in order.
    """

    default_timeout = 10.0

    def __init__(self):
        self._pending = collections.deque()
        self._next_seq = 1

    # transport primitives -------------------------------------------------
    def send_bytes(self, data):
        raise NotImplementedError

    def _recv_frame(self, timeout):
        raise NotImplementedError

    def close(self):
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # frames -------------------------------------------------------------------
    def next_seq(self):
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def send_frame(self, op, body=b"", ver=1, seq=None):
        """Send one frame; returns the seq used (a fresh one when seq is None)."""
        if seq is None:
            seq = self.next_seq()
        self.send_bytes(encode(op, body, ver=ver, seq=seq))
        return seq

    def read_frame(self, timeout=None):
        """Next frame from the server. Raises TimeoutError / ConnectionClosed."""
        if self._pending:
            return self._pending.popleft()
        return self._recv_frame(self.default_timeout if timeout is None else timeout)

    def read_reply(self, op, seq, timeout=None):
        """Wait for the frame with this op and seq; other frames are kept for read_frame()."""
        deadline = time.monotonic() + (self.default_timeout if timeout is None else timeout)
        skipped = []
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no reply op %d seq %d (skipped %r)" % (op, seq, skipped))
                f = self._recv_frame(remaining)
                if f.op == op and f.seq == seq:
                    return f
                skipped.append(f)
        finally:
            self._pending.extend(skipped)

    def auth(self, mid, key="", room_id="", platform="ios", accepts=(1000,), ver=1, seq=None,
             timeout=None):
        """Send op 7 with the JSON body; return the op-8 reply frame.

        The first frame the server sends after an auth must be its reply, so
        anything else raises ProtocolError; a close raises ConnectionClosed.
        """
        body = auth_body(mid, key=key, room_id=room_id, platform=platform, accepts=accepts)
        seq = self.send_frame(OP_AUTH, body, ver=ver, seq=seq)
        reply = self.read_frame(timeout)
        if reply.op != OP_AUTH_REPLY:
            raise ProtocolError("auth (seq %d): expected op 8, got %r" % (seq, reply))
        return reply

    def heartbeat(self, seq=None, timeout=None):
        """Send op 2; return the int32 of the op-3 reply body (room online count)."""
        seq = self.send_frame(OP_HEARTBEAT, b"", seq=seq)
        reply = self.read_reply(OP_HEARTBEAT_REPLY, seq, timeout)
        if len(reply.body) != 4:
            raise ProtocolError("heartbeat reply body has %d bytes, want 4: %r"
                                % (len(reply.body), reply))
        return struct.unpack(">i", reply.body)[0]

    def expect_closed(self, timeout=None):
        """Assert that the server closes the connection without sending any frame.

        Returns True; raises AssertionError if a frame arrives or the
        connection is still open after timeout.
        """
        if self._pending:
            raise AssertionError("expected close, but frames are pending: %r" % list(self._pending))
        timeout = self.default_timeout if timeout is None else timeout
        try:
            f = self._recv_frame(timeout)
        except ConnectionClosed:
            return True
        except TimeoutError:
            raise AssertionError("connection still open after %ss" % timeout) from None
        raise AssertionError("expected close, got frame %r" % f)

    def expect_no_frame(self, timeout):
        """Assert that nothing arrives within timeout (connection may stay open)."""
        try:
            f = self.read_frame(timeout)
        except TimeoutError:
            return
        raise AssertionError("expected no frame, got %r" % f)


class TcpClient(Client):
    """goim over a plain TCP stream."""

    def __init__(self, sock):
        super().__init__()
        self.sock = sock
        self._decoder = FrameDecoder()
        self._frames = collections.deque()
        self._closed = False  # by the peer
        self.local_addr = sock.getsockname()

    @classmethod
    def connect(cls, host, port, timeout=10.0):
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(sock)

    def send_bytes(self, data):
        self.sock.sendall(data)

    def _recv_frame(self, timeout):
        deadline = time.monotonic() + timeout
        while not self._frames:
            if self._closed:
                raise ConnectionClosed("server closed the connection (%d bytes of a partial frame)"
                                       % self._decoder.pending)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame within %.1fs" % timeout)
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError("no frame within %.1fs" % timeout) from None
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            if not data:
                self._closed = True
                continue
            self._frames.extend(self._decoder.feed(data))
        return self._frames.popleft()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def connect(host, port, timeout=10.0):
    """A TcpClient connected to a comet's TCP port."""
    return TcpClient.connect(host, port, timeout=timeout)


def _main():
    """A command-line client for trying a running cluster (`make run`): authenticates, then
    prints every frame it receives and sends a heartbeat every 30 seconds. Standard library only.

        python3 tests/integration/support/goim_client.py --mid 123
    """
    import argparse

    parser = argparse.ArgumentParser(description="goim TCP client: authenticate, print pushes")
    parser.add_argument("--addr", default="127.0.0.1:3101", help="comet TCP address")
    parser.add_argument("--mid", type=int, default=123)
    parser.add_argument("--key", default="")
    parser.add_argument("--room", default="live://1000", help="room key, e.g. live://1000")
    parser.add_argument("--accepts", default="1000,1001,1002", help="comma-separated ops")
    arguments = parser.parse_args()
    host, _, port = arguments.addr.rpartition(":")
    accepts = [int(op) for op in arguments.accepts.split(",") if op]
    client = connect(host or "127.0.0.1", int(port))
    client.auth(mid=arguments.mid, key=arguments.key, room_id=arguments.room, accepts=accepts)
    print(f"authenticated as mid {arguments.mid} in {arguments.room!r}, accepting {accepts}",
          flush=True)
    next_heartbeat = time.monotonic() + 30
    while True:
        try:
            frame = client.read_frame(timeout=max(0.1, next_heartbeat - time.monotonic()))
        except ConnectionClosed:
            print("connection closed by the server")
            return
        except (socket.timeout, TimeoutError):
            frame = None
        if frame is not None:
            print(f"op={frame.op} seq={frame.seq} body={frame.body!r}", flush=True)
        if time.monotonic() >= next_heartbeat:
            client.send_frame(OP_HEARTBEAT)
            next_heartbeat = time.monotonic() + 30


if __name__ == "__main__":
    _main()
