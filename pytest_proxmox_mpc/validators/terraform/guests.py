"""One resource per guest, with the guest's values; its settings and what a plan would replace (``compare``).

Every resource is judged, whether Terraform would load its directory or not (that is reported once, by the
load check); a guest whose resource sits in a block that does not parse, or has a type the provider does not
know, is reported by those checks alone, not again as "no resource".
"""

from __future__ import annotations

from typing import Any

from ...model.inventory import GuestInfo, Inventory, api_int
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
        wanted = {"node": guest.node, "memory": cluster_memory_mib(guest),
                  "disks": cluster_disk_sizes(guest) if guest.config is not None else None,
                  "name": cluster_name(guest)}
        for field, want in wanted.items():
            if want is None or values[field] == want or field in values["unresolved"] \
                    or (field == "name" and values[field] is None):
                continue
            via = resource.from_root(*FIELD_PATHS[field])
            findings.append(Finding(CHECK, resource.where, field, want, values[field], note=(
                f"expected {want!r} (cluster), found {values[field]!r} (workspace){via}" if via else "")))
        findings += _cpu_topology(guest, resource, values)
    return findings


# where each compared field sits in a resource of either provider (for the note on a value from the root module)
FIELD_PATHS = {"node": ("target_node", "node_name"), "memory": ("memory", "memory.dedicated"),
               "disks": ("disk.size", "rootfs.size", "mountpoint.size", "mount_point.size"),
               "name": ("name", "hostname", "initialization.hostname"),
               "cpu": ("cores", "sockets", "cpu.cores", "cpu.sockets")}


def _cpu_topology(guest: GuestInfo, resource: TfResource, values: dict[str, Any]) -> list[Finding]:
    """Cores and sockets, one finding for both: a VM of 2 sockets x 4 cores declared as ``cores = 8`` with no
    ``sockets`` is one defect, named with both (sockets left out are one socket, the providers' and PVE's
    default); a container has cores only."""
    want_cores = cluster_cores(guest)
    cores, sockets, unresolved = values["cores"], values["sockets"], values["unresolved"]
    bad_cores = want_cores is not None and cores != want_cores and "cores" not in unresolved
    if guest.kind != "qemu":
        return [Finding(CHECK, resource.where, "cores", want_cores, cores)] if bad_cores else []
    want_sockets = api_int((guest.config or {}).get("sockets")) or 1
    bad_sockets = (sockets or 1) != want_sockets and "sockets" not in unresolved
    if not (bad_cores or bad_sockets):
        return []
    via = resource.from_root(*FIELD_PATHS["cpu"])
    if not bad_sockets and not via:
        return [Finding(CHECK, resource.where, "cores", want_cores, cores)]
    if not bad_cores and sockets is not None and not via:
        return [Finding(CHECK, resource.where, "sockets", want_sockets, sockets)]
    declared = (f"cores = {cores!r}" if cores is not None else "cores left out") + (
        f", sockets = {sockets!r}" if sockets is not None else ", sockets left out (one socket)")
    fields = "cores, sockets" if bad_cores and bad_sockets else "cores" if bad_cores else "sockets"
    return [Finding(CHECK, resource.where, fields, note=(
        f"the guest has {want_sockets} socket{'s' if want_sockets != 1 else ''} x {want_cores} cores; the "
        f"resource declares {declared}{via}"))]


def check_settings(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """Every compared setting of each guest's resource against its config (invented, differing, defaults)."""
    pairs, _ = matched(tf, inventory)
    return [f for guest, resource in pairs if RESOURCE_TYPES[resource.type][0] == guest.kind
            for f in compare(resource, guest, table_of(tf, resource.type), inventory.guests)[0]]


def check_replacements(tf: TfWorkspace, inventory: Inventory) -> list[Finding]:
    """What would make a plan after import destroy and re-create a guest: a ForceNew difference."""
    pairs, _ = matched(tf, inventory)
    return [f for guest, resource in pairs if RESOURCE_TYPES[resource.type][0] == guest.kind
            for f in compare(resource, guest, table_of(tf, resource.type), inventory.guests)[1]]
