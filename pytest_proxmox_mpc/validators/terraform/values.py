"""The values compared for every guest: read from the guest's config here (never from an exporter's helpers,
so that a mistake there cannot hide itself) and from a resource of either provider as it declares them."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ...model.inventory import GuestInfo, api_int
from .expressions import Unresolved
from .hclfiles import TfResource, attributes, first, listed

GIB, MIB = 1024**3, 1024**2
# resource type -> (guest kind, vmid attribute, node attribute)
RESOURCE_TYPES = {"proxmox_vm_qemu": ("qemu", "vmid", "target_node"), "proxmox_lxc": ("lxc", "vmid", "target_node"),
                  "proxmox_virtual_environment_vm": ("qemu", "vm_id", "node_name"),
                  "proxmox_virtual_environment_container": ("lxc", "vm_id", "node_name")}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", re.I)
_UNITS = {"": 1, "K": 1024, "M": MIB, "G": GIB, "T": 1024**4}
_QEMU_DISK, _LXC_DISK = re.compile(r"(?:ide|sata|scsi|virtio)\d+"), re.compile(r"rootfs|mp\d+")
_TELMATE_SLOT = re.compile(r"(?:ide|sata|scsi|virtio)\d+")


def size_bytes(text: Any) -> int | None:
    """A size in bytes: a number is GiB (bpg), a string has a unit (``32G``, ``512M``) or is bytes."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return int(text * GIB)
    match = _SIZE.fullmatch(str(text or "").upper())
    return int(float(match.group(1)) * _UNITS[match.group(2)]) if match else None


def _gib(size: int | None) -> int | None:
    return None if size is None else max(1, math.ceil(size / GIB))


def props(text: Any) -> tuple[str, dict[str, str]]:
    """A PVE property string ``value,key=value,...``: (the leading positional value, the options)."""
    parts = [part.strip() for part in str(text if text is not None else "").split(",")]
    pairs = (part.split("=", 1) for part in parts if "=" in part)
    return next((part for part in parts if part and "=" not in part), ""), {k.strip(): v.strip() for k, v in pairs}


def cluster_disk_sizes(guest: GuestInfo) -> list[int]:
    """Sizes (GiB, rounded up) of the guest's storage-backed disks, from its config; CD-ROMs left out."""
    pattern = _QEMU_DISK if guest.kind == "qemu" else _LXC_DISK
    sizes = []
    for key, value in (guest.config or {}).items():
        if not pattern.fullmatch(key):
            continue
        parts = str(value).split(",")
        options = dict(part.partition("=")[::2] for part in parts[1:])
        volume = parts[0].partition("=")[2] if "=" in parts[0] else parts[0]
        if "media=cdrom" in parts or volume in ("", "none") or ":" not in volume or volume.startswith("/"):
            continue
        size = _gib(size_bytes(options.get("size")))
        if size is not None:
            sizes.append(size)
    return sorted(sizes)


def cluster_cores(guest: GuestInfo) -> int | None:
    """Cores per socket: the config's ``cores``, else the guest's vCPUs."""
    return api_int((guest.config or {}).get("cores")) or guest.vcpus


def cluster_memory_mib(guest: GuestInfo) -> int | None:
    """Memory in MiB: the config's ``memory``, else ``maxmem``."""
    return api_int((guest.config or {}).get("memory")) or (guest.maxmem // MIB if guest.maxmem else None)


def cluster_name(guest: GuestInfo) -> str | None:
    """What the guest is called: a VM's name; a container's hostname (its config's, else its name)."""
    if guest.kind == "lxc":
        return (guest.config or {}).get("hostname") or guest.name
    return guest.name


def telmate_disks(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """telmate 3.x ``disks { scsi { scsi0 { disk { ... } } } }``: the ``disk`` blocks, each with its slot."""
    found: list[Mapping[str, Any]] = []
    for disks_block in listed(body, "disks"):
        for bus in attributes(disks_block):
            for bus_block in listed(disks_block, bus):
                for slot in (s for s in attributes(bus_block) if _TELMATE_SLOT.fullmatch(s)):
                    for slot_block in listed(bus_block, slot):
                        for kind in ("disk", "passthrough"):
                            found += [{**disk, "slot": slot} for disk in listed(slot_block, kind)]
    return found


def _cpu(body: Mapping[str, Any], bpg: bool) -> tuple[Any, Any]:
    cpu = first(body, "cpu")
    if bpg or cpu:  # bpg always, telmate 3.0.1-rc9 and later: a cpu block
        return cpu.get("cores"), cpu.get("sockets")
    return body.get("cores"), body.get("sockets")


def resource_values(resource: TfResource) -> dict[str, Any]:
    """vmid, node, name (a VM's name, a container's hostname), cores and sockets, memory (MiB), disk sizes
    (GiB, sorted) and the template flag as the resource declares them (None: not declared); ``unresolved``
    names the fields given by an expression whose value is not known here."""
    kind, vmid_key, node_key = RESOURCE_TYPES[resource.type]
    body, bpg = resource.body, resource.type.startswith("proxmox_virtual_environment")
    cores, sockets = _cpu(body, bpg)
    if bpg:
        memory = first(body, "memory").get("dedicated")
        disks = listed(body, "disk") + listed(body, "mount_point")
        name = body.get("name") if kind == "qemu" else first(body, "initialization").get("hostname")
    else:
        memory = body.get("memory")
        disks = listed(body, "disk") + listed(body, "rootfs") + listed(body, "mountpoint") + telmate_disks(body)
        name = body.get("name" if kind == "qemu" else "hostname")
    sizes = sorted(size for size in (_gib(size_bytes(disk.get("size"))) for disk in disks) if size is not None)
    template = body.get("template")
    raw = {"node": body.get(node_key), "name": name, "cores": cores, "sockets": sockets, "memory": memory,
           "disks": [disk.get("size") for disk in disks]}
    unresolved = {"disks"} if "dynamic" in body else set()  # blocks made by a for_each whose items are not known
    unresolved |= {k for k, v in raw.items() if any(isinstance(x, Unresolved) for x in (v if isinstance(v, list)
                                                                                         else [v]))}
    return {"vmid": api_int(body.get(vmid_key)), "node": body.get(node_key), "name": name,
            "cores": api_int(cores), "sockets": api_int(sockets), "memory": api_int(memory), "disks": sizes,
            "template": template if isinstance(template, bool) else None, "unresolved": unresolved}
