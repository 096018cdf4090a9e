"""logic's HTTP API beyond push/keys and push/mids (issue 4): push/room,
push/all, the online counts (RenewOnline -> ol_<server> -> online/*), the
nodes endpoints, parameter errors, and a PushMsg written to the topic by an
independent Kafka producer.

Comet does not call RenewOnline yet, so the online tests write a comet's
room counts through logic's RPC with pynng, exactly as comet will.
"""

import secrets
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import cityhash
import pytest

from support import logic_wire
from support.goim_client import split_frames
from support.util import wait_for

DELIVERY_TIMEOUT = 30.0
OP = 1000
FAST = ["-online.interval", "1s"]


def new_key():
    return "key-%s" % secrets.token_hex(8)


def room_client(cluster, room_id="live://1000", accepts=(OP,), comet=0, mid=None):
    c = cluster.client(comet=comet)
    mid = mid if mid is not None else 1000 + secrets.randbelow(100000)
    reply = c.auth(mid=mid, key=new_key(), room_id=room_id, accepts=list(accepts))
    assert reply.op == 8, reply
    return c


def read_push(client, op=OP, timeout=DELIVERY_TIMEOUT):
    """The next pushed frame with op, unwrapping goim's OpRaw (op 9) batches."""
    deadline = time.monotonic() + timeout
    while True:
        f = client.read_frame(timeout=max(0.1, deadline - time.monotonic()))
        frames = split_frames(f.body)[0] if f.op == 9 else [f]
        for inner in frames:
            if inner.op == op:
                return inner


def assert_ok(result, data=None):
    status, reply = result
    assert status == 200 and isinstance(reply, dict) and reply.get("code") == 0, result
    return reply.get("data")


def assert_param_error(result, param):
    status, reply = result
    assert status == 400, result
    assert isinstance(reply, dict) and reply.get("code") == -400, result
    assert param in reply.get("message", ""), "message should name %r: %r" % (param, reply)


# ---- push/mids under concurrency ---------------------------------------------------------

def test_concurrent_pushes_by_mid_each_get_their_answer_and_delivery(cluster):
    """Many push/mids at once (their answers deferred until Kafka acknowledges, their session
    lookups pipelined together), plus one with more mids than one pipelined lookup carries:
    each answers code 0 and each client gets exactly its pushes."""
    clients = {}
    for index in range(6):
        mid = 500000 + secrets.randbelow(100000) * 10 + index
        clients[mid] = room_client(cluster, "live://2000", mid=mid)
    cluster.ensure_push_path()
    jobs = [(mid, b"to %d #%d" % (mid, n)) for mid in clients for n in range(5)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(lambda job: cluster.push_mids(OP, [job[0]], job[1]), jobs))
    for result in results:
        assert_ok(result)
    first = next(iter(clients))
    offline = [900000000 + n for n in range(80)]  # 80 mids: more than one queued lookup takes
    assert_ok(cluster.push_mids(OP, offline + [first], b"long list"))
    for mid, client in clients.items():
        got = sorted(read_push(client).body for _ in range(5))
        assert got == sorted(body for m, body in jobs if m == mid)
    assert read_push(clients[first]).body == b"long list"


# ---- push/room and push/all --------------------------------------------------------------

def test_push_room_reaches_only_that_room(cluster):
    inside = room_client(cluster, "live://1000")
    outside = room_client(cluster, "live://1001")
    cluster.ensure_push_path()
    assert_ok(cluster.push_room(OP, "live", "1000", b"room hello"))
    f = read_push(inside)
    assert f.body == b"room hello"
    outside.expect_no_frame(2.0)


def test_push_all_with_speed_reaches_every_client(cluster):
    first = room_client(cluster, "live://1")
    second = room_client(cluster, "")
    cluster.ensure_push_path()
    assert_ok(cluster.push_all(OP, b"to everyone", speed=100))
    assert read_push(first).body == b"to everyone"
    assert read_push(second).body == b"to everyone"


