"""The state database (``.proxmox/state.db``) against the cluster and the workspace contract.

Read with plain ``sqlite3`` in read-only mode, so a value stored in the wrong encoding (a boolean as
``'true'``, a date as text, memory in MiB) is seen as it is, not as an ORM would convert it.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, ParamSpec

from ..errors import StateDbError, one_line
from ..model.inventory import GuestInfo, Inventory
from ..workspace.statedb.contract import CONTRACT_TABLES, schema_differences
from ..workspace.statedb.sqlitefile import integrity_problems, readonly_connection
from .findings import Finding

CHECK = "state.db"
GUEST_TABLES = {"qemu": "vms", "lxc": "containers"}
JSON_COLUMNS = {("storage", "content_types"): list, ("storage", "nodes"): list, ("tasks", "log_entries"): list,
                ("state_snapshots", "resource_data"): dict}
RESOURCE_TYPES = ("node", "vm", "container", "storage")
CHANGE_TYPES = ("discovered", "created", "updated", "deleted")
# Epoch milliseconds between 2001 and 2286: a value in seconds (or microseconds) falls outside.
MILLIS_RANGE = (10**12, 10**13)
Rows = dict[str, dict[Any, dict[str, Any]]]
P = ParamSpec("P")


@contextmanager
def _readonly(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(readonly_connection(path)) as conn:
        yield conn


def _readable(check: Callable[P, list[Finding]]) -> Callable[P, list[Finding]]:
    """A check of the database at its first argument reports a missing or unreadable file as its one finding
    (one line, as every check of that file will), never as an exception."""
    @functools.wraps(check)
    def run(*args: P.args, **kwargs: P.kwargs) -> list[Finding]:
        db = Path(str(args[0]))
        if not db.is_file():
            return [Finding(CHECK, str(db), "file", note="no state database")]
        try:
            return check(*args, **kwargs)
        except (sqlite3.Error, StateDbError) as exc:
            return [Finding(CHECK, str(db), "read", note=f"cannot be read: {one_line(exc)}")]
    return run


def _guest_expected(guest: GuestInfo) -> dict[str, Any]:
    return {"node_id": guest.node, "name": guest.name, "status": guest.status, "template": int(guest.template),
            "cpu_cores": guest.vcpus, "memory_bytes": guest.maxmem, "disk_size": guest.maxdisk,
            "ha_managed": int(guest.ha_managed), "lock_status": guest.lock, "config_digest": guest.digest}


def expected_rows(inventory: Inventory) -> Rows:
    """Per table, by primary key, the column values the cluster calls for (None: unknown, not compared
    unless the column is a flag). Usage figures change by the second and are not compared."""
    rows: Rows = {"nodes": {name: {"status": node.status} for name, node in inventory.nodes.items()},
                  "vms": {}, "containers": {}}
    for guest in inventory.guests.values():
        rows[GUEST_TABLES[guest.kind]][guest.vmid] = _guest_expected(guest)
    rows["storage"] = {sid: {"type": s.type, "content_types": sorted(s.content), "enabled": int(s.enabled),
                             "shared": int(s.shared), "nodes": None if s.nodes is None else sorted(s.nodes)}
                       for sid, s in inventory.storages.items()}
    return rows


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """The table's columns as the file has them (none if the table is missing): a double-quoted name that is
    no column would be read by SQLite as a string literal, so only existing columns are ever selected."""
    return [str(row[1]) for row in conn.execute(f'PRAGMA table_info("{table}")')]


def _stored(conn: sqlite3.Connection, table: str, columns: list[str]) -> dict[Any, dict[str, Any]]:
    """Rows by id, with the wanted columns that exist (a missing one is the schema check's finding)."""
    present = set(_columns(conn, table))
    columns = [c for c in columns if c in present]
    names = ", ".join(f'"{c}"' for c in ["id", *columns])
    return {row[0]: dict(zip(columns, row[1:], strict=True)) for row in conn.execute(f'SELECT {names} FROM "{table}"')}


def _comparable(table: str, column: str, value: Any) -> Any:
    if (table, column) in JSON_COLUMNS and isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return sorted(parsed) if isinstance(parsed, list) else parsed
    return value


@_readable
def check_database(path: Path | str, inventory: Inventory) -> list[Finding]:
    """Exactly the cluster's nodes, guests and storages (none missing, none stale), each with the cluster's
    node, name, status, template flag, vCPUs, memory and disk size in bytes, HA flag, lock and digest."""
    findings: list[Finding] = []
    with _readonly(Path(path)) as conn:
        for table, expected in expected_rows(inventory).items():
            if not _columns(conn, table):
                findings.append(Finding(CHECK, table, "table", note="missing: the cluster's rows have no table"))
                continue
            columns = sorted({column for row in expected.values() for column in row})
            findings += _compare_table(table, expected, _stored(conn, table, columns))
    return findings


def _compare_table(table: str, expected: Mapping[Any, Mapping[str, Any]],
                   stored: Mapping[Any, Mapping[str, Any]]) -> list[Finding]:
    findings = [Finding(CHECK, f"{table} {key}", "row", note="missing: the cluster has it, the table does not")
                for key in sorted(set(expected) - set(stored), key=str)]
    findings += [Finding(CHECK, f"{table} {key}", "row", note="stale: the table has it, the cluster does not")
                 for key in sorted(set(stored) - set(expected), key=str)]
    for key in sorted(set(expected) & set(stored), key=str):
        for column, want in expected[key].items():
            if column not in stored[key]:
                continue  # the column is missing: one schema finding, not one per row
            got = _comparable(table, column, stored[key].get(column))
            if want is None and column in ("name", "lock_status", "nodes"):
                if got not in (None, ""):
                    findings.append(Finding(CHECK, f"{table} {key}", column, want, got))
            elif want is not None and got != want:
                findings.append(Finding(CHECK, f"{table} {key}", column, want, got))
    return findings


@_readable
def check_encodings(path: Path | str) -> list[Finding]:
    """DATETIME columns hold integer epoch milliseconds, BOOLEAN columns 0 or 1, JSON columns parse to the
    contract's shape, and snapshots use the contract's resource and change types."""
    findings: list[Finding] = []
    with _readonly(Path(path)) as conn:
        for table, columns in CONTRACT_TABLES.items():
            key = "upid" if table == "tasks" else "id"
            present = set(_columns(conn, table))
            for column in (c for c in columns if c.name in present and key in present):
                query = f'SELECT "{key}", "{column.name}", typeof("{column.name}") FROM "{table}"'
                for row_key, value, kind in conn.execute(query):
                    problem = _encoding_problem(table, column.name, column.type, value, kind)
                    if problem:
                        findings.append(Finding(CHECK, f"{table} {row_key}", column.name, note=problem))
    return findings


def _encoding_problem(table: str, column: str, declared: str, value: Any, kind: str) -> str | None:
    if value is None:
        return None
    if declared == "DATETIME" and not (kind == "integer" and MILLIS_RANGE[0] <= value < MILLIS_RANGE[1]):
        return f"{value!r} ({kind}) is not a DATETIME as epoch milliseconds"
    if declared == "BOOLEAN" and not (kind == "integer" and value in (0, 1)):
        return f"{value!r} ({kind}) is not a BOOLEAN stored as 0/1"
    shape = JSON_COLUMNS.get((table, column))
    if shape is not None:
        try:
            parsed = json.loads(value) if kind == "text" else None
        except ValueError:
            parsed = None
        if not isinstance(parsed, shape):
            return f"{value!r} is not a JSON {'array' if shape is list else 'object'}"
    if table == "state_snapshots" and column == "resource_type" and value not in RESOURCE_TYPES:
        return f"{value!r} is none of {', '.join(RESOURCE_TYPES)}"
    if table == "state_snapshots" and column == "change_type" and value not in CHANGE_TYPES:
        return f"{value!r} is none of {', '.join(CHANGE_TYPES)}"
    return None


@_readable
def check_schema(path: Path | str) -> list[Finding]:
    """The tables, columns, types and keys of the contract."""
    from ..workspace.statedb.models import open_readonly  # SQLAlchemy only for a run that checks a schema

    engine = open_readonly(path)
    try:
        return [Finding(CHECK, "schema", "contract", note=line) for line in schema_differences(engine)]
    finally:
        engine.dispose()


def check_foreign_keys(path: Path | str) -> list[Finding]:
    """``PRAGMA quick_check`` and ``PRAGMA foreign_key_check`` find nothing."""
    return [Finding(CHECK, "integrity", "foreign keys", note=line) for line in integrity_problems(path)]


@_readable
def check_snapshots(path: Path | str, expected: Mapping[int, Collection[str]]) -> list[Finding]:
    """Each guest in ``expected`` (vmid -> the change types that would do) has a snapshot of one of them."""
    findings = []
    with _readonly(Path(path)) as conn:
        if not {"resource_id", "change_type", "resource_type"} <= set(_columns(conn, "state_snapshots")):
            return [Finding(CHECK, "state_snapshots", "table", note="missing, or without the contract's columns")]
        seen = {(str(rid), change) for rid, change in conn.execute(
            "SELECT resource_id, change_type FROM state_snapshots WHERE resource_type IN ('vm', 'container')")}
    for vmid, changes in sorted(expected.items()):
        if not any((str(vmid), change) in seen for change in changes):
            findings.append(Finding(CHECK, f"state_snapshots guest {vmid}", "change_type",
                                    note=f"no {' or '.join(map(repr, changes))} snapshot of guest {vmid}"))
    return findings


def database_contents(path: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every contract table's rows, sorted: what a backup must give back."""
    with _readonly(Path(path)) as conn:
        return {table: sorted((tuple(row) for row in conn.execute(f'SELECT * FROM "{table}"')), key=repr)
                for table in CONTRACT_TABLES if _columns(conn, table)}


@_readable
def backup_round_trip(path: Path | str, copy: Path | str) -> list[Finding]:
    """Back the database up to ``copy`` with SQLite's online backup, open the copy as a restore would, and
    compare: the copy must pass the integrity checks and hold the same rows."""
    source, target = Path(path), Path(copy)
    with _readonly(source) as conn, closing(sqlite3.connect(target)) as out:
        conn.backup(out)
    findings = [Finding(CHECK, f"backup {target.name}", "integrity", note=line)
                for line in integrity_problems(target)]
    before, after = database_contents(source), database_contents(target)
    for table in sorted(set(before) | set(after)):
        rows, restored = before.get(table, []), after.get(table, [])
        if rows != restored:
            findings.append(Finding(CHECK, f"backup {target.name}", table,
                                    note=f"{len(rows)} rows before, {len(restored)} restored, contents differ"))
    return findings
