"""The session's fakepve process (the ``fakepve_process`` fixture of ``tests/conftest.py``) as the live target of
inner pytest runs: the password it is served with, the exclusion list and options an inner run is given, and the
guests a test left in the test range."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_proxmox_mpc.sim.process import FakePveProcess

__all__ = ["EXCLUSIONS", "PASSWORD", "FakePveProcess", "in_range", "live"]

PASSWORD = "fakepve-process-password"
EXCLUSIONS = "protect:\n  tags: [production]\n  vmids: [100]\n"


def in_range(api: Any) -> list[dict[str, Any]]:
    return [row for row in api.cluster.resources.get(type="vm") if 990000 <= int(row["vmid"]) <= 999999]


def live(pytester: pytest.Pytester, server: FakePveProcess, *extra: str) -> list[str]:
    pytester.makefile(".yaml", excl=EXCLUSIONS)
    return ["--pve-host", server.address, f"--pve-ca-bundle={server.cafile}", "--pve-exclusions", "excl.yaml",
            "--pve-max-phase", "3", "-p", "no:randomly", *extra]
