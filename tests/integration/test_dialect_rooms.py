"""goim's room counts hold goim's rooms only: with gusher sockets subscribed to channels and
gopusher clients of an app online on the same comet, goim's online/top and online/room, the
ol_<server> hash logic writes from RenewOnline, comet's Rooms RPC and the goim client's heartbeat
count see only the goim room, while gusher's channel counts and gopusher's listonlineuser still
count their own clients (each dialect reads its own presence keys). online/total counts
connections, not rooms: every dialect's sockets stay in it (gusher asked for its sockets to be
counted there, and nodes/weighted weighs comets by the same registry counts).

A real cluster (logic, Kafka, job, Redis, one comet); gusher JWTs signed in the test, gopusher
clients through support/goim_ws.py's RFC 6455 client, goim through support/goim_client.py.
"""

import json
import secrets

import pytest

from support import gopusher
from support import gusher_client
from support.goim_ws import WsClient
from support.util import wait_for
from test_comet_rpc import comet_rooms

APP = "TEST"
TIMEOUT = 20.0  # comet renews every second, logic reloads every second; a busy host is slower


@pytest.fixture(scope="module")
def keys():
    return gusher_client.KeyPair()


def ok(reply):
    status, body = reply
    assert status == 200 and body["code"] == 0, reply
    return body["data"]


def test_goim_room_counts_leave_out_gusher_channels_and_gopusher_apps(make_cluster, keys,
                                                                        tmp_path):
    public = tmp_path / "gusher.pub.pem"
    public.write_bytes(keys.public_pem)
    cluster = make_cluster(extra_args={
        "logic": ["-gusher.publicKey", str(public), "-online.interval", "1s"] +
                 gopusher.super_admin_args(),
        "comet": ["-online.interval", "1s", "-registry.ttl", "3s"]})
    sockets, clients = [], []
    try:
        # gopusher: two clients of app "chat" (room gopusher/chat)
        answer = gopusher.call(cluster.gopusher_port, "POST", "/api/register",
                               form={"app_key": "chat", "auth_account": "admin",
                                     "auth_password": "pw"})
        assert answer.status == 200, answer
        for tag in ("A:1", "B:2"):
            clients.append(WsClient.connect("127.0.0.1", cluster.comets[0].ws_port,
                                            path="/ws/chat/%s" % tag, timeout=15.0))
        # gusher: three sockets in channel "news", one of them also in "live://1000" (a
        # channel named like a goim room key: room gusher/TEST/live://1000)
        port = cluster.comets[0].ws_port
        for number in range(3):
            the_claim = gusher_client.claim(user_id="u%d" % number,
                                            channels=("news", "live://1000"))
            token = gusher_client.token_for(port, keys, the_claim)
            socket = gusher_client.open_socket(port, APP, token)
            sockets.append(socket)
            for channel in ("news", "live://1000")[:2 if number == 0 else 1]:
                gusher_client.send(socket, "gusher.subscribe", {"channel": channel})
                reply = json.loads(gusher_client.receive(socket))
                assert reply["event"] == "gusher.subscribe_succeeded", reply

        def gusher_count(path):
            answer = gopusher.call(cluster.logic_http_port, "GET", "/api/%s/%s" % (APP, path),
                                   auth=None)
            assert answer.status == 200, answer
            return json.loads(answer.body)

        def gopusher_online():
            answer = gopusher.call(cluster.gopusher_port, "GET", "/api/chat/listonlineuser")
            assert answer.status == 200, answer
            return answer.json()

        # their own APIs count them (their presence is written, so the comet holds them)
        wait_for(lambda: gusher_count("online/bychannel/news/count") == {"count": 3}, TIMEOUT,
                 message="gusher counts the channel's three sockets")
        wait_for(lambda: sorted(gusher_count("channels")) == ["live://1000", "news"], TIMEOUT,
                 message="gusher lists both live channels")
        wait_for(lambda: gopusher_online()["total"] == 2, TIMEOUT,
                 message="gopusher's listonlineuser counts both user_tags")

        # positive control: a goim client in goim's room live://1000, joined after them
        goim = cluster.client()
        assert goim.auth(mid=7, key="k-" + secrets.token_hex(6), room_id="live://1000",
                         accepts=[1000]).op == 8

        def top(room_type):
            return ok(cluster.http("GET", "/goim/online/top",
                                   [("type", room_type), ("limit", "100")]))

        wait_for(lambda: top("live") == [{"room_id": "1000", "count": 1}], TIMEOUT,
                 message="online/top shows the goim room with its one member")
        # the round that counted the goim room would have counted the others with it
        for room_type in ("gusher", "gopusher", "gusher/TEST/live"):
            assert top(room_type) == [], room_type
        assert ok(cluster.http("GET", "/goim/online/room",
                               [("type", "live"), ("rooms", "1000")])) == {"1000": 1}
        assert ok(cluster.http("GET", "/goim/online/room",
                               [("type", "gusher/TEST/live"), ("rooms", "1000")])) == {"1000": 0}
        shards = cluster.redis.hgetall("ol_%s" % cluster.comets[0].host)
        counts = {}
        for value in shards.values():
            counts.update(json.loads(value)["room_count"])
        assert counts == {"live://1000": 1}
        assert comet_rooms(cluster) == {"live://1000": True}
        assert goim.heartbeat() == 1  # the goim room's count

        # and the dialects' own counts are still whole
        assert gusher_count("online/bychannel/news/count") == {"count": 3}
        assert sorted(gusher_count("channels")) == ["live://1000", "news"]
        assert set(gopusher_online()["user_tags"]) == {"A:1", "B:2"}
        wait_for(lambda: ok(cluster.http("GET", "/goim/online/total")) ==
                 {"conn_count": 6, "ip_count": 1}, TIMEOUT,
                 message="online/total counts the connections of every dialect")
    finally:
        for socket in sockets:
            socket.close()
        for client in clients:
            client.close()
