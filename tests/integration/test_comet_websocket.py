"""comet over TCP and WebSocket (/sub), and WSS: the goim conversation, pushes (op-9 wrapping on
WebSocket), filtering, limits, bad upgrades and deadlines. Each behaviour that exists on both
transports runs on both (parametrized)."""

import socket
import struct
import subprocess
import time

import pytest

from support.goim_client import (OP_AUTH, OP_CHANGE_ROOM, OP_CHANGE_ROOM_REPLY, OP_HEARTBEAT,
                                 OP_RAW, OP_SEND_MSG, OP_SUB, OP_SUB_REPLY, OP_UNSUB,
                                 OP_UNSUB_REPLY, ConnectionClosed, TcpClient, auth_body, encode)
from support.goim_ws import (OPCODE_BINARY, OPCODE_CLOSE, OPCODE_CONTINUATION, OPCODE_PING,
                             OPCODE_PONG, WsClient, encode_ws_frame, open_socket,
                             read_http_head, upgrade_request)

TRANSPORTS = ["tcp", "ws"]


def open_client(cluster, transport, comet=0):
    d = cluster.comets[comet]
    if transport == "tcp":
        c = TcpClient.connect("127.0.0.1", d.tcp_port)
    elif transport == "ws":
        c = WsClient.connect("127.0.0.1", d.ws_port)
    else:
        c = WsClient.connect("127.0.0.1", d.wss_port, tls=True)
    cluster.clients.append(c)
    return c


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_auth_heartbeat_change_room_and_room_push(cluster, transport):
    c = open_client(cluster, transport)
    reply = c.auth(mid=11, key="k-room-%s" % transport, room_id="live://77", accepts=[1000], seq=5)
    assert reply.seq == 5 and reply.body == b""
    assert c.heartbeat() == 1  # alone in live://77 on this comet
    seq = c.send_frame(OP_CHANGE_ROOM, b"live://78")
    assert c.read_reply(OP_CHANGE_ROOM_REPLY, seq).body == b"live://78"
    cluster.ensure_push_path()
    status, answer = cluster.push_room(1000, "live", "78", b"to the room")
    assert status == 200 and answer["code"] == 0, answer
    f = c.read_frame(timeout=30)
    assert (f.op, f.body) == (1000, b"to the room")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_sub_unsub_filters_key_pushes(cluster, transport):
    c = open_client(cluster, transport)
    c.auth(mid=12, key="k-sub-%s" % transport, accepts=[1000])
    seq = c.send_frame(OP_SUB, b"1001,1002")
    assert c.read_reply(OP_SUB_REPLY, seq).body == b"1001,1002"
    seq = c.send_frame(OP_UNSUB, b"1000")
    assert c.read_reply(OP_UNSUB_REPLY, seq).body == b"1000"
    cluster.ensure_push_path()
    key = "k-sub-%s" % transport
    for op, body in ((1000, b"filtered"), (1001, b"wanted")):
        status, answer = cluster.push_keys(op, [key], body)
        assert status == 200 and answer["code"] == 0, answer
    f = c.read_frame(timeout=30)
    assert (f.op, f.body) == (1001, b"wanted")
    c.expect_no_frame(1.0)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_other_operation_is_answered_with_same_op(cluster, transport):
    c = open_client(cluster, transport)
    c.auth(mid=13, accepts=[1000])
    seq = c.send_frame(OP_SEND_MSG, b"hello logic")
    f = c.read_reply(OP_SEND_MSG, seq)
    assert f.body == b""


