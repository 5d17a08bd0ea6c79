"""Phase 4, the system under test's workflows (where the profile has them): ``/plan``, ``/validate``, ``/test``,
``/apply``, ``/destroy``. Each runs programs that reach the cluster's machines outside the PVE API (Terraform,
Ansible over SSH): it is skipped with that reason until the suite polices those programs (the profile's ``runs``),
and when a binary it needs is missing; a skipped step is never counted as passed.
"""

from __future__ import annotations

import pytest

from pytest_proxmox_mpc.sut import ToolDriver

from .toolsteps import ran, run_other_steps, synced

pytestmark = pytest.mark.phase4


@pytest.mark.parametrize("step", ["plan", "validate", "test", "apply", "destroy"])
def test_the_tools_workflows(mpc_tool: ToolDriver, step: str) -> None:
    synced(mpc_tool, step)
    ran(mpc_tool, step)


def test_the_profiles_other_phase4_steps(mpc_tool: ToolDriver) -> None:
    run_other_steps(mpc_tool, 4)
