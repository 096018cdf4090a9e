"""Graceful stop of a comet (drain.period, beyond goim): on SIGTERM it goes offline in the
registry at once (logic stops offering it, job keeps delivering to it), closes its listeners,
closes its clients spread over the period while pushes still reach the ones left, and exits 0
once the last client is gone."""

import signal

import pytest

from support.goim_client import ConnectionClosed
from support.goim_ws import WsClient
from support.util import port_open, wait_for

MIDS = [701, 702, 703, 704]


def weighted_nodes(cluster):
    status, answer = cluster.http("GET", "/goim/nodes/weighted", [("platform", "android")])
    assert status == 200 and answer["code"] == 0, answer
    return answer["data"]["nodes"]


def test_drain_goes_offline_stops_accepting_and_closes_clients_over_the_period(make_cluster):
    cluster = make_cluster(extra_args={"logic": ["-online.interval", "1s"],
                                       "comet": ["-registry.ttl", "3s", "-drain.period", "20s",
                                                 "-worker.threads", "1"]},
                           start=False)
    draining = cluster.comet
    draining.args += ["-addrs", "1.1.1.1"]
    other = cluster.add_comet(start=False)
    other.args += ["-addrs", "2.2.2.2"]
    cluster.start()
    cluster.ensure_push_path()
    wait_for(lambda: sorted(weighted_nodes(cluster)) == ["1.1.1.1", "2.2.2.2"], 20,
             message="both comets offered")
    browser = WsClient.connect("127.0.0.1", draining.ws_port)  # the oldest: closed last
    cluster.clients.append(browser)
    browser.auth(mid=705, key="drain-ws", accepts=[1000])
    clients = []
    for mid in MIDS:
        c = cluster.client(comet=0)
        c.auth(mid=mid, key="drain-%d" % mid, accepts=[1000])
        clients.append(c)

    draining.signal(signal.SIGTERM)
    wait_for(lambda: weighted_nodes(cluster) == ["2.2.2.2"], 15,
             message="the draining comet is no longer offered")
    wait_for(lambda: not port_open(draining.tcp_port), 15,
             message="the draining comet stopped accepting")
    status, answer = cluster.push_mids(1000, MIDS, b"during the drain")
    assert status == 200 and answer["code"] == 0, answer

    # 5 clients over 20 s on one loop (several loops interleave their schedules, so which client
    # goes first would depend on how the kernel spread them), newest first: one TCP client
    # closes at once, the others 4 s apart; the push reaches those still connected, and every
    # client ends closed by the comet, the WebSocket one with a 1001 close frame.
    received = 0
    for c in clients:
        try:
            f = c.read_frame(timeout=40)
        except ConnectionClosed:
            continue
        assert (f.op, f.body) == (1000, b"during the drain")
        received += 1
        c.expect_closed(timeout=40)
    with pytest.raises(ConnectionClosed):
        while True:
            browser.read_frame(timeout=40)  # the push, if it came before its turn
    assert browser.close_code == 1001  # going away
    assert received >= 1, "no client got the push sent during the drain"
    assert received < len(MIDS), "the first client was not closed at once"
    assert draining.wait_exit(40) == 0
    assert "drained: every client is gone" in draining.log_since_start()
