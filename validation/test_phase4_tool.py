"""Phase 4, the system under test's workflows (where the profile has them): ``/plan``, ``/validate``, ``/test``,
``/apply``, ``/destroy``. Each runs programs that reach the cluster's machines outside the PVE API (Terraform,
Ansible over SSH), policed by the suite's shims: every run is judged (towards this run's temporary guests only,
Terraform's changes from its plan) and audited. A step is skipped with the reason where a program it needs is not
installed, and where ``terraform init`` cannot download the providers the workspace needs (no registry reachable):
the workflow was then not tested, and a skipped step is never counted as passed.
"""

from __future__ import annotations

import re

import pytest

from pytest_proxmox_mpc.sut import ToolDriver

from .toolsteps import run_other_steps, synced, tail

pytestmark = pytest.mark.phase4

# What terraform init prints when the providers cannot be downloaded (no registry answers).
NO_PROVIDERS = re.compile(r"Failed to query available provider packages|Failed to install provider|"
                          r"could not connect to registry")


@pytest.mark.parametrize("step", ["plan", "validate", "test", "apply", "destroy"])
def test_the_tools_workflows(mpc_tool: ToolDriver, step: str) -> None:
    synced(mpc_tool, step)
    run = mpc_tool.step(step)
    if not run.succeeded and NO_PROVIDERS.search(run.transcript):
        pytest.skip(f"step {step!r}: terraform init could not download the Terraform providers the workspace needs "
                    "(no registry reachable from here): the workflow was not tested")
    assert run.succeeded, f"{run.command!r} ({step}): {run.outcome}: {run.reason}\n    {tail(run)}"


def test_the_profiles_other_phase4_steps(mpc_tool: ToolDriver) -> None:
    run_other_steps(mpc_tool, 4)
