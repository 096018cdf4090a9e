"""comet online counts (RenewOnline), logic Heartbeat renewal and broadcast pacing by speed.

Online: comets and logic run with a 1 s online.interval, so a heartbeat reply
body reaches the room's cluster-wide count (over both comets) within a few
seconds, and logic's /goim/online/room shows the same count.
"""

import secrets
import threading
import time

import pytest

from support.util import wait_for

FAST_ONLINE = ["-online.interval", "1s"]
ROOM_TYPE, ROOM_ID = "live", "1000"
ROOM = "%s://%s" % (ROOM_TYPE, ROOM_ID)


def member(cluster, comet=0, room=ROOM, accepts=(1000,)):
    c = cluster.client(comet=comet)
    key = "key-%s" % secrets.token_hex(8)
    reply = c.auth(mid=700000 + secrets.randbelow(100000), key=key, room_id=room,
                   accepts=list(accepts))
    assert reply.op == 8, reply
    return c, key


def online_room(cluster):
    status, reply = cluster.http("GET", "/goim/online/room",
                                 [("type", ROOM_TYPE), ("rooms", ROOM_ID)])
    assert status == 200 and reply.get("code") == 0, (status, reply)
    return reply["data"].get(ROOM_ID)


@pytest.mark.cluster_args(comet=FAST_ONLINE, logic=FAST_ONLINE)
def test_heartbeat_reports_the_cluster_wide_room_count(cluster):
    cluster.add_comet()
    a, _ = member(cluster, comet=0)
    b, _ = member(cluster, comet=0)
    c, _ = member(cluster, comet=1)
    lone, _ = member(cluster, comet=0, room="")
    assert lone.heartbeat() == 0

    wait_for(lambda: a.heartbeat() == 3, 20, interval=0.5,
             message="heartbeat on comet 0 reaches the cluster-wide count 3")
    wait_for(lambda: c.heartbeat() == 3, 20, interval=0.5,
             message="heartbeat on comet 1 reaches the cluster-wide count 3")
    wait_for(lambda: online_room(cluster) == 3, 20, interval=0.5,
             message="/goim/online/room shows 3")

    b.close()
    wait_for(lambda: online_room(cluster) == 2, 20, interval=0.5,
             message="/goim/online/room goes down to 2")
    wait_for(lambda: a.heartbeat() == 2, 20, interval=0.5,
             message="heartbeat goes down to 2")
    assert lone.heartbeat() == 0


@pytest.mark.cluster_args(comet=["-protocol.renewInterval", "1s"], logic=["-redis.expire", "3s"])
def test_heartbeats_renew_the_session_ttl(cluster):
    c, key = member(cluster)
    assert cluster.redis.get("key_%s" % key) == cluster.comet_host
    start = time.monotonic()
    while time.monotonic() - start < 6.5:
        c.heartbeat()
        time.sleep(1.0)
    assert cluster.redis.get("key_%s" % key) == cluster.comet_host, \
        "key_<key> expired although the client kept heartbeating"


@pytest.mark.cluster_args(comet=["-worker.threads", "1"])
def test_broadcast_with_speed_is_paced_and_reaches_everyone(cluster, capsys):
    clients = [member(cluster, room="")[0] for _ in range(3)]
    cluster.ensure_push_path()
    sent = time.monotonic()
    status, reply = cluster.http("POST", "/goim/push/all",
                                 [("operation", "1000"), ("speed", "1")], body=b"paced")
    assert status == 200 and reply.get("code") == 0, (status, reply)
    arrivals = [None] * len(clients)

    def read(index):
        while True:
            f = clients[index].read_frame(timeout=30.0)
            if f.op == 1000:
                arrivals[index] = (time.monotonic() - sent, f.body)
                return

    readers = [threading.Thread(target=read, args=(i,)) for i in range(len(clients))]
    for t in readers:
        t.start()
    for t in readers:
        t.join(35.0)
    assert all(a is not None and a[1] == b"paced" for a in arrivals), arrivals
    with capsys.disabled():
        print("\nbroadcast speed=1, 3 clients, arrival after POST (s): %s"
              % ", ".join("%.2f" % a[0] for a in sorted(arrivals)))