@pytest.mark.cluster_args(comet=["-protocol.handshakeTimeout", "1s"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_handshake_timeout_closes(cluster, transport):
    c = open_client(cluster, transport)
    c.expect_closed(timeout=10)


@pytest.mark.cluster_args(logic=["-node.heartbeat", "1s", "-node.heartbeatMax", "2"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_heartbeat_timeout_closes_and_disconnects(cluster, transport):
    c = open_client(cluster, transport)
    c.auth(mid=14, key="k-hb-%s" % transport, accepts=[1000])
    assert cluster.redis.exists("key_k-hb-%s" % transport)
    c.heartbeat()  # re-arms the 2 s deadline once
    c.expect_closed(timeout=15)
    deadline = time.monotonic() + 10
    while cluster.redis.exists("key_k-hb-%s" % transport) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not cluster.redis.exists("key_k-hb-%s" % transport), "Disconnect did not reach logic"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_duplicate_key_closes_older_connection(cluster, transport):
    first = open_client(cluster, transport)
    first.auth(mid=15, key="k-dup", accepts=[1000])
    second = open_client(cluster, transport)
    second.auth(mid=15, key="k-dup", accepts=[1000])
    first.expect_closed(timeout=10)
    assert second.heartbeat() == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_oversized_frame_closes(cluster, transport):
    c = open_client(cluster, transport)
    c.auth(mid=16, accepts=[1000])
    c.send_bytes(encode(OP_SEND_MSG, b"x" * 4097))
    c.expect_closed(timeout=10)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_bad_header_length_closes(cluster, transport):
    c = open_client(cluster, transport)
    c.auth(mid=17, accepts=[1000])
    c.send_bytes(encode(OP_HEARTBEAT, b"", header_len=20))
    c.expect_closed(timeout=10)


def test_websocket_packet_length_must_match_message(cluster):
    c = open_client(cluster, "ws")
    c.auth(mid=18, accepts=[1000])
    # a heartbeat header followed by 4 stray bytes in the same message: goim ignores them, we close
    c.send_bytes(encode(OP_HEARTBEAT, b"") + b"junk")
    c.expect_closed(timeout=10)


def test_websocket_message_too_short_closes(cluster):
    c = open_client(cluster, "ws")
    c.auth(mid=19, accepts=[1000])
    c.send_bytes(b"\x00\x00\x00\x10")
    c.expect_closed(timeout=10)


def test_websocket_fragmented_text_ping_and_close(cluster):
    c = open_client(cluster, "ws")
    body = auth_body(20, key="k-frag", accepts=[1000])
    frame = encode(OP_AUTH, body, seq=3)
    # the auth frame in three fragments, a ping in the middle (control frames may interleave)
    c.send_raw(encode_ws_frame(0x1, frame[:10], fin=False))
    c.send_raw(encode_ws_frame(OPCODE_PING, b"are you there"))
    c.send_raw(encode_ws_frame(OPCODE_CONTINUATION, frame[10:30], fin=False))
    c.send_raw(encode_ws_frame(OPCODE_CONTINUATION, frame[30:], fin=True))
    opcode, payload = c.recv_message(10)
    assert (opcode, payload) == (OPCODE_PONG, b"are you there")
    f = c.read_frame()
    assert (f.op, f.seq) == (8, 3)
    c.send_raw(encode_ws_frame(OPCODE_CLOSE, struct.pack(">H", 1000)))
    with pytest.raises(ConnectionClosed):
        c.recv_message(10)
    assert c.close_code == 1000


def test_websocket_frames_split_over_many_reads(cluster):
    """comet parses frame boundaries itself and gives wslay whole frames: a fragmented message
    whose pieces arrive in separate reads (a ping between them), a frame sent one byte at a time,
    and frames pipelined behind the auth in one write are all answered, in order."""
    c = open_client(cluster, "ws")
    frames = encode(OP_AUTH, auth_body(23, key="k-split", accepts=[1000]), seq=1)
    frames += encode(OP_HEARTBEAT, b"", seq=2) + encode(OP_SUB, b"1001", seq=3)
    c.send_raw(b"".join(encode_ws_frame(OPCODE_BINARY, frames[at:at + length]) for at, length in
                        ((0, len(frames) - 36), (len(frames) - 36, 16), (len(frames) - 20, 20))))
    assert [(f.op, f.seq) for f in (c.read_frame(), c.read_frame(), c.read_frame())] == \
        [(8, 1), (3, 2), (OP_SUB_REPLY, 3)]
    heartbeat = encode(OP_HEARTBEAT, b"", seq=4)
    c.send_raw(encode_ws_frame(OPCODE_BINARY, heartbeat[:5], fin=False))
    time.sleep(0.2)
    c.send_raw(encode_ws_frame(OPCODE_PING, b"between reads"))
    time.sleep(0.2)
    c.send_raw(encode_ws_frame(OPCODE_CONTINUATION, heartbeat[5:], fin=True))
    assert c.recv_message(10) == (OPCODE_PONG, b"between reads")
    f = c.read_frame()
    assert (f.op, f.seq) == (3, 4)
    for byte in encode_ws_frame(OPCODE_BINARY, encode(OP_HEARTBEAT, b"", seq=5)):
        c.send_raw(bytes([byte]))
        time.sleep(0.01)
    f = c.read_frame()
    assert (f.op, f.seq) == (3, 5)


@pytest.mark.parametrize("header, code", [
    (b"\x82\xfe\x13\x88" + b"\x01\x02\x03\x04", 1009),  # announces 5000 bytes
    (b"\xc2\x80", 1002),  # a reserved bit, before its mask key has arrived
])
def test_websocket_bad_frame_header_is_refused_before_its_payload(cluster, header, code):
    """A frame is refused by its header alone: the rest never needs to arrive, and what follows
    (here a valid heartbeat) is not answered."""
    c = open_client(cluster, "ws")
    c.auth(mid=24, accepts=[1000])
    c.send_raw(header)
    time.sleep(0.3)
    c.send_bytes(encode(OP_HEARTBEAT, b"", seq=77))
    with pytest.raises(ConnectionClosed):
        c.read_frame(timeout=10)
    assert c.close_code == code


def test_stopping_comet_sends_websocket_clients_going_away(cluster):
    c = open_client(cluster, "ws")
    c.auth(mid=25, accepts=[1000])
    assert cluster.stop("comet") == 0
    with pytest.raises(ConnectionClosed):
        c.read_frame(timeout=10)
    assert c.close_code == 1001


def test_websocket_unmasked_client_frame_is_refused(cluster):
    c = open_client(cluster, "ws")
    c.send_raw(encode_ws_frame(OPCODE_BINARY, encode(OP_AUTH, auth_body(21)), mask=False))
    with pytest.raises(ConnectionClosed):
        c.read_frame(timeout=10)


def test_websocket_message_over_limit_is_refused(cluster):
    c = open_client(cluster, "ws")
    c.auth(mid=22, accepts=[1000])
    c.send_raw(encode_ws_frame(OPCODE_BINARY, b"\x00" * 5000))
    with pytest.raises(ConnectionClosed):
        c.read_frame(timeout=10)


BAD_UPGRADES = {
    "post": dict(method="POST"),
    "path": dict(path="/other"),
    "query": dict(path="/sub?x=1"),
    "version": dict(headers={"Sec-WebSocket-Version": "8"}),
    "no-upgrade": dict(headers={"Upgrade": None}),
    "upgrade-not-websocket": dict(headers={"Upgrade": "h2c"}),
    "connection": dict(headers={"Connection": "keep-alive"}),
    "empty-key": dict(key=""),
    "no-key": dict(headers={"Sec-WebSocket-Key": None}),
    "huge-head": dict(headers={"X-Padding": "p" * 5000}),
}


@pytest.mark.parametrize("case", sorted(BAD_UPGRADES))
def test_bad_upgrade_is_400_and_closed(cluster, case):
    port = cluster.comet.ws_port
    sock = open_socket("127.0.0.1", port)
    try:
        sock.sendall(upgrade_request("127.0.0.1", port, **BAD_UPGRADES[case]))
        status, _, _ = read_http_head(sock)
        assert status == 400
        sock.settimeout(10)
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass
    finally:
        sock.close()


def test_upgrade_with_keep_alive_connection_list_is_accepted(cluster):
    port = cluster.comet.ws_port
    sock = open_socket("127.0.0.1", port)
    try:
        sock.sendall(upgrade_request("127.0.0.1", port,
                                     headers={"Connection": "keep-alive, Upgrade"}))
        status, headers, _ = read_http_head(sock)
        assert status == 101 and headers["upgrade"].lower() == "websocket"
    finally:
        sock.close()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_push_mids_op9_wrapping(cluster, transport):
    c = open_client(cluster, transport)
    c.auth(mid=23, key="k-raw-%s" % transport, accepts=[1000])
    cluster.ensure_push_path()
    status, answer = cluster.push_mids(1000, [23], b"raw push")
    assert status == 200 and answer["code"] == 0, answer
    if transport == "tcp":
        f = c.read_frame(timeout=30)
        assert (f.op, f.body) == (1000, b"raw push")
        return
    # the raw message: one binary message = op-9 header + the inner frame
    opcode, payload = c.recv_message(30)
    assert opcode == OPCODE_BINARY
    inner = encode(1000, b"raw push", ver=1, seq=0)
    assert payload == struct.pack(">ihhii", 16 + len(inner), 16, 1, OP_RAW, 0) + inner


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def start_wss_cluster(make_cluster, certificate, comet_args=()):
    from support.util import free_port
    port = free_port()
    c = make_cluster(extra_args={"comet": ["-websocket.tlsOpen", "true",
                                           "-websocket.tlsBind", "127.0.0.1:%d" % port,
                                           "-websocket.certFile", certificate[0],
                                           "-websocket.privateFile", certificate[1]] +
                                 list(comet_args)})
    c.comet.wss_port = port
    return c


@pytest.fixture
def wss_cluster(make_cluster, certificate):
    return start_wss_cluster(make_cluster, certificate)


def test_wss_auth_heartbeat_and_push(wss_cluster):
    c = open_client(wss_cluster, "wss")
    c.auth(mid=24, key="k-wss", room_id="live://9", accepts=[1000])
    assert c.heartbeat() == 1
    wss_cluster.ensure_push_path()
    status, answer = wss_cluster.push_mids(1000, [24], b"secure")
    assert status == 200 and answer["code"] == 0, answer
    f = c.read_frame(timeout=30)
    assert (f.op, f.body) == (1000, b"secure")


def test_wss_pushes_held_by_the_write_delay_arrive_whole_and_in_order(make_cluster, certificate):
    # pushes held together are joined into records of at most 16 KiB; a push of a record or more
    # is written from its own buffer
    cluster = start_wss_cluster(make_cluster, certificate, ["-protocol.writeDelay", "200ms"])
    c = open_client(cluster, "wss")
    c.auth(mid=25, key="k-wss-coalesce", room_id="live://wss-coalesce", accepts=[1000])
    cluster.ensure_push_path()
    bodies = [b"push 0", b"a" * 9000, b"b" * 9000, b"push 3", b"c" * 20000, b"push 5",
              b"d" * 15000, b"push 7"]
    for body in bodies:
        status, answer = cluster.push_room(1000, "live", "wss-coalesce", body)
        assert status == 200 and answer["code"] == 0, answer
    for body in bodies:
        f = c.read_frame(timeout=30)
        assert (f.op, f.body) == (1000, body)
    assert c.heartbeat(timeout=30) == 1


def test_wss_bad_upgrade_is_400(wss_cluster):
    sock = open_socket("127.0.0.1", wss_cluster.comet.wss_port, tls=True)
    try:
        sock.sendall(upgrade_request("127.0.0.1", wss_cluster.comet.wss_port, path="/nope"))
        status, _, _ = read_http_head(sock)
        assert status == 400
    finally:
        sock.close()


def test_plain_tcp_client_on_websocket_port_gets_400(cluster):
    sock = socket.create_connection(("127.0.0.1", cluster.comet.ws_port), timeout=10)
    try:
        sock.sendall(encode(OP_AUTH, auth_body(25)) + b"\r\n\r\n")
        status, _, _ = read_http_head(sock)
        assert status == 400
    finally:
        sock.close()