def test_push_room_and_all_records_on_the_topic(cluster):
    """The records logic acknowledged are on Kafka with goim's keys."""
    from kafka import KafkaConsumer, TopicPartition

    assert_ok(cluster.push_room(1234, "live", "77", b"r"))
    assert_ok(cluster.push_all(4321, b"a", speed=5))
    consumer = KafkaConsumer(bootstrap_servers=cluster.kafka, enable_auto_commit=False,
                             consumer_timeout_ms=10000)
    try:
        parts = [TopicPartition(cluster.topic, p) for p in range(4)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        records = {}
        deadline = time.monotonic() + 30
        while len(records) < 2 and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=1000).values():
                for record in batch:
                    records[record.key] = record.value
    finally:
        consumer.close()
    assert records[b"live://77"] == logic_wire.push_msg(logic_wire.ROOM, 1234, room="live://77",
                                                        msg=b"r")
    assert records[b"4321"] == logic_wire.push_msg(logic_wire.BROADCAST, 4321, speed=5, msg=b"a")


def test_push_msg_from_an_independent_producer_is_delivered(cluster):
    from kafka import KafkaProducer

    client = room_client(cluster, "live://1000")
    cluster.ensure_push_path()
    producer = KafkaProducer(bootstrap_servers=cluster.kafka, acks="all")
    try:
        value = logic_wire.push_msg(logic_wire.ROOM, OP, room="live://1000", msg=b"from python")
        producer.send(cluster.topic, key=b"live://1000", value=value).get(timeout=30)
    finally:
        producer.close()
    assert read_push(client).body == b"from python"


@pytest.mark.parametrize("path,method,query,param", [
    ("/goim/push/room", "POST", [("type", "live"), ("room", "1")], "operation"),
    ("/goim/push/room", "POST", [("operation", "0"), ("type", "live"), ("room", "1")],
     "operation"),
    ("/goim/push/room", "POST", [("operation", "x"), ("type", "live"), ("room", "1")],
     "operation"),
    ("/goim/push/room", "POST", [("operation", "1000"), ("room", "1")], "type"),
    ("/goim/push/room", "POST", [("operation", "1000"), ("type", "live")], "room"),
    ("/goim/push/room", "POST", [("operation", "1000"), ("type", "live"), ("room", "")], "room"),
    ("/goim/push/all", "POST", [], "operation"),
    ("/goim/push/all", "POST", [("operation", "1000"), ("speed", "fast")], "speed"),
    ("/goim/push/all", "POST", [("operation", "1000"), ("speed", "99999999999")], "speed"),
    ("/goim/online/top", "GET", [("limit", "10")], "type"),
    ("/goim/online/top", "GET", [("type", "live")], "limit"),
    ("/goim/online/top", "GET", [("type", "live"), ("limit", "0")], "limit"),
    ("/goim/online/top", "GET", [("type", "live"), ("limit", "-1")], "limit"),
    ("/goim/online/top", "GET", [("type", "live"), ("limit", "ten")], "limit"),
    ("/goim/online/room", "GET", [("rooms", "1")], "type"),
    ("/goim/online/room", "GET", [("type", "live")], "rooms"),
])
def test_parameter_errors_are_400(cluster, path, method, query, param):
    assert_param_error(cluster.http(method, path, query, b"x" if method == "POST" else None), param)


def test_unknown_path_wrong_method_and_big_body(make_cluster):
    cluster = make_cluster(extra_args={"logic": ["-httpServer.maxBody", "1024"]})
    status, reply = cluster.http("GET", "/goim/online/nothing")
    assert status == 404 and reply["code"] == -404, (status, reply)
    status, reply = cluster.http("POST", "/goim/online/total")
    assert status == 405 and reply["code"] == -405, (status, reply)
    status, reply = cluster.http("GET", "/goim/push/room")
    assert status == 405, (status, reply)
    status, reply = cluster.push_room(OP, "live", "1", b"x" * 2048)
    assert status == 413, (status, reply)


# ---- online counts -------------------------------------------------------------------------

def online_top(cluster, type_, limit):
    return assert_ok(cluster.http("GET", "/goim/online/top", [("type", type_), ("limit", limit)]))


def online_room(cluster, type_, rooms):
    return assert_ok(cluster.http("GET", "/goim/online/room",
                                  [("type", type_)] + [("rooms", r) for r in rooms]))


