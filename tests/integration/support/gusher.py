"""An independent client of logic's gusher side (gusher.cluster v1.13.8's master API
and the admission RPCs 106-109 comet calls).

JWTs are signed here with the openssl command line (never with libjwt), the
dialects.proto messages are written by hand, the RPC goes over pynng as a
comet's does, and PushMsg records are read back from Kafka with kafka-python.
Nothing here shares code with logic.
"""

import base64
import hashlib
import hmac
import json
import struct
import subprocess
import time

from support import logic_wire, presence

GUSHER_AUTH, GUSHER_CONNECT, GUSHER_DISCONNECT, GUSHER_HEARTBEAT = 106, 107, 108, 109
OK, TOKEN_ERROR, APPKEY_ERROR = 0, 1, 2
JSON_TYPE = "application/json;charset=UTF-8"
TEXT_TYPE = "text/plain; charset=utf-8"


# ---- keys and JWTs ------------------------------------------------------------------

def make_key(path):
    """An RSA private key at path and its public PEM at path + ".pub"; returns the .pub path."""
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", path], check=True, capture_output=True)
    public = path + ".pub"
    subprocess.run(["openssl", "pkey", "-in", path, "-pubout", "-out", public], check=True,
                   capture_output=True)
    return public


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signing_input(alg, claims):
    return b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "." + \
        b64(json.dumps(claims).encode())


def rs(private_path, claims, bits=256):
    """An RS256/384/512 JWT of claims signed with the key at private_path."""
    signing = _signing_input("RS%d" % bits, claims)
    signature = subprocess.run(["openssl", "dgst", "-sha%d" % bits, "-sign", private_path],
                               input=signing.encode(), check=True, capture_output=True).stdout
    return signing + "." + b64(signature)


def hs256(secret, claims):
    signing = _signing_input("HS256", claims)
    return signing + "." + b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def unsigned(claims):
    return _signing_input("none", claims) + "."


def claim(app_key, user_id="", channels=None, remotes=None, **standard):
    """A JwtPack: {"gusher": {...}} plus standard claims."""
    auth = {"app_key": app_key, "user_id": user_id}
    if channels is not None:
        auth["channels"] = channels
    if remotes is not None:
        auth["remotes"] = remotes
    body = {"gusher": auth}
    body.update(standard)
    return body


# ---- the admission RPC ------------------------------------------------------------

def _string(number, text):
    return logic_wire._field_bytes(number, text.encode() if isinstance(text, str) else text)


def rpc(port, method, payload, timeout=10.0):
    """One call to logic's RPC as comet makes it: (status, reply bytes or error text)."""
    import pynng

    with pynng.Req0(dial="tcp://127.0.0.1:%d" % port, recv_timeout=int(timeout * 1000),
                    send_timeout=int(timeout * 1000)) as sock:
        sock.send(struct.pack(">I", method) + payload)
        reply = sock.recv()
    return struct.unpack(">i", reply[:4])[0], reply[4:]


def auth(port, jwt):
    """GusherAuth: the token, or raises RuntimeError with the error text."""
    status, reply = rpc(port, GUSHER_AUTH, _string(1, jwt))
    if status != 0:
        raise RuntimeError(reply.decode("utf-8", "replace"))
    fields = dict(logic_wire._fields(reply))
    return fields.get(1, b"").decode()


def connect(port, server, app_key, token, socket_id):
    """GusherConnect: {"status", "user_id", "channels", "remotes", "renew"}."""
    payload = _string(1, server) + _string(2, app_key) + _string(3, token) + \
        _string(4, socket_id)
    status, reply = rpc(port, GUSHER_CONNECT, payload)
    if status != 0:
        raise RuntimeError(reply.decode("utf-8", "replace"))
    answer = {"status": 0, "user_id": "", "channels": [], "remotes": [], "renew": 0}
    for number, value in logic_wire._fields(reply):
        if number == 1:
            answer["status"] = value
        elif number == 2:
            answer["user_id"] = value.decode()
        elif number == 3:
            answer["channels"].append(value.decode())
        elif number == 4:
            answer["remotes"].append(value.decode())
        elif number == 5:
            answer["renew"] = value
    return answer


def session(port, method, server, app_key, user_id, socket_id):
    """GusherDisconnect / GusherHeartbeat; returns the RPC status."""
    payload = _string(1, server) + _string(2, app_key) + _string(3, user_id) + \
        _string(4, socket_id)
    return rpc(port, method, payload)[0]


# ---- presence (what a comet writes; docs/internals.md "gusher") ---------------------

def write_presence(redis, app_key, server, users=None, channels=None, members=None,
                   valid_ms=60000):
    """One comet's presence of app_key: users {user_id: sockets}, channels {channel:
    sockets}, members {channel: {user_id: sockets}}; valid_ms <= 0 writes an expired entry."""
    now_ms = presence.now_ms()
    index = "gusher/presence/%s" % app_key
    base = "%s/%s" % (index, server)
    hashes = {base + "/users": users or {}, base + "/channels": channels or {}}
    for channel, users_of in (members or {}).items():
        hashes["%s/channel/%s" % (base, channel)] = users_of
    presence.write_entry(redis, index, server, hashes, now_ms + valid_ms, now_ms)


# ---- PushMsg records ----------------------------------------------------------------

def decode_push_msg(value):
    """A PushMsg as a dict (keys is a list)."""
    out = {"type": 0, "operation": 0, "server": "", "room": "", "keys": [], "msg": b"",
           "text": False}
    names = {1: "type", 2: "operation", 4: "server", 5: "room", 7: "msg", 9: "text"}
    for number, field in logic_wire._fields(value):
        if number == 6:
            out["keys"].append(field.decode())
        elif number in (4, 5):
            out[names[number]] = field.decode()
        elif number == 9:
            out["text"] = bool(field)
        elif number in names:
            out[names[number]] = field
    return out


class RecordReader:
    """Reads a topic from its start, remembering what it saw; records arrive as
    (key bytes, decoded PushMsg)."""

    def __init__(self, kafka, topic):
        from kafka import KafkaConsumer, TopicPartition

        self.consumer = KafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
        parts = [TopicPartition(topic, p) for p in range(4)]
        self.consumer.assign(parts)
        self.consumer.seek_to_beginning(*parts)

    def until(self, done, timeout=30.0):
        """Polls until done(records read by this call) is true; returns those records."""
        records = []
        deadline = time.monotonic() + timeout
        while not done(records):
            if time.monotonic() > deadline:
                raise AssertionError("records not seen in %.0f s: got %r" % (timeout, records))
            for batch in self.consumer.poll(timeout_ms=500).values():
                for record in batch:
                    records.append((record.key, decode_push_msg(record.value)))
        return records

    def take(self, count, timeout=30.0):
        return self.until(lambda records: len(records) >= count, timeout)

    def close(self):
        self.consumer.close()
