"""The demo page and the JavaScript client in headless Chromium, against a real cluster.

Starts a cluster with the integration harness (Redis, the real Kafka broker, logic, job and a
comet with WebSocket and WSS), then runs page.test.js under node's test runner, which drives
Debian's Chromium through playwright-core. The comet is restarted on the page test's request
(POST /restart/comet to a small control server here), so the page's reconnect is tested
against a real restart; then a second comet is started and the first stopped, and the page
moves to the second. The screenshot is written to GOIM_ARTIFACTS (default build/browser).
"""

import base64
import hashlib
import json
import os
import queue
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from support.util import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# logic's node.hostDomain: discovery names the comet <host>.goim.test, which the page test's
# Chromium resolves to 127.0.0.1; the test certificate is for *.goim.test.
HOST_DOMAIN = ".goim.test"
NODE_TEST_TIMEOUT = 480
# The second comet's WebSocket address: discovery gives every comet the same ws_port, so the
# second one listens on another loopback address (its name is resolved there by Chromium).
SECOND_COMET_ADDRESS = "127.0.0.2"


def make_certificate(directory):
    """A self-signed certificate for *.goim.test and 127.0.0.1: (cert path, key path, SPKI pin)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=goim-c browser test",
                    "-addext", "subjectAltName=DNS:*%s,IP:127.0.0.1" % HOST_DOMAIN,
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    public_key = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-pubkey"],
                                check=True, capture_output=True, timeout=60).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=public_key,
                         check=True, capture_output=True, timeout=60).stdout
    return cert, key, base64.b64encode(hashlib.sha256(der).digest()).decode()


class ControlServer:
    """Cluster actions the page test asks for, answered when done:

        POST /restart/comet   restart the comet (SIGTERM, start, wait until ready)
        POST /start/comet2    start a second comet whose WebSocket listener is 127.0.0.2 on the
                              first one's port (discovery advertises one ws_port for all comets)
        POST /stop/comet      stop the first comet for good

    The actions run on the thread that started the cluster, never on a server thread: the
    harness starts daemons with PR_SET_PDEATHSIG, which kills a child when the *thread* that
    started it exits. The test's thread calls serve_requests_until() while the page test runs.
    """

    def __init__(self, cluster):
        requests = self.requests = queue.Queue()
        self.actions = {
            "/restart/comet": lambda: cluster.restart("comet"),
            "/start/comet2": self._start_second_comet,
            "/stop/comet": lambda: cluster.stop("comet"),
        }
        actions = self.actions

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                if self.path not in actions:
                    return self.answer(404, {"error": "unknown path %s" % self.path})
                done = {"path": self.path, "event": threading.Event()}
                requests.put(done)
                if not done["event"].wait(120):
                    return self.answer(500, {"error": "%s did not finish in 120 s" % self.path})
                if "error" in done:
                    return self.answer(500, {"error": done["error"]})
                return self.answer(200, {"done": self.path})

            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):  # noqa: A002 - http.server's signature
                print("control: " + format % args)

        self.cluster = cluster
        self.done = []
        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def second_comet_host(cluster):
        """The host name the harness gives the second comet."""
        return "comet-%s-2" % cluster.id

    def _start_second_comet(self):
        comet = self.cluster.add_comet(start=False)
        assert comet.host == self.second_comet_host(self.cluster)
        comet.args += ["-websocket.bind", "%s:%d" % (SECOND_COMET_ADDRESS, self.cluster.comet.ws_port),
                       "-online.interval", "1s", "-registry.ttl", "3s"]
        comet.start()

    def serve_requests_until(self, process, timeout):
        """Carries out the requests until process (a Popen) exits (its exit code) or timeout
        seconds pass (None)."""
        deadline = time.monotonic() + timeout
        while process.poll() is None:
            if time.monotonic() > deadline:
                return None
            try:
                done = self.requests.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.actions[done["path"]]()
                self.done.append(done["path"])
            except Exception as e:  # noqa: BLE001 - reported to the page test
                done["error"] = repr(e)
            done["event"].set()
        return process.returncode

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def test_demo_page_in_chromium(make_cluster, tmp_path):
    cert, key, spki = make_certificate(str(tmp_path))
    wss_port = free_port()
    c = make_cluster(start=False, extra_args={
        # Short intervals so that online counts and the cluster view follow within seconds,
        # a short backoff so the reconnect is quick; discovery names comets <host>.goim.test.
        "logic": ["-node.hostDomain", HOST_DOMAIN, "-node.defaultDomain", "nowhere.invalid",
                  "-node.heartbeat", "5s", "-backoff.baseDelay", "1", "-backoff.maxDelay", "5",
                  "-online.interval", "1s"],
        "comet": ["-websocket.tlsOpen", "true", "-websocket.tlsBind", "127.0.0.1:%d" % wss_port,
                  "-websocket.certFile", cert, "-websocket.privateFile", key,
                  "-online.interval", "1s", "-registry.ttl", "3s"],
    })
    # Discovery advertises the comet's real (free) ports.
    c.logic.args += ["-node.wsPort", str(c.comet.ws_port), "-node.wssPort", str(wss_port)]
    c.start()
    c.ensure_push_path()

    artifacts = os.environ.get("GOIM_ARTIFACTS") or os.path.join(REPO, "build", "browser")
    with ControlServer(c) as control:
        env = dict(os.environ,
                   GOIM_LOGIC_URL="http://127.0.0.1:%d" % c.logic_http_port,
                   GOIM_CONTROL_URL=control.url,
                   GOIM_COMET_HOST=c.comet_host,
                   GOIM_COMET2_HOST=ControlServer.second_comet_host(c),
                   GOIM_COMET2_ADDRESS=SECOND_COMET_ADDRESS,
                   GOIM_HOST_DOMAIN=HOST_DOMAIN,
                   GOIM_WSS_SPKI=spki,
                   GOIM_ARTIFACTS=artifacts)
        log_path = os.path.join(str(tmp_path), "page.test.log")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(["node", "--test", "--test-reporter=spec", "page.test.js"],
                                       cwd=HERE, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
            try:
                code = control.serve_requests_until(process, NODE_TEST_TIMEOUT)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    with open(log_path, "rb") as log:
        output = log.read().decode("utf-8", "replace")
    print(output)
    assert code == 0, "page.test.js failed (exit %s):\n%s" % (code, output[-6000:])
    assert control.done == ["/restart/comet", "/start/comet2", "/stop/comet"]
    assert os.path.getsize(os.path.join(artifacts, "demo-page.png")) > 0
