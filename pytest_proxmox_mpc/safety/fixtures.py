"""Fixtures of the safety layer: the exclusion list, the phase-policed client and the audit trail.
Registered by ``plugin.py`` (``FIXTURE_MODULES``).
"""

from __future__ import annotations

from typing import Any

import pytest

from ..config import phases
from ..errors import one_line
from ..stash import run_of, settings_of
from .exclusions import ExclusionList
from .lookup import protected_vmids
from .trail import AuditView


@pytest.fixture(scope="session")
def pve_exclusions(pytestconfig: pytest.Config) -> ExclusionList:
    """The production exclusion list of the run (empty without ``--pve-exclusions``):
    ``pve_exclusions.protects(vmid=..., name=..., node=..., storage=...)``."""
    return settings_of(pytestconfig).exclusions


@pytest.fixture(scope="session")
def _pve_protected(_pve_connection: tuple[Any, str], pve_exclusions: ExclusionList) -> frozenset[int]:
    """The vmids protected by name, tag or pool, resolved against the inventory when the session starts."""
    try:
        return protected_vmids(_pve_connection[0], pve_exclusions)
    except Exception as exc:  # an unresolved exclusion list must not let writes through: no client at all
        problem = one_line(exc)
    pytest.fail(f"proxmox: cannot resolve the exclusion list against the cluster: {problem}", pytrace=False)


@pytest.fixture
def pve_client(request: pytest.FixtureRequest, pytestconfig: pytest.Config, pve_readonly: Any,
               _pve_protected: frozenset[int]) -> Any:
    """A ``proxmoxer.ProxmoxAPI`` with the running test's phase policy: a refused request raises
    ``PhaseViolation`` or ``ExclusionViolation`` (both ``SafetyViolation``) before anything is sent."""
    phase = phases.phase_of_test(request.node) or phases.DEFAULT_PHASE
    return run_of(pytestconfig).client(pve_readonly, phase, _pve_protected)


@pytest.fixture(scope="session")
def pve_audit(pytestconfig: pytest.Config) -> AuditView:
    """The current run's audit trail: ``pve_audit.records(test=nodeid)``, ``pve_audit.refusals()``."""
    run = run_of(pytestconfig)
    return AuditView(run.files.audit, run.run_id)
