"""A stand-in for logic's RPC that records what a comet asks of it.

Listens on nng rep (support/nng_responder.py). Connect is
answered with a fixed ConnectReply and its request (server, cookie, token) is
recorded; Disconnect, Heartbeat, RenewOnline and Receive get an empty reply
(all fields default). Used where a test must see the request itself, which
the real logic does not expose.

With gusher_public_key (a PEM), it also stands in for logic's gusher admission (RPC 106-109,
proto/dialects.proto) as docs/internals.md describes it: GusherAuth verifies the JWT (RS256,
RS384 or RS512 against the key, PyJWT; exp, nbf and iat when present) and keeps its gusher claim
60 s under a new token of 32 hex digits (refusal: an RPC error); GusherConnect redeems a token
for the path's app (TOKEN_ERROR, APPKEY_ERROR, or the claim's user_id, channels, the remotes
whose value is true, renew_seconds); GusherDisconnect and GusherHeartbeat are recorded. This
lets comet's side of gusher be tested without logic's handlers.
"""

import queue
import secrets
import time

import jwt

from support.logic_wire import _field_bytes, _field_varint, _fields, _varint
from support.nng_responder import NngResponder

CONNECT = 101
GUSHER_AUTH = 106
GUSHER_CONNECT = 107
GUSHER_DISCONNECT = 108
GUSHER_HEARTBEAT = 109

TOKEN_ERROR = 1
APPKEY_ERROR = 2


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


def _strings(data):
    """{field number: [decoded strings]} of a message of string fields."""
    fields = {}
    for number, value in _fields(data):
        fields.setdefault(number, []).append(bytes(value).decode())
    return fields


def gusher_connect_reply(status, user_id="", channels=(), remotes=(), renew_seconds=0):
    out = _field_varint(1, status)
    if user_id:
        out += _field_bytes(2, user_id.encode())
    for channel in channels:
        out += _field_bytes(3, channel.encode())
    for remote in remotes:
        out += _field_bytes(4, remote.encode())
    return out + _field_varint(5, renew_seconds)


class GusherSession:
    """One recorded GusherConnect / GusherDisconnect / GusherHeartbeat request."""

    def __init__(self, method, data):
        fields = _strings(data)
        self.method = method
        self.server = fields.get(1, [""])[0]
        self.app_key = fields.get(2, [""])[0]
        if method == GUSHER_CONNECT:
            self.token = fields.get(3, [""])[0]
            self.socket_id = fields.get(4, [""])[0]
            self.user_id = None
        else:
            self.user_id = fields.get(3, [""])[0]
            self.socket_id = fields.get(4, [""])[0]

    def __repr__(self):
        return "GusherSession(%d, %r, %r, %r)" % (self.method, self.app_key, self.user_id,
                                                 self.socket_id)


class RecordingLogic(NngResponder):
    def __init__(self, port, key="recorded-key", room="live://1000", accepts=(1000,),
                 heartbeat_ns=240 * 10**9, gusher_public_key=None, renew_seconds=600):
        self.connects = queue.Queue()
        self.gusher_calls = queue.Queue()  # GusherSession of every 107, 108, 109
        self.gusher_auths = 0
        self._gusher_key = gusher_public_key
        self._renew_seconds = renew_seconds
        self._tokens = {}  # token -> (claim, expiry on the monotonic clock)
        self._reply = connect_reply(1, key, room, accepts, heartbeat_ns)
        super().__init__(port)

    def answer(self, method, body):
        if method in (GUSHER_AUTH, GUSHER_CONNECT, GUSHER_DISCONNECT, GUSHER_HEARTBEAT):
            return self._gusher(method, body)
        if method != CONNECT:
            return b""
        self.connects.put(connect_req(body))
        return self._reply

    def _gusher(self, method, data):
        """The reply (bytes, or (status, error text)) of a gusher admission call."""
        if method == GUSHER_AUTH:
            self.gusher_auths += 1
            token = _strings(data).get(1, [""])[0]
            if self._gusher_key is None:
                return -2, b"gusher.publicKey is not set"
            try:
                claims = jwt.decode(token, self._gusher_key,
                                    algorithms=["RS256", "RS384", "RS512"],
                                    options={"verify_aud": False})
            except jwt.PyJWTError as error:
                return -2, str(error).encode()
            if not isinstance(claims.get("gusher"), dict):
                return -2, b"no gusher claim"
            handle = secrets.token_hex(16)
            self._tokens[handle] = (claims["gusher"], time.monotonic() + 60)
            return _field_bytes(1, handle.encode())
        session = GusherSession(method, data)
        self.gusher_calls.put(session)
        if method != GUSHER_CONNECT:
            return b""
        stored = self._tokens.get(session.token)
        if stored is None or stored[1] < time.monotonic():
            return gusher_connect_reply(TOKEN_ERROR)
        claim = stored[0]
        if claim.get("app_key") != session.app_key:
            return gusher_connect_reply(APPKEY_ERROR)
        remotes = sorted(name for name, on in (claim.get("remotes") or {}).items() if on is True)
        return gusher_connect_reply(0, claim.get("user_id", ""), claim.get("channels") or [],
                                    remotes, self._renew_seconds)

    def next_gusher_call(self, method, timeout=10.0):
        """The next recorded gusher call of method (others before it are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            call = self.gusher_calls.get(timeout=max(0.01, deadline - time.monotonic()))
            if call.method == method:
                return call

    def next_connect(self, timeout=10.0):
        """The next recorded ConnectReq (waits at most timeout seconds)."""
        return self.connects.get(timeout=timeout)
