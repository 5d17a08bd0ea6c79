"""The names a workspace gives its guests: one ``<name>`` per guest (the contract's rule), used for the
Terraform file and resource and for the Ansible host alike, so that the two always agree. Nothing imports
pytest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ...model.inventory import GuestInfo, Inventory

ANSIBLE_GROUPS = ("proxmox_nodes", "vms", "containers", "running", "stopped", "templates")  # the inventory's own
RESERVED_NAMES = ("all", "ungrouped", *ANSIBLE_GROUPS)  # Ansible's implicit groups and ours: never a guest's name


def contract_name(guest: GuestInfo) -> str:
    """The contract's ``<name>``: lower-cased, ``[^a-z0-9_]`` -> ``_``; ``vm-<vmid>``/``ct-<vmid>`` if unnamed."""
    if guest.name:
        return re.sub(r"[^a-z0-9_]", "_", guest.name.lower())
    return f"{'vm' if guest.kind == 'qemu' else 'ct'}-{guest.vmid}"


def hcl_label(name: str) -> str:
    """``name`` as a Terraform identifier: ``-`` -> ``_``, and ``_`` in front of a leading digit."""
    label = name.replace("-", "_")
    return label if re.match(r"[a-z_]", label) else "_" + label


def guest_names(inventory: Inventory, reserved: Iterable[str] = ()) -> dict[int, str]:
    """Each guest's ``<name>``, unique (and so are their HCL labels) across all guests and ``reserved``.

    By vmid, the first guest keeps its name; a later one with the same name or label gets ``_<vmid>``.
    """
    taken, names = set(reserved), {}
    for vmid, guest in sorted(inventory.guests.items()):
        base = candidate = contract_name(guest)
        n = 1
        while candidate in taken or hcl_label(candidate) in taken:
            candidate, n = f"{base}_{vmid}" + (f"_{n}" if n > 1 else ""), n + 1
        taken.update((candidate, hcl_label(candidate)))
        names[vmid] = candidate
    return names


def workspace_names(inventory: Inventory) -> dict[int, str]:
    """Each guest's ``<name>`` in the workspace: unique, and never a group's or a node's name (an Ansible
    host and a group or node of the same name would be one)."""
    return guest_names(inventory, RESERVED_NAMES + tuple(inventory.nodes))
