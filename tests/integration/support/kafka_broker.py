"""Real single-node Apache Kafka broker (KRaft) for goim-c's integration tests.

Wraps tests/kafka/kafka-broker.sh: the broker runs as a child process in its
own process group, is awaited until it really serves Kafka requests (checked
with kafka-python, a pure-Python client, so the tests do not depend on the C
code's Kafka library), and is stopped with SIGTERM (SIGKILL after a timeout).

    from support.kafka_broker import KafkaBroker   # tests/integration on sys.path

    with KafkaBroker() as kafka:           # free port, temporary data dir
        kafka.create_topic("goim-push-topic", partitions=4)
        run_job_daemon(brokers=kafka.bootstrap)

Jars are fetched on first use (see kafka-broker.sh fetch); that download is
not counted in start()'s timeout.
"""

import atexit
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "kafka" / "kafka-broker.sh"

# Generous: a cold fetch on a fresh machine downloads ~46 MB of jars.
FETCH_TIMEOUT = 900

log = logging.getLogger(__name__)


def free_port(avoid=()):
    """Return a TCP port on 127.0.0.1 that is free right now (not in avoid)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port


def fetch(timeout=FETCH_TIMEOUT):
    """Make sure the broker jars are in the cache (no-op when they are)."""
    subprocess.run(["bash", str(SCRIPT), "fetch"], stdin=subprocess.DEVNULL,
                   check=True, timeout=timeout)


class KafkaBrokerError(RuntimeError):
    pass


class KafkaBroker:
    """A single-node KRaft Kafka broker on 127.0.0.1, owned by the test.

    port:     PLAINTEXT port; a free one is picked when None.
    data_dir: where server.properties, the logs and the data go; a temporary
              directory (removed by stop()) is used when None.
    """

    def __init__(self, port=None, data_dir=None):
        self._fixed_port = port is not None
        self.port = port
        self.controller_port = None
        self._own_dir = data_dir is None
        self.data_dir = None if data_dir is None else str(Path(data_dir).resolve())
        self.proc = None
        self._out = None
        self._admin = None
        self.startup_seconds = None

    # -- properties ---------------------------------------------------------

    @property
    def bootstrap(self):
        """bootstrap.servers / metadata.broker.list string: '127.0.0.1:<port>'."""
        if self.port is None:
            raise KafkaBrokerError("broker has no port yet: call start() first")
        return "127.0.0.1:%d" % self.port

    @property
    def server_log(self):
        return os.path.join(self.data_dir, "logs", "server.log")

    @property
    def console_log(self):
        return os.path.join(self.data_dir, "logs", "console.log")

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- lifecycle ----------------------------------------------------------

    def start(self, timeout=120):
        """Start the broker and wait until it serves metadata requests.

        timeout covers the broker start-up only, not the first jar fetch.
        Raises KafkaBrokerError (with the log tail) on failure.
        """
        if self.running:
            return self
        fetch()
        if self.data_dir is None:
            self.data_dir = tempfile.mkdtemp(prefix="goim-kafka-")
        os.makedirs(os.path.join(self.data_dir, "logs"), exist_ok=True)

        # Auto-picked ports can be grabbed by someone else before the JVM
        # binds them: retry a few times with fresh ports in that case.
        attempts = 1 if self._fixed_port else 3
        t0 = time.monotonic()
        for attempt in range(1, attempts + 1):
            if not self._fixed_port:
                self.port = free_port()
            self.controller_port = free_port(avoid=(self.port,))
            self._spawn()
            try:
                self._wait_ready(t0 + timeout)
                break
            except KafkaBrokerError:
                died = self.proc.poll() is not None
                self._kill()
                if not died or attempt == attempts:
                    raise
                log.warning("kafka broker exited during start-up (attempt %d), retrying", attempt)
        self.startup_seconds = time.monotonic() - t0
        atexit.register(self.stop)
        return self

    def stop(self, timeout=30):
        """SIGTERM the broker's process group; SIGKILL it after timeout seconds."""
        atexit.unregister(self.stop)
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:  # noqa: BLE001 - best effort on teardown
                pass
            self._admin = None
        self._kill(timeout)
        if self._own_dir and self.data_dir and os.path.isdir(self.data_dir):
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- helpers for tests --------------------------------------------------

    def admin(self):
        """A shared kafka.KafkaAdminClient connected to this broker."""
        if self._admin is None:
            from kafka import KafkaAdminClient
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap,
                                           client_id="goim-test-admin",
                                           request_timeout_ms=10000)
        return self._admin

    def create_topic(self, name, partitions=4, replication_factor=1,
                     exist_ok=True, timeout=30):
        """Create a topic and wait until every partition has a leader."""
        from kafka.admin import NewTopic
        from kafka.errors import TopicAlreadyExistsError
        try:
            self.admin().create_topics(
                [NewTopic(name=name, num_partitions=partitions,
                          replication_factor=replication_factor)],
                timeout_ms=timeout * 1000)
        except TopicAlreadyExistsError:
            if not exist_ok:
                raise
        deadline = time.monotonic() + timeout
        while True:
            (topic,) = self.admin().describe_topics([name])
            parts = topic.get("partitions") or []
            if topic.get("error_code", 0) == 0 and parts and \
                    all(p.get("leader", -1) >= 0 for p in parts):
                return len(parts)
            if time.monotonic() > deadline:
                raise KafkaBrokerError("topic %r has no leaders after %ss: %r"
                                       % (name, timeout, topic))
            time.sleep(0.1)

    def tail(self, path=None, lines=40):
        """Last lines of the broker log (or of path), for failure messages."""
        path = path or self.server_log
        try:
            with open(path, "r", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # -- internals ----------------------------------------------------------

    def _spawn(self):
        if self._out is not None:
            self._out.close()
        self._out = open(self.console_log, "ab")
        self.proc = subprocess.Popen(
            ["bash", str(SCRIPT), "start", str(self.port), self.data_dir,
             str(self.controller_port)],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT,
            start_new_session=True)  # own session => own process group

    def _wait_ready(self, deadline):
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError
        last = None
        while True:
            if self.proc.poll() is not None:
                raise KafkaBrokerError(
                    "kafka broker exited with status %s during start-up\n"
                    "--- %s\n%s--- %s\n%s" % (
                        self.proc.returncode, self.console_log,
                        self.tail(self.console_log), self.server_log, self.tail()))
            if time.monotonic() > deadline:
                raise KafkaBrokerError(
                    "kafka broker not ready on %s before timeout (last: %r)\n--- %s\n%s"
                    % (self.bootstrap, last, self.server_log, self.tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                # A real Kafka request: metadata must list our (unfenced) broker.
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap,
                                         client_id="goim-test-probe",
                                         request_timeout_ms=5000,
                                         api_version_auto_timeout_ms=5000)
                try:
                    if admin.describe_cluster().get("brokers"):
                        return
                    last = "no brokers in metadata yet"
                finally:
                    admin.close()
            except (OSError, KafkaError) as e:
                last = e
            time.sleep(0.2)

    def _kill(self, timeout=30):
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        if self._out is not None:
            self._out.close()
            self._out = None
