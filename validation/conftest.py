"""Fixtures of the validation suite (the plugin's own come from its ``pytest11`` entry point)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_proxmox_mpc import Inventory, Target, workspace_checks
from pytest_proxmox_mpc.safety.exclusions import ExclusionList
from pytest_proxmox_mpc.validators import CheckContext
from pytest_proxmox_mpc.watch.gates import protected_guests


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module with ``CHECK_AREA`` gets one test per workspace check of that area: the registry as the run's
    ``pytest_proxmox_mpc_workspace_checks`` hooks left it, each marked with the criteria it gives evidence for."""
    area = getattr(metafunc.module, "CHECK_AREA", None)
    if area is not None and "check" in metafunc.fixturenames:
        metafunc.parametrize("check", [
            pytest.param(check, id=check.name, marks=[pytest.mark.pve_criterion(c) for c in check.criteria])
            for check in workspace_checks(metafunc.config, area)])


@pytest.fixture
def check_context(tmp_path: Path, pve_target: Target, pve_inventory: Inventory,
                  pve_exclusions: ExclusionList) -> CheckContext:
    """A scratch directory for one check, the run's own credentials (which no generated file may hold) and the
    guests the run's exclusion list protects (which no playbook may change)."""
    protected = frozenset(guest.vmid for guest in protected_guests(pve_inventory, pve_exclusions, ()))
    return CheckContext(scratch=tmp_path, secrets=tuple(secret.reveal() for secret in pve_target.credentials),
                        protected=protected)
