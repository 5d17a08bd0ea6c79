"""Steps the phase 3 and 4 validation tests share: a working copy of the workspace, brought up to date."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_proxmox_mpc import Inventory, read_inventory
from pytest_proxmox_mpc.validators import (
    RESOURCE_TYPES,
    parse_terraform,
    resource_values,
    terraform_resources,
)
from pytest_proxmox_mpc.workspace import Workspace

if TYPE_CHECKING:
    from pytest_proxmox_mpc.workspace import SyncResult


def working_copy(workspace: Workspace, directory: Path) -> Path:
    """A copy of the workspace to update (the session's workspace stays as the phase 2 tests saw it)."""
    if workspace.source != "reference":
        pytest.skip(f"updating the workspace needs the workspace's tool; this workspace is a {workspace.source}")
    target = directory / "workspace"
    shutil.copytree(workspace.path, target)
    return target


def provider_of(path: Path) -> str:
    """The Terraform provider the workspace was exported for."""
    return "telmate" if "telmate/proxmox" in (path / "terraform" / "main.tf").read_text(encoding="utf-8") else "bpg"


def update(api: Any, path: Path) -> tuple[Inventory, SyncResult]:
    """Discover, sync ``path``'s state database and export its IaC again: what the tool does on a refresh."""
    from pytest_proxmox_mpc import export_iac, sync_database  # here: a phase-1 run, which collects this, needs neither

    inventory = read_inventory(api)
    result = sync_database(inventory, path / ".proxmox" / "state.db", create=False)
    export_iac(inventory, path, provider=provider_of(path))
    return inventory, result


def resource_vmids(path: Path) -> set[int]:
    """The vmids the workspace's Terraform resources declare."""
    parsed, _ = parse_terraform(path / "terraform")
    return {vmid for r in terraform_resources(parsed) if r.type in RESOURCE_TYPES
            for vmid in [resource_values(r)["vmid"]] if vmid is not None}
