"""Phase 2, sync: the workspace's state database against the cluster (read-only: nothing is written to it).

The workspace is ``mpc_workspace``: the reference builder's by default, a copy of ``--mpc-workspace DIR``,
or what ``--mpc-command`` made. Each check of ``validators.checks`` with area ``sync`` is one test.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from pytest_proxmox_mpc import Inventory
from pytest_proxmox_mpc.validators import CheckContext, WorkspaceCheck, database_contents, describe
from pytest_proxmox_mpc.workspace import Workspace

pytestmark = pytest.mark.phase2

CHECK_AREA = "sync"  # conftest.py parametrizes ``check`` with the run's checks of this area


@pytest.mark.usefixtures("started_checks")
def test_state_database(check: WorkspaceCheck, mpc_workspace: Workspace, pve_inventory: Inventory,
                        check_context: CheckContext) -> None:
    findings = check.run(mpc_workspace.path, pve_inventory, check_context)
    assert not findings, describe(findings, f"{mpc_workspace.state_db} ({check.name})")


@pytest.mark.pve_criterion("p2-state-tracking")
def test_a_second_sync_changes_nothing(mpc_workspace: Workspace, pve_readonly: Any, tmp_path: Any) -> None:
    if mpc_workspace.source != "reference":
        pytest.skip(f"a second sync needs the workspace's tool; this workspace is a {mpc_workspace.source}")
    from pytest_proxmox_mpc import sync_database  # here: the sync loads SQLAlchemy, which a phase-1 run never needs

    again = tmp_path / "state.db"
    shutil.copyfile(mpc_workspace.state_db, again)
    before = again.read_bytes()
    result = sync_database(pve_readonly, again, create=False)
    assert not result.wrote, f"a second sync of an unchanged cluster wrote: {result.summary()}"
    assert again.read_bytes() == before, "a second sync changed the file"
    assert database_contents(again) == database_contents(mpc_workspace.state_db)