@pytest.mark.cluster_args(logic=FAST)
def test_renew_online_stores_goim_shards_and_counts_rooms(cluster):
    host = cluster.comet_host
    rooms = {"live://1000": 2, "live://1001": 5, "live2://9": 1, "chat://7": 3}
    logic_wire.renew_online(cluster.logic_rpc_port, host, rooms)

    stored = cluster.redis.hgetall("ol_%s" % host)
    expected_fields = {str(cityhash.CityHash32(room) % 64) for room in rooms}
    assert set(stored) == expected_fields, stored
    import json
    for field, text in stored.items():
        doc = json.loads(text)
        assert list(doc) == ["server", "room_count", "updated"], doc
        assert doc["server"] == host and abs(doc["updated"] - time.time()) < 60, doc
        for room, count in doc["room_count"].items():
            assert rooms[room] == count and str(cityhash.CityHash32(room) % 64) == field
    assert 0 < cluster.redis.ttl("ol_%s" % host) <= 1800

    # the refresher picks them up; "live" is a prefix match as goim (live2 counts too)
    wait_for(lambda: online_top(cluster, "live", 10) == [
        {"room_id": "1001", "count": 5}, {"room_id": "1000", "count": 2},
        {"room_id": "9", "count": 1}], 15, message="online/top after RenewOnline")
    assert online_top(cluster, "live", 1) == [{"room_id": "1001", "count": 5}]
    assert online_room(cluster, "live", ["1000", "1001", "404"]) == {
        "1000": 2, "1001": 5, "404": 0}
    # RenewOnline answers the cluster-wide counts
    assert logic_wire.renew_online(cluster.logic_rpc_port, host, rooms) == rooms

    # a room that emptied is gone from Redis and from the counts (goim keeps stale shards)
    del rooms["live://1000"]
    logic_wire.renew_online(cluster.logic_rpc_port, host, rooms)
    stored = cluster.redis.hgetall("ol_%s" % host)
    assert "live://1000" not in "".join(stored.values())
    assert set(stored) == {str(cityhash.CityHash32(room) % 64) for room in rooms}
    wait_for(lambda: online_room(cluster, "live", ["1000", "1001"]) == {"1000": 0, "1001": 5},
             15, message="emptied room no longer counted")

    # a server that is not a live comet of the registry does not count
    logic_wire.renew_online(cluster.logic_rpc_port, "ghost-comet", {"live://1001": 100})
    time.sleep(2.5)  # two refresh rounds
    assert online_room(cluster, "live", ["1001"]) == {"1001": 5}

    # everything empty: the key goes
    logic_wire.renew_online(cluster.logic_rpc_port, host, {})
    assert not cluster.redis.exists("ol_%s" % host)
    wait_for(lambda: online_top(cluster, "live", 10) == [], 15, message="empty online/top")


@pytest.mark.cluster_args(logic=FAST)
def test_stale_online_entries_are_ignored_and_deleted(cluster):
    import json
    host = cluster.comet_host
    old = int(time.time()) - 600
    cluster.redis.hset("ol_%s" % host, "3", json.dumps(
        {"server": host, "room_count": {"live://old": 9}, "updated": old}))
    wait_for(lambda: not cluster.redis.exists("ol_%s" % host), 15,
             message="stale ol_ key deleted by the refresher")
    assert online_room(cluster, "live", ["old"]) == {"old": 0}


@pytest.mark.cluster_args(logic=FAST, comet=["-registry.ttl", "3s"])
def test_online_total_follows_clients_and_rooms_of_a_comet_that_left(cluster):
    total = lambda: assert_ok(cluster.http("GET", "/goim/online/total"))  # noqa: E731
    first = room_client(cluster, "live://1000")
    room_client(cluster, "live://1000")
    wait_for(lambda: total() == {"conn_count": 2, "ip_count": 1}, 20,
             message="online/total with two clients")
    first.close()
    wait_for(lambda: total() == {"conn_count": 1, "ip_count": 1}, 20,
             message="online/total after one client left")

    logic_wire.renew_online(cluster.logic_rpc_port, cluster.comet_host, {"live://1000": 1})
    wait_for(lambda: online_room(cluster, "live", ["1000"]) == {"1000": 1}, 15,
             message="room count of the live comet")
    cluster.stop("comet")
    wait_for(lambda: total() == {"conn_count": 0, "ip_count": 0}, 20,
             message="online/total after the comet stopped")
    wait_for(lambda: online_room(cluster, "live", ["1000"]) == {"1000": 0}, 15,
             message="a comet gone from the registry no longer counts")


# ---- nodes ---------------------------------------------------------------------------------

def weighted(cluster, platform=None):
    query = [("platform", platform)] if platform is not None else []
    return assert_ok(cluster.http("GET", "/goim/nodes/weighted", query))


