"""Phase 3, the system under test's own writes, through the safety proxy: its CLI creates a VM and a container
on VMIDs the proxy reserved in the temporary range, starts, stops and deletes each; its sync records a guest that
appeared (``created``) and one that went (``deleted``); an invalid create (a VMID that exists, a memory of 0)
gives a clear error and leaves nothing; a write the policy refuses (a protected guest) is reported as the tool's
refused attempt.

Each test judges one behaviour, so one defect never hides another. A guest the tool creates and leaves is
removed by the plugin when the test ends (``pve_proxy``) and counted in the summary.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest

from pytest_proxmox_mpc import ExclusionList, Inventory
from pytest_proxmox_mpc.sut import StepRun, ToolDriver, cluster_vmids
from pytest_proxmox_mpc.validators import check_snapshots, describe

from .toolsteps import container_template, declared_number, ran, run_other_steps, started, synced, tail

pytestmark = pytest.mark.phase3

SETTLE_S = 60.0  # seconds a started task (start, stop, delete) may take to show on the cluster
KINDS = {"vm": ("qemu", "create-vm", "start-vm", "stop-vm", "delete-vm"),
         "container": ("lxc", "create-container", "start-container", "stop-container", "delete-container")}


def vm_rows(tool: ToolDriver, vmid: int, table: str = "vms") -> int:
    with sqlite3.connect(f"file:{tool.workspace / '.proxmox' / 'state.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table} WHERE id = ?", (vmid,)).fetchone()[0])


def guest_row(readonly: Any, vmid: int) -> dict[str, Any] | None:
    return next((r for r in readonly.cluster.resources.get(type="vm") if int(r["vmid"]) == vmid), None)


def running_tasks(readonly: Any, node: str, vmid: int) -> list[dict[str, Any]]:
    """The cluster's tasks of guest ``vmid`` on ``node`` that have not ended."""
    return [task for task in readonly.nodes(node).tasks.get(vmid=vmid, source="active") if not task.get("endtime")]


