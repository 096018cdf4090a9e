"""Fixtures for the browser tests: the integration tests' own (tests/integration/conftest.py).

One harness: the cluster (Redis, the real Kafka broker, logic, job, comets) is started and
checked exactly as in the integration tests; see tests/integration/README.md for the fixtures.
"""

import importlib.util
import os

_INTEGRATION = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "integration")
_spec = importlib.util.spec_from_file_location("goim_integration_conftest",
                                               os.path.join(_INTEGRATION, "conftest.py"))
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)  # also puts tests/integration on sys.path ("support")

# Hooks and fixtures, under the names pytest looks for in a conftest.
pytest_configure = _integration.pytest_configure
pytest_collection_modifyitems = _integration.pytest_collection_modifyitems
pytest_runtest_makereport = _integration.pytest_runtest_makereport
bin_dir = _integration.bin_dir
redis_server = _integration.redis_server
kafka_broker = _integration.kafka_broker
kafka = _integration.kafka
make_cluster = _integration.make_cluster
cluster = _integration.cluster
