"""Phase 2, the system under test: its ``sync`` judged by every workspace check, a second ``sync`` that must
change nothing, ``create vm`` (a declared guest, written locally), and a write the policy refuses.

The tool talks to the phase 2 safety proxy: it reads, and any write it sends is refused.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc import read_inventory
from pytest_proxmox_mpc.fixtures import settings_of, workspace_checks
from pytest_proxmox_mpc.sut import ToolDriver, cluster_vmids
from pytest_proxmox_mpc.validators import CheckContext, check_workspace, describe

from .toolsteps import declared, ran, run_other_steps, started, synced, tail

pytestmark = pytest.mark.phase2

DECLARED = {"name": "test-vm-safe", "cores": 2, "memory": 4096}  # the plan's: create vm --name ... --cores 2 ...


def test_sync_writes_every_node_guest_and_storage_it_reports_to_state_db(mpc_tool: ToolDriver,
                                                                          pve_readonly: Any) -> None:
    run = synced(mpc_tool)
    inventory = read_inventory(pve_readonly, guest_configs=False, networks=False)
    expected = len(inventory.nodes) + len(inventory.guests) + len(inventory.storages)
    held = mpc_tool.snapshot().row_count()
    assert held == expected, (f"{run.command!r} reports success, but state.db holds {held} of {expected} rows "
                              "(nodes, guests, storages): success printed over failed database writes")


def test_the_workspace_sync_writes_passes_every_workspace_check(
        mpc_tool: ToolDriver, pve_readonly: Any, pytestconfig: pytest.Config, check_context: CheckContext,
        tmp_path: Path) -> None:
    """Judged apart from the row count above, so a failed database write never keeps the files from being judged
    (the database's own checks are among these too)."""
    run = synced(mpc_tool)
    inventory = read_inventory(pve_readonly)
    # The run's context (protected guests, lint cache) with the tool's own secrets added to the run's.
    context = replace(check_context, scratch=tmp_path / "checks", secrets=(*check_context.secrets, *mpc_tool.secrets))
    context.scratch.mkdir()
    found = check_workspace(mpc_tool.workspace, inventory, context, workspace_checks(pytestconfig))
    assert not found, describe(found, f"the workspace {run.command!r} wrote")


def test_the_token_secret_shows_nowhere_after_sync(mpc_tool: ToolDriver) -> None:
    """The tool's own config may hold it as ``tokenSecret``; nothing else it writes or prints may (what ``init``
    printed is judged by the phase 1 test of its own)."""
    synced(mpc_tool)
    leaks = mpc_tool.secret_leaks(but=("init",))
    assert not leaks, "the token secret appears in " + ", ".join(leaks)


def test_a_second_sync_changes_nothing(mpc_tool: ToolDriver) -> None:
    synced(mpc_tool)
    before = mpc_tool.snapshot()
    run = ran(mpc_tool, "sync")
    found = mpc_tool.changes(before, usage=True)  # on a live cluster the guests' use moves between two syncs
    assert not found, (f"a second {run.command!r} of an unchanged cluster changed the workspace (not idempotent: "
                       f"generated timestamps?); {len(found)} changes:\n    " + "\n    ".join(found))


def test_create_vm_declares_a_new_guest_with_a_free_vmid_and_changes_nothing_else(
        mpc_tool: ToolDriver, pve_readonly: Any) -> None:
    synced(mpc_tool, "declare-vm")
    known, before = declared(mpc_tool.workspace), mpc_tool.snapshot()
    run = ran(mpc_tool, "declare-vm", name=DECLARED["name"])
    now = declared(mpc_tool.workspace)
    new = {where: values for where, values in now.items() if where not in known}
    assert len(new) == 1, f"{run.command!r} declared {len(new)} new guests ({sorted(new)}), not 1\n    {tail(run)}"
    (where, values), = new.items()
    wrong = {key: values.get(key) for key, value in DECLARED.items() if values.get(key) != value}
    assert not wrong, f"{where} does not carry the declared values {DECLARED}: it has {wrong}"
    vmid = values["vmid"]
    on_cluster = cluster_vmids(pve_readonly)
    next_free = int(pve_readonly.cluster.nextid.get())
    twins = sorted(other for other, v in now.items() if other != where and v["vmid"] == vmid)
    problems = [f"vmid {vmid} is taken on the cluster"] if vmid in on_cluster else []
    problems += [f"vmid {vmid} is declared already by {', '.join(twins)}"] if twins else []
    problems += ["it declares no vmid"] if vmid is None else []
    if not problems and vmid != next_free and vmid not in mpc_tool.access.handed_out():
        problems.append(f"vmid {vmid} is neither the cluster's next free VMID ({next_free}) nor one the safety "
                        "proxy handed out")
    assert not problems, f"{where}: a placeholder vmid, not a free one: " + "; ".join(problems)
    found = mpc_tool.changes(before, added_files=True, added_lines=True)
    assert not found, f"{run.command!r} changed the rest of the workspace:\n    " + "\n    ".join(found)


@pytest.mark.pve_expect_refusal
def test_a_write_the_policy_refuses_surfaces_as_a_clear_tool_error(mpc_tool: ToolDriver,
                                                                    pytestconfig: pytest.Config) -> None:
    started(mpc_tool, "create-vm")
    vmid = settings_of(pytestconfig).temp_vmid_range[0]
    run = mpc_tool.step("create-vm", vmid=vmid, name="mpc-refused")
    assert run.refused, f"the phase 2 proxy refused nothing of {run.command!r}\n    {tail(run)}"
    step = mpc_tool.profile.step("create-vm")
    assert step is not None
    shown = run.failure_lines(step)
    assert run.outcome == "failure" and shown, (
        f"the policy refused {run.refused[0]}, but {run.command!r} {run.outcome}s without a failure line "
        f"({run.reason})\n    {tail(run)}")


def test_the_profiles_other_phase2_steps(mpc_tool: ToolDriver) -> None:
    run_other_steps(mpc_tool, 2)
