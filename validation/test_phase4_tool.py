"""Phase 4, the system under test's plan and apply (where the profile has them): each is skipped with the reason
when a binary it needs (``terraform``) is missing, and never counted as passed.
"""

from __future__ import annotations

import pytest

from pytest_proxmox_mpc import ToolDriver

from .toolsteps import ran, run_other_steps, synced

pytestmark = pytest.mark.phase4


@pytest.mark.parametrize("step", ["plan", "apply"])
def test_the_tools_plan_and_apply(mpc_tool: ToolDriver, step: str) -> None:
    synced(mpc_tool, step)
    ran(mpc_tool, step)


def test_the_profiles_other_phase4_steps(mpc_tool: ToolDriver) -> None:
    run_other_steps(mpc_tool, 4)
