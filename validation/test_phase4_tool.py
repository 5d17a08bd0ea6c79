"""Phase 4, the system under test's workflows (where the profile has them): ``/plan``, ``/validate``, ``/test``,
``/apply``, ``/destroy`` (after an ``/apply``: there is nothing to destroy before). Each runs programs that reach the
cluster's machines outside the PVE API (Terraform, Ansible over SSH), policed by the suite's shims: every run is
judged (towards this run's temporary guests only, Terraform's changes from its plan) and audited.

A step is skipped with the reason where a program it needs is not installed, and where ``terraform init`` cannot
download the providers the workspace needs (no registry reachable; found by running ``terraform init`` on a copy of
the workspace's Terraform, since a tool may not show why its init failed, and named in the failure when the
workspace's Terraform is at fault): the workflow was then not tested, and a
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


def terraform_init(workspace: Path) -> tuple[str, str] | None:
    """Why ``terraform init`` fails on a copy of ``workspace``'s Terraform here: ("providers", the registry's error)
    when no provider can be downloaded, ("config", its first error) when the configuration is at fault; None when
    it succeeds (or there is no terraform, or no Terraform to init)."""
    terraform, folder = shutil.which("terraform"), workspace / "terraform"
    if terraform is None or not folder.is_dir():
        return None
    with tempfile.TemporaryDirectory() as copy:
        shutil.copytree(folder, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"))
        done = subprocess.run([terraform, "init", "-input=false", "-backend=false", "-no-color"], cwd=copy,
                              capture_output=True, text=True, timeout=INIT_TIMEOUT, check=False)
    if done.returncode == 0:
        return None
    text = done.stdout + done.stderr
    found = NO_PROVIDERS.search(text)
    if found:
        return "providers", found.group(0)
    errors = [line.strip() for line in text.splitlines() if line.strip().startswith("Error:")]
    where = [line.strip() for line in text.splitlines() if line.strip().startswith("on ")]
    first = next((e for e in errors if "problems during initiali" not in e), errors[0] if errors else "")
    return "config", " ".join(filter(None, [first, f"({where[0]})" if where else ""])) or "(no error shown)"


def ended(tool: ToolDriver, step: str, run: StepRun) -> None:
    """The step succeeded; skipped (never passed) when it failed because no provider can be downloaded here, and
    its failure names terraform init's own error when the workspace's Terraform is at fault."""
    init = None if run.succeeded else terraform_init(tool.workspace)
    if init is not None and init[0] == "providers":
        pytest.skip(f"step {step!r}: terraform init could not download the Terraform providers the workspace "
                    f"needs ({init[1]}: no registry reachable from here): the workflow was not tested")
    cause = f"\n    terraform init of the workspace's Terraform fails: {init[1]}" if init else ""
    assert run.succeeded, f"{run.command!r} ({step}): {run.outcome}: {run.reason}{cause}\n    {tail(run)}"


@pytest.mark.parametrize("step", ["plan", "validate", "test", "apply", "destroy"])
def test_the_tools_workflows(mpc_tool: ToolDriver, step: str) -> None:
    synced(mpc_tool, step, *(["apply"] if step == "destroy" else []))
    if step == "destroy":
        applied = mpc_tool.step("apply")
        if not applied.succeeded:
            if (terraform_init(mpc_tool.workspace) or ("",))[0] == "providers":
                pytest.skip("step 'destroy': terraform init could not download the Terraform providers the "
                            "workspace needs (no registry reachable from here): the workflow was not tested")
            pytest.skip("step 'destroy' needs a deployment to destroy: '/apply' did not succeed (its own test "
                        "says why)")
    ended(mpc_tool, step, mpc_tool.step(step))


def test_the_profiles_other_phase4_steps(mpc_tool: ToolDriver) -> None:
    run_other_steps(mpc_tool, 4)
