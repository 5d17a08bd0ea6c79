"""Fixtures of the validation suite (the plugin's own come from its ``pytest11`` entry point)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_proxmox_mpc import Target, workspace_checks
from pytest_proxmox_mpc.validators import CheckContext


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module with ``CHECK_AREA`` gets one test per workspace check of that area: the registry as the run's
    ``pytest_proxmox_mpc_workspace_checks`` hooks left it, each marked with the criteria it gives evidence for."""
    area = getattr(metafunc.module, "CHECK_AREA", None)
    if area is not None and "check" in metafunc.fixturenames:
        metafunc.parametrize("check", [
            pytest.param(check, id=check.name, marks=[pytest.mark.pve_criterion(c) for c in check.criteria])
            for check in workspace_checks(metafunc.config, area)])


@pytest.fixture
def check_context(tmp_path: Path, pve_target: Target) -> CheckContext:
    """A scratch directory for one check, and the run's own credentials (which no generated file may hold)."""
    return CheckContext(scratch=tmp_path, secrets=tuple(secret.reveal() for secret in pve_target.credentials))
