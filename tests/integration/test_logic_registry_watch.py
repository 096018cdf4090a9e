"""logic offers a new comet as soon as it has registered (logic/online.c watches the registry's
set of comets between rounds), not at the next online.interval round. logic runs here with an
online.interval of one hour, so only the watch can explain a comet listed within the test."""

import time

from support.util import wait_for


def hostnames(cluster):
    status, reply = cluster.http("GET", "/goim/nodes/instances")
    assert status == 200 and reply["code"] == 0, reply
    return sorted(i["hostname"] for i in reply["data"] or [])


def test_a_new_comet_is_listed_once_registered(make_cluster):
    cluster = make_cluster(extra_args={"logic": ["-online.interval", "1h"]})
    # the first comet started after logic, while logic's view was empty
    wait_for(lambda: hostnames(cluster) == [cluster.comet_host], 30,
             message="the first comet listed (view empty: refreshed at once)")

    second = cluster.add_comet(start=True)
    key = "goim_comet_%s" % second.host
    wait_for(lambda: cluster.redis.exists(key), 30, interval=0.01,
             message="the second comet registered in Redis")
    registered = time.monotonic()
    wait_for(lambda: hostnames(cluster) == sorted([cluster.comet_host, second.host]), 30,
             interval=0.02, message="the second comet listed (registry set changed)")
    print("new comet listed %.0f ms after its registry key appeared"
          % ((time.monotonic() - registered) * 1000))
    status, reply = cluster.http("GET", "/goim/nodes/weighted", [("platform", "web")])
    assert status == 200 and "%s.goim.io" % second.host in reply["data"]["nodes"]
