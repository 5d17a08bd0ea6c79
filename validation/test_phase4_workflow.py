"""Phase 4: the whole workflow under load, the seed's budgets, and every success criterion judged.

Run it in parallel as the seed plans (``pytest validation -m phase4 --pve-max-phase 4 -n 4``): each xdist
worker creates its own temporary guests in its own slice of the temporary VMID range.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc import read_inventory
from pytest_proxmox_mpc.errors import GuestCreateFailed
from pytest_proxmox_mpc.fixtures import workspace_checks
from pytest_proxmox_mpc.report import CRITERIA
from pytest_proxmox_mpc.validators import CheckContext, check_snapshots, check_workspace, describe
from pytest_proxmox_mpc.workspace import Workspace

from .workflow import resource_vmids, update, working_copy

pytestmark = pytest.mark.phase4

SYNC_BUDGET_S = 30.0  # the seed: "< 30 second sync time for typical infrastructure"
READ_CONCURRENCY = 4


@pytest.mark.pve_criterion("p4-workflows", "run-sync-time", "p4-cleanup")
def test_the_end_to_end_chain_with_guests_of_this_worker(
        temp_vm: Any, temp_ct: Any, pve_readonly: Any, mpc_workspace: Workspace, tmp_path: Path,
        check_context: CheckContext, pytestconfig: pytest.Config) -> None:
    work = working_copy(mpc_workspace, tmp_path)
    made = [temp_vm(), temp_ct()]
    start = time.perf_counter()
    inventory, synced = update(pve_readonly, work)
    took = time.perf_counter() - start
    assert synced.created >= len(made), f"the sync: {synced.summary()}"
    vmids = {guest.vmid for guest in made}
    assert not (found := check_snapshots(work / ".proxmox" / "state.db", {v: ("created",) for v in vmids})), (
        describe(found, "the sync"))
    assert vmids <= resource_vmids(work)
    found = check_workspace(work, inventory, check_context, workspace_checks(pytestconfig))
    assert not found, describe(found, "the workspace")
    assert took < SYNC_BUDGET_S, (f"discovery, sync and export of {inventory.summary()} took {took:.1f} s; "
                                  f"the budget is {SYNC_BUDGET_S:g} s")


class InFlight:
    """A client wrapper that counts how many reads are under way at once (``peak``)."""

    def __init__(self, api: Any) -> None:
        self.api, self.now, self.peak, self.lock = api, 0, 0, threading.Lock()

    def __call__(self, path: str) -> Any:
        counter = self

        class Resource:
            def get(self, **params: Any) -> Any:
                with counter.lock:
                    counter.now += 1
                    counter.peak = max(counter.peak, counter.now)
                try:
                    return counter.api(path).get(**params)
                finally:
                    with counter.lock:
                        counter.now -= 1

        return Resource()


@pytest.mark.pve_criterion("p4-load")
def test_concurrent_reads_are_bounded_and_agree_with_sequential_reads(pve_readonly: Any) -> None:
    one, many = InFlight(pve_readonly), InFlight(pve_readonly)
    sequential = read_inventory(one, concurrency=1)
    parallel = read_inventory(many, concurrency=READ_CONCURRENCY)
    assert one.peak == 1 and many.peak <= READ_CONCURRENCY, f"peaks: {one.peak} and {many.peak}"

    def view(inventory: Any) -> dict[int, tuple[Any, ...]]:
        return {vmid: (g.node, g.kind, g.name, g.status, g.digest) for vmid, g in inventory.guests.items()}

    assert view(parallel) == view(sequential), "concurrent reads saw another cluster than sequential ones"


@pytest.mark.pve_criterion("p4-recovery")
def test_the_workflow_recovers_from_a_failed_step(temp_vm: Any, pve_readonly: Any) -> None:
    with pytest.raises(GuestCreateFailed):
        temp_vm(cores="many")
    guest = temp_vm()  # the next step runs as if nothing had happened
    found = read_inventory(pve_readonly, guest_configs=False, networks=False).guests
    assert guest.vmid in found and found[guest.vmid].kind == "qemu"
    assert temp_vm.created == [guest], "the failed create left something for cleanup"


def test_every_success_criterion_is_evaluated(request: pytest.FixtureRequest) -> None:
    """Each criterion of the phases this session runs (and of the whole run) is judged by run records or
    by a test of this session: none can end as "not evaluated" in the report."""
    items = request.session.items
    by_tests = {str(arg) for item in items for mark in item.iter_markers("pve_criterion") for arg in mark.args}
    phases = {0} | {int(mark.name[5:]) for item in items for mark in item.iter_markers()
                    if mark.name in ("phase1", "phase2", "phase3", "phase4")}
    unjudged = [c.id for c in CRITERIA if c.phase in phases and c.evidence is None and c.id not in by_tests]
    assert not unjudged, f"no run record and no test of this session gives evidence for: {', '.join(unjudged)}"
