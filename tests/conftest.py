"""Hooks and fixtures of the plugin's own tests: the homelab scenario, the simulated cluster started as a separate
process (targeted as ``live``), the inner runs' environment. What tests import lives in modules of its own:
``tests/livetarget.py`` (the fakepve process as a live target) and ``tests/simapi.py`` (a scenario served)."""

from __future__ import annotations

import gc
import importlib
import os
import pkgutil
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Inner pytester runs forget the modules they imported; cryptography's compiled core cannot be
# imported twice in one process, so the simulator's modules are imported once, here, for all runs.
import fakepve.certs
import fakepve.server  # noqa: F401
import pytest
from cryptography import x509  # noqa: F401
from cryptography.hazmat.primitives import hashes, serialization  # noqa: F401
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: F401
from hypothesis import settings
from proxmoxer import ProxmoxAPI

from pytest_proxmox_mpc.cluster.inventory import read_inventory
from pytest_proxmox_mpc.model.inventory import Inventory
from pytest_proxmox_mpc.sim.process import sim_process
from pytest_proxmox_mpc.sim.scenario import resolve_scenario

from .livetarget import PASSWORD, FakePveProcess, in_range
from .simapi import served


def _import_the_whole_package() -> None:
    """Every module of the package, with what it imports (SQLAlchemy, python-hcl2 and its parser, vcrpy).
    pytester's in-process runs drop every module first imported during the run, so without this each inner run
    imported the lazily loaded parts again: about 1.4 s of CPU a run, most of the suite's in-process cost. What a
    run must not import (the simulator on a live run, the database layer at start-up) is tested in processes of
    their own, which this does not reach."""
    import pytest_proxmox_mpc

    for module in pkgutil.walk_packages(pytest_proxmox_mpc.__path__, "pytest_proxmox_mpc."):
        # __main__ runs the command line; the validation suite (installed as a subpackage when not editable) is
        # tests, which pytest imports itself, rewriting their assertions, when a run collects them
        if not module.name.endswith(".__main__") and not module.name.startswith("pytest_proxmox_mpc.validation."):
            importlib.import_module(module.name)
    import hcl2  # imported by the first Terraform parse: here, with its grammar built (kept by hcl2.parser)

    hcl2.loads("")


def pytest_configure(config: pytest.Config) -> None:
    """The package imported once, where tests run: not in an xdist controller, which only hands tests out (that
    import costs 1.2-1.5 CPU-s, which it spent while its workers were starting and collecting). The user's cache
    (where live runs claim VMIDs) is one of this test run's own, for it and every run it starts."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        cache = os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="pytest-proxmox-mpc-tests-cache-")
        config.add_cleanup(lambda: shutil.rmtree(cache, ignore_errors=True))
    if os.environ.get("PYTEST_XDIST_WORKER") or not getattr(config.option, "numprocesses", None):
        _import_the_whole_package()


def pytest_collection_finish(session: pytest.Session) -> None:
    """What lives from here to the end (modules, classes, the collected tests) is moved out of the garbage
    collector's sight (``gc.freeze``). Each inner pytest run ends with full collections (pytest's
    unraisable-exception check), which otherwise walked this whole heap every time: a quarter of an in-process
    run's CPU. What the tests create afterwards is collected as before."""
    gc.collect()
    gc.freeze()


# Hypothesis: hundreds of examples while developing, thousands in CI (.ci/run sets HYPOTHESIS_PROFILE=ci).
settings.register_profile("dev", max_examples=300)
settings.register_profile("ci", max_examples=3000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

@pytest.fixture(scope="session")
def homelab_scenario(pytestconfig: pytest.Config) -> Path:
    """The packaged homelab scenario's file, found as ``--pve-sim-scenario homelab`` finds it (the package's
    ``resolve_scenario``): the tests' one source of its path."""
    return resolve_scenario("homelab", pytestconfig.rootpath)


@pytest.fixture(scope="session")
def homelab(homelab_scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    """The homelab scenario's inventory, read from a simulated cluster by the read-only client (the cluster is
    stopped once it is read)."""
    with served(homelab_scenario, tmp_path_factory.mktemp("homelab-sim")) as (api, _):
        return read_inventory(api)


@pytest.fixture(scope="session")
def fakepve_process(homelab_scenario: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePveProcess]:
    """fakepve with homelab.json in its own process, as ``pytest-proxmox-mpc sim`` serves it: a node that also
    answers the API viewer's schema (``--pve-api-schema auto`` reads it there)."""
    with sim_process(homelab_scenario, tmp_path_factory.mktemp("fakepve-process"), password=PASSWORD,
                     host="127.0.0.3") as server:
        yield server


@pytest.fixture
def cluster(fakepve_process: FakePveProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A plain client of the fakepve process, to look at it from outside; nothing is left in the range after."""
    monkeypatch.setenv("PVE_PASSWORD", fakepve_process.password)
    api = ProxmoxAPI(fakepve_process.address, user="root@pam", password=fakepve_process.password,
                     verify_ssl=fakepve_process.cafile)
    yield api
    for row in in_range(api):  # a failed test must not leave guests to the next one
        api.nodes(row["node"])(row["type"])(row["vmid"]).delete(purge=1)


@pytest.fixture(scope="session")
def lint_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where ansible-lint results are kept by content for this test run, shared by its xdist workers (read from
    the environment xdist gives a worker, so a run with ``-p no:xdist`` works too)."""
    base = tmp_path_factory.getbasetemp()
    return (base.parent if "PYTEST_XDIST_WORKER" in os.environ else base) / "lint-cache"


# Plugins the inner runs never use: each costs an inner process about half a second to import.
UNRELATED_PLUGINS = "-p no:hypothesispytest -p no:benchmark -p no:fakepve"


@pytest.fixture(autouse=True)
def _no_outer_pve_settings(monkeypatch: pytest.MonkeyPatch, lint_cache: Path) -> None:
    """Inner pytest runs share os.environ: the developer's own PVE_* settings must not leak into them, and the
    plugins they do not use stay out of them. They keep ansible-lint results in this run's shared cache, so
    the same workspace content is linted once per test run however many inner runs check it."""
    for name in list(os.environ):
        if name.startswith("PVE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PVE_LINT_CACHE", str(lint_cache))
    monkeypatch.setenv("PYTEST_ADDOPTS", (os.environ.get("PYTEST_ADDOPTS", "") + " " + UNRELATED_PLUGINS).strip())

@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytest's own, whose setup drops PYTEST_ADDOPTS: inner runs, its subprocesses included, still leave out the
    unrelated plugins."""
    monkeypatch.setenv("PYTEST_ADDOPTS", UNRELATED_PLUGINS)
    return pytester


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Work stealing, unless ``--dist`` chose a mode: an idle worker takes queued tests from a busy one. With
    xdist's default (load) one worker ran on alone for 113 of 257 s, holding a queue of slow tests. (Here, not in
    the ini's addopts: the validation suite's own install has no xdist, and ``--dist`` would be a usage error.)"""
    chosen = any(arg.startswith(("--dist", "-d")) for arg in config.invocation_params.args)
    if chosen or config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import WorkStealingScheduling

    return WorkStealingScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs a fakepve process of its own is slow too (``-m "not slow"`` leaves it out). Slow tests
    files run first: under xdist the quick ones then fill the gaps, instead of one long test ending the run alone
    (a file stays together, so its module-scoped fixtures are made once)."""
    for item in items:
        if "fakepve_process" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: the files keep their order
