"""logic's Connect through the session batch (logic/session_batch.h), its RPC answer deferred:
many clients authenticating at once each get a session (a push by mid reaches every one of
them), and a Connect while Redis is down is refused (the comet closes the client) and accepted
again once Redis is back. Only arrival and refusal are asserted, never time."""

import threading

from support.goim_client import ConnectionClosed, TcpClient
from support.redis_server import RedisServer
from support.util import wait_for

OP = 1000
CLIENTS = 64
MID_BASE = 7100


def test_concurrent_connects_each_get_a_session(cluster):
    comet = cluster.comets[0]
    clients = [TcpClient.connect("127.0.0.1", comet.tcp_port) for _ in range(CLIENTS)]
    cluster.clients.extend(clients)
    errors = []
    start = threading.Barrier(CLIENTS)

    def authenticate(index):
        try:
            start.wait(timeout=30)
            clients[index].auth(mid=MID_BASE + index, key="k-batch-%d" % index,
                                room_id="live://batch", accepts=[OP], timeout=30)
        except Exception as error:  # reported below, with the client's index
            errors.append((index, error))

    threads = [threading.Thread(target=authenticate, args=(index,)) for index in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    cluster.ensure_push_path()
    status, answer = cluster.push_mids(OP, [MID_BASE + index for index in range(CLIENTS)],
                                       b"to every session")
    assert status == 200 and answer["code"] == 0, answer
    for client in clients:
        frame = client.read_frame(timeout=30)
        assert (frame.op, frame.body) == (OP, b"to every session")


def test_connect_is_refused_while_redis_is_down_and_accepted_after(make_cluster):
    private = RedisServer().start()
    try:
        cluster = make_cluster(extra_args={"logic": ["-redis.addr", private.addr,
                                                     "-redis.timeout", "1s"]})
        comet = cluster.comets[0]
        first = TcpClient.connect("127.0.0.1", comet.tcp_port)
        cluster.clients.append(first)
        first.auth(mid=7201, key="k-before", accepts=[OP], timeout=30)

        port = private.port
        private.stop()
        refused = TcpClient.connect("127.0.0.1", comet.tcp_port)
        cluster.clients.append(refused)
        try:
            refused.auth(mid=7202, key="k-during", accepts=[OP], timeout=30)
            raise AssertionError("auth accepted while Redis is down")
        except ConnectionClosed:
            pass

        private.port = port
        private.start()

        def accepted():
            client = TcpClient.connect("127.0.0.1", comet.tcp_port)
            cluster.clients.append(client)
            try:
                client.auth(mid=7203, key="k-after", accepts=[OP], timeout=30)
            except ConnectionClosed:
                return None
            return client

        after = wait_for(accepted, 20, message="Connect accepted again with Redis back")
        cluster.ensure_push_path()
        status, answer = cluster.push_mids(OP, [7203], b"after the outage")
        assert status == 200 and answer["code"] == 0, answer
        frame = after.read_frame(timeout=30)
        assert (frame.op, frame.body) == (OP, b"after the outage")
    finally:
        private.stop()
