"""Phase 2, IaC: the workspace's Terraform and Ansible against the cluster, parsed and linted, never applied.

Each check of ``validators.checks`` with area ``iac`` is one test: every ``.tf`` parses and is loaded,
provider and variables, resource names, one resource per guest with its real values, imports, no
plaintext secret, the Ansible inventory and the playbooks' targets, ``ansible-lint --offline``.
"""

from __future__ import annotations

import pytest

from pytest_proxmox_mpc import Inventory
from pytest_proxmox_mpc.validators import CheckContext, WorkspaceCheck, describe
from pytest_proxmox_mpc.workspace import Workspace

pytestmark = pytest.mark.phase2

CHECK_AREA = "iac"  # conftest.py parametrizes ``check`` with the run's checks of this area


@pytest.mark.usefixtures("started_checks")
def test_generated_iac(check: WorkspaceCheck, mpc_workspace: Workspace, pve_inventory: Inventory,
                       check_context: CheckContext) -> None:
    findings = check.run(mpc_workspace.path, pve_inventory, check_context)
    assert not findings, describe(findings, f"the workspace {mpc_workspace.path} ({check.name})")
