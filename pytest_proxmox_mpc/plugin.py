"""The pytest plugin: wires hooks and fixtures to the modules that do the work.

Registered through the ``pytest11`` entry point as ``proxmox_mpc``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from . import phases
from .client import connect, read_version
from .errors import SettingsError, TargetUnavailable
from .policy import ReadOnlyPolicy
from .settings import OPTIONS, RawSources, Settings, resolve
from .target import Target, TargetSession

SETTINGS_KEY = pytest.StashKey[Settings]()
_USAGE_ERROR = pytest.StashKey[str]()
# Fixtures that talk to the cluster: a test using one and carrying no phase marker is a phase-1 test.
CLUSTER_FIXTURES = frozenset({"pve_target", "pve_readonly", "pve_sim"})


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("proxmox", "pytest-proxmox-mpc: safe validation against Proxmox VE")
    for opt in OPTIONS:
        if opt.negative_flag:
            group.addoption(opt.flag, action="store_const", const=True, dest=opt.dest, default=None,
                            help=opt.help)
            group.addoption(opt.negative_flag, action="store_const", const=False, dest=opt.dest,
                            help="do not " + opt.help.replace(" (default)", ""))
        else:
            group.addoption(opt.flag, dest=opt.dest, default=None, metavar=opt.metavar, help=opt.help)
        if opt.ini:
            parser.addini(opt.ini, opt.help, default=None)


def pytest_configure(config: pytest.Config) -> None:
    for phase in phases.PHASES.values():
        config.addinivalue_line("markers", phase.marker_help())
    ini = {opt.ini: config.getini(opt.ini) for opt in OPTIONS if opt.ini}
    options = {opt.dest: config.getoption(opt.dest) for opt in OPTIONS}
    src = RawSources(options=options, ini=ini, environ=os.environ,
                     inifile=str(config.inipath) if config.inipath else None, rootdir=config.rootpath)
    try:
        settings = config.stash[SETTINGS_KEY] = resolve(src)
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not settings.verify_ssl:  # the user chose it, and the header says so: one warning per request is noise
        config.addinivalue_line("filterwarnings", "ignore::urllib3.exceptions.InsecureRequestWarning")


def settings_of(config: pytest.Config) -> Settings:
    """The resolved settings of this run."""
    return config.stash[SETTINGS_KEY]


def pytest_report_header(config: pytest.Config) -> list[str]:
    return settings_of(config).header_lines()


@pytest.hookimpl(tryfirst=True)  # before -m deselects: unmarked cluster tests must count as phase1
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    max_phase = settings_of(config).max_phase
    for item in items:
        try:
            phase = phases.phase_of(mark.name for mark in item.iter_markers())
        except phases.TwoPhases as exc:
            message = f"{item.nodeid} {exc}"
            if hasattr(config, "workerinput"):  # raising here would crash an xdist worker: fail at setup
                item.stash[_USAGE_ERROR] = message
                continue
            raise pytest.UsageError(message) from None
        if phase is None and CLUSTER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            phase = phases.DEFAULT_PHASE
            item.add_marker(phases.PHASES[phase].marker)
        if phase is not None and phase > max_phase:
            item.add_marker(pytest.mark.skip(reason=phases.skip_reason(phase, max_phase)))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _USAGE_ERROR in item.stash:
        pytest.fail("usage error: " + item.stash[_USAGE_ERROR], pytrace=False)


@pytest.fixture(scope="session")
def _pve_target_session(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory,
                        ) -> Iterator[TargetSession]:
    session = TargetSession(settings_of(pytestconfig), tmp_path_factory.mktemp("pve-target"))
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def pve_sim(_pve_target_session: TargetSession) -> Any:
    """The simulated cluster's ``fakepve.FakePve`` (inject faults, add guests); skips on other targets."""
    sim = _pve_target_session.sim
    if sim is None:
        pytest.skip(f"pve_sim needs --pve-target sim (the target is {_pve_target_session.kind})")
    return sim.pve


@pytest.fixture(scope="session")
def _pve_connection(_pve_target_session: TargetSession) -> tuple[Any, str]:
    """The read-only client and the PVE version, from one login and one GET /version."""
    endpoint = _pve_target_session.endpoint
    try:
        api = connect(endpoint, ReadOnlyPolicy())
        version = read_version(api, endpoint)  # token logins are checked only by a first request
    except TargetUnavailable as exc:
        problem = str(exc)
    else:
        return api, version
    pytest.fail(f"proxmox: {problem}", pytrace=False)  # outside the except: no chained traceback


@pytest.fixture(scope="session")
def pve_readonly(_pve_connection: tuple[Any, str]) -> Any:
    """A ``proxmoxer.ProxmoxAPI`` that can only read: any method but GET (and the login) raises
    ``ReadOnlyViolation`` before anything is sent."""
    return _pve_connection[0]


@pytest.fixture(scope="session")
def pve_target(_pve_target_session: TargetSession, _pve_connection: tuple[Any, str]) -> Target:
    """What the run talks to: kind (sim, live), API base URL and PVE version."""
    return Target(kind=_pve_target_session.kind, base_url=_pve_target_session.endpoint.base_url,
                  version=_pve_connection[1])
