"""check.py: the checks `make compose-test` runs from a container on the cluster's network.

tests/compose/run.sh brings deploy/docker-compose.yml up, then runs one phase at a time
(`docker compose run --rm tester PHASE`), stopping and starting comet2 between them:

  both        nodes/weighted offers comet1 and comet2 with their client addresses; two TCP
              clients on comet1 and three on comet2 (reached at those addresses and the offered
              tcp_port); a push by mid reaches its client, a push to their room and a push to
              all reach all five; nodes/instances counts 2 and 3 connections, online/total 5
              and online/room 5.
  comet2-gone (after comet2 was killed) nodes/weighted stops offering comet2 within the registry
              TTL plus logic's refresh, and pushes by mid, room and all keep reaching a client of
              comet1.

Each run of a phase uses a room of its own, and the phases use different numbers of clients per
comet, so a count left from an earlier phase cannot pass for this one.

  published   (run on the host: check.py published API_URL COMET_ADDRESS METRICS_URL...) a client
              on comet1's published TCP port receives a push by mid sent to the published push
              API, and every published metrics URL answers.

Everything else is reached by service name: logic:3111 for the API, the comets at the addresses
nodes/weighted gives. Exit status 0 when every check passed; a failed check prints what was
expected and what came, and exits 1.
"""

import json
import os
import sys
import time
import urllib.request

# in the tester image goim_client.py lies beside this file; on the host it is in the repository
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "integration",
                             "support"))
from goim_client import connect  # noqa: E402

API = "http://logic:3111"
OPERATION = 1000
ROOM_TYPE, ROOM = "live", "compose-%s" % os.urandom(4).hex()
ROOM_ID = ROOM_TYPE + "://" + ROOM
# registry.ttl (30 s) + logic's online.interval (10 s) + margin
GONE_WITHIN = 60.0
# a comet republishes its conn_count every ttl/3 (10 s), logic reloads every 10 s; margin
COUNTS_WITHIN = 45.0


class CheckFailed(Exception):
    """A check whose expectation was not met."""


def api(method, path, body=None):
    """Calls logic's HTTP API; returns the decoded envelope's data, or raises on a non-zero code."""
    request = urllib.request.Request(API + path, data=body, method=method)
    with urllib.request.urlopen(request, timeout=10) as answer:
        envelope = json.loads(answer.read())
    if envelope.get("code") != 0:
        raise CheckFailed("%s %s answered %r" % (method, path, envelope))
    return envelope.get("data")


def say(text):
    print("compose-check: " + text, flush=True)


def wait_for(what, condition, within):
    """Calls condition() every 0.5 s until it returns a true value (returned) or within s pass."""
    deadline = time.monotonic() + within
    started = time.monotonic()
    last = None
    while True:
        try:
            last = condition()
        except (OSError, CheckFailed) as error:
            last = error
        if last and not isinstance(last, Exception):
            say("%s (after %.1f s)" % (what, time.monotonic() - started))
            return last
        if time.monotonic() > deadline:
            raise CheckFailed("%s: not after %.0f s (last: %r)" % (what, within, last))
        time.sleep(0.5)


def offered():
    """nodes/weighted's answer: (sorted node addresses, tcp_port)."""
    data = api("GET", "/goim/nodes/weighted?platform=android")
    return sorted(data["nodes"]), data["tcp_port"]


def open_clients(plan):
    """plan: [(address, port, mid)]; returns {mid: authenticated client} (in room ROOM_ID)."""
    clients = {}
    for address, port, mid in plan:
        client = connect(address, port)
        client.auth(mid=mid, key="compose-%d" % mid, room_id=ROOM_ID, accepts=[OPERATION])
        clients[mid] = client
    return clients


def expect_push(clients, body, receivers):
    """Every client in receivers (mids) reads a frame with body; raises otherwise."""
    for mid in receivers:
        frame = clients[mid].read_frame(timeout=20)
        while frame.op != OPERATION:  # heartbeat replies and the like are not pushes
            frame = clients[mid].read_frame(timeout=20)
        if frame.body != body:
            raise CheckFailed("client %d: expected %r, got %r" % (mid, body, frame.body))


