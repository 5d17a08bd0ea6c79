"""The reference sync: the cluster written into a Proxmox-MPC ``.proxmox/state.db`` (see ``statedb/``).

The cluster is read first, with ``read_inventory`` (without node networks, ``/cluster/status`` and ``/pools``,
whose answers the database has no place for: 3 + nodes + guests requests);
only then is the database written, in one ``BEGIN IMMEDIATE`` transaction: rows of new resources inserted,
changed rows updated, rows of vanished resources deleted (guests before nodes), one ``state_snapshots`` row per
changed resource (``discovered`` for every resource of the first sync into an empty database, one without
resource or snapshot rows; later ``created``, ``updated``, ``deleted``). Any error rolls everything back; a
database the sync created is removed again (a folder made for it stays). Choices where the contract is silent:

* Usage columns (``VOLATILE``: CPU, memory, disk and swap use, traffic, uptime, pid, a storage's bytes) and
  ``last_seen``/``created_at``/``updated_at`` do not make a change. A row nothing else changed in is left
  as it is, usage included, so a sync of an unchanged cluster writes nothing at all (the file stays
  byte-for-byte the same); a changed row gets every column fresh and ``updated_at = last_seen = now``.
* ``vms.pid`` and ``containers.swap_usage`` stay NULL: ``/cluster/resources`` has neither, and reading
  them would cost a request per guest. ``containers.os_template`` holds the config's ``ostype`` (PVE keeps
  no template name in a container's config); ``swap_bytes`` is the config's ``swap`` (MiB) in bytes.
* A guest whose config could not be read (its node is offline) keeps its stored config-derived columns
  (``config_digest``, ``hostname``, ``swap_bytes``, ``os_template``) instead of losing them.
* ``nodes.pve_version`` is the version ``/version`` reports (the answering node's; one per cluster).
* ``storage.nodes`` is the storage's node restriction, NULL when it may be used on every node (as the
  model says); ``config_digest`` is the digest PVE gives the storage, that of the whole ``storage.cfg``, so a
  change to one storage's options updates every storage row. Bytes: for a shared storage the usage seen
  by the first node (by name) that reports it, since every node sees the same space; for a local storage
  the sum over the nodes.
* A node that vanished from the cluster is deleted together with the ``tasks`` rows that reference it
  (counted in ``SyncResult.tasks_deleted``; tasks have no snapshots): keeping them would need a stale node.
* Tasks are not synced. Nothing here imports pytest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, select
from sqlalchemy.exc import SQLAlchemyError

from ..cluster.inventory import DEFAULT_CONCURRENCY, read_inventory
from ..errors import StateDbError, SyncError, SyncReadError, one_line
from ..model.inventory import GuestInfo, Inventory, StorageInfo
from .statedb.contract import BOOKKEEPING, VOLATILE
from .statedb.models import (
    Base,
    Container,
    Node,
    StateSnapshot,
    Storage,
    Task,
    Vm,
    create_database,
    open_readwrite,
    schema_differences,
)
from .statedb.sqlitefile import StrPath

MIB = 1024 * 1024
CHANGE_TYPES = ("discovered", "created", "updated", "deleted")
_KEEP = object()  # "keep the stored value": a config-derived column of a guest whose config was not read
# Tables in write order (nodes first: guests need them), with their snapshot resource type.
_RESOURCES: tuple[tuple[str, Table], ...] = tuple(
    (kind, Base.metadata.tables[model.__tablename__])
    for kind, model in (("node", Node), ("vm", Vm), ("container", Container), ("storage", Storage)))
_SNAPSHOTS = Base.metadata.tables[StateSnapshot.__tablename__]
_TASKS = Base.metadata.tables[Task.__tablename__]
_CHUNK = 500  # ids per IN (...) list, well below SQLite's bound-parameter limit

Row = dict[str, Any]


@dataclass(frozen=True)
class SyncResult:
    """What one sync did: snapshot rows per change type and per resource type, API requests, timings (s)."""

    db_path: Path
    created_db: bool
    counts: Mapping[str, Mapping[str, int]]  # resource type -> change type -> rows
    tasks_deleted: int
    requests: int
    read_seconds: float
    duration: float
    totals: Mapping[str, int] = field(init=False)

    def __post_init__(self) -> None:
        totals = {kind: sum(c.get(kind, 0) for c in self.counts.values()) for kind in CHANGE_TYPES}
        object.__setattr__(self, "totals", totals)

    @property
    def discovered(self) -> int:
        return self.totals["discovered"]

    @property
    def created(self) -> int:
        return self.totals["created"]

    @property
    def updated(self) -> int:
        return self.totals["updated"]

    @property
    def deleted(self) -> int:
        return self.totals["deleted"]

    @property
    def wrote(self) -> bool:
        """Whether the database was written (a created database counts)."""
        return self.created_db or any(self.totals.values()) or self.tasks_deleted > 0

    def summary(self) -> str:
        """``3 discovered, 0 created, 1 updated, 0 deleted; 23 requests; 0.41s``"""
        parts = ", ".join(f"{self.totals[kind]} {kind}" for kind in CHANGE_TYPES)
        return f"{parts}; {self.requests} requests; {self.duration:.2f}s"


def sync_database(api_or_inventory: Any, db_path: StrPath, *, now: datetime | None = None, create: bool = True,
                  concurrency: int = DEFAULT_CONCURRENCY) -> SyncResult:
    """Bring ``db_path`` in sync with the cluster; ``api_or_inventory`` is a (read-only) proxmoxer client or an
    ``Inventory`` already read. A missing database is created when ``create`` (its folder too); ``now`` (aware)
    stamps the rows and snapshots. Raises ``SyncError`` with nothing written."""
    start = time.perf_counter()
    stamp = _stamp(now)
    path = Path(db_path)
    existed = path.exists()
    if existed:
        _check_existing(path)  # fail fast, before thousands of requests, on a file that cannot be synced
    elif not create:
        raise SyncError(f"sync of {path}: no such database (and create=False)")
    if isinstance(api_or_inventory, Inventory):
        inventory = api_or_inventory
    else:
        try:
            inventory = read_inventory(api_or_inventory, networks=False, cluster_status=False, pools=False,
                                       concurrency=concurrency)
        except Exception as exc:
            raise SyncReadError(f"sync of {path}: cannot read the cluster, nothing written: {one_line(exc)}") from exc
    read_seconds = time.perf_counter() - start
    engine: Engine | None = None
    try:
        if existed:
            engine = open_readwrite(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_database(path)  # refuses a file made meanwhile by someone else: never ours to remove
        counts, tasks_deleted = _write(engine, desired_rows(inventory), stamp)
    except Exception as exc:
        if engine is not None:
            engine.dispose()
            if not existed:
                path.unlink(missing_ok=True)
        raise SyncError(f"sync of {path}: writing the database failed, rolled back: {one_line(exc)}") from exc
    engine.dispose()
    return SyncResult(db_path=path, created_db=not existed, counts=counts, tasks_deleted=tasks_deleted,
                      requests=inventory.requests, read_seconds=read_seconds, duration=time.perf_counter() - start)


def sync_inventory(inventory: Inventory, db_path: StrPath, *, now: datetime | None = None,
                   create: bool = True) -> SyncResult:
    """``sync_database`` with an inventory already read (no requests of its own)."""
    return sync_database(inventory, db_path, now=now, create=create)


def desired_rows(inventory: Inventory) -> dict[str, dict[Any, Row]]:
    """Per table, the rows the cluster calls for, by primary key, without the bookkeeping columns."""
    nodes = {name: {"id": name, "status": n.status, "type": "node", "cpu_usage": n.cpu, "cpu_max": n.maxcpu,
                    "memory_usage": n.mem, "memory_max": n.maxmem, "uptime": n.uptime,
                    "pve_version": inventory.version} for name, n in inventory.nodes.items()}
    vms = {g.vmid: {**_guest_row(g), "pid": None} for g in inventory.vms}
    cts = {g.vmid: {**_guest_row(g), **_ct_extra(g)} for g in inventory.containers}
    storages = {sid: _storage_row(s) for sid, s in inventory.storages.items()}
    return {"nodes": nodes, "vms": vms, "containers": cts, "storage": storages}


def _guest_row(g: GuestInfo) -> Row:
    return {"id": g.vmid, "node_id": g.node, "name": g.name, "status": g.status, "template": g.template,
            "cpu_cores": g.vcpus, "cpu_usage": g.cpu, "memory_bytes": g.maxmem, "memory_usage": g.mem,
            "disk_size": g.maxdisk, "disk_usage": g.disk, "network_in": g.netin, "network_out": g.netout,
            "uptime": g.uptime, "ha_managed": g.ha_managed, "lock_status": g.lock,
            "config_digest": _KEEP if g.config is None else g.digest}


def _ct_extra(g: GuestInfo) -> Row:
    if g.config is None:
        return {"hostname": _KEEP, "swap_bytes": _KEEP, "os_template": _KEEP, "swap_usage": None}
    swap = g.config.get("swap")
    return {"hostname": g.config.get("hostname") or None, "os_template": g.config.get("ostype") or None,
            "swap_bytes": None if swap in (None, "") else int(float(swap) * MIB), "swap_usage": None}


def _storage_row(s: StorageInfo) -> Row:
    usage = list(s.usage.values())
    if s.shared:
        usage = usage[:1]  # usage is sorted by node name
    sums = [sum(getattr(u, name) for u in usage) if usage else None for name in ("total", "used", "avail")]
    return {"id": s.storage, "type": s.type, "content_types": list(s.content), "enabled": s.enabled,
            "shared": s.shared, "total_bytes": sums[0], "used_bytes": sums[1], "available_bytes": sums[2],
            "path": s.path, "nodes": None if s.nodes is None else list(s.nodes), "config_digest": s.digest}


def _write(engine: Engine, desired: Mapping[str, Mapping[Any, Row]], now: datetime,
           ) -> tuple[dict[str, dict[str, int]], int]:
    """One transaction: plan against the stored rows, write, snapshot. Returns (counts, tasks deleted)."""
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock first: nobody changes the rows planned against
        stored = {table.name: {row["id"]: dict(row) for row in conn.execute(select(table)).mappings()}
                  for _, table in _RESOURCES}
        first = not any(stored.values()) and not conn.execute(select(func.count()).select_from(_SNAPSHOTS)).scalar()
        snapshots: list[Row] = []
        counts: dict[str, dict[str, int]] = {}
        plans = {table.name: _plan(table, desired[table.name], stored[table.name], now)
                 for _, table in _RESOURCES}
        for kind, table in _RESOURCES:  # guests of vanished nodes go before the nodes (ON DELETE RESTRICT)
            if kind != "node":
                _delete(conn, table, plans[table.name][2])
        tasks_deleted = 0
        for kind, table in _RESOURCES:
            inserts, updates, deletes = plans[table.name]
            if kind == "node" and deletes:
                tasks_deleted = _delete(conn, _TASKS, deletes, column="node_id")
            if inserts:
                conn.execute(table.insert(), inserts)
            if updates:
                pk = table.c.id
                conn.execute(table.update().where(pk == bindparam("_pk")), [{**r, "_pk": r["id"]} for r in updates])
            changes = [("discovered" if first else "created", r) for r in inserts]
            changes += [("updated", r) for r in updates]
            changes += [("deleted", stored[table.name][key]) for key in deletes]
            for change, row in changes:
                counts.setdefault(kind, {}).setdefault(change, 0)
                counts[kind][change] += 1
                snapshots.append({"snapshot_time": now, "resource_type": kind, "resource_id": str(row["id"]),
                                  "resource_data": _json(table, row), "change_type": change, "created_at": now})
        _delete(conn, _RESOURCES[0][1], plans["nodes"][2])  # last: no guest references them any more
        if snapshots:
            conn.execute(_SNAPSHOTS.insert(), snapshots)
            conn.commit()
        else:
            conn.rollback()  # nothing to write: the file is left exactly as it was
    return counts, tasks_deleted


def _plan(table: Table, desired: Mapping[Any, Row], stored: Mapping[Any, Row], now: datetime,
          ) -> tuple[list[Row], list[Row], list[Any]]:
    """(rows to insert, rows to update, keys to delete) of one table, full rows, in key order."""
    compared = [c.name for c in table.columns if c.name not in BOOKKEEPING | VOLATILE[table.name]]
    inserts, updates = [], []
    for key in sorted(desired):
        old = stored.get(key)
        new = {c: (old.get(c) if old else None) if v is _KEEP else v for c, v in desired[key].items()}
        if old is None:
            inserts.append({**new, "last_seen": now, "created_at": now, "updated_at": now})
        elif any(new.get(c, old[c]) != old[c] for c in compared):
            updates.append({**new, "last_seen": now, "created_at": old["created_at"], "updated_at": now})
    return inserts, updates, sorted(key for key in stored if key not in desired)


def _delete(conn: Connection, table: Table, keys: Iterable[Any], column: str = "id") -> int:
    keys, done = list(keys), 0
    for at in range(0, len(keys), _CHUNK):
        done += conn.execute(table.delete().where(table.c[column].in_(keys[at:at + _CHUNK]))).rowcount
    return done


def _json(table: Table, row: Mapping[str, Any]) -> str:
    """The row as JSON in column order: datetimes as ISO 8601 UTC with milliseconds (as JavaScript writes them),
    booleans true/false, JSON-list columns as arrays."""
    def plain(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return value
    return json.dumps({c.name: plain(row.get(c.name)) for c in table.columns}, separators=(",", ":"))


def _stamp(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None or now.utcoffset() is None:
        raise SyncError(f"sync: naive datetime {now.isoformat()} for now: give a timezone")
    return now


def _check_existing(path: Path) -> None:
    try:
        engine = open_readwrite(path)
    except StateDbError as exc:
        raise SyncError(f"sync of {path}: {exc}") from None
    try:
        problems = schema_differences(engine)
    except SQLAlchemyError as exc:
        raise SyncError(f"sync of {path}: cannot read the schema: {one_line(exc)}") from None
    finally:
        engine.dispose()
    if problems:
        raise SyncError(f"sync of {path}: not the Proxmox-MPC schema ({len(problems)} differences, first: "
                        f"{problems[0]}), nothing written")
