"""The reference workspace export: Terraform and Ansible from one ``Inventory``. Nothing imports pytest."""

from __future__ import annotations

from pathlib import Path

from ...model.inventory import Inventory
from .ansible import export_ansible
from .terraform import export_terraform


def export_iac(inventory: Inventory, directory: Path | str, provider: str = "bpg") -> list[Path]:
    """Write ``<directory>/terraform/`` (for ``provider``: ``bpg`` or ``telmate``) and ``<directory>/ansible/``;
    return every file written."""
    return export_terraform(inventory, directory, provider) + export_ansible(inventory, directory)
