"""Prometheus GET /metrics on every daemon: comet and job on their metrics.addr, logic on its HTTP
API server. Each exposition is parsed here (text format 0.0.4: HELP/TYPE lines, then samples
`name{labels} value`), and the counters must move with what the test really does: a client that
authenticates, sends a heartbeat and leaves, a client logic refuses, a client that never
authenticates, a push that travels logic -> Kafka -> job -> comet -> client, and bad requests."""

import http.client
import math
import re
import secrets

import pytest

from support.goim_client import ConnectionClosed, split_frames
from support.goim_ws import WsClient
from support.util import wait_for

CONTENT_TYPE = "text/plain; version=0.0.4"
OP = 1000
DELIVERY_TIMEOUT = 30.0

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
SAMPLE_LINE = re.compile(r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)\Z")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


# ---- the exposition format ----------------------------------------------------------------

def parse_labels(text, line):
    labels = {}
    position = 0
    while position < len(text):
        m = LABEL_PAIR.match(text, position)
        assert m, "bad label set in %r" % line
        name, value = m.group(1), m.group(2)
        assert name not in labels, "label %s twice in %r" % (name, line)
        labels[name] = re.sub(r"\\(.)", lambda e: {"n": "\n"}.get(e.group(1), e.group(1)), value)
        position = m.end()
        if position < len(text):
            assert text[position] == ",", "labels not separated by ',' in %r" % line
            position += 1
    return labels


def parse_value(text, line):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    try:
        return float(text)
    except ValueError:
        raise AssertionError("bad sample value in %r" % line) from None


def parse_exposition(text):
    """Checks text against the 0.0.4 text format and returns {(name, labels tuple): value}.

    Every family has one HELP and one TYPE line before its samples; every sample belongs to the
    family declared last (histograms: <name>_bucket/_sum/_count); no series appears twice;
    counters are >= 0; a histogram's buckets are cumulative, end with le="+Inf" and that bucket
    equals <name>_count.
    """
    assert text == "" or text.endswith("\n"), "exposition does not end with a newline"
    samples, families = {}, {}
    family = None
    for line in text.splitlines():
        assert line, "empty line in the exposition"
        if line.startswith("# HELP "):
            name, _, help_text = line[len("# HELP "):].partition(" ")
            assert METRIC_NAME.match(name), line
            assert name not in families, "family %s declared twice" % name
            assert help_text, "empty help for %s" % name
            families[name] = {"type": None, "buckets": {}}
            family = name
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[len("# TYPE "):].partition(" ")
            assert name == family and families[name]["type"] is None, "TYPE out of place: %r" % line
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            families[name]["type"] = kind
            continue
        assert not line.startswith("#"), "unexpected comment %r" % line
        m = SAMPLE_LINE.match(line)
        assert m, "not a sample line: %r" % line
        assert family is not None and families[family]["type"] is not None, \
            "sample before HELP/TYPE: %r" % line
        name, kind = m.group("name"), families[family]["type"]
        labels = parse_labels(m.group("labels") or "", line)
        value = parse_value(m.group("value"), line)
        if kind == "histogram":
            suffix = name[len(family):]
            assert name.startswith(family) and suffix in ("_bucket", "_sum", "_count"), \
                "%s does not belong to histogram %s" % (name, family)
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            if suffix == "_bucket":
                assert "le" in labels, "bucket without le: %r" % line
                families[family]["buckets"].setdefault(key, []).append(
                    (parse_value(labels["le"], line), value))
            elif suffix == "_count":
                buckets = families[family]["buckets"].get(key, [])
                assert buckets and math.isinf(buckets[-1][0]), "no +Inf bucket before %r" % line
                bounds = [b for b, _ in buckets]
                counts = [c for _, c in buckets]
                assert bounds == sorted(bounds) and counts == sorted(counts), \
                    "buckets not cumulative: %r" % buckets
                assert counts[-1] == value, "+Inf bucket %s != count %s" % (counts[-1], value)
        else:
            assert name == family, "sample %s under family %s" % (name, family)
            if kind == "counter":
                assert value >= 0, "negative counter: %r" % line
        series = (name, tuple(sorted(labels.items())))
        assert series not in samples, "series twice: %r" % line
        samples[series] = value
    for name, declared in families.items():
        assert declared["type"] is not None, "family %s has no TYPE" % name
    return samples, {name: declared["type"] for name, declared in families.items()}


