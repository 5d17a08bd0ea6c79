"""A normalised snapshot of the cluster: nodes, guests, storages, pools and each node's networks.

One model for the gates, the validation suite and the workspace builders. It is read with as few requests
as the API allows: ``/cluster/resources`` answers for every node and guest at once; ``/cluster/status``,
``/storage`` and ``/pools`` once each; per online node its networks and storage usage (which
``/cluster/resources`` does not carry reliably); per guest only its config, for the config digest,
cores, disks and network devices, read with bounded, adaptive concurrency (``bulkread``). Nothing here
imports pytest.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..safety.exclusions import GuestFacts, split_tags
from .bulkread import MAX_IN_FLIGHT, read_many

GUEST_TYPES = ("qemu", "lxc")
DEFAULT_CONCURRENCY = MAX_IN_FLIGHT


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


class _Counting:
    """Counts the API calls the reader makes (one object per read, shared by its threads)."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.count = 0

    def get(self, path: str, **params: Any) -> Any:
        self.counted()
        return self.api(path).get(**params)

    def counted(self) -> None:
        self.count += 1  # under the GIL; an off-by-one under contention would only blur a figure


def read_inventory(api: Any, *, guest_configs: bool = True, networks: bool = True, cluster_status: bool = True,
                   pools: bool = True, version: str | None = None,
                   concurrency: int = DEFAULT_CONCURRENCY) -> Inventory:
    """Read the cluster through ``api`` (a read-only client will do).

    ``guest_configs=False`` and ``networks=False`` give the light snapshot the gates use after every test;
    ``cluster_status=False`` (no cluster name, quorate assumed) and ``pools=False`` (no pools) spare requests
    whose answers a caller does not use, and a ``version`` already known spares ``GET /version``. Guest configs
    are read at most ``concurrency`` at a time (see ``bulkread``).
    """
    calls = _Counting(api)
    if version is None:
        version = (calls.get("version") or {}).get("version")
    status_rows = (calls.get("cluster/status") or []) if cluster_status else []
    cluster = next((row for row in status_rows if row.get("type") == "cluster"), None)
    rows = calls.get("cluster/resources") or []
    nodes = {str(row["node"]): _node(row) for row in rows if row.get("type") == "node" and row.get("node")}
    guests = {int(row["vmid"]): _guest(row) for row in rows if row.get("type") in GUEST_TYPES and "vmid" in row}
    storage_pools = {str(row["storage"]): str(row["pool"]) for row in rows
                     if row.get("type") == "storage" and row.get("pool") and row.get("storage")}
    online = [name for name, node in sorted(nodes.items()) if node.online]
    usage: dict[str, dict[str, StorageUsage]] = {}
    for node in online:
        for row in calls.get(f"nodes/{node}/storage") or []:
            usage.setdefault(str(row["storage"]), {})[node] = StorageUsage(
                total=api_int(row.get("total")) or 0, used=api_int(row.get("used")) or 0,
                avail=api_int(row.get("avail")) or 0, active=api_flag(row.get("active")))
    storages = {str(row["storage"]): _storage(row, usage.get(str(row["storage"]), {}))
                for row in calls.get("storage") or []}
    pool_rows = (calls.get("pools") or []) if pools else []
    nets = {node: tuple(_network(row) for row in calls.get(f"nodes/{node}/network") or [])
            for node in online} if networks else {}
    if guest_configs:
        guests = _with_configs(calls, guests, online, concurrency)
    return Inventory(version=version, cluster_name=cluster.get("name") if cluster else None,
                     quorate=api_flag(cluster.get("quorate")) if cluster else True,  # a lone node has no quorum entry
                     nodes=nodes, guests=dict(sorted(guests.items())), storages=dict(sorted(storages.items())),
                     pools=_pools(pool_rows, guests.values(), storage_pools), networks=nets, taken_at=time.time(),
                     requests=calls.count)


def _node(row: Mapping[str, Any]) -> NodeInfo:
    return NodeInfo(name=str(row["node"]), status=str(row.get("status") or "unknown"),
                    cpu=api_float(row.get("cpu")), maxcpu=api_int(row.get("maxcpu")), mem=api_int(row.get("mem")),
                    maxmem=api_int(row.get("maxmem")), disk=api_int(row.get("disk")),
                    maxdisk=api_int(row.get("maxdisk")), uptime=api_int(row.get("uptime")),
                    level=row.get("level") or None)


def _guest(row: Mapping[str, Any]) -> GuestInfo:
    return GuestInfo(vmid=int(row["vmid"]), kind=str(row["type"]), node=str(row.get("node") or ""),
                     name=row.get("name") or None, status=str(row.get("status") or "unknown"),
                     template=api_flag(row.get("template")), tags=tuple(sorted(split_tags(row.get("tags")))),
                     pool=row.get("pool") or None, lock=row.get("lock") or None, hastate=row.get("hastate") or None,
                     vcpus=api_int(row.get("maxcpu")), maxmem=api_int(row.get("maxmem")),
                     maxdisk=api_int(row.get("maxdisk")), cpu=api_float(row.get("cpu")), mem=api_int(row.get("mem")),
                     disk=api_int(row.get("disk")), netin=api_int(row.get("netin")), netout=api_int(row.get("netout")),
                     uptime=api_int(row.get("uptime")))


def _storage(row: Mapping[str, Any], usage: Mapping[str, StorageUsage]) -> StorageInfo:
    nodes = split_list(row.get("nodes")) or None
    return StorageInfo(storage=str(row["storage"]), type=str(row.get("type") or ""),
                       content=split_list(row.get("content")), shared=api_flag(row.get("shared")),
                       enabled=not api_flag(row.get("disable")), nodes=nodes, path=row.get("path") or None,
                       digest=row.get("digest") or None, usage=dict(sorted(usage.items())))


def _pools(rows: Iterable[Mapping[str, Any]], guests: Iterable[GuestInfo], storage_pools: Mapping[str, str],
           ) -> dict[str, PoolInfo]:
    members: dict[str, set[int]] = {}
    for guest in guests:
        if guest.pool:
            members.setdefault(guest.pool, set()).add(guest.vmid)
    pools = {}
    for row in rows:
        poolid = str(row["poolid"])
        pools[poolid] = PoolInfo(poolid=poolid, comment=row.get("comment") or None,
                                 guests=frozenset(members.get(poolid, ())),
                                 storages=frozenset(sid for sid, pool in storage_pools.items() if pool == poolid))
    return dict(sorted(pools.items()))


def _network(row: Mapping[str, Any]) -> NetworkInfo:
    return NetworkInfo(iface=str(row.get("iface") or ""), type=str(row.get("type") or ""),
                       active=api_flag(row.get("active")), cidr=row.get("cidr") or None,
                       bridge_ports=row.get("bridge_ports") or None)


def _with_configs(calls: _Counting, guests: Mapping[int, GuestInfo], online: list[str],
                  concurrency: int) -> dict[int, GuestInfo]:
    """Each guest with its config and digest, read ``concurrency`` at most at a time (guests on offline nodes as
    they are)."""
    readable = [guest for guest in guests.values() if guest.node in online]
    answers = read_many(calls.api, [f"nodes/{guest.node}/{guest.kind}/{guest.vmid}/config" for guest in readable],
                        limit=concurrency, on_request=calls.counted)
    read_ones = {}
    for guest, answer in zip(readable, answers, strict=True):
        config = dict(answer or {})
        digest = config.pop("digest", None)
        read_ones[guest.vmid] = replace(guest, config=config, digest=str(digest) if digest else None)
    return {vmid: read_ones.get(vmid, guest) for vmid, guest in guests.items()}

