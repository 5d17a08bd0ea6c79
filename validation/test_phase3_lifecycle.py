"""Phase 3: temporary guests through the whole lifecycle, on the cluster and in the workspace.

Only guests this run creates (in the temporary VMID range, tagged) are written to, and each is removed
on every way out. The workspace is updated in a copy of its own, so the phase 2 tests' view stays.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc import read_inventory
from pytest_proxmox_mpc.errors import GuestCreateFailed
from pytest_proxmox_mpc.fixtures import workspace_checks
from pytest_proxmox_mpc.validators import CheckContext, check_snapshots, check_workspace, describe
from pytest_proxmox_mpc.workspace import Workspace

from .workflow import resource_vmids, update, working_copy

pytestmark = pytest.mark.phase3


@pytest.mark.pve_criterion("p3-api-ops", "p3-rollback", "p2-state-tracking")
def test_temporary_guests_appear_in_discovery_sync_and_export_and_go_again(
        temp_vm: Any, temp_ct: Any, pve_readonly: Any, mpc_workspace: Workspace, tmp_path: Path,
        check_context: CheckContext, pytestconfig: pytest.Config) -> None:
    work = working_copy(mpc_workspace, tmp_path)
    vm, ct = temp_vm(), temp_ct()
    made = {vm.vmid: "qemu", ct.vmid: "lxc"}

    inventory, synced = update(pve_readonly, work)
    assert {vmid: inventory.guests[vmid].kind for vmid in made if vmid in inventory.guests} == made, (
        "discovery misses a temporary guest")
    db = work / ".proxmox" / "state.db"
    assert not (found := check_snapshots(db, {vmid: ("created",) for vmid in made})), describe(found, "the sync")
    assert set(made) <= resource_vmids(work), "the export has no resource for a temporary guest"
    found = check_workspace(work, inventory, check_context, workspace_checks(pytestconfig))
    assert not found, describe(found, "the updated workspace")

    temp_vm.remove(vm)
    temp_ct.remove(ct)
    inventory, synced = update(pve_readonly, work)
    assert not set(made) & set(inventory.guests), "a removed guest is still discovered"
    assert synced.deleted >= 2, f"the sync after removal: {synced.summary()}"
    assert not (found := check_snapshots(db, {vmid: ("deleted",) for vmid in made})), describe(found, "the sync")
    assert not set(made) & resource_vmids(work), "the export still has a removed guest's resource"
    found = check_workspace(work, inventory, check_context, workspace_checks(pytestconfig))
    assert not found, describe(found, "the updated workspace")


@pytest.mark.pve_criterion("p3-error-handling")
def test_an_invalid_create_gets_a_clear_error_and_leaves_nothing(temp_vm: Any, pve_readonly: Any) -> None:
    before = set(read_inventory(pve_readonly, guest_configs=False, networks=False).guests)
    with pytest.raises(GuestCreateFailed) as caught:
        temp_vm(memory="lots")
    message = str(caught.value)
    assert "memory" in message and len(message.splitlines()) == 1, f"not one clear line: {message!r}"
    after = set(read_inventory(pve_readonly, guest_configs=False, networks=False).guests)
    assert after == before, f"the failed create left guests behind: {sorted(after - before)}"
    assert temp_vm.created == [], "the factory still holds a guest it never made"