def settled(readonly: Any, node: str, vmid: int, wanted: str | None) -> dict[str, Any] | None:
    """The guest's row once its status is ``wanted`` (None: once it is gone), or as it is once no task of it is
    running any more (at most ``SETTLE_S``): a tool that says "initiated" has started a task the cluster may
    still be running."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        row = guest_row(readonly, vmid)
        if row is None if wanted is None else row is not None and row.get("status") == wanted:
            return row
        if time.monotonic() > deadline or not running_tasks(readonly, node, vmid):
            return guest_row(readonly, vmid)  # as the last task left it
        time.sleep(0.5)


def lifecycle_values(kind: str, tool: ToolDriver, vmid: int) -> dict[str, Any]:
    values: dict[str, Any] = {"vmid": vmid, "name": f"mpc-tool-{vmid}"}
    if kind == "container":
        values.update(container_template(tool.readonly))
    return values


@pytest.mark.parametrize("kind", ["vm", "container"])
def test_the_tools_own_create_start_stop_and_delete(mpc_tool: ToolDriver, kind: str) -> None:
    pve_type, create, start, stop, delete = KINDS[kind]
    started(mpc_tool, create, start, stop, delete)
    vmid = mpc_tool.reserve_vmid()
    values = lifecycle_values(kind, mpc_tool, vmid)
    created = ran(mpc_tool, create, **values)
    row = guest_row(mpc_tool.readonly, vmid)
    assert row is not None, f"{created.command!r} reports success, but the cluster has no guest {vmid}"
    node = str(row["node"])
    getter = getattr(mpc_tool.readonly.nodes(node), pve_type)
    config = getter(vmid).config.get()
    wanted = {"name" if kind == "vm" else "hostname": values["name"],
              "cores": declared_number(created.command, "cores"),
              "memory": declared_number(created.command, "memory")}
    wrong = {key: config.get(key) for key, value in wanted.items() if value is not None and
             str(config.get(key)) != str(value)}
    assert not wrong, f"guest {vmid} on the cluster does not carry the declared values {wanted}: it has {wrong}"

    for step, status in ((start, "running"), (stop, "stopped")):
        run = ran(mpc_tool, step, **values)
        row = settled(mpc_tool.readonly, node, vmid, status)
        now = row.get("status") if row else "gone"
        assert now == status, (f"{run.command!r} reports success, but guest {vmid} is {now}, not {status}, once "
                               f"its tasks ended\n    {tail(run)}")

    deleted = ran(mpc_tool, delete, **values)
    assert settled(mpc_tool.readonly, node, vmid, None) is None, (
        f"{deleted.command!r} reports success, but guest {vmid} is still on the cluster once its tasks ended: a "
        "leaked guest (the plugin removes it when the test ends)")


def test_the_tools_sync_records_a_guest_that_appeared_and_one_that_went(mpc_tool: ToolDriver, temp_vm: Any) -> None:
    """The guest comes from the plugin's own factory, so this judges the sync alone, whatever the tool's create
    does."""
    synced(mpc_tool)
    guest = temp_vm()
    db = mpc_tool.workspace / ".proxmox" / "state.db"
    sync = ran(mpc_tool, "sync")
    assert vm_rows(mpc_tool, guest.vmid) == 1, (
        f"{sync.command!r} reports success, but state.db has no row of guest {guest.vmid}, which appeared since the "
        "last sync")
    assert not (found := check_snapshots(db, {guest.vmid: ("created",)})), describe(found, f"{sync.command!r}")
    temp_vm.remove(guest)
    sync = ran(mpc_tool, "sync")
    assert vm_rows(mpc_tool, guest.vmid) == 0, (
        f"{sync.command!r} still has guest {guest.vmid} in state.db after it went from the cluster")
    assert not (found := check_snapshots(db, {guest.vmid: ("deleted",)})), describe(found, f"{sync.command!r}")


def failed_clearly(tool: ToolDriver, run: StepRun, step_name: str, words: tuple[str, ...]) -> None:
    step = tool.profile.step(step_name)
    assert step is not None
    shown = run.failure_lines(step)
    assert run.outcome == "failure", f"{run.command!r} should fail, but {run.outcome}s: {run.reason}\n    {tail(run)}"
    said = [line for line in run.lines() if not line.startswith("$ ")]  # the command line itself aside
    assert any(word in line.lower() for line in said for word in words), (
        f"{run.command!r} fails without a clear error naming what is wrong ({' or '.join(words)}); it says "
        f"{shown or run.reason}\n    {tail(run)}")


def test_a_create_of_a_memory_of_0_gives_a_clear_error_and_leaves_nothing(mpc_tool: ToolDriver) -> None:
    started(mpc_tool, "invalid-create")
    before = cluster_vmids(mpc_tool.readonly)
    vmid = mpc_tool.reserve_vmid()
    run = mpc_tool.step("invalid-create", vmid=vmid, name=f"mpc-invalid-{vmid}")
    after = cluster_vmids(mpc_tool.readonly)
    assert after == before, f"the failed create left guests behind: {sorted(after - before)}"
    failed_clearly(mpc_tool, run, "invalid-create", ("memory",))


def test_a_create_on_a_vmid_that_exists_gives_a_clear_error_and_changes_nothing(mpc_tool: ToolDriver) -> None:
    started(mpc_tool, "create-vm")
    vmid = mpc_tool.reserve_vmid()
    first = ran(mpc_tool, "create-vm", vmid=vmid, name=f"mpc-first-{vmid}")
    row = guest_row(mpc_tool.readonly, vmid)
    assert row is not None, f"{first.command!r} reports success, but the cluster has no guest {vmid}"
    config = mpc_tool.readonly.nodes(row["node"]).qemu(vmid).config.get()
    again = mpc_tool.step("create-vm", vmid=vmid, name=f"mpc-again-{vmid}")
    assert mpc_tool.readonly.nodes(row["node"]).qemu(vmid).config.get() == config, (
        f"{again.command!r} on a VMID that exists changed guest {vmid}'s config")
    failed_clearly(mpc_tool, again, "create-vm", ("exist",))


@pytest.mark.pve_expect_refusal
def test_a_write_to_a_protected_guest_is_refused_and_reported_as_the_tools_attempt(
        mpc_tool: ToolDriver, pve_exclusions: ExclusionList, pve_inventory: Inventory) -> None:
    protected = sorted(vmid for vmid in pve_exclusions.resolve(g.facts for g in pve_inventory.guests.values())
                       if pve_inventory.guests[vmid].kind == "qemu")
    if not protected:
        pytest.skip("the exclusion list protects no VM of this cluster: give --pve-exclusions with one")
    started(mpc_tool, "stop-vm")
    vmid = protected[0]
    before = guest_row(mpc_tool.readonly, vmid)
    run = mpc_tool.step("stop-vm", vmid=vmid, node=pve_inventory.guests[vmid].node)
    assert run.refused, f"the proxy refused nothing of {run.command!r} on protected guest {vmid}\n    {tail(run)}"
    after = guest_row(mpc_tool.readonly, vmid)
    assert (after or {}).get("status") == (before or {}).get("status"), f"protected guest {vmid} changed state"
    step = mpc_tool.profile.step("stop-vm")
    assert step is not None
    assert run.outcome == "failure" and run.failure_lines(step), (
        f"the policy refused {run.refused[0]}, but {run.command!r} {run.outcome}s without a failure line "
        f"({run.reason})\n    {tail(run)}")


def test_the_profiles_other_phase3_steps(mpc_tool: ToolDriver) -> None:
    run_other_steps(mpc_tool, 3)