def test_nodes_weighted_without_comets_is_the_default_domain(make_cluster):
    cluster = make_cluster(extra_args={"logic": FAST}, start=False)
    cluster.comets.clear()  # logic and job only
    del cluster.daemons["comet"]
    cluster.start()
    assert weighted(cluster) == {
        "domain": "conn.goim.io", "tcp_port": 3101, "ws_port": 3102, "wss_port": 3103,
        "heartbeat": 240, "nodes": ["conn.goim.io"],
        "backoff": {"max_delay": 300, "base_delay": 3, "factor": 1.8, "jitter": 0.3},
        "heartbeat_max": 2}
    # the reals as configured (and as goim prints them), not 0.29999999999999999
    url = "http://127.0.0.1:%d/goim/nodes/weighted" % cluster.logic_http_port
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert b'"backoff":{"max_delay":300,"base_delay":3,"factor":1.8,"jitter":0.3}' in answer.read()
    assert assert_ok(cluster.http("GET", "/goim/nodes/instances")) is None


def test_nodes_weighted_orders_by_weight_and_load(make_cluster):
    cluster = make_cluster(extra_args={"logic": FAST, "comet": ["-registry.ttl", "3s"]},
                           start=False)
    cluster.comet.args += ["-weight", "1", "-addrs", "1.1.1.1"]
    second = cluster.add_comet(start=False)
    second.args += ["-weight", "2", "-addrs", "2.2.2.2,2.2.2.3"]
    cluster.start()
    total = lambda: assert_ok(cluster.http("GET", "/goim/online/total"))  # noqa: E731
    wait_for(lambda: len(assert_ok(cluster.http("GET", "/goim/nodes/instances")) or []) == 2, 20,
             message="both comets in nodes/instances")

    # 8 clients on the weight-2 comet, none on the weight-1 comet. goim's current weight:
    # light = 1 + round((1/3 - 0) * 8) = 4, heavy = 2 + round((2/3 - 0.5) * 8) = 3.
    for _ in range(8):
        room_client(cluster, "", comet=1)
    wait_for(lambda: total()["conn_count"] == 8, 20, message="8 connections registered")
    reply = weighted(cluster)
    assert reply["nodes"] == ["1.1.1.1", "2.2.2.2", "2.2.2.3"], reply

    # 2 of 10 on the light comet: light = 1 + round((1/3 - 0.1) * 10) = 3,
    # heavy = 2 + round((2/3 - 0.4) * 10) = 5: the heavier weight wins again.
    room_client(cluster, "", comet=0)
    room_client(cluster, "", comet=0)
    wait_for(lambda: total()["conn_count"] == 10, 20, message="10 connections registered")
    time.sleep(1.5)  # a fresh registry round resets the count of the simulated placement above
    wait_for(lambda: weighted(cluster, "web")["nodes"][0] == "%s.goim.io" % second.host, 10,
             message="the weight-2 comet first once the light one has clients")
    assert set(weighted(cluster, "web")["nodes"]) == {
        "%s.goim.io" % cluster.comet_host, "%s.goim.io" % second.host}


def test_nodes_instances_drops_offline_and_gone_comets(make_cluster):
    cluster = make_cluster(extra_args={"logic": FAST, "comet": ["-registry.ttl", "3s"]},
                           start=False)
    second = cluster.add_comet(start=False)
    offline = cluster.add_comet(start=False)
    offline.args += ["-offline"]
    cluster.comet.args += ["-addrs", "10.0.0.1"]
    cluster.start()

    def hostnames():
        return sorted(i["hostname"] for i in
                      assert_ok(cluster.http("GET", "/goim/nodes/instances")) or [])

    wait_for(lambda: hostnames() == sorted([cluster.comet_host, second.host]), 20,
             message="two live comets (the offline one left out)")
    instances = assert_ok(cluster.http("GET", "/goim/nodes/instances"))
    first = [i for i in instances if i["hostname"] == cluster.comet_host][0]
    assert first["appid"] == "goim.comet"
    assert set(first) >= {"region", "zone", "env", "appid", "hostname", "addrs", "version",
                          "latest_timestamp", "metadata"}
    assert set(first["metadata"]) == {"addrs", "conn_count", "ip_count", "offline", "weight"}
    assert first["metadata"]["addrs"] == "10.0.0.1" and first["metadata"]["offline"] == "false"
    assert offline.host not in weighted(cluster, "web")["nodes"]

    cluster.kill("comet2")  # no withdraw: gone when its registry key expires (3 s)
    wait_for(lambda: hostnames() == [cluster.comet_host], 20,
             message="a killed comet gone after its registry TTL")
    for _ in range(3):
        assert weighted(cluster, "web")["nodes"] == ["%s.goim.io" % cluster.comet_host]
