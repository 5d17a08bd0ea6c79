"""Fixtures of the validation suite (the plugin's own come from its ``pytest11`` entry point)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc.validators import CheckContext


@pytest.fixture
def check_context(tmp_path: Path, _pve_target_session: Any) -> CheckContext:
    """A scratch directory for one check, and the run's own credentials (which no generated file may hold)."""
    endpoint = _pve_target_session.endpoint
    secrets = tuple(secret.reveal() for secret in (endpoint.password, endpoint.token_value) if secret is not None)
    return CheckContext(scratch=tmp_path, secrets=secrets)
