"""Fixtures for goim-c's black-box integration tests (see README.md here).

    bin_dir        session   directory with comet, logic, job (GOIM_BIN_DIR,
                             default <repo>/build/sanitize/bin); fails if one is missing
    redis_server   session   "127.0.0.1:N" of a private redis-server
    kafka_broker   session   the started support.kafka_broker.KafkaBroker
    kafka          session   its bootstrap string "127.0.0.1:N"
    make_cluster   function  factory: make_cluster(extra_args=None) -> started Cluster
    cluster        function  one started Cluster (logic + job + one comet)
    recording_comet function factory: recording_comet(redis, **options) -> a started
                             support.recording_comet.RecordingComet (fresh host name, free
                             port), closed after the test before its clusters

Clusters are function-scoped: every test gets fresh daemons, a fresh Kafka
topic and job group, fresh host names, and a FLUSHALLed Redis, and its own
sanitizer verdict. Daemon logs are in the test's tmp_path (pytest keeps the
last three runs under /tmp/pytest-of-$USER/).
"""

import os
import secrets
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # "from support import ..." whatever the import mode
    sys.path.insert(0, HERE)

from support import kafka_broker as kafka_broker_mod  # noqa: E402
from support.cluster import Cluster  # noqa: E402
from support.recording_comet import RecordingComet  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402
from support.util import free_port  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
DAEMONS = ("comet", "logic", "job")
DEFAULT_TEST_TIMEOUT = 300


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "cluster_args(logic=[...], job=[...], comet=[...]): extra flags for the "
        "`cluster` fixture's daemons")


def pytest_collection_modifyitems(session, config, items):
    # A bound for every test even when tests/integration/pytest.ini was not
    # picked as the ini file (pytest run from elsewhere with other args).
    if config.pluginmanager.hasplugin("timeout"):
        configured = (config.getoption("timeout", None) is not None
                      or config.getini("timeout") not in (None, "")
                      or os.environ.get("PYTEST_TIMEOUT"))
        if not configured:
            for item in items:
                if item.get_closest_marker("timeout") is None:
                    item.add_marker(pytest.mark.timeout(DEFAULT_TEST_TIMEOUT))
    # The first Maven fetch of the Kafka jars can take minutes: do it now,
    # outside any test's timeout (a no-op when the cache is complete).
    if any("kafka_broker" in getattr(item, "fixturenames", ()) for item in items):
        kafka_broker_mod.fetch()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


# ---- fixtures -------------------------------------------------------------------

@pytest.fixture(scope="session")
def bin_dir():
    path = os.environ.get("GOIM_BIN_DIR") or os.path.join(REPO, "build", "sanitize", "bin")
    missing = [d for d in DAEMONS if not os.access(os.path.join(path, d), os.X_OK)]
    if missing:
        pytest.fail("daemon binaries missing in %s: %s. Build them with `make VARIANT=sanitize` "
                    "(or point GOIM_BIN_DIR at a bin directory)." % (path, ", ".join(missing)),
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def redis_server():
    with RedisServer() as server:
        yield server.addr


@pytest.fixture(scope="session")
def kafka_broker():
    with kafka_broker_mod.KafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def kafka(kafka_broker):
    return kafka_broker.bootstrap


@pytest.fixture
def make_cluster(request, bin_dir, redis_server, kafka_broker, tmp_path):
    clusters = []

    def make(extra_args=None, start=True):
        workdir = tmp_path / ("cluster%d" % (len(clusters) + 1))
        c = Cluster(bin_dir, workdir, redis_server, kafka_broker, extra_args=extra_args)
        clusters.append(c)
        if start:
            c.start()
        return c

    yield make

    problems = []
    for c in clusters:
        problems.extend(c.close())
    rep = getattr(request.node, "rep_call", None)
    if problems or (rep is not None and rep.failed):
        logs = "\n".join(c.describe(80) for c in clusters)
        if problems:
            pytest.fail("daemon problems:\n- %s\n%s" % ("\n- ".join(problems), logs), pytrace=False)
        print("daemon logs (tails):\n" + logs)


@pytest.fixture
def cluster(request, make_cluster):
    marker = request.node.get_closest_marker("cluster_args")
    return make_cluster(extra_args=dict(marker.kwargs) if marker else None)


@pytest.fixture
def recording_comet(make_cluster):
    """A comet stand-in that job delivers to and that records what it gets
    (support/recording_comet.py): recording_comet(redis, **options) starts one on a free port
    with a fresh host name, registered in redis; closed after the test, before the clusters."""
    comets = []

    def make(redis, **options):
        comet = RecordingComet(redis, "recording-%s" % secrets.token_hex(4), free_port(),
                               **options)
        comets.append(comet)
        return comet

    yield make
    for comet in comets:
        comet.close()
