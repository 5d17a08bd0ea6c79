"""Fixtures of the watch: the first snapshot (``pve_inventory``), the gates before writes, and the second
snapshot when the session ends. Imported by ``plugin.py``, which is what registers them with pytest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..cluster.inventory import Inventory
from ..config.phases import WRITE_PHASE, phase_of_test
from ..stash import RUN_KEY
from .watch import Watch, intended_vmids


@pytest.fixture(scope="session")
def _pve_watch(pytestconfig: pytest.Config, _pve_connection: tuple[Any, str],
               _pve_protected: frozenset[int]) -> Iterator[Watch]:
    """Set up when the session first talks to the cluster: takes the first snapshot; at the end the second,
    and the unintended changes between them go to the run's watch file."""
    run = pytestconfig.stash[RUN_KEY]
    api, version = _pve_connection
    watch = run.watch = Watch(run, api, _pve_protected, version)
    yield watch
    watch.finish(intended_vmids(run))


@pytest.fixture(scope="session")
def pve_inventory(_pve_watch: Watch) -> Inventory:
    """The normalised snapshot of the cluster taken when the session connected (nodes, guests with config
    digests, storages, pools, networks)."""
    if _pve_watch.before is None:
        pytest.fail(f"proxmox: {_pve_watch.problem}", pytrace=False)
    return _pve_watch.before


def require_gates(request: pytest.FixtureRequest) -> None:
    """Skip the requesting test (or scoped fixture) unless every blocking gate passed."""
    watch: Watch = request.getfixturevalue("_pve_watch")
    verdict = watch.gates(selector=request.node.nodeid)
    if not verdict.passed:
        pytest.skip(verdict.reason)


@pytest.fixture(autouse=True)
def _pve_write_gate(request: pytest.FixtureRequest) -> None:
    """Phase 3 and 4 tests run only when the gates pass (they are evaluated before the first one)."""
    phase = phase_of_test(request.node)
    if phase is not None and phase >= WRITE_PHASE and phase <= request.config.stash[RUN_KEY].settings.max_phase:
        require_gates(request)


@pytest.fixture(scope="session")
def pve_watch_database(pytestconfig: pytest.Config) -> Callable[[Path], Callable[[], None]]:
    """``pve_watch_database(path)``: from now on the local state database at ``path`` is checked after every
    test (integrity and foreign keys); a corrupt or unreadable one aborts the run (exit code 13, incident
    file). Returns a function that stops watching it."""
    watched = pytestconfig.stash[RUN_KEY].watched_databases

    def watch(path: Path) -> Callable[[], None]:
        located = Path(path)
        watched.append(located)
        return lambda: watched.remove(located) if located in watched else None
    return watch
