"""A fakepve cluster served for a test module, and the proxmoxer client that reads it (shared by the tests that
build or judge workspaces from a scenario)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import proxmoxer

from pytest_proxmox_mpc.model.endpoint import Endpoint
from pytest_proxmox_mpc.sim.cluster import SimCluster


@contextmanager
def served(scenario: Path, workdir: Path) -> Iterator[tuple[Any, Endpoint]]:
    """(client, endpoint) of ``scenario`` served by fakepve in ``workdir``, logged in with its password; the
    cluster stops on leaving."""
    sim = SimCluster(scenario, workdir)
    try:
        ep = sim.endpoint
        assert ep.password is not None
        yield proxmoxer.ProxmoxAPI(ep.host, port=ep.port, user=ep.user, password=ep.password.reveal(),
                                   verify_ssl=ep.verify), ep
    finally:
        sim.stop()
