"""Start and stop goim-c daemons (logic, job, comets) for one integration test.

Black-box: the harness only knows the daemons' command-line flags, their
"<role> ready" log line, their ports, the HTTP API and Redis key names.

Every daemon's stdout+stderr goes to <workdir>/<name>.log. Stopping sends
SIGTERM and waits up to 10 s; anything abnormal (SIGKILL needed, exit code
not 0, a sanitizer report or "runtime error:" in the log, a daemon that died
on its own during the test) is recorded in Cluster.problems, which the
`cluster` fixture turns into a test failure with the log tails.
"""

import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from .goim_client import TcpClient
from .util import Abort, free_port, port_listening, tail, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
LSAN_SUPP = os.path.join(os.path.dirname(HERE), "lsan.supp")

SANITIZER_RE = re.compile(
    r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|ThreadSanitizer|runtime error:")
# "<pid>:<role> <time> <level letter> <message>" (common/log.h)
LOG_LINE_RE = re.compile(r"^\d+:\S+ \S+ [A-Z] (.*)$")

STOP_TIMEOUT = 10.0
READY_TIMEOUT = 60.0

# Variables the daemons' config layer reads from the environment: never let
# the caller's environment leak into a test cluster.
_CONFIG_ENV = ("HOST", "REGION", "ZONE", "DEPLOY_ENV", "DEBUG", "REDIS_ADDR", "KAFKA_BROKERS",
               "WEIGHT", "ADDRS", "OFFLINE")


def daemon_env():
    env = {k: v for k, v in os.environ.items() if k not in _CONFIG_ENV}
    env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1"
    env["LSAN_OPTIONS"] = "suppressions=%s" % LSAN_SUPP
    return env


def _die_with_parent():
    """preexec_fn: the daemon gets SIGKILL if the test runner dies (no orphans)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Daemon:
    """One daemon process; can be started, stopped and killed repeatedly."""

    def __init__(self, name, role, exe, args, log_path, ready_ports=(), env=None):
        self.name = name          # unique in the cluster: logic, job, comet, comet2...
        self.role = role          # logic / job / comet: the "<role> ready" line
        self.exe = exe
        self.args = list(args)
        self.log_path = log_path
        self.ready_ports = tuple(ready_ports)
        self.env = env if env is not None else daemon_env()
        self.proc = None
        self.problems = []
        self.starts = 0
        self._log_offset = 0

    @property
    def argv(self):
        return [self.exe] + self.args

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, wait=True, timeout=READY_TIMEOUT):
        if self.running:
            raise RuntimeError("%s is already running" % self.name)
        self._reap_unexpected_exit()
        self._log_offset = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(("=== harness: start #%d: %s\n" % (self.starts, " ".join(self.argv))).encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=self.env, preexec_fn=_die_with_parent)
        if wait:
            self.wait_ready(timeout)
        return self

    def log_since_start(self):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def ready_line_seen(self):
        want = "%s ready" % self.role
        for line in self.log_since_start().splitlines():
            m = LOG_LINE_RE.match(line)
            message = m.group(1) if m else line
            if message.startswith(want):
                return True
        return False

    def wait_ready(self, timeout=READY_TIMEOUT):
        def ready():
            if self.proc.poll() is not None:
                raise Abort("%s exited with code %s during start-up" % (self.name, self.proc.returncode))
            return all(port_listening(p) for p in self.ready_ports) and self.ready_line_seen()

        try:
            wait_for(ready, timeout, interval=0.05,
                     message="%s: ports %s listening and a '%s ready' log line"
                     % (self.name, list(self.ready_ports), self.role))
        except (AssertionError, Abort) as e:
            raise AssertionError("%s\n%s" % (e, self.describe())) from None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait; SIGKILL (recorded as a problem) after timeout. Returns the exit code."""
        if self.proc is None:
            return None
        if self._reap_unexpected_exit():
            return None
        proc = self.proc
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stacks = self._dump_stacks()
            proc.kill()
            code = proc.wait()
            self.problems.append("%s did not exit within %.0fs of SIGTERM (SIGKILLed)%s"
                                 % (self.name, timeout, stacks))
        else:
            if code != 0:
                self.problems.append("%s exited with code %s after SIGTERM" % (self.name, code))
        self.proc = None
        return code

    def _dump_stacks(self):
        """Thread stacks of a hung daemon (gdb, if installed) into <log>.stacks; a note for the report."""
        gdb = shutil.which("gdb")
        if gdb is None:
            return ""
        path = self.log_path + ".stacks"
        try:
            out = subprocess.run([gdb, "-p", str(self.proc.pid), "-batch", "-nx",
                                  "-ex", "thread apply all bt"],
                                 stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            text = out.stdout.decode("utf-8", "replace")
        except (OSError, subprocess.SubprocessError) as e:
            return " (gdb failed: %s)" % e
        with open(path, "w") as f:
            f.write(text)
        frames = [line for line in text.splitlines() if line.startswith(("Thread ", "#"))]
        return "; thread stacks in %s:\n    %s" % (path, "\n    ".join(frames[:80]))

    def signal(self, signal_number):
        """Sends a signal and returns at once (see wait_exit)."""
        if self.proc is not None:
            self.proc.send_signal(signal_number)

    def wait_exit(self, timeout):
        """Waits for a daemon told to stop by signal(); a non-zero exit or a timeout (then
        SIGKILL) is recorded as a problem. Returns the exit code."""
        if self.proc is None:
            return None
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            self.problems.append("%s did not exit within %.0fs (SIGKILLed)" % (self.name, timeout))
        else:
            if code != 0:
                self.problems.append("%s exited with code %s" % (self.name, code))
        self.proc = None
        return code

    def kill(self):
        """SIGKILL on purpose (crash simulation): not a problem by itself."""
        if self.proc is None:
            return None
        if self._reap_unexpected_exit():
            return None
        self.proc.kill()
        code = self.proc.wait()
        self.proc = None
        return code

    def _reap_unexpected_exit(self):
        if self.proc is not None and self.proc.poll() is not None:
            self.problems.append("%s died on its own during the test (exit code %s)"
                                 % (self.name, self.proc.returncode))
            self.proc = None
            return True
        return False

    def sanitizer_reports(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return [line.rstrip("\n") for line in f if SANITIZER_RE.search(line)]
        except OSError:
            return []

    def final_check(self):
        """Problems found after the daemon is stopped (call once at teardown)."""
        self._reap_unexpected_exit()
        reports = self.sanitizer_reports()
        if reports:
            self.problems.append("%s log has sanitizer/runtime error reports:\n  %s"
                                 % (self.name, "\n  ".join(reports[:20])))
        return self.problems

    def describe(self, lines=60):
        return "--- %s (%s)\n%s" % (self.name, self.log_path, tail(self.log_path, lines))


class Cluster:
    """logic + job + comet(s) with unique names, on free 127.0.0.1 ports.

    redis_addr: "127.0.0.1:N"; kafka_broker: a started support.kafka_broker.KafkaBroker.
    Redis is FLUSHALLed at start(): clusters are meant to run one at a time.
    extra_args: {"logic": [...], "job": [...], "comet": [...]} appended flags.
    """

    def __init__(self, bin_dir, workdir, redis_addr, kafka_broker, extra_args=None, debug=None):
        self.bin_dir = bin_dir
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.redis_addr = redis_addr
        self.kafka_broker = kafka_broker
        self.kafka = kafka_broker.bootstrap
        self.extra_args = extra_args or {}
        if debug is None:
            debug = os.environ.get("GOIM_TEST_DEBUG", "") not in ("", "0")
        self.debug = debug
        self.id = secrets.token_hex(3)
        self.topic = "goim-push-%s" % self.id
        self.group = "goim-job-%s" % self.id
        self.logic_http_port = free_port()
        self.logic_rpc_port = free_port()
        self.job_metrics_port = free_port()  # job's GET /metrics (never goim-c's default :3106)
        self.gopusher_port = free_port()  # logic's gopusher API (never the default :8002)
        self.logic = self._daemon("logic", "logic", [
            "-host", "logic-%s" % self.id,
            "-httpServer.addr", "127.0.0.1:%d" % self.logic_http_port,
            "-rpcServer.addr", "127.0.0.1:%d" % self.logic_rpc_port,
            "-kafka.brokers", self.kafka,
            "-kafka.topic", self.topic,
            "-redis.addr", self.redis_addr,
            "-node.heartbeat", "4m",
            "-gopusher.addr", "127.0.0.1:%d" % self.gopusher_port,
        ], ready_ports=[self.logic_http_port, self.gopusher_port])
        self.job = self._daemon("job", "job", [
            "-host", "job-%s" % self.id,
            "-kafka.brokers", self.kafka,
            "-kafka.topic", self.topic,
            "-kafka.group", self.group,
            "-redis.addr", self.redis_addr,
            "-metrics.addr", "127.0.0.1:%d" % self.job_metrics_port,
        ])
        self.comets = []
        self.daemons = {"logic": self.logic, "job": self.job}
        self._add_comet_daemon()
        self.clients = []
        self._redis = None
        self.problems = []

    # -- construction ---------------------------------------------------------

    def _daemon(self, name, role, args, ready_ports=()):
        exe = os.path.join(self.bin_dir, role)
        args = list(args) + list(self.extra_args.get(role, ()))
        if self.debug:
            args.append("-debug")
        return Daemon(name, role, exe, args, os.path.join(self.workdir, name + ".log"),
                      ready_ports=ready_ports)

    def _add_comet_daemon(self):
        n = len(self.comets) + 1
        name = "comet" if n == 1 else "comet%d" % n
        tcp_port, rpc_port = free_port(), free_port()
        ws_port = free_port()  # WebSocket /sub on a free port, never goim's default :3102
        metrics_port = free_port()  # GET /metrics, never goim-c's default :3104
        host = "comet-%s" % self.id if n == 1 else "comet-%s-%d" % (self.id, n)
        d = self._daemon(name, "comet", [
            "-host", host,
            "-tcp.bind", "127.0.0.1:%d" % tcp_port,
            "-websocket.bind", "127.0.0.1:%d" % ws_port,
            "-rpcServer.addr", "127.0.0.1:%d" % rpc_port,
            "-rpcServer.advertise", "tcp://127.0.0.1:%d" % rpc_port,
            "-rpcClient.logic", "127.0.0.1:%d" % self.logic_rpc_port,
            "-redis.addr", self.redis_addr,
            "-metrics.addr", "127.0.0.1:%d" % metrics_port,
        ], ready_ports=[tcp_port])
        d.host = host
        d.tcp_port = tcp_port
        d.rpc_port = rpc_port
        d.ws_port = ws_port
        d.metrics_port = metrics_port
        self.comets.append(d)
        self.daemons[name] = d
        return d

    def add_comet(self, start=True):
        """Another comet (host comet-<id>-N) on its own ports; returns its Daemon."""
        d = self._add_comet_daemon()
        if start:
            d.start()
        return d

    # -- lifecycle --------------------------------------------------------------

    def start(self, name=None):
        """Start the whole cluster (name None) or one daemon by name."""
        if name is not None:
            return self._get(name).start()
        self.redis.flushall()
        self.kafka_broker.create_topic(self.topic, partitions=4)
        self.logic.start(wait=True)
        for d in self.comets + [self.job]:
            d.start(wait=False)
        for d in self.comets + [self.job]:
            d.wait_ready()
        return self

    def _get(self, name):
        try:
            return self.daemons[name]
        except KeyError:
            raise KeyError("no daemon %r (have %s)" % (name, sorted(self.daemons))) from None

    def stop(self, name, timeout=STOP_TIMEOUT):
        """SIGTERM one daemon (logic, job, comet, comet2...) and wait; returns its exit code."""
        return self._get(name).stop(timeout)

    def kill(self, name):
        """SIGKILL one daemon (crash simulation); start it again with start(name)."""
        return self._get(name).kill()

    def restart(self, name):
        d = self._get(name)
        d.stop()
        return d.start()

    def close(self):
        """Stop everything (comets, job, logic); return the list of problems."""
        for c in self.clients:
            c.close()
        self.clients = []
        for d in self.comets + [self.job, self.logic]:
            d.stop()
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        problems = list(self.problems)
        for d in self.daemons.values():
            problems.extend(d.final_check())
        return problems

    def describe(self, lines=60):
        return "\n".join(d.describe(lines) for d in self.daemons.values())

    # -- access -----------------------------------------------------------------

    @property
    def comet(self):
        return self.comets[0]

    @property
    def comet_host(self):
        return self.comets[0].host

    @property
    def comet_tcp_addr(self):
        return ("127.0.0.1", self.comets[0].tcp_port)

    @property
    def redis(self):
        if self._redis is None:
            import redis
            host, port = self.redis_addr.rsplit(":", 1)
            self._redis = redis.Redis(host=host, port=int(port), decode_responses=True,
                                      socket_timeout=10)
        return self._redis

    def client(self, comet=0, timeout=10.0):
        """A TCP client connected to a comet (closed at teardown)."""
        c = TcpClient.connect("127.0.0.1", self.comets[comet].tcp_port, timeout=timeout)
        self.clients.append(c)
        return c

    # -- HTTP -------------------------------------------------------------------

    def http(self, method, path, query=(), body=None, headers=None, timeout=10.0):
        """Call logic's HTTP API. query: list of (key, value) pairs (repeatable keys).

        Returns (status, parsed JSON) or (status, text) when the body is not JSON.
        """
        url = "http://127.0.0.1:%d%s" % (self.logic_http_port, path)
        if query:
            url += "?" + urllib.parse.urlencode(list(query))
        if body is None and method in ("POST", "PUT"):
            body = b""
        req = urllib.request.Request(url, data=body, method=method)
        req.add_header("Content-Type", "application/octet-stream")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            raise AssertionError("logic HTTP %s %s: no response (%s)" % (method, url, e)) from None
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def push_keys(self, operation, keys, body):
        return self.http("POST", "/goim/push/keys",
                         [("operation", operation)] + [("keys", k) for k in keys], body)

    def push_mids(self, operation, mids, body):
        return self.http("POST", "/goim/push/mids",
                         [("operation", operation)] + [("mids", m) for m in mids], body)

    def push_room(self, operation, room_type, room, body):
        return self.http("POST", "/goim/push/room",
                         [("operation", operation), ("type", room_type), ("room", room)], body)

    def push_all(self, operation, body, speed=None):
        q = [("operation", operation)]
        if speed is not None:
            q.append(("speed", speed))
        return self.http("POST", "/goim/push/all", q, body)

    # -- readiness of the push path ---------------------------------------------

    def consumer_group_state(self):
        """kafka-python's description of job's consumer group (diagnostics only)."""
        try:
            return self.kafka_broker.admin().describe_consumer_groups([self.group])
        except Exception as e:  # noqa: BLE001 - diagnostics
            return "unavailable: %r" % e

    def ensure_push_path(self, timeout=60.0, op=7001, comet=0):
        """Wait until a push really travels logic -> Kafka -> job -> comet -> client.

        After a fresh start, job may still be joining its consumer group or not
        yet have found the comet in the registry. A probe client (own mid and
        key) is pushed to once a second until one push arrives; returns the
        seconds it took. Tests that assert delivery call this first, so they
        never depend on timing.
        """
        t0 = time.monotonic()
        key = "probe-%s" % secrets.token_hex(6)
        mid = 900000000 + secrets.randbelow(1000000)
        c = self.client(comet=comet)
        try:
            c.auth(mid=mid, key=key, accepts=[op])
            last = None
            while True:
                remaining = timeout - (time.monotonic() - t0)
                if remaining <= 0:
                    raise AssertionError(
                        "no probe push reached a client within %.0fs (last HTTP reply %r)\n"
                        "consumer group %s: %r\nregistry goim_comets: %r\n%s"
                        % (timeout, last, self.group, self.consumer_group_state(),
                           self._safe(lambda: self.redis.zrange("goim_comets", 0, -1)),
                           self.describe(40)))
                status, reply = last = self.push_keys(op, [key], b"probe")
                if status != 200 or not isinstance(reply, dict) or reply.get("code") != 0:
                    raise AssertionError("probe push failed: HTTP %s %r" % (status, reply))
                try:
                    f = c.read_frame(timeout=min(1.0, remaining))
                except TimeoutError:
                    continue
                if f.op == op:
                    return time.monotonic() - t0
        finally:
            c.close()

    @staticmethod
    def _safe(fn):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 - diagnostics
            return "unavailable: %r" % e