def test_parser_rejects_malformed_expositions():
    """The checks above really fail on broken text (so the daemon tests can trust them)."""
    good = ('# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 2\n'
            '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\n'
            'h_sum 3.5\nh_count 2\n')
    samples, types = parse_exposition(good)
    assert samples[("a_total", (("x", "1"),))] == 2 and types == {"a_total": "counter",
                                                                 "h": "histogram"}
    for bad in ['a_total 1\n',                                          # no HELP/TYPE
                '# HELP a A.\n# TYPE a counter\na{x=1} 1\n',            # unquoted label
                '# HELP a A.\n# TYPE a counter\na 1\na 2\n',            # series twice
                '# HELP a A.\n# TYPE a counter\nb 1\n',                 # wrong family
                '# HELP a A.\n# TYPE a counter\na one\n',               # bad value
                '# HELP a A.\n# TYPE a counter\na -1\n',                # negative counter
                '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n'
                'h_sum 1\nh_count 1\n',                                 # not cumulative
                '# HELP a A.\n# TYPE a counter\na 1']:                  # no final newline
        with pytest.raises(AssertionError):
            parse_exposition(bad)


# ---- scraping -------------------------------------------------------------------------------

def request(port, method="GET", path="/metrics", body=None):
    """(status, headers (lower-case names), body text) of one HTTP request to 127.0.0.1:port."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        text = response.read().decode("utf-8")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text
    finally:
        connection.close()


def scrape(port):
    """The parsed exposition of the daemon whose metrics answer on port."""
    status, headers, text = request(port)
    assert status == 200, (status, text)
    assert headers.get("content-type", "").startswith(CONTENT_TYPE), headers
    samples, _ = parse_exposition(text)
    return samples


def value(samples, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, "no series %s%r; have %s" % (
        name, labels, sorted(k for k in samples if k[0] == name))
    return samples[key]


def logic_port(cluster):
    return cluster.logic_http_port


def job_port(cluster):
    return cluster.job_metrics_port


def comet_port(cluster):
    return cluster.comet.metrics_port


# ---- tests ------------------------------------------------------------------------------------

EXPECTED_FAMILIES = {
    logic_port: {"logic_http_requests_total": "counter", "logic_rpc_calls_total": "counter",
                 "logic_kafka_produced_total": "counter",
                 "logic_kafka_produce_seconds": "histogram", "logic_redis_errors_total": "counter"},
    job_port: {"job_records_consumed_total": "counter", "job_records_delivered_total": "counter",
               "job_records_skipped_total": "counter", "job_records_given_up_total": "counter",
               "job_retries_total": "counter", "job_records_uncommitted": "gauge",
               "job_comets": "gauge", "job_calls_in_flight": "gauge"},
    comet_port: {"comet_connections": "gauge", "comet_connections_accepted_total": "counter",
                 "comet_authenticated_connections": "gauge", "comet_auth_total": "counter",
                 "comet_timeouts_total": "counter", "comet_frames_received_total": "counter",
                 "comet_pushes_delivered_total": "counter",
                 "comet_pushes_dropped_total": "counter", "comet_rooms": "gauge",
                 "comet_rpc_calls_total": "counter", "comet_closes_total": "counter"},
}


def test_every_daemon_serves_its_metrics_in_the_text_format(cluster):
    for port_of, families in EXPECTED_FAMILIES.items():
        status, headers, text = request(port_of(cluster))
        assert status == 200, (port_of.__name__, status, text)
        assert headers.get("content-type", "").startswith(CONTENT_TYPE), headers
        _, types = parse_exposition(text)
        for name, kind in families.items():
            assert types.get(name) == kind, "%s: %s is %r, want %s" % (
                port_of.__name__, name, types.get(name), kind)
    # fixed label sets, registered up front: zero until something happens
    samples = scrape(comet_port(cluster))
    assert value(samples, "comet_frames_received_total", kind="change_room") == 0
    assert value(samples, "comet_closes_total", reason="slow_reader") == 0
    assert value(samples, "comet_connections", transport="wss") == 0
    # job has read the comet from the registry
    wait_for(lambda: value(scrape(job_port(cluster)), "job_comets") == 1, 30,
             message="job_comets == 1")


def test_metrics_ports_answer_404_and_405(cluster):
    for port in (comet_port(cluster), job_port(cluster)):
        status, _, _ = request(port, path="/")
        assert status == 404
        status, _, _ = request(port, path="/metrics/more")
        assert status == 404
        status, headers, _ = request(port, method="POST", body=b"x")
        assert status == 405
        assert "GET" in headers.get("allow", "")
        status, headers, text = request(port, method="HEAD")
        assert status == 200 and text == ""
        assert headers.get("content-type", "").startswith(CONTENT_TYPE)
    # logic: /metrics beside the API; another method is 405 there too
    status, headers, _ = request(logic_port(cluster), method="POST", body=b"x")
    assert status == 405 and "GET" in headers.get("allow", "")


def test_logic_counts_answers_by_endpoint_and_code(cluster):
    before = scrape(logic_port(cluster))
    status, reply = cluster.http("POST", "/goim/push/mids", [("operation", OP), ("mids", "x")])
    assert status == 400 and reply["code"] == -400, reply
    status, reply = cluster.http("POST", "/goim/push/mids", [("operation", OP), ("mids", "x")])
    assert status == 400, reply
    status, reply = cluster.http("GET", "/goim/push/mids", [("operation", OP), ("mids", 1)])
    assert status == 405, reply
    status, reply = cluster.http("GET", "/goim/no/such/%s" % secrets.token_hex(4))
    assert status == 404, reply
    status, reply = cluster.http("GET", "/goim/online/total")
    assert status == 200 and reply["code"] == 0, reply
    after = scrape(logic_port(cluster))

    def delta(endpoint, code):
        name = "logic_http_requests_total"
        return (value(after, name, endpoint=endpoint, code=code)
                - value(before, name, endpoint=endpoint, code=code))

    assert delta("/goim/push/mids", "-400") == 2
    assert delta("/goim/push/mids", "-405") == 1
    assert delta("/goim/push/mids", "0") == 0
    assert delta("other", "-404") == 1  # the path itself never becomes a label
    assert delta("/goim/online/total", "0") == 1
    assert not [k for k in after if "no/such" in repr(k)]


@pytest.mark.cluster_args(comet=["-protocol.handshakeTimeout", "1s"])
def test_comet_counts_connections_auths_frames_and_closes(cluster):
    port = comet_port(cluster)
    before = scrape(port)

    def delta(samples, name, **labels):
        return value(samples, name, **labels) - value(before, name, **labels)

    # a TCP client authenticates, joins a room, sends a heartbeat
    c = cluster.client()
    reply = c.auth(mid=4242, key="metrics-%s" % secrets.token_hex(4), room_id="live://4242",
                   accepts=[OP])
    assert reply.op == 8
    c.heartbeat()
    now = scrape(port)
    assert delta(now, "comet_auth_total", result="ok") == 1
    assert delta(now, "comet_auth_total", result="failed") == 0
    assert value(now, "comet_authenticated_connections") == 1
    assert value(now, "comet_connections", transport="tcp") == 1
    assert delta(now, "comet_connections_accepted_total", transport="tcp") == 1
    assert delta(now, "comet_frames_received_total", kind="auth") == 1
    assert delta(now, "comet_frames_received_total", kind="heartbeat") == 1
    assert value(now, "comet_rooms") == 1

    # a WebSocket client is counted under its transport
    ws = WsClient.connect("127.0.0.1", cluster.comet.ws_port)
    try:
        assert ws.auth(mid=4243, key="metrics-%s" % secrets.token_hex(4), accepts=[OP]).op == 8
        now = scrape(port)
        assert value(now, "comet_connections", transport="websocket") == 1
        assert value(now, "comet_authenticated_connections") == 2
        assert delta(now, "comet_auth_total", result="ok") == 2
    finally:
        ws.close()

    # both clients leave: closed by peer, gauges back to 0
    c.close()
    wait_for(lambda: value(scrape(port), "comet_authenticated_connections") == 0, 10,
             message="no authenticated connection")
    now = scrape(port)
    assert value(now, "comet_connections", transport="tcp") == 0
    assert value(now, "comet_connections", transport="websocket") == 0
    assert value(now, "comet_rooms") == 0
    assert delta(now, "comet_closes_total", reason="peer") == 2

    # logic refuses an auth whose body is not JSON
    bad = cluster.client()
    bad.send_frame(7, b"not json")
    with pytest.raises(ConnectionClosed):
        bad.read_frame(timeout=10)
    now = scrape(port)
    assert delta(now, "comet_auth_total", result="failed") == 1
    assert delta(now, "comet_closes_total", reason="auth_failed") == 1

    # a client that never authenticates hits the handshake deadline
    silent = cluster.client()
    silent.expect_closed(timeout=30)
    wait_for(lambda: delta(scrape(port), "comet_timeouts_total", kind="handshake") == 1, 10,
             message="one handshake timeout")
    now = scrape(port)
    assert delta(now, "comet_closes_total", reason="handshake_timeout") == 1
    assert delta(now, "comet_auth_total", result="ok") == 2
    assert value(now, "comet_connections", transport="tcp") == 0


def quiescent(cluster):
    """True when every record logic produced was read by job and finished, nothing in flight."""
    logic, job = scrape(logic_port(cluster)), scrape(job_port(cluster))
    produced = value(logic, "logic_kafka_produced_total", result="ok")
    consumed = value(job, "job_records_consumed_total")
    finished = (value(job, "job_records_delivered_total")
                + value(job, "job_records_skipped_total")
                + value(job, "job_records_given_up_total", reason="retries")
                + value(job, "job_records_given_up_total", reason="no_comet"))
    return (produced == consumed == finished and value(job, "job_calls_in_flight") == 0
            and value(job, "job_records_uncommitted") == 0)


def read_push(client, op=OP, timeout=DELIVERY_TIMEOUT):
    while True:
        f = client.read_frame(timeout=timeout)
        frames = split_frames(f.body)[0] if f.op == 9 else [f]
        for inner in frames:
            if inner.op == op:
                return inner


def test_a_push_is_counted_by_logic_job_and_comet(cluster):
    mid = 500000 + secrets.randbelow(100000)
    c = cluster.client()
    assert c.auth(mid=mid, key="metrics-%s" % secrets.token_hex(4), accepts=[OP]).op == 8
    cluster.ensure_push_path()
    # the probe pushes of ensure_push_path may still be on their way: start from a still cluster
    wait_for(lambda: quiescent(cluster), 30, message="every produced record finished by job")
    logic0, job0, comet0 = (scrape(logic_port(cluster)), scrape(job_port(cluster)),
                            scrape(comet_port(cluster)))

    status, reply = cluster.push_mids(OP, [mid], b"counted")
    assert status == 200 and reply["code"] == 0, reply
    assert read_push(c).body == b"counted"

    logic1 = scrape(logic_port(cluster))
    assert (value(logic1, "logic_http_requests_total", endpoint="/goim/push/mids", code="0")
            - value(logic0, "logic_http_requests_total", endpoint="/goim/push/mids", code="0")) == 1
    assert (value(logic1, "logic_kafka_produced_total", result="ok")
            - value(logic0, "logic_kafka_produced_total", result="ok")) == 1
    assert (value(logic1, "logic_kafka_produce_seconds_count")
            - value(logic0, "logic_kafka_produce_seconds_count")) == 1
    assert value(logic1, "logic_kafka_produced_total", result="failed") == 0

    wait_for(lambda: quiescent(cluster), 30, message="the push finished by job")
    job1, comet1 = scrape(job_port(cluster)), scrape(comet_port(cluster))
    for name in ("job_records_consumed_total", "job_records_delivered_total"):
        assert value(job1, name) - value(job0, name) == 1, name
    assert value(job1, "job_records_skipped_total") == value(job0, "job_records_skipped_total")
    assert (value(comet1, "comet_pushes_delivered_total")
            - value(comet0, "comet_pushes_delivered_total")) == 1
    assert (value(comet1, "comet_rpc_calls_total", method="push_msg")
            - value(comet0, "comet_rpc_calls_total", method="push_msg")) == 1
    assert value(comet1, "comet_pushes_dropped_total") == 0
    # the comet's auth went through logic's RPC
    assert value(logic1, "logic_rpc_calls_total", method="connect") >= 2
    assert value(logic1, "logic_redis_errors_total") == 0
