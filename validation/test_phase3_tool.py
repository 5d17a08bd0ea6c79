"""Phase 3, the system under test's own writes: it creates a guest with a VMID the plugin reserves in the
temporary range, its sync records it (``created``), its delete removes it from the cluster and, after the next
sync, from state.db (``deleted``); an invalid create gives a clear error and leaves nothing.

A guest the tool creates and leaves is removed by the plugin when the test ends (``pve_proxy``).
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from pytest_proxmox_mpc import ToolDriver, cluster_vmids
from pytest_proxmox_mpc.validators import check_snapshots, describe

from .toolsteps import declared_number, ran, run_other_steps, started, synced, tail

pytestmark = pytest.mark.phase3


def vm_rows(tool: ToolDriver, vmid: int) -> int:
    with sqlite3.connect(f"file:{tool.workspace / '.proxmox' / 'state.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM vms WHERE id = ?", (vmid,)).fetchone()[0])


def test_the_tools_own_create_sync_and_delete_of_a_temporary_guest(mpc_tool: ToolDriver, pve_readonly: Any) -> None:
    synced(mpc_tool, "create-vm", "delete-vm")
    vmid = mpc_tool.reserve_vmid()
    name = f"mpc-tool-{vmid}"
    created = ran(mpc_tool, "create-vm", vmid=vmid, name=name)
    row = next((r for r in pve_readonly.cluster.resources.get(type="vm") if int(r["vmid"]) == vmid), None)
    assert row is not None, f"{created.command!r} reports success, but the cluster has no guest {vmid}"
    config = pve_readonly.nodes(row["node"]).qemu(vmid).config.get()
    wanted = {"name": name, "cores": declared_number(created.command, "cores"),
              "memory": declared_number(created.command, "memory")}
    wrong = {key: config.get(key) for key, value in wanted.items() if value is not None and
             str(config.get(key)) != str(value)}
    assert not wrong, f"guest {vmid} on the cluster does not carry the declared values {wanted}: it has {wrong}"

    sync = ran(mpc_tool, "sync")
    db = mpc_tool.workspace / ".proxmox" / "state.db"
    assert vm_rows(mpc_tool, vmid) == 1, f"{sync.command!r} reports success, but state.db has no row of guest {vmid}"
    assert not (found := check_snapshots(db, {vmid: ("created",)})), describe(found, f"{sync.command!r}")

    deleted = ran(mpc_tool, "delete-vm", vmid=vmid)
    assert vmid not in cluster_vmids(pve_readonly), (
        f"{deleted.command!r} reports success, but guest {vmid} is still on the cluster: a leaked guest (the plugin "
        "removes it when the test ends)")
    sync = ran(mpc_tool, "sync")
    assert vm_rows(mpc_tool, vmid) == 0, f"{sync.command!r} after the delete still has guest {vmid} in state.db"
    assert not (found := check_snapshots(db, {vmid: ("deleted",)})), describe(found, f"{sync.command!r}")


def test_an_invalid_create_gives_a_clear_tool_error_and_leaves_nothing(mpc_tool: ToolDriver,
                                                                       pve_readonly: Any) -> None:
    started(mpc_tool, "invalid-create")
    before = cluster_vmids(pve_readonly)
    vmid = mpc_tool.reserve_vmid()
    run = ran(mpc_tool, "invalid-create", vmid=vmid, name=f"mpc-invalid-{vmid}")
    step = mpc_tool.profile.step("invalid-create")
    assert step is not None
    shown = run.failure_lines(step)
    assert shown and any("memory" in line.lower() for line in shown), (
        f"{run.command!r} fails without a clear error naming what is wrong (memory)\n    {tail(run)}")
    after = cluster_vmids(pve_readonly)
    assert after == before, f"the failed create left guests behind: {sorted(after - before)}"


def test_the_profiles_other_phase3_steps(mpc_tool: ToolDriver) -> None:
    run_other_steps(mpc_tool, 3)
