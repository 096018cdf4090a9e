"""gopusher's clients on comet: /ws/{app_key}/{user_tag}[?token=] end to end.

Admission through logic (unknown app 404, connect hooks served by a small HTTP
server inside the test: the user_tag, a wrong tag, a 10 s stall), text pushes
to every socket of an app or to the user_tags a regex matches, unregister
closing live sockets, listonlineuser across two comets, a client message over
512 bytes, and an app imported from gopusher's SQLite file pushing to a
client. The WebSocket client is support/goim_ws.py's RFC 6455 transport
(written from the RFC, not from the C code), sending and reading text.
"""

import http.server
import os
import statistics
import subprocess
import threading
import time
import urllib.parse

import pytest

from support import gopusher
from support.goim_client import ConnectionClosed
from support.goim_ws import (OPCODE_TEXT, WsClient, open_socket, read_http_head,
                             upgrade_request)
from support.gopusher import SUPER, basic, call
from support.util import wait_for
from test_metrics import scrape
from test_metrics import value as metric


@pytest.fixture
def gp(make_cluster):
    """A cluster whose logic has the super admin root/root-secret."""
    c = make_cluster(extra_args={"logic": gopusher.super_admin_args()})
    c.ensure_push_path()
    return c


def api(cluster, method, path, **kwargs):
    return call(cluster.gopusher_port, method, path, **kwargs)


def register(cluster, app_key, hook=None, account="admin", password="pw"):
    form = {"app_key": app_key, "auth_account": account, "auth_password": password}
    if hook is not None:
        form["connect_hook"] = hook
    answer = api(cluster, "POST", "/api/register", form=form)
    assert answer.status == 200, answer
    return answer


def ws_path(app_key, user_tag, token=None):
    path = "/ws/%s/%s" % (urllib.parse.quote(app_key, safe=""),
                          urllib.parse.quote(user_tag, safe=""))
    if token is not None:
        path += "?token=" + urllib.parse.quote(token, safe="")
    return path


def connect(cluster, app_key, user_tag, token=None, comet=0, timeout=15.0):
    """An admitted client (raises ProtocolError when the upgrade is refused)."""
    return WsClient.connect("127.0.0.1", cluster.comets[comet].ws_port,
                            path=ws_path(app_key, user_tag, token), timeout=timeout)


def refused(cluster, app_key, user_tag, token=None, comet=0, timeout=20.0):
    """(status, body) of an upgrade comet refuses; the socket is closed after the body."""
    port = cluster.comets[comet].ws_port
    sock = open_socket("127.0.0.1", port, timeout=timeout)
    try:
        sock.sendall(upgrade_request("127.0.0.1", port, path=ws_path(app_key, user_tag, token)))
        status, headers, rest = read_http_head(sock, timeout)
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(4096)
            if not chunk:
                break
            rest += chunk
        assert headers.get("connection") == "close"
        assert sock.recv(4096) == b""  # closed once the answer is written
        return status, rest
    finally:
        sock.close()


def text(client, timeout=15.0):
    opcode, payload = client.recv_message(timeout)
    assert opcode == OPCODE_TEXT
    return payload.decode()


def push(cluster, app_key, content, user_tag=None, auth=SUPER):
    form = {"content": content}
    if user_tag is not None:
        form["user_tag"] = user_tag
    answer = api(cluster, "POST", "/api/push/" + app_key, form=form, auth=auth)
    assert answer.status == 200, answer
    return answer.json()


