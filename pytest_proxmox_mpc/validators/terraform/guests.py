"""One resource per guest, with the guest's values; its settings and what a plan would replace (``compare``).

Every resource is judged, whether Terraform would load its directory or not (that is reported once, by the
load check); a guest whose resource sits in a block that does not parse, or has a type the provider does not
know, is reported by those checks alone, not again as "no resource".
"""

from __future__ import annotations

from ...cluster.inventory import GuestInfo, Inventory, api_int
from ..findings import Finding
from .compare import compare
from .hclfiles import TfResource, TfWorkspace, missing_sources
from .provider import CHECK, table_of
from .values import RESOURCE_TYPES, cluster_cores, cluster_disk_sizes, cluster_memory_mib, cluster_name, resource_values

GUEST_ARGUMENTS = ("vmid", "vm_id")


def guest_resources(tf: TfWorkspace) -> list[TfResource]:
    """The resources of guest types (both providers), every instance, loaded or not; ``count``/``for_each``
    resources are left out (one block, many guests: not judged by value)."""
    return [r for r in tf.resources() if r.type in RESOURCE_TYPES and not ({"count", "for_each"} & set(r.body))]


def claimed_elsewhere(tf: TfWorkspace) -> tuple[set[int], set[str]]:
    """vmids that a broken block, a module call whose source is missing, or a resource of a type no provider
    has describes (reported by those checks), and the guest kinds a broken block of unknown vmid may describe."""
    vmids = {block.vmid for block in tf.lost if block.kind in ("resource", "module") and block.vmid is not None}
    kinds = {RESOURCE_TYPES[b.labels[0]][0] if b.kind == "resource" and b.labels[:1] and b.labels[0] in RESOURCE_TYPES
             else "any" for b in tf.lost if b.kind in ("resource", "module") and b.vmid is None}
    for resource in tf.resources():
        if resource.type.startswith("proxmox_") and resource.type not in RESOURCE_TYPES:
            vmids.update(v for v in (api_int(resource.body.get(k)) for k in GUEST_ARGUMENTS) if v is not None)
    for call in missing_sources(tf):
        vmids.update(v for v in (api_int(call.arguments.get(k)) for k in GUEST_ARGUMENTS) if v is not None)
    return vmids, kinds


def matched(tf: TfWorkspace, inventory: Inventory) -> tuple[list[tuple[GuestInfo, TfResource]], list[Finding]]:
    """Each guest with its one resource, and the findings of guests with none or several, and stale ones."""
    findings, pairs = [], []
    by_vmid: dict[int | None, list[TfResource]] = {}
    for resource in guest_resources(tf):
        by_vmid.setdefault(resource_values(resource)["vmid"], []).append(resource)
    elsewhere, kinds = claimed_elsewhere(tf)
    for vmid, guest in sorted(inventory.guests.items()):
        mine = by_vmid.pop(vmid, [])
        if not mine and (vmid in elsewhere or {guest.kind, "any"} & kinds):
            continue
        if len(mine) != 1:
            label = f"{guest.kind} {vmid} ({guest.name or 'no name'})"
            findings.append(Finding(CHECK, f"guest {label}", "resources", 1, len(mine), note="" if mine else (
                "no resource describes this guest")))
            continue
        pairs.append((guest, mine[0]))
    for stale_vmid, stale in sorted(by_vmid.items(), key=lambda item: str(item[0])):
        for resource in stale:
            findings.append(Finding(CHECK, resource.where, "vmid", note=(
                "no literal vmid: no guest can be matched" if stale_vmid is None
                else f"guest {stale_vmid} is not in the cluster (stale resource)")))
    return pairs, findings


def check_guests(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """One resource per guest, of the guest's kind, with its node, cores, sockets, memory, disks and name."""
    pairs, findings = matched(tf, inventory)
    for guest, resource in pairs:
        if RESOURCE_TYPES[resource.type][0] != guest.kind:
            findings.append(Finding(CHECK, resource.where, "type", note=f"a {guest.kind} guest as {resource.type}"))
            continue
        values = resource_values(resource)
        config = guest.config or {}
        wanted = {"node": guest.node, "cores": cluster_cores(guest), "memory": cluster_memory_mib(guest),
                  "disks": cluster_disk_sizes(guest) if guest.config is not None else None}
        for field, want in wanted.items():
            if want is not None and values[field] != want and field not in values["unresolved"]:
                findings.append(Finding(CHECK, resource.where, field, want, values[field]))
        declared = {"name": cluster_name(guest),
                    "sockets": (api_int(config.get("sockets")) or 1) if guest.kind == "qemu" else None}
        for field, want in declared.items():
            if want is not None and values[field] is not None and values[field] != want \
                    and field not in values["unresolved"]:
                findings.append(Finding(CHECK, resource.where, field, want, values[field]))
    return findings


def check_settings(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """Every compared setting of each guest's resource against its config (invented, differing, defaults)."""
    pairs, _ = matched(tf, inventory)
    return [f for guest, resource in pairs if RESOURCE_TYPES[resource.type][0] == guest.kind
            for f in compare(resource, guest, table_of(tf, resource.type))[0]]


def check_replacements(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """What would make a plan after import destroy and re-create a guest: a ForceNew difference."""
    pairs, _ = matched(tf, inventory)
    return [f for guest, resource in pairs if RESOURCE_TYPES[resource.type][0] == guest.kind
            for f in compare(resource, guest, table_of(tf, resource.type))[1]]
