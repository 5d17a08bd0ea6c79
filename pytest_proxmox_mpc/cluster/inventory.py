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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from ..model.inventory import (
    GUEST_TYPES,
    GuestInfo,
    Inventory,
    NetworkInfo,
    NodeInfo,
    PoolInfo,
    StorageInfo,
    StorageUsage,
    api_flag,
    api_float,
    api_int,
    split_list,
    split_tags,
)
from .bulkread import MAX_IN_FLIGHT, read_many

DEFAULT_CONCURRENCY = MAX_IN_FLIGHT


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
                   concurrency: int = DEFAULT_CONCURRENCY, skip_configs_in: tuple[int, int] | None = None) -> Inventory:
    """Read the cluster through ``api`` (a read-only client will do).

    ``guest_configs=False`` and ``networks=False`` give the light snapshot the gates use after every test;
    ``cluster_status=False`` (no cluster name, quorate assumed) and ``pools=False`` (no pools) spare requests
    whose answers a caller does not use, and a ``version`` already known spares ``GET /version``. Guest configs
    are read at most ``concurrency`` at a time (see ``bulkread``), but not those of guests in the VMID range
    ``skip_configs_in`` (the temporary range, whose guests runs create and remove while the snapshot is read).
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
        low, high = skip_configs_in or (1, 0)
        guests = _with_configs(calls, guests, online, concurrency, lambda vmid: not low <= vmid <= high)
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
                  concurrency: int, wanted: Callable[[int], bool]) -> dict[int, GuestInfo]:
    """Each ``wanted`` guest with its config and digest, read ``concurrency`` at most at a time (guests on offline
    nodes, and the others, as they are)."""
    readable = [guest for guest in guests.values() if guest.node in online and wanted(guest.vmid)]
    answers = read_many(calls.api, [f"nodes/{guest.node}/{guest.kind}/{guest.vmid}/config" for guest in readable],
                        limit=concurrency, on_request=calls.counted)
    read_ones = {}
    for guest, answer in zip(readable, answers, strict=True):
        config = dict(answer or {})
        digest = config.pop("digest", None)
        read_ones[guest.vmid] = replace(guest, config=config, digest=str(digest) if digest else None)
    return {vmid: read_ones.get(vmid, guest) for vmid, guest in guests.items()}