def wait_online(cluster, app_key, expected, timeout=20.0):
    """Polls listonlineuser until its user_tags are expected (a set)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = api(cluster, "GET", "/api/%s/listonlineuser" % app_key).json()
        tags = set(answer["user_tags"] or {})
        if tags == expected:
            return answer
        assert time.monotonic() < deadline, (answer, expected)
        time.sleep(0.2)


def test_push_to_all_and_by_regex_and_refusals(gp):
    register(gp, "chat")
    a1, a10, b2 = connect(gp, "chat", "A:1"), connect(gp, "chat", "A:10"), connect(gp, "chat", "B:2")
    wait_online(gp, "chat", {"A:1", "A:10", "B:2"})

    answer = push(gp, "chat", "to all <3")
    assert answer["Total"] == 3
    for client in (a1, a10, b2):
        assert text(client) == "to all <3"

    # "A:1" is unanchored: it reaches A:10 too; B:2 gets only the later push to all.
    assert push(gp, "chat", "to A:1*", user_tag="A:1")["Total"] == 2
    assert push(gp, "chat", "exactly A:1", user_tag="^A:1$")["Total"] == 1
    push(gp, "chat", "control")
    assert [text(a1), text(a1), text(a1)] == ["to A:1*", "exactly A:1", "control"]
    assert [text(a10), text(a10)] == ["to A:1*", "control"]
    assert text(b2) == "control"

    # An unknown app, a path gopusher does not route, a bad escape.
    assert refused(gp, "nope", "x") == (404, b"app_key does not exist\n")
    port = gp.comets[0].ws_port
    for path, status in (("/ws/chat", 404), ("/ws/chat/a/b", 404), ("/ws/chat/%zz", 400)):
        sock = open_socket("127.0.0.1", port)
        sock.sendall(upgrade_request("127.0.0.1", port, path=path))
        assert read_http_head(sock)[0] == status, path
        sock.close()

    # A client message over 512 bytes closes; 512 is read and discarded.
    a10.send_bytes(b"x" * 512, OPCODE_TEXT)
    b2.send_bytes(b"x" * 513, OPCODE_TEXT)
    push(gp, "chat", "still here")
    assert text(a10) == "still here"
    assert text(a1) == "still here"
    with pytest.raises(ConnectionClosed):
        while True:
            b2.recv_message(15)
    wait_online(gp, "chat", {"A:1", "A:10"})

    # Push latency at rest: HTTP push -> the text message at the client.
    samples = []
    for n in range(100):
        started = time.monotonic()
        push(gp, "chat", "latency %d" % n, user_tag="^A:1$")
        assert text(a1) == "latency %d" % n
        samples.append((time.monotonic() - started) * 1000)
    samples.sort()
    print("gopusher push latency at rest (ms, 100 pushes): median %.1f, worst %.1f"
          % (statistics.median(samples), samples[-1]))
    for client in (a1, a10):
        client.close()


class HookServer:
    """A connect hook: answers the user_tag for token good-<tag>, another tag for wrong,
    and stalls 10 s for stall (the release event ends the stall early at teardown); for
    hold-<tag> it counts the call as held and answers <tag> once hold_release is set."""

    def __init__(self):
        self.release = threading.Event()
        self.stalled = threading.Event()
        self.hold_release = threading.Event()
        self.held = 0
        self.held_changed = threading.Condition()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length", "0"))
                token = urllib.parse.parse_qs(self.rfile.read(length).decode()).get("token", [""])[0]
                if token == "stall":
                    hook.stalled.set()
                    hook.release.wait(10)
                    body = b"late"
                elif token.startswith("hold-"):
                    with hook.held_changed:
                        hook.held += 1
                        hook.held_changed.notify_all()
                    hook.hold_release.wait(60)
                    body = token[5:].encode()
                elif token.startswith("good-"):
                    body = token[5:].encode()
                else:
                    body = b"someone-else"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 64  # many hook calls connect at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]

    def wait_held(self, count, timeout):
        """True once count hold- calls wait in the hook at the same time."""
        with self.held_changed:
            return self.held_changed.wait_for(lambda: self.held >= count, timeout)

    def close(self):
        self.release.set()
        self.hold_release.set()
        self.server.shutdown()
        self.server.server_close()


def test_connect_hook_admits_only_the_user_tag_it_answers(gp):
    hook = HookServer()
    try:
        register(gp, "hooked", hook=hook.url)
        register(gp, "open")
        admitted = connect(gp, "hooked", "alice", token="good-alice")
        status, body = refused(gp, "hooked", "alice", token="wrong")
        assert (status, body) == (404, b"Error user_tag alice, response user_tag someone-else\n")

        # A stalled hook is refused after gopusher.hookTimeout (5 s); meanwhile other clients
        # are admitted, through the hook and without one.
        result = {}

        def stalled():
            result["answer"] = refused(gp, "hooked", "bob", token="stall", timeout=30)
            result["others_done"] = others_done.is_set()

        others_done = threading.Event()
        waiter = threading.Thread(target=stalled)
        waiter.start()
        assert hook.stalled.wait(15)
        others = [connect(gp, "hooked", "carol", token="good-carol"), connect(gp, "open", "dave")]
        others_done.set()
        waiter.join(30)
        assert not waiter.is_alive()
        status, body = result["answer"]
        assert status == 404 and b"imed out" in body, result  # libcurl: "Operation timed out"
        assert result["others_done"]  # the others were admitted while the stall waited
        push(gp, "hooked", "to the hooked app")
        assert text(admitted) == "to the hooked app"
        assert text(others[0]) == "to the hooked app"
        for client in [admitted] + others:
            client.close()
    finally:
        hook.close()


def slow_hook_cluster(make_cluster):
    """A cluster whose hooks may take 50 s (so a held call ends by the test's release, never by
    the timeout), a HookServer, and the app "slow" registered with it."""
    cluster = make_cluster(extra_args={
        "logic": gopusher.super_admin_args() + ["-gopusher.hookTimeout", "50s"],
        "comet": ["-gopusher.connectTimeout", "55s"]})
    cluster.ensure_push_path()
    hook = HookServer()
    register(cluster, "slow", hook=hook.url)
    return cluster, hook


def test_more_stalled_hooks_than_workers_wait_while_others_are_admitted(make_cluster):
    """Hook calls do not hold logic's RPC workers (8): 10 hooks that stall wait at once
    (gopusher.hookConcurrency 64), and meanwhile a client of an app without a hook is
    admitted; once the hooks answer, all 10 are admitted."""
    cluster, hook = slow_hook_cluster(make_cluster)
    try:
        register(cluster, "open")
        held = 10
        admitted = {}
        answered = threading.Lock()

        def held_client(n):
            try:
                client = connect(cluster, "slow", "u%d" % n, token="hold-u%d" % n, timeout=90)
            except Exception as error:  # noqa: BLE001 - reported by the assertions below
                client = error
            with answered:
                admitted[n] = client

        waiters = [threading.Thread(target=held_client, args=(n,)) for n in range(held)]
        for waiter in waiters:
            waiter.start()
        assert hook.wait_held(held, 60), hook.held  # all 10 calls in flight at once
        free = connect(cluster, "open", "free")
        with answered:
            assert admitted == {}  # the open app's client came first, every hook still held
        hook.hold_release.set()
        for waiter in waiters:
            waiter.join(90)
            assert not waiter.is_alive()
        assert all(isinstance(client, WsClient) for client in admitted.values()), admitted
        assert push(cluster, "slow", "after the hooks")["Total"] == held
        for client in admitted.values():
            assert text(client) == "after the hooks"
        assert push(cluster, "open", "still open")["Total"] == 1
        assert text(free) == "still open"
        for client in list(admitted.values()) + [free]:
            client.close()
    finally:
        hook.close()


def test_logic_stopping_answers_the_clients_whose_hooks_are_in_flight(make_cluster):
    """A stop does not wait for the hooks (50 s here): the calls in flight end at once, their
    deferred answers go out (comet refuses those clients with 503) and logic exits cleanly."""
    cluster, hook = slow_hook_cluster(make_cluster)
    try:
        answers = {}

        def held_client(n):
            answers[n] = refused(cluster, "slow", "u%d" % n, token="hold-u%d" % n, timeout=90)

        waiters = [threading.Thread(target=held_client, args=(n,)) for n in range(3)]
        for waiter in waiters:
            waiter.start()
        assert hook.wait_held(3, 60), hook.held
        assert cluster.stop("logic") == 0  # within the harness's stop timeout, not the hook's
        for waiter in waiters:
            waiter.join(60)
            assert not waiter.is_alive()
        assert [answers[n][0] for n in range(3)] == [503] * 3, answers
    finally:
        hook.close()


def test_unregister_closes_live_sockets(gp):
    register(gp, "doomed")
    register(gp, "kept")
    doomed = [connect(gp, "doomed", "x"), connect(gp, "doomed", "y")]
    kept = connect(gp, "kept", "z")
    wait_online(gp, "doomed", {"x", "y"})

    def gopusher_gauge():
        return metric(scrape(gp.comet.metrics_port), "comet_protocol_connections",
                      protocol="gopusher")

    assert gopusher_gauge() == 3
    assert api(gp, "DELETE", "/api/doomed/unregister").status == 200
    for client in doomed:
        with pytest.raises(ConnectionClosed):
            while True:
                client.recv_message(15)
        assert client.close_code == 1000
    push(gp, "kept", "alive")
    assert text(kept) == "alive"
    assert refused(gp, "doomed", "x") == (404, b"app_key does not exist\n")
    wait_for(lambda: gopusher_gauge() == 1, 10, message="the kept gopusher socket alone counted")
    kept.close()


def test_listonlineuser_across_two_comets(gp):
    gp.add_comet()
    gp.ensure_push_path(comet=1)  # job knows the second comet: a room push reaches it
    register(gp, "two")
    on_first = connect(gp, "two", "A", comet=0)
    on_second = [connect(gp, "two", "A", comet=1), connect(gp, "two", "B", comet=1)]
    answer = wait_online(gp, "two", {"A", "B"})
    assert answer["total"] == 2
    paged = api(gp, "GET", "/api/two/listonlineuser/1/2").json()
    assert paged["user_tags"] == ["B"] and paged["total"] == 2
    # Presence names both comets, each with its own counts.
    assert set(gp.redis.zrange("gopusher/online/two", 0, -1)) == {c.host for c in gp.comets}
    assert gp.redis.hgetall("gopusher/online/two/%s" % gp.comets[1].host) == {"A": "1", "B": "1"}
    # A push reaches both comets' clients.
    assert push(gp, "two", "both")["Total"] == 3
    for client in [on_first] + on_second:
        assert text(client) == "both"
    # Within seconds of a disconnect the tag is gone.
    on_second[1].close()
    wait_online(gp, "two", {"A"})
    # A comet that stops withdraws its presence.
    gp.stop(gp.comets[1].name)
    assert gp.redis.exists("gopusher/online/two/%s" % gp.comets[1].host) == 0
    assert gp.redis.zrange("gopusher/online/two", 0, -1) == [gp.comets[0].host]
    on_first.close()


def test_imported_app_admin_pushes_to_a_client(gp, bin_dir, tmp_path):
    path = str(tmp_path / "gopusher.sqlite")
    gopusher.make_gopusher_db(path, [
        ("legacy", "carol", gopusher.go_hash("carol", "c4rol"), "", "127.0.0.1:50040",
         1440473952104, "2015/08/25 11:39:12"),
    ])
    done = subprocess.run([os.path.join(bin_dir, "logic"), "-import-gopusher", path,
                           "-redis.addr", gp.redis_addr],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done
    client = connect(gp, "legacy", "someone")
    wait_online(gp, "legacy", {"someone"})
    assert push(gp, "legacy", "from carol", auth=basic("carol", "c4rol"))["Total"] == 1
    assert text(client) == "from carol"
    client.close()


def test_pings_and_the_pong_deadline(make_cluster):
    """gopusher.pingInterval 1s and pongTimeout 3s (54 s and 60 s by default): a client that
    answers the pings stays, one that does not is closed."""
    cluster = make_cluster(extra_args={
        "logic": gopusher.super_admin_args(),
        "comet": ["-gopusher.pingInterval", "1s", "-gopusher.pongTimeout", "3s"]})
    cluster.ensure_push_path()
    register(cluster, "pings")
    answering, silent = connect(cluster, "pings", "a"), connect(cluster, "pings", "s")
    received = {}

    def read_answering():  # recv_message answers every ping while it waits
        try:
            received["text"] = text(answering, timeout=60)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            received["error"] = error

    reader = threading.Thread(target=read_answering)
    reader.start()
    pings = 0
    deadline = time.monotonic() + 30
    with pytest.raises(ConnectionClosed):
        while True:
            got = silent._take_ws_frame()
            if got is None:
                silent._fill(deadline)
                continue
            if got[1] == 0x9:
                pings += 1
    assert pings >= 1
    # The silent one is gone; the answering one, older than the pong timeout, still gets pushes.
    push(cluster, "pings", "alive")
    reader.join(60)
    assert received.get("text") == "alive", received
    answering.close()
