"""comet's coalesced writes, end to end over TCP and WebSocket: pushes are queued on their
connection and written by the loop's flush pass (one writev per connection), and with
protocol.writeDelay they wait up to that delay. Several pushes in a row reach the client whole and
in order, with and without the delay, and a reply to the client's own frame still comes back
while pushes wait. Nothing here measures time: only order and arrival."""

import pytest

from support.goim_client import TcpClient
from support.goim_ws import WsClient

TRANSPORTS = ["tcp", "ws"]
PUSHES = 8


def open_client(cluster, transport):
    d = cluster.comets[0]
    if transport == "tcp":
        c = TcpClient.connect("127.0.0.1", d.tcp_port)
    else:
        c = WsClient.connect("127.0.0.1", d.ws_port)
    cluster.clients.append(c)
    return c


def pushes_arrive_whole_and_in_order(cluster, transport, room):
    c = open_client(cluster, transport)
    c.auth(mid=31, key="k-coalesce-%s-%s" % (transport, room), room_id="live://" + room,
           accepts=[1000])
    cluster.ensure_push_path()
    for index in range(PUSHES):
        status, answer = cluster.push_room(1000, "live", room, b"push %d" % index)
        assert status == 200 and answer["code"] == 0, answer
    for index in range(PUSHES):
        f = c.read_frame(timeout=30)
        assert (f.op, f.body) == (1000, b"push %d" % index)
    return c


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_pushes_in_a_row_arrive_whole_and_in_order(cluster, transport):
    pushes_arrive_whole_and_in_order(cluster, transport, "coalesce-0")


@pytest.mark.cluster_args(comet=["-protocol.writeDelay", "200ms"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_write_delay_delivers_every_push_in_order(cluster, transport):
    c = pushes_arrive_whole_and_in_order(cluster, transport, "coalesce-200")
    # a reply to the client's own frame is answered while the delay is set
    assert c.heartbeat(timeout=30) == 1
    # and pushes after it still arrive, in order
    for index in range(2):
        status, answer = cluster.push_room(1000, "live", "coalesce-200", b"after %d" % index)
        assert status == 200 and answer["code"] == 0, answer
    for index in range(2):
        f = c.read_frame(timeout=30)
        assert (f.op, f.body) == (1000, b"after %d" % index)
