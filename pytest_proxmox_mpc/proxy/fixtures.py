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
from ..guests.destroy import Timeouts
from ..stash import RUN_KEY
from .auth import ProxyAccess
from .relay import SafetyProxy, open_proxy


class ProxyPool:
    """The session's proxies, one per phase, started on first use. In phases 3-4 each hands tools VMIDs of the
    temporary range and removes, when a test ends, the guests tools created in it and left."""

    def __init__(self, config: pytest.Config, factory: pytest.TempPathFactory, session: TargetSession,
                 readonly: Any, protected: frozenset[int]) -> None:
        self._config, self._factory, self._session = config, factory, session
        self._readonly, self._protected = readonly, protected
        self._proxies: dict[int, SafetyProxy] = {}

    def get(self, phase: int) -> ProxyAccess:
        """The proxy of ``phase`` (started now if it is the first ask)."""
        if phase not in self._proxies:
            run = self._config.stash[RUN_KEY]
            guard = run.proxy_guard(phase, self._readonly, self._protected)
            tools = run.tool_guests() if phase >= phases.WRITE_PHASE else None
            self._proxies[phase] = open_proxy(self._session.endpoint, self._readonly, guard,
                                              self._factory.mktemp(f"pve-proxy-phase{phase}"), phase=phase,
                                              tools=tools)
        return self._proxies[phase].access

    def finish(self, test: str | None) -> list[str]:
        """Release ``test``'s unused VMIDs and remove the guests tools made in it (``None``: everything, at the
        end of the session); one line per guest that could not be removed."""
        run = self._config.stash[RUN_KEY]
        problems: list[str] = []
        for phase, proxy in self._proxies.items():
            if proxy.tools is None:
                continue
            client = run.client(self._readonly, phase, self._protected)
            counts = proxy.tools.finish(test, self._readonly, client, Timeouts(task=max(120.0, run.settings.timeout)),
                                        everything=test is None)
            problems += counts.problems
        return problems

    def close(self) -> None:
        try:
            problems = self.finish(None)
        finally:
            for proxy in self._proxies.values():
                proxy.stop()
            self._proxies.clear()
        if problems:
            pytest.fail("proxmox: guests tools created could not be removed (left for the sweeper): "
                        + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def _pve_proxies(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory,
                 _pve_target_session: TargetSession, pve_readonly: Any, _pve_protected: frozenset[int],
                 ) -> Iterator[ProxyPool]:
    pool = ProxyPool(pytestconfig, tmp_path_factory, _pve_target_session, pve_readonly, _pve_protected)
    yield pool
    pool.close()


@pytest.fixture
def pve_proxy(request: pytest.FixtureRequest, _pve_proxies: ProxyPool) -> Iterator[ProxyAccess]:
    """The safety proxy for this test's phase: ``url``, ``cafile`` (its certificate, to trust), and proxy-only
    credentials (``authorization()``, ``token_id``/``token_value``, ``user``/``password``) for the tool. In
    phases 3-4, ``reserve_vmid()`` gives a VMID of the temporary range, and the guests tools create in the test
    are removed when it ends (on every way out), unless the tool removed them itself."""
    yield _pve_proxies.get(phases.phase_of_test(request.node) or phases.DEFAULT_PHASE)
    problems = _pve_proxies.finish(request.node.nodeid)
    if problems:
        pytest.fail("proxmox: guests tools created could not be removed (left for the sweeper): "
                    + "; ".join(problems), pytrace=False)