def push_everywhere(clients, tag):
    """Pushes by mid (each client alone), to the room and to all; checks who receives what."""
    for mid in clients:
        body = ("%s mid %d" % (tag, mid)).encode()
        api("POST", "/goim/push/mids?operation=%d&mids=%d" % (OPERATION, mid), body)
        expect_push(clients, body, [mid])
    say("%s: a push by mid reached each of %d clients" % (tag, len(clients)))
    body = ("%s room" % tag).encode()
    api("POST", "/goim/push/room?operation=%d&type=%s&room=%s" % (OPERATION, ROOM_TYPE, ROOM), body)
    expect_push(clients, body, clients)
    say("%s: a push to %s reached all %d clients" % (tag, ROOM_ID, len(clients)))
    body = ("%s all" % tag).encode()
    api("POST", "/goim/push/all?operation=%d&speed=0" % OPERATION, body)
    expect_push(clients, body, clients)
    say("%s: a push to all reached all %d clients" % (tag, len(clients)))


def connection_counts():
    """{hostname: conn_count} of the comets nodes/instances lists."""
    instances = api("GET", "/goim/nodes/instances") or []
    return {instance["hostname"]: int(instance["metadata"].get("conn_count", 0))
            for instance in instances}


def phase_both():
    per_comet = {"comet1": 2, "comet2": 3}
    nodes, port = wait_for("nodes/weighted offers comet1 and comet2",
                           lambda: offered() if offered()[0] == ["comet1", "comet2"] else None,
                           GONE_WITHIN)
    clients = open_clients([(node, port, 100 + index * 10 + n)
                            for index, node in enumerate(nodes) for n in range(per_comet[node])])
    try:
        push_everywhere(clients, "both")
        wait_for("nodes/instances counts %s connections" % per_comet,
                 lambda: connection_counts() == per_comet, COUNTS_WITHIN)
        wait_for("online/total counts the %d connections of both comets" % len(clients),
                 lambda: api("GET", "/goim/online/total")["conn_count"] == len(clients),
                 COUNTS_WITHIN)
        wait_for("online/room counts the %d members of %s on both comets" % (len(clients), ROOM_ID),
                 lambda: api("GET", "/goim/online/room?type=%s&rooms=%s" % (ROOM_TYPE, ROOM))
                 .get(ROOM) == len(clients), COUNTS_WITHIN)
    finally:
        for client in clients.values():
            client.close()


def phase_comet2_gone():
    nodes, port = wait_for("nodes/weighted stops offering the killed comet2",
                           lambda: offered() if offered()[0] == ["comet1"] else None,
                           GONE_WITHIN)
    clients = open_clients([(nodes[0], port, 200)])
    try:
        push_everywhere(clients, "comet2-gone")
    finally:
        for client in clients.values():
            client.close()


def phase_published(api_url, comet_address, *metrics_urls):
    global API
    API = api_url
    host, port = comet_address.rsplit(":", 1)
    clients = open_clients([(host, int(port), 300)])
    try:
        body = b"published mid 300"
        api("POST", "/goim/push/mids?operation=%d&mids=300" % OPERATION, body)
        expect_push(clients, body, [300])
        say("published: a push by mid through %s reached a client on %s" % (api_url, comet_address))
    finally:
        for client in clients.values():
            client.close()
    for url in metrics_urls:
        with urllib.request.urlopen(url, timeout=10) as answer:
            if answer.status != 200 or b"# TYPE" not in answer.read():
                raise CheckFailed("%s: not a metrics answer" % url)
    say("published: %d metrics endpoints answer" % len(metrics_urls))


PHASES = {"both": phase_both, "comet2-gone": phase_comet2_gone, "published": phase_published}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in PHASES:
        print("usage: check.py %s [ARGUMENT...]" % "|".join(PHASES), file=sys.stderr)
        return 2
    try:
        PHASES[sys.argv[1]](*sys.argv[2:])
    except CheckFailed as failure:
        say("FAILED: %s" % failure)
        return 1
    say("phase %s: passed" % sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
