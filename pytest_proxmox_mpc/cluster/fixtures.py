"""Fixtures of the cluster connection: the target (started once per session), the one login with its
read-only client, and what the run talks to. Registered by ``plugin.py`` (``FIXTURE_MODULES``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..errors import SettingsError, TargetUnavailable
from ..safety.policy import ReadOnlyPolicy
from ..stash import run_of, settings_of
from .client import connect_checked
from .endpoint import Endpoint
from .target import Target, TargetSession


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
    try:
        sim = _pve_target_session.sim
    except TargetUnavailable as exc:
        problem = str(exc)
    else:
        if sim is not None:
            return sim.pve
        pytest.skip(f"pve_sim needs --pve-target sim (the target is {_pve_target_session.kind})")
    pytest.fail(f"proxmox: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def _pve_connection(pytestconfig: pytest.Config, _pve_target_session: TargetSession) -> tuple[Any, str]:
    """The read-only client and the PVE version, from one login and one GET /version."""
    run = run_of(pytestconfig)
    try:
        endpoint = _pve_target_session.endpoint  # starts the sim, which may not be installed
        api, version = connect_checked(endpoint, run.guard(ReadOnlyPolicy()))
        run.connected(endpoint, api, version)
    except TargetUnavailable as exc:
        problem = str(exc)
    except SettingsError as exc:  # credentials that could write, where the user required read-only ones
        problem = ""
        pytest.exit(f"ERROR: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
    else:
        return api, version
    pytest.fail(f"proxmox: {problem}", pytrace=False)  # outside the except: no chained traceback


@pytest.fixture(scope="session")
def pve_readonly(_pve_connection: tuple[Any, str], _pve_watch: Any) -> Any:
    """A ``proxmoxer.ProxmoxAPI`` that can only read: any method but GET (and the login) raises
    ``ReadOnlyViolation`` before anything is sent."""
    return _pve_connection[0]


@pytest.fixture(scope="session")
def pve_target(_pve_target_session: TargetSession, _pve_connection: tuple[Any, str], _pve_watch: Any) -> Target:
    """What the run talks to: kind (sim, replay, live), API base URL, PVE version, and the run's own credentials
    (``credentials``, as ``Secret``: what no generated file may hold)."""
    endpoint = _pve_target_session.endpoint
    credentials = tuple(secret for secret in (endpoint.password, endpoint.token_value) if secret is not None)
    return Target(kind=_pve_target_session.kind, base_url=endpoint.base_url, version=_pve_connection[1],
                  credentials=credentials)


@pytest.fixture(scope="session")
def pve_endpoint(_pve_target_session: TargetSession) -> Endpoint:
    """Where the run's cluster is and how to log in (credentials as ``Secret``): for a project that builds
    clients or a safety proxy of its own (``connect``, ``open_proxy``)."""
    return _pve_target_session.endpoint
