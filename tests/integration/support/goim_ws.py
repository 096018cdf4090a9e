"""A minimal, independent RFC 6455 WebSocket client speaking goim (tests only).

Written from RFC 6455 and the goim reference (section 2.7), not from the C
code. It does what a browser does: GET /sub with a random Sec-WebSocket-Key,
checks Sec-WebSocket-Accept, masks every frame it sends, and sends one goim
frame per binary message. Received binary messages are goim frames; an op-9
(OpRaw) message is unwrapped into its inner frames (split_frames from offset
16), as goim's JavaScript client does.

    c = WsClient.connect("127.0.0.1", port)               # or tls=True for WSS
    c.auth(mid=1, accepts=[1000])
"""

import base64
import collections
import hashlib
import os
import socket
import ssl
import struct
import time

from .goim_client import OP_RAW, Client, ConnectionClosed, ProtocolError, decode, split_frames

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OPCODE_CONTINUATION = 0x0
OPCODE_TEXT = 0x1
OPCODE_BINARY = 0x2
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9
OPCODE_PONG = 0xA


def encode_ws_frame(opcode, payload, fin=True, mask=True):
    """One client frame (masked unless mask=False)."""
    payload = bytes(payload)
    head = bytearray([(0x80 if fin else 0) | opcode])
    bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head.append(bit | n)
    elif n <= 0xFFFF:
        head.append(bit | 126)
        head += struct.pack(">H", n)
    else:
        head.append(bit | 127)
        head += struct.pack(">Q", n)
    if not mask:
        return bytes(head) + payload
    key = os.urandom(4)
    return bytes(head) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def upgrade_request(host, port, path="/sub", key=None, headers=None, method="GET"):
    """The bytes of an upgrade request; headers (dict) override/add fields (None drops one)."""
    fields = collections.OrderedDict([
        ("Host", "%s:%d" % (host, port)),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key if key is not None else base64.b64encode(os.urandom(16)).decode()),
        ("Sec-WebSocket-Version", "13"),
    ])
    for name, value in (headers or {}).items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    lines = ["%s %s HTTP/1.1" % (method, path)] + ["%s: %s" % kv for kv in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def open_socket(host, port, tls=False, timeout=10.0):
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the tests' self-signed certificate
        sock = context.wrap_socket(sock, server_hostname=host)
    return sock


def read_http_head(sock, timeout=10.0):
    """Reads an HTTP response head; returns (status, headers dict lower-case, rest bytes).

    Raises ConnectionClosed if the server closes first."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(4096)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            raise ConnectionClosed("closed before a complete HTTP head: %r" % data)
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


class WsClient(Client):
    """goim over WebSocket: one goim frame per binary message."""

    def __init__(self, sock, rest=b""):
        super().__init__()
        self.sock = sock
        self._buf = bytearray(rest)
        self._frames = collections.deque()
        self._closed = False
        self.close_code = None
        self.local_addr = sock.getsockname()

    @classmethod
    def connect(cls, host, port, tls=False, timeout=10.0, path="/sub", headers=None):
        """Upgrades a new socket; headers (dict) are extra request header fields."""
        sock = open_socket(host, port, tls=tls, timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(upgrade_request(host, port, path=path, key=key, headers=headers))
        status, headers, rest = read_http_head(sock, timeout)
        if status != 101:
            raise ProtocolError("upgrade answered %d" % status)
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            raise ProtocolError("bad Sec-WebSocket-Accept %r" % headers.get("sec-websocket-accept"))
        return cls(sock, rest)

    # transport primitives ------------------------------------------------------
    def send_bytes(self, data, opcode=OPCODE_BINARY):
        """One goim frame (or any bytes) as one masked message."""
        self.sock.sendall(encode_ws_frame(opcode, data))

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no WebSocket frame in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no WebSocket frame in time") from None
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            data = b""
        if not data:
            self._closed = True
            raise ConnectionClosed("server closed the connection")
        self._buf += data

    def _take_ws_frame(self):
        """(fin, opcode, payload) of the next complete frame in the buffer, or None."""
        b = self._buf
        if len(b) < 2:
            return None
        fin, opcode = bool(b[0] & 0x80), b[0] & 0x0F
        masked, n, pos = bool(b[1] & 0x80), b[1] & 0x7F, 2
        if masked:
            raise ProtocolError("server frames must not be masked")
        if n == 126:
            if len(b) < 4:
                return None
            n, pos = struct.unpack_from(">H", b, 2)[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, pos = struct.unpack_from(">Q", b, 2)[0], 10
        if len(b) < pos + n:
            return None
        payload = bytes(b[pos:pos + n])
        del b[:pos + n]
        return fin, opcode, payload

    def recv_message(self, timeout):
        """Next data message as (opcode, payload); answers pings; close -> ConnectionClosed."""
        deadline = time.monotonic() + timeout
        parts, first = [], None
        while True:
            if self._closed and not self._buf:
                raise ConnectionClosed("server closed the connection")
            got = self._take_ws_frame()
            if got is None:
                self._fill(deadline)
                continue
            fin, opcode, payload = got
            if opcode == OPCODE_CLOSE:
                self.close_code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else None
                self._closed = True
                raise ConnectionClosed("close frame %r" % self.close_code)
            if opcode == OPCODE_PING:
                self.send_bytes(payload, OPCODE_PONG)
                continue
            if opcode == OPCODE_PONG:
                return opcode, payload
            if first is None:
                first = opcode
            parts.append(payload)
            if fin:
                return first, b"".join(parts)

    def _recv_frame(self, timeout):
        while not self._frames:
            opcode, payload = self.recv_message(timeout)
            if opcode == OPCODE_PONG:
                continue
            if opcode != OPCODE_BINARY:
                raise ProtocolError("server sent opcode %d, want binary" % opcode)
            frame = decode(payload)
            if frame.op == OP_RAW:
                inner, rest = split_frames(frame.body)
                if rest:
                    raise ProtocolError("op 9 body has %d trailing bytes" % len(rest))
                self._frames.extend(inner)
            else:
                self._frames.append(frame)
        return self._frames.popleft()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
