"""The ``pve_proxy`` fixture: the safety proxy for the requesting test's phase, for tools that run in other
processes (Node.js, Terraform, Ansible). Registered by ``plugin.py``.

One proxy per phase, started when a test of that phase first asks and stopped when the session ends. It
shares the session's login (``pve_readonly``), so starting one sends nothing; its requests are audited
with the running test and recorded to, or replayed from, the running test's cassette (or the running
scoped fixture's), like the in-process client's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..cluster.target import TargetSession
from ..config import phases
from ..stash import RUN_KEY
from .auth import ProxyAccess
from .relay import SafetyProxy, open_proxy


class ProxyPool:
    """The session's proxies, one per phase, started on first use."""

    def __init__(self, config: pytest.Config, factory: pytest.TempPathFactory, session: TargetSession,
                 readonly: Any, protected: frozenset[int]) -> None:
        self._config, self._factory, self._session = config, factory, session
        self._readonly, self._protected = readonly, protected
        self._proxies: dict[int, SafetyProxy] = {}

    def get(self, phase: int) -> ProxyAccess:
        """The proxy of ``phase`` (started now if it is the first ask)."""
        if phase not in self._proxies:
            guard = self._config.stash[RUN_KEY].proxy_guard(phase, self._readonly, self._protected)
            self._proxies[phase] = open_proxy(self._session.endpoint, self._readonly, guard,
                                              self._factory.mktemp(f"pve-proxy-phase{phase}"), phase=phase)
        return self._proxies[phase].access

    def close(self) -> None:
        for proxy in self._proxies.values():
            proxy.stop()
        self._proxies.clear()


@pytest.fixture(scope="session")
def _pve_proxies(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory,
                 _pve_target_session: TargetSession, pve_readonly: Any, _pve_protected: frozenset[int],
                 ) -> Iterator[ProxyPool]:
    pool = ProxyPool(pytestconfig, tmp_path_factory, _pve_target_session, pve_readonly, _pve_protected)
    yield pool
    pool.close()


@pytest.fixture
def pve_proxy(request: pytest.FixtureRequest, _pve_proxies: ProxyPool) -> ProxyAccess:
    """The safety proxy for this test's phase: ``url``, ``cafile`` (its certificate, to trust), and proxy-only
    credentials (``authorization()``, ``token_id``/``token_value``, ``user``/``password``) for the tool."""
    return _pve_proxies.get(phases.phase_of_test(request.node) or phases.DEFAULT_PHASE)
