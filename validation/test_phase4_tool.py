"""Phase 4, the system under test's workflows (where the profile has them): ``/plan``, ``/validate``, ``/test``,
``/apply``, ``/destroy`` (after an ``/apply``: there is nothing to destroy before). Each runs programs that reach the
cluster's machines outside the PVE API (Terraform, Ansible over SSH), policed by the suite's shims: every run is
judged (towards this run's temporary guests only, Terraform's changes from its plan) and audited.

A step is skipped with the reason where a program it needs is not installed, and where ``terraform init`` cannot
download the providers the workspace needs (no registry reachable; found by running ``terraform init`` on a copy of
the workspace's Terraform, since a tool may not show why its init failed): the workflow was then not tested, and a
skipped step is never counted as passed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from pytest_proxmox_mpc.sut import StepRun, ToolDriver

from .toolsteps import run_other_steps, synced, tail

pytestmark = pytest.mark.phase4

# What terraform init prints when the providers cannot be downloaded (no registry answers).
NO_PROVIDERS = re.compile(r"Failed to query available provider packages|Failed to install provider|"
                          r"could not connect to registry")
INIT_TIMEOUT = 600.0  # seconds terraform init may take to give up on a registry


def providers_unreachable(workspace: Path) -> str | None:
    """Why ``terraform init`` cannot download the providers of ``workspace``'s Terraform here, or None (it can, or
    there is no terraform or no Terraform to init)."""
    terraform, folder = shutil.which("terraform"), workspace / "terraform"
    if terraform is None or not folder.is_dir():
        return None
    with tempfile.TemporaryDirectory() as copy:
        shutil.copytree(folder, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
        done = subprocess.run([terraform, "init", "-input=false", "-backend=false", "-no-color"], cwd=copy,
                              capture_output=True, text=True, timeout=INIT_TIMEOUT, check=False)
    found = NO_PROVIDERS.search(done.stdout + done.stderr)
    return found.group(0) if found and done.returncode != 0 else None


def skip_without_providers(tool: ToolDriver, step: str) -> None:
    why = providers_unreachable(tool.workspace)
    if why:
        pytest.skip(f"step {step!r}: terraform init could not download the Terraform providers the workspace "
                    f"needs ({why}: no registry reachable from here): the workflow was not tested")


def ended(tool: ToolDriver, step: str, run: StepRun) -> None:
    """The step succeeded; skipped (never passed) when it failed because no provider can be downloaded here."""
    if not run.succeeded:
        skip_without_providers(tool, step)
    assert run.succeeded, f"{run.command!r} ({step}): {run.outcome}: {run.reason}\n    {tail(run)}"


@pytest.mark.parametrize("step", ["plan", "validate", "test", "apply", "destroy"])
def test_the_tools_workflows(mpc_tool: ToolDriver, step: str) -> None:
    synced(mpc_tool, step, *(["apply"] if step == "destroy" else []))
    if step == "destroy":
        applied = mpc_tool.step("apply")
        if not applied.succeeded:
            skip_without_providers(mpc_tool, "apply")
            pytest.skip("step 'destroy' needs a deployment to destroy: '/apply' did not succeed (its own test "
                        "says why)")
    ended(mpc_tool, step, mpc_tool.step(step))


def test_the_profiles_other_phase4_steps(mpc_tool: ToolDriver) -> None:
    run_other_steps(mpc_tool, 4)
