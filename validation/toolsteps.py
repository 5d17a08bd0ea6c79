"""Steps the validation tests of the system under test share (``mpc_tool``): start it, run a step and expect
what the profile says, read the workspace it wrote, and run the profile's steps the suite has no test of its own for.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc.sut import StepRun, ToolDriver
from pytest_proxmox_mpc.validators import RESOURCE_TYPES, parse_terraform, resource_values, terraform_resources

# The steps the phase tests give a meaning to; any other step of the profile runs in test_the_profiles_other_steps.
KNOWN_STEPS = frozenset({"status", "test-connection", "list-nodes", "discover", "dry-run-sync", "sync", "declare-vm",
                         "create-vm", "start-vm", "stop-vm", "delete-vm", "invalid-create", "create-container",
                         "start-container", "stop-container", "delete-container", "plan", "validate", "test", "apply",
                         "destroy"})
TAIL = 12  # transcript lines quoted in a failure message


def tail(run: StepRun) -> str:
    lines = run.lines()[-TAIL:]
    return "\n    ".join(["transcript (tail, secrets masked):", *lines]) if lines else "(no output)"


def started(tool: ToolDriver, *steps: str) -> StepRun:
    """The tool's ``init`` in its fresh workspace, after checking that every step in ``steps`` can run here
    (a test that cannot finish is skipped before it starts the tool)."""
    for name in steps:
        tool.available(name)
    run = tool.init()
    assert run.succeeded, f"init: {run.outcome}: {run.reason}\n    {tail(run)}"
    return run


def ran(tool: ToolDriver, name: str, /, **values: Any) -> StepRun:
    """Step ``name``, which must end as the profile expects (``success``, or ``failure`` for an invalid request)."""
    run = tool.step(name, **values)
    step = tool.profile.step(name)
    assert step is not None
    if step.expect == "success":
        assert run.succeeded, f"{run.command!r} ({name}): {run.outcome}: {run.reason}\n    {tail(run)}"
    else:
        assert run.outcome == "failure", (f"{run.command!r} ({name}) should fail, but {run.outcome}: {run.reason}"
                                          f"\n    {tail(run)}")
    return run


def synced(tool: ToolDriver, *steps: str) -> StepRun:
    started(tool, "sync", *steps)
    return ran(tool, "sync")


def declared(workspace: Path) -> dict[str, dict[str, Any]]:
    """The guests the workspace's Terraform declares: ``file type.name`` -> their values (vmid, name, cores, ...)."""
    parsed, _ = parse_terraform(workspace / "terraform")
    return {r.where: resource_values(r) for r in terraform_resources(parsed) if r.type in RESOURCE_TYPES}


def declared_number(command: str, option: str) -> int | None:
    """``--option N`` of a command line, if it has one."""
    match = re.search(rf"--{option}[= ](\d+)", command)
    return int(match[1]) if match else None


def container_template(readonly: Any) -> dict[str, str]:
    """``node``, ``ostemplate`` and ``storage`` (for its root disk) of the first online node (by name) that has a
    container template and a storage for container disks, for the tool's container create; the test is skipped,
    naming what to provide, on a cluster that has none (a precondition, not a defect of the tool)."""
    for node in sorted(row["node"] for row in readonly.nodes.get() if row.get("status") == "online"):
        disks = sorted(row["storage"] for row in readonly.nodes(node).storage.get(content="rootdir", enabled=1))
        for storage in sorted(row["storage"] for row in readonly.nodes(node).storage.get(content="vztmpl")):
            volumes = readonly.nodes(node).storage(storage).content.get(content="vztmpl")
            if volumes and disks:
                return {"node": node, "ostemplate": sorted(v["volid"] for v in volumes)[0], "storage": disks[0]}
    pytest.skip("no online node has both a container template (content vztmpl) and a storage for container disks "
                "(content rootdir): upload a template (pveam download <storage> <template>) to test the tool's "
                "container commands")


def run_other_steps(tool: ToolDriver, phase: int) -> None:
    """Each step of the profile's ``phase`` that no test of the suite knows: it must end as the profile expects (a
    step with ``faults`` is judged by ``test_faults_tool`` instead)."""
    others = [step.name for step in tool.profile.of_phase(phase) if step.name not in KNOWN_STEPS and not step.faults]
    if not others:
        pytest.skip(f"the profile {tool.profile.name} has no phase {phase} steps beyond those the suite tests")
    (synced if phase >= 2 and tool.profile.step("sync") else started)(tool, *others)
    for name in others:
        ran(tool, name)
