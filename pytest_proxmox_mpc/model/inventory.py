"""The cluster as data: nodes, guests, storages, pools and networks, and the small parsers of PVE's values they
are read with. The reader that fills it from the API is ``cluster.inventory.read_inventory``; everything that only
judges or writes a snapshot (the gates, the validators, the workspace exporters) needs just this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

GUEST_TYPES = ("qemu", "lxc")


def api_int(value: Any) -> int | None:
    """A number as PVE sends it (int, float, numeric string) as an int; None when absent or not a number."""
    try:
        return None if value is None or value == "" else int(float(value))
    except (TypeError, ValueError):
        return None


def api_float(value: Any) -> float | None:
    """Like ``api_int``, as a float."""
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def api_flag(value: Any) -> bool:
    """PVE's booleans (1/0, and the true/yes/on spellings of its config files) as a bool."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def split_list(text: Any) -> tuple[str, ...]:
    """PVE's comma separated lists (``content``, ``nodes``) as a sorted tuple."""
    return tuple(sorted({part.strip() for part in str(text or "").split(",") if part.strip()}))


@dataclass(frozen=True)
class NodeInfo:
    """A node as ``/cluster/resources`` shows it; usage fields are None when the node is offline."""

    name: str
    status: str
    cpu: float | None = None  # fraction of maxcpu in use
    maxcpu: int | None = None
    mem: int | None = None
    maxmem: int | None = None
    disk: int | None = None
    maxdisk: int | None = None
    uptime: int | None = None
    level: str | None = None

    @property
    def online(self) -> bool:
        return self.status == "online"


@dataclass(frozen=True)
class GuestInfo:
    """A QEMU or LXC guest. ``vcpus`` is ``maxcpu`` (cores x sockets); sizes are bytes; ``config`` and
    ``digest`` come from the guest's config (None when it was not read, e.g. its node is offline)."""

    vmid: int
    kind: str  # qemu or lxc
    node: str
    name: str | None
    status: str
    template: bool = False
    tags: tuple[str, ...] = ()
    pool: str | None = None
    lock: str | None = None
    hastate: str | None = None
    vcpus: int | None = None
    maxmem: int | None = None
    maxdisk: int | None = None
    cpu: float | None = None
    mem: int | None = None
    disk: int | None = None
    netin: int | None = None
    netout: int | None = None
    uptime: int | None = None
    digest: str | None = None
    config: Mapping[str, Any] | None = None

    @property
    def ha_managed(self) -> bool:
        """The guest is an HA resource (whatever its HA state)."""
        return bool(self.hastate)

    @property
    def facts(self) -> GuestFacts:
        """What the exclusion list judges."""
        return GuestFacts(vmid=self.vmid, name=self.name, node=self.node, tags=frozenset(self.tags), pool=self.pool)


@dataclass(frozen=True)
class StorageUsage:
    """A storage's space on one node, in bytes."""

    total: int
    used: int
    avail: int
    active: bool

    @property
    def fraction(self) -> float:
        return self.used / self.total if self.total else 0.0


@dataclass(frozen=True)
class StorageInfo:
    """A storage of ``storage.cfg`` and its usage per node where it is enabled (``nodes`` None: every node)."""

    storage: str
    type: str
    content: tuple[str, ...] = ()
    shared: bool = False
    enabled: bool = True
    nodes: tuple[str, ...] | None = None
    path: str | None = None
    digest: str | None = None
    usage: Mapping[str, StorageUsage] = field(default_factory=dict)

    def config_view(self) -> tuple[Any, ...]:
        """The parts of the configuration a change to the storage shows in (not its usage)."""
        return (self.type, self.content, self.shared, self.enabled, self.nodes, self.path)


@dataclass(frozen=True)
class PoolInfo:
    """A resource pool and the guests and storages in it."""

    poolid: str
    comment: str | None = None
    guests: frozenset[int] = frozenset()
    storages: frozenset[str] = frozenset()


@dataclass(frozen=True)
class NetworkInfo:
    """One interface of a node's network configuration."""

    iface: str
    type: str
    active: bool = False
    cidr: str | None = None
    bridge_ports: str | None = None


@dataclass(frozen=True)
class Inventory:
    """The cluster at ``taken_at`` (epoch seconds), read with ``requests`` API calls."""

    version: str | None
    cluster_name: str | None
    quorate: bool
    nodes: Mapping[str, NodeInfo]
    guests: Mapping[int, GuestInfo]
    storages: Mapping[str, StorageInfo]
    pools: Mapping[str, PoolInfo]
    networks: Mapping[str, tuple[NetworkInfo, ...]]
    taken_at: float
    requests: int

    @property
    def vms(self) -> list[GuestInfo]:
        """The QEMU guests, by vmid."""
        return [guest for _, guest in sorted(self.guests.items()) if guest.kind == "qemu"]

    @property
    def containers(self) -> list[GuestInfo]:
        """The LXC guests, by vmid."""
        return [guest for _, guest in sorted(self.guests.items()) if guest.kind == "lxc"]

    @property
    def templates(self) -> list[GuestInfo]:
        return [guest for _, guest in sorted(self.guests.items()) if guest.template]

    def summary(self) -> str:
        """``3 nodes, 12 guests (8 VMs, 4 containers, 1 template), 4 storages, 2 pools``"""
        return (f"{len(self.nodes)} nodes, {len(self.guests)} guests ({len(self.vms)} VMs, "
                f"{len(self.containers)} containers, {len(self.templates)} templates), "
                f"{len(self.storages)} storages, {len(self.pools)} pools")


def split_tags(text: str | None) -> frozenset[str]:
    """PVE's tag list (``a;b``, also ``,`` or space separated) as lower-case tags, as PVE stores them."""
    return frozenset(tag for tag in re.split(r"[;, ]", (text or "").lower()) if tag)


@dataclass(frozen=True)
class GuestFacts:
    """What is known of a guest when a write is judged (any field may be unknown = None / empty)."""

    vmid: int
    name: str | None = None
    node: str | None = None
    tags: frozenset[str] = frozenset()
    pool: str | None = None
