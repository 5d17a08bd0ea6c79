"""A guest's PVE config read for export: sizes, property strings, CPU and memory, disks and network devices.

Used by the Terraform and the Ansible export alike; the validators keep parsers of their own on purpose, so
that a mistake here cannot hide itself. Nothing imports pytest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...model.inventory import GuestInfo, api_int

GIB, MIB = 1024**3, 1024**2
_UNITS = {"": 1, "K": 1024, "M": MIB, "G": GIB, "T": 1024**4}
_QEMU_DISK, _LXC_DISK = re.compile(r"(ide|sata|scsi|virtio)(\d+)"), re.compile(r"(rootfs)()|(mp)(\d+)")
_SIZE, _NET = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*"), re.compile(r"net\d+")
_NIC_OPTIONS = {"bridge", "firewall", "tag", "rate", "queues", "link_down", "mtu", "trunks", "macaddr"}


def size_bytes(text: Any) -> int | None:
    """A PVE size (``32G``, ``512M``, ``1T``, bytes without unit) in bytes; None if not one."""
    match = _SIZE.fullmatch(str(text or "").upper())
    return int(float(match.group(1)) * _UNITS[match.group(2)]) if match else None


def size_text(size: int) -> str:
    """Bytes as the shortest exact size telmate/proxmox 2.x accepts (``\\d+[GMK]``: ``1T`` is ``1024G``)."""
    unit = next((unit for unit in "GM" if size % _UNITS[unit] == 0), "K")
    return f"{math.ceil(size / _UNITS[unit])}{unit}"


def props(text: Any) -> tuple[str, dict[str, str]]:
    """A PVE property string ``vol,key=value,...`` as (first positional value, options)."""
    first, options = "", {}
    for part in str(text or "").split(","):
        key, eq, value = part.partition("=")
        if eq:
            options[key.strip()] = value.strip()
        elif not first:
            first = part.strip()
    return first, options


def memory_mib(guest: GuestInfo) -> int | None:
    """Memory in MiB: the config's ``memory``, else ``maxmem``."""
    return api_int((guest.config or {}).get("memory")) or (guest.maxmem // MIB if guest.maxmem else None)


def cpu(guest: GuestInfo) -> tuple[int, int]:
    """(cores, sockets) from the config, else the guest's vCPUs on one socket."""
    config = guest.config or {}
    cores = api_int(config.get("cores")) or guest.vcpus or 1
    return cores, ((api_int(config.get("sockets")) or 1) if guest.kind == "qemu" else 1)


@dataclass(frozen=True)
class Disk:
    """A guest's disk: ``slot`` ``scsi0``/``rootfs``/``mp0``; ``storage`` empty for a path; ``size`` bytes."""

    slot: str
    storage: str
    volume: str
    size: int | None
    options: Mapping[str, str]


def disks(guest: GuestInfo) -> list[Disk]:
    """The guest's disks (QEMU: bus disks, CD-ROMs left out, by bus and index; LXC: rootfs, then mpN)."""
    pattern = _QEMU_DISK if guest.kind == "qemu" else _LXC_DISK
    found = []
    for key, value in (guest.config or {}).items():
        match = pattern.fullmatch(key)
        volume, options = props(value)
        volume = options.pop("file", "") or options.pop("volume", "") or volume
        if not match or options.get("media") == "cdrom" or volume in ("", "none"):
            continue
        bus, index = [group for group in match.groups() if group is not None]
        storage = volume.split(":", 1)[0] if ":" in volume and not volume.startswith("/") else ""
        found.append(((bus != "rootfs", bus, int(index or 0)),
                      Disk(key, storage, volume, size_bytes(options.get("size")), options)))
    return [disk for _, disk in sorted(found, key=lambda item: item[0])]


def nics(guest: GuestInfo) -> list[tuple[int, dict[str, str]]]:
    """The guest's ``netN`` devices by N; for QEMU, the leading ``model=MAC`` as ``model`` and ``macaddr``."""
    found = []
    for key, value in (guest.config or {}).items():
        if not _NET.fullmatch(key):
            continue
        options = props(value)[1]
        model, _, mac = str(value).split(",", 1)[0].partition("=")
        if guest.kind == "qemu" and model and model not in _NIC_OPTIONS:
            options.pop(model, None)
            options.update({"model": model.strip()}, **({"macaddr": mac.strip()} if mac else {}))
        found.append((int(key[3:]), options))
    return sorted(found, key=lambda item: item[0])
