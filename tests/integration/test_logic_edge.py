"""logic's HTTP edge (logic/http_edge.h) over real sockets: connection limits, the request
deadline a trickling client cannot extend, goim's 10,000 mids or keys in one request, 414 past
httpServer.maxUrlBytes, paths matched before percent-decoding, conflicting framing headers, the
body limits (one Kafka record; comet's protocol.maxOutputBytes) and the optional bearer tokens.

The crowds come from other loopback addresses (127.0.0.2 ...) than the real requests (127.0.0.1),
so the per-address limit is exercised without locking the test out."""

import json
import secrets
import socket
import time

import pytest

from support.util import wait_for
from test_metrics import scrape, value


def raw_request(port, data, source="127.0.0.1", timeout=10.0):
    """Sends data on a new connection from source; returns (status, envelope or text)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0))
    try:
        s.sendall(data)
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
            head, sep, body = raw.partition(b"\r\n\r\n")
            if sep:
                length = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(body) >= length[0]:
                    break
    finally:
        s.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


@pytest.mark.cluster_args(logic=["-httpServer.maxUrlBytes", "1048576"])
def test_ten_thousand_mids_and_keys_in_one_push(cluster):
    cluster.ensure_push_path()
    mid = 880000 + secrets.randbelow(1000)
    key = "edge-" + secrets.token_hex(4)
    c = cluster.client()
    assert c.auth(mid=mid, key=key, accepts=[1000]).op == 8

    mids = [mid] + [10**12 + n for n in range(9999)]
    status, reply = cluster.push_mids(1000, mids, b"to ten thousand mids")
    assert (status, reply["code"]) == (200, 0), reply
    assert c.read_frame(timeout=10).body == b"to ten thousand mids"

    keys = [key] + ["%08x-0000-4000-8000-%012x" % (n, n) for n in range(9999)]  # goim's UUIDs
    status, reply = cluster.push_keys(1000, keys, b"to ten thousand keys")
    assert (status, reply["code"]) == (200, 0), reply
    assert c.read_frame(timeout=10).body == b"to ten thousand keys"


def test_request_line_past_the_limit_is_414_with_the_envelope(cluster):
    keys = ["k%05d-%s" % (n, "0" * 90) for n in range(200)]  # about 21 KB, limit 16 KiB
    status, reply = cluster.push_keys(1000, keys, b"x")
    assert status == 414
    assert reply["code"] == -400 and "httpServer.maxUrlBytes" in reply["message"]


def test_escaped_paths_do_not_route_and_framing_conflicts_are_refused(cluster):
    port = cluster.logic_http_port
    for path in ("/goim/push/mids%00", "/goim/push%2Fmids", "/goim/%70ush/mids"):
        status, reply = raw_request(port, (
            "POST %s?operation=1000&mids=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
            "Connection: close\r\n\r\nx" % path).encode())
        assert (status, reply["code"]) == (404, -404), path
    status, reply = raw_request(port, (
        b"POST /goim/push/mids?operation=1000&mids=1 HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nxxxxx"))
    assert (status, reply["code"]) == (400, -400)
    assert "Content-Length" in reply["message"]
    status, reply = raw_request(port, (
        b"POST /goim/push/mids?operation=1000&mids=1 HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"1\r\nx\r\n0\r\n\r\n"))
    assert (status, reply["code"]) == (400, -400)
    # the same request, well framed, is served
    status, reply = raw_request(port, (
        b"POST /goim/push/mids?operation=1000&mids=1 HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 1\r\nConnection: close\r\n\r\nx"))
    assert (status, reply["code"]) == (200, 0)


def produced(cluster):
    samples = scrape(cluster.logic_http_port)
    return (value(samples, "logic_kafka_produced_total", result="ok")
            + value(samples, "logic_kafka_produced_total", result="failed"))


def test_a_push_that_cannot_fit_a_connection_is_413_and_never_produced(cluster):
    cluster.ensure_push_path()
    mid = 881000 + secrets.randbelow(1000)
    c = cluster.client()
    assert c.auth(mid=mid, key="edge-" + secrets.token_hex(4), accepts=[1000]).op == 8
    before = produced(cluster)
    status, reply = cluster.push_mids(1000, [mid], b"x" * 300000)
    assert status == 413 and reply["code"] == -400
    assert "protocol.maxOutputBytes" in reply["message"]
    # chunked (no Content-Length): refused once the body is in
    status, reply = raw_request(cluster.logic_http_port, (
        "POST /goim/push/mids?operation=1000&mids=%d HTTP/1.1\r\nHost: x\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n%x\r\n" % (mid, 300000)).encode()
        + b"y" * 300000 + b"\r\n0\r\n\r\n")
    assert status == 413 and "protocol.maxOutputBytes" in reply["message"]
    # a client waiting for "100 Continue" is refused before it sends the body
    status, reply = raw_request(cluster.logic_http_port, (
        "POST /goim/push/mids?operation=1000&mids=%d HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: 300000\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        % mid).encode())
    assert status == 413 and "protocol.maxOutputBytes" in reply["message"]
    # positive control: a push that fits arrives, and it is the only one produced
    status, reply = cluster.push_mids(1000, [mid], b"fits")
    assert (status, reply["code"]) == (200, 0)
    assert c.read_frame(timeout=10).body == b"fits"
    assert produced(cluster) - before == 1


@pytest.mark.cluster_args(logic=["-comet.maxOutputBytes", "4000000", "-httpServer.maxUrlBytes", "1048576"])
def test_a_body_past_one_kafka_record_is_413_before_kafka(cluster):
    before = produced(cluster)
    status, reply = cluster.push_all(1000, b"z" * 999000)
    assert status == 413 and reply["code"] == -400, reply
    keys = ["k%06d-%s" % (n, "0" * 40) for n in range(9000)]  # about 450 KB of keys
    status, reply = cluster.push_keys(1000, keys, b"z" * 600000)
    assert status == 413 and "Kafka record" in reply["message"], reply
    status, reply = cluster.push_all(1000, b"z" * 900000)
    assert (status, reply["code"]) == (200, 0), reply
    assert produced(cluster) - before == 1


def open_trickler(port, source):
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    s.sendall(b"POST /goim/push/all?operation=1000 HTTP/1.1\r\nHost: x\r\n")
    return s


def test_a_slowloris_crowd_does_not_stop_a_real_push(cluster):
    port = cluster.logic_http_port
    crowd = []
    try:
        for n in range(1200):  # 12 addresses x 100, under the per-address limit
            crowd.append(open_trickler(port, "127.0.0.%d" % (2 + n // 100)))
        for s in crowd:
            s.sendall(b"X-Slow: 1\r\n")
        status, reply = cluster.push_all(1000, b"real push")
        assert (status, reply["code"]) == (200, 0)
        status, reply = cluster.http("GET", "/goim/nodes/weighted", [("platform", "web")])
        assert status == 200
    finally:
        for s in crowd:
            s.close()


@pytest.mark.cluster_args(logic=["-httpServer.requestTimeout", "2s",
                                 "-httpServer.maxConnectionsPerIP", "4"])
def test_the_deadline_closes_a_trickler_and_the_per_address_limit_holds(cluster):
    port = cluster.logic_http_port
    before = value(scrape(port), "logic_http_deadline_closes_total")
    s = open_trickler(port, "127.0.0.20")
    closed = False
    deadline = time.monotonic() + 60  # generous bound; the setting is 2 s
    while time.monotonic() < deadline and not closed:
        try:
            s.sendall(b"X-Slow: 1\r\n")
            s.settimeout(0.5)
            closed = s.recv(4096) == b""
        except socket.timeout:
            continue
        except OSError:
            closed = True
    s.close()
    assert closed, "a client sending a header line every 0.5 s kept its connection"
    assert value(scrape(port), "logic_http_deadline_closes_total") - before >= 1

    # per address: four connections from 127.0.0.21 held open, a fifth is closed at once
    held = [open_trickler(port, "127.0.0.21") for _ in range(4)]
    try:
        fifth = socket.create_connection(("127.0.0.1", port), timeout=10,
                                         source_address=("127.0.0.21", 0))
        fifth.sendall(b"GET /goim/nodes/weighted HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            refused = fifth.recv(4096) == b""
        except ConnectionResetError:
            refused = True
        fifth.close()
        assert refused
        # while another address is served
        status, _ = raw_request(port, b"GET /goim/nodes/weighted HTTP/1.1\r\nHost: x\r\n"
                                      b"Connection: close\r\n\r\n", source="127.0.0.22")
        assert status == 200
    finally:
        for h in held:
            h.close()


@pytest.mark.cluster_args(logic=["-httpServer.pushTokens", "token-one,token-two"])
def test_push_and_online_need_a_token_when_configured(cluster):
    for headers in (None, {"Authorization": "Bearer token-three"},
                    {"Authorization": "Basic dG9rZW4tb25lOg=="}, {"Authorization": "Bearer "}):
        status, reply = cluster.http("POST", "/goim/push/all", [("operation", 1000)], b"x",
                                     headers=headers)
        assert (status, reply["code"]) == (401, -401), headers
        status, reply = cluster.http("GET", "/goim/online/total", headers=headers)
        assert (status, reply["code"]) == (401, -401), headers
    status, reply = cluster.http("POST", "/goim/push/all", [("operation", 1000)], b"x",
                                 headers={"Authorization": "Bearer token-two"})
    assert (status, reply["code"]) == (200, 0)
    status, reply = cluster.http("GET", "/goim/online/total",
                                 headers={"Authorization": "bearer token-one"})
    assert (status, reply["code"]) == (200, 0)
    status, _ = cluster.http("GET", "/goim/nodes/weighted", [("platform", "web")])
    assert status == 200
    assert value(scrape(cluster.logic_http_port), "logic_http_requests_total",
                 endpoint="/goim/push/all", code="-401") == 4
