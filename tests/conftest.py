"""Fixtures for the plugin's own tests: a fakepve started as a separate process, targeted as ``live``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# Inner pytester runs forget the modules they imported; cryptography's compiled core cannot be
# imported twice in one process, so the simulator's modules are imported once, here, for all runs.
import fakepve.certs
import fakepve.server  # noqa: F401
import pytest
from cryptography import x509  # noqa: F401
from cryptography.hazmat.primitives import hashes, serialization  # noqa: F401
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: F401
from hypothesis import settings

from pytest_proxmox_mpc.sim.process import FakePveProcess
from pytest_proxmox_mpc.sim.process import fakepve_process as start_fakepve

__all__ = ["FakePveProcess"]  # the tests import it from here

# Hypothesis: hundreds of examples while developing, thousands in CI (.ci/run sets HYPOTHESIS_PROFILE=ci).
settings.register_profile("dev", max_examples=300)
settings.register_profile("ci", max_examples=3000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

SCENARIO = Path(__file__).resolve().parent.parent / "pytest_proxmox_mpc" / "sim" / "scenarios" / "homelab.json"
PASSWORD = "fakepve-process-password"


@pytest.fixture(scope="session")
def fakepve_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePveProcess]:
    """``fakepve homelab.json --time-scale 0`` in its own process, as a user would start it."""
    with start_fakepve(SCENARIO, tmp_path_factory.mktemp("fakepve-process"), password=PASSWORD,
                       host="127.0.0.3") as server:
        yield server


@pytest.fixture(scope="session")
def lint_cache(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """Where ansible-lint results are kept by content for this test run, shared by its xdist workers."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if worker_id != "master" else base) / "lint-cache"


# Plugins the inner runs never use: each costs an inner process about half a second to import.
UNRELATED_PLUGINS = "-p no:hypothesispytest -p no:benchmark -p no:fakepve"


@pytest.fixture(autouse=True)
def _no_outer_pve_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest runs share os.environ: the developer's own PVE_* settings must not leak into them, and the
    plugins they do not use stay out of them."""
    for name in list(os.environ):
        if name.startswith("PVE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTEST_ADDOPTS", (os.environ.get("PYTEST_ADDOPTS", "") + " " + UNRELATED_PLUGINS).strip())

def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs a fakepve process of its own is slow too (``-m "not slow"`` leaves it out)."""
    for item in items:
        if "fakepve_process" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
