"""Sessions survive a Redis that lost its data (issue 11): after FLUSHALL the comet finds its
registry entry gone at its next publish and sends its live connections' sessions to logic again,
so a push by mid reaches a client that stayed connected, without the client doing anything."""

import time

from support.util import wait_for

OP = 1000
MID = 4242
PUSH_BOUND_S = 30.0  # the comet publishes every registry.ttl / 3 = 1 s here


def test_push_by_mid_reaches_an_existing_client_after_redis_lost_its_data(make_cluster):
    cluster = make_cluster(extra_args={"comet": ["-registry.ttl", "3s"]})
    cluster.ensure_push_path()
    client = cluster.client()
    client.auth(mid=MID, key="resync-key", accepts=[OP])
    status, answer = cluster.push_mids(OP, [MID], b"before")
    assert status == 200 and answer["code"] == 0, answer
    assert client.read_frame(timeout=10).body == b"before"

    cluster.redis.flushall()
    flushed = time.monotonic()
    pushes = []

    def delivered():
        body = b"after %d" % len(pushes)
        pushes.append(body)
        status, answer = cluster.push_mids(OP, [MID], body)
        assert status == 200 and answer["code"] == 0, answer
        try:
            frame = client.read_frame(timeout=0.5)
        except TimeoutError:
            return False
        assert frame.op == OP and frame.body in pushes, frame
        return True

    wait_for(delivered, PUSH_BOUND_S, interval=0.1,
             message="a push by mid reached the client after FLUSHALL")
    print("\nafter FLUSHALL a push by mid reached the existing client again in %.2f s (%d pushes)"
          % (time.monotonic() - flushed, len(pushes)))
    assert "sessions sent to logic again" in cluster.comet.log_since_start()
