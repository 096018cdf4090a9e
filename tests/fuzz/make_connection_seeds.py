#!/usr/bin/env python3
"""Writes the seed inputs of fuzz_comet_connection into tests/fuzz/corpus/fuzz_comet_connection.

Each seed is byte 0 (the harness's mode, see tests/fuzz/fuzz_comet_connection.c) followed by what a
client sends: a goim conversation over TCP, or over WebSocket with masked, fragmented and control
frames. Run it again after changing a seed; the files are checked in.
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_comet_connection")

TCP, WEBSOCKET, UPGRADE_BY_HARNESS = 0, 1, 2
CHUNK = {1: 0, 2: 1, 3: 2, 7: 3, 16: 4, 64: 5, 512: 6, "all": 7}
HALF_CLOSE = 0x20

HEAD = (b"GET /sub HTTP/1.1\r\nHost: seed\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
        b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\nSec-WebSocket-Version: 13\r\n"
        b"Cookie: a=b\r\n\r\n")

GOPUSHER_HEAD = HEAD.replace(b"GET /sub ", b"GET /ws/known/A%3A1?token=t%2Bk ")
GUSHER_HEAD = HEAD.replace(b"GET /sub ", b"GET /gusher/ws/TEST?token=tok ")


def gusher(event, data, **extra):
    import json
    return json.dumps(dict({"event": event, "data": data}, **extra)).encode()


GUSHER_SESSION = [gusher("gusher.subscribe", {"channel": "AA"}),
                  gusher("gusher.multi_subscribe", {"multi_channel": ["B", "C"]}),
                  gusher("gusher.querychannel", {}), gusher("gusher.ping", {"a": "<&>"}),
                  gusher("gusher.remote", {"remote": "chat", "uid": "1", "payload": "{}"},
                         debug=True),
                  gusher("gusher.remote", {"remote": "other", "uid": "2", "payload": 1}),
                  gusher("gusher.unsubscribe", {"channel": "AA"})]


def mode(transport, chunk, extra=0):
    return bytes([transport | CHUNK[chunk] << 2 | extra])


def frame(op, body=b"", seq=1, ver=1):
    return struct.pack(">IHHII", 16 + len(body), 16, ver, op, seq) + body


def ws(opcode, payload, fin=True, mask=b"\x11\x22\x33\x44"):
    first = (0x80 if fin else 0) | opcode
    n = len(payload)
    if n < 126:
        head = bytes([first, 0x80 | n])
    elif n < 65536:
        head = bytes([first, 0x80 | 126]) + struct.pack(">H", n)
    else:
        head = bytes([first, 0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


AUTH = frame(7, b'{"mid":1,"key":"k","room_id":"live://1","platform":"web","accepts":[1000]}')
SESSION = [frame(2, seq=2), frame(14, b"1001,1002", seq=3), frame(16, b"1000", seq=4),
           frame(12, b"live://2", seq=5), frame(12, b"", seq=6), frame(1000, b"up", seq=7)]

seeds = {
    "tcp_session": mode(TCP, "all") + AUTH + b"".join(SESSION),
    "tcp_session_bytewise": mode(TCP, 1, HALF_CLOSE) + AUTH + b"".join(SESSION),
    "tcp_refused": mode(TCP, "all") + frame(7, b"!no") + frame(2),
    "tcp_before_auth": mode(TCP, 7) + frame(2) + frame(1000, b"x") + AUTH + frame(2),
    "tcp_oversized": mode(TCP, "all") + AUTH + struct.pack(">IHHII", 16 + 5000, 16, 1, 2, 1),
    "ws_session": mode(WEBSOCKET, "all") + HEAD + ws(2, AUTH) + b"".join(ws(2, f) for f in SESSION),
    "ws_session_split": mode(WEBSOCKET, 3, HALF_CLOSE) + HEAD + ws(2, AUTH) +
    b"".join(ws(1, f) for f in SESSION),
    "ws_frames_only": mode(WEBSOCKET, 16, UPGRADE_BY_HARNESS) + ws(2, AUTH) + ws(9, b"ping") +
    ws(2, frame(2)) + ws(8, struct.pack(">H", 1000) + b"bye"),
    "ws_fragmented": mode(WEBSOCKET, 64, UPGRADE_BY_HARNESS) + ws(2, AUTH[:10], fin=False) +
    ws(9, b"mid") + ws(0, AUTH[10:30], fin=False) + ws(0, AUTH[30:]) + ws(2, frame(2)),
    "ws_pipelined_behind_auth": mode(WEBSOCKET, "all", UPGRADE_BY_HARNESS) + ws(2, AUTH) +
    b"".join(ws(2, f) for f in SESSION * 3),
    "ws_length_mismatch": mode(WEBSOCKET, "all", UPGRADE_BY_HARNESS) + ws(2, AUTH) +
    ws(2, frame(2) + b"extra"),
    "ws_long_message": mode(WEBSOCKET, 512, UPGRADE_BY_HARNESS) + ws(2, AUTH) +
    ws(2, frame(1000, b"z" * 4096)) + ws(2, frame(1000, b"z" * 4097)),
    "ws_bad_upgrade": mode(WEBSOCKET, "all") + HEAD.replace(b"13", b"8") + ws(2, AUTH),
    "ws_unmasked": mode(WEBSOCKET, "all", UPGRADE_BY_HARNESS) + bytes([0x82, len(AUTH)]) + AUTH,
    # gopusher's route: admitted by the stand-in logic for app "known", refused for others
    "gopusher_session": mode(WEBSOCKET, "all") + GOPUSHER_HEAD + ws(1, b"hello") +
    ws(9, b"ping") + ws(1, b"x" * 600),
    "gopusher_unknown_app": mode(WEBSOCKET, 7) + GOPUSHER_HEAD.replace(b"known", b"other"),
    "gopusher_http_post": mode(WEBSOCKET, "all") +
    b"POST /ws/known/t HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    # gusher's routes: the stand-in logic admits token "tok" of app "TEST" with channels ["*"]
    "gusher_session": mode(WEBSOCKET, "all") + GUSHER_HEAD +
    b"".join(ws(1, m) for m in GUSHER_SESSION) + ws(10, b"") + ws(1, b"x" * 600),
    "gusher_session_split": mode(WEBSOCKET, 7, HALF_CLOSE) + GUSHER_HEAD +
    b"".join(ws(1, m) for m in GUSHER_SESSION) + ws(1, b'{"event":"gusher.login","data":{}}'),
    "gusher_bad_token": mode(WEBSOCKET, "all") + GUSHER_HEAD.replace(b"tok ", b"bad "),
    "gusher_auth": mode(WEBSOCKET, "all") +
    b"POST /gusher/auth HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 9\r\n\r\njwt=a.b.c",
    "gusher_ping": mode(WEBSOCKET, "all") + b"GET /gusher/ping HTTP/1.1\r\nHost: x\r\n\r\n",
}

os.makedirs(OUT, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
print("%d seeds in %s" % (len(seeds), OUT))
