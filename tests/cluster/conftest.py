"""One control plane for the cluster tests, stopped when they end so it costs the later tests nothing
(starting it takes about 20 s; building it the first time, minutes)."""

from collections.abc import Iterator

import pytest

from pixelpet.devdb import DevDatabase, free_port
from tests.cluster.controlplane import ControlPlane
from tests.cluster.harness import STAGING, Cluster, Prometheus
from tests.cluster.pods import IdentityProvider


@pytest.fixture(scope="package")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("cluster")
    plane = ControlPlane(root / "control-plane")
    database = DevDatabase(
        storage=root / "db", port=free_port(), test_commands=True, log_file=root / "db.log"
    )
    prometheus = Prometheus(root / "prometheus")
    auth = STAGING["config"]["auth"]
    identity = IdentityProvider(issuer=auth["issuer"], audience=auth["audience"])
    try:
        database.start()
        prometheus.start()
        plane.start()
        yield Cluster(root, plane, database, prometheus, identity)
    finally:
        plane.stop()
        prometheus.stop()
        database.stop()
        identity.close()
