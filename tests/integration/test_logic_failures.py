"""logic when its backends fail (issue 4): a dead Kafka broker or a Redis that
goes away answers -500 within the configured timeouts instead of hanging,
and logic recovers by itself when Redis comes back.

The session Redis is shared by every test, so the Redis outage uses a
private redis-server that this test stops and restarts on the same port.
"""

import time

from support.redis_server import RedisServer
from support.util import free_port, wait_for

OP = 1000


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def code(result):
    status, reply = result
    assert status == 200 and isinstance(reply, dict), result
    return reply["code"]


def test_dead_kafka_broker_answers_500_in_time(make_cluster):
    dead = "127.0.0.1:%d" % free_port()  # nothing listens there
    cluster = make_cluster(extra_args={"logic": ["-kafka.brokers", dead, "-kafka.timeout", "1s"]})
    for call in (lambda: cluster.push_room(OP, "live", "1000", b"x"),
                 lambda: cluster.push_all(OP, b"x", speed=3)):
        result, seconds = timed(call)
        assert code(result) == -500, result
        assert result[1]["message"], result
        # kafka.timeout 1 s + the producer's 0.5 s margin, plus slack for ASan
        assert seconds < 4.0, seconds


def test_redis_outage_answers_500_and_recovers(make_cluster):
    private = RedisServer().start()
    try:
        cluster = make_cluster(extra_args={"logic": ["-redis.addr", private.addr,
                                                     "-redis.timeout", "1s",
                                                     "-online.interval", "1s"]})
        total = lambda: cluster.http("GET", "/goim/online/total")  # noqa: E731
        mids = lambda: cluster.push_mids(OP, [42], b"x")  # noqa: E731
        wait_for(lambda: code(total()) == 0, 15, message="online/total before the outage")
        assert code(mids()) == 0

        port = private.port
        private.stop()
        result, seconds = timed(mids)
        assert code(result) == -500 and seconds < 4.0, (result, seconds)
        wait_for(lambda: code(total()) == -500, 15, message="online/total -500 during the outage")
        for path in ("/goim/online/top?type=live&limit=1", "/goim/nodes/instances"):
            result, seconds = timed(lambda: cluster.http("GET", path))
            assert code(result) == -500 and seconds < 4.0, (path, result, seconds)

        private.port = port
        private.start()
        wait_for(lambda: code(mids()) == 0, 20, message="push/mids recovers with Redis")
        wait_for(lambda: code(total()) == 0, 20, message="online/total recovers with Redis")
    finally:
        private.stop()
