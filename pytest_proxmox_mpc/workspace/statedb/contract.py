"""The contract of Proxmox-MPC's ``.proxmox/state.db`` as data (``CONTRACT_TABLES``), and a database's schema
compared with it (``schema_differences``). The models in ``models.py`` must create exactly this schema.

Every foreign key is ON DELETE RESTRICT ON UPDATE CASCADE.
"""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only a type here: the plugin imports this module at start-up, SQLAlchemy takes 0.3 s
    from sqlalchemy import Engine


@dataclass(frozen=True)
class ForeignKeyRef:
    """The column a foreign key references, with its referential actions."""

    table: str
    column: str
    on_delete: str = "RESTRICT"
    on_update: str = "CASCADE"


@dataclass(frozen=True)
class ContractColumn:
    """One column of the contract: declared SQLite type, PK, NOT NULL, default (SQL text) and foreign key."""

    name: str
    type: str
    pk: bool = False
    notnull: bool = False
    default: str | None = None
    fk: ForeignKeyRef | None = None
    autoincrement: bool = False


# The contract, written once. Per column: ``name TYPE [pk] [autoincrement] [notnull] [default=V] [fk=table.col]``.
_CONTRACT_SPEC = {
    "nodes": """id TEXT pk notnull; status TEXT notnull; type TEXT; cpu_usage REAL; cpu_max INTEGER;
        memory_usage BIGINT; memory_max BIGINT; uptime INTEGER; pve_version TEXT; last_seen DATETIME;
        created_at DATETIME notnull; updated_at DATETIME notnull""",
    "vms": """id INTEGER pk notnull; node_id TEXT notnull fk=nodes.id; name TEXT; status TEXT notnull;
        template BOOLEAN notnull default=0; cpu_cores INTEGER; cpu_usage REAL; memory_bytes BIGINT;
        memory_usage BIGINT; disk_size BIGINT; disk_usage BIGINT; network_in BIGINT; network_out BIGINT;
        uptime INTEGER; pid INTEGER; ha_managed BOOLEAN notnull default=0; lock_status TEXT; config_digest TEXT;
        last_seen DATETIME; created_at DATETIME notnull; updated_at DATETIME notnull""",
    "containers": """id INTEGER pk notnull; node_id TEXT notnull fk=nodes.id; name TEXT; status TEXT notnull;
        template BOOLEAN notnull default=0; cpu_cores INTEGER; cpu_usage REAL; memory_bytes BIGINT;
        memory_usage BIGINT; disk_size BIGINT; disk_usage BIGINT; network_in BIGINT; network_out BIGINT;
        uptime INTEGER; ha_managed BOOLEAN notnull default=0; lock_status TEXT; config_digest TEXT;
        hostname TEXT; swap_bytes BIGINT; swap_usage BIGINT; os_template TEXT;
        last_seen DATETIME; created_at DATETIME notnull; updated_at DATETIME notnull""",
    "storage": """id TEXT pk notnull; type TEXT notnull; content_types TEXT; enabled BOOLEAN notnull default=1;
        shared BOOLEAN notnull default=0; total_bytes BIGINT; used_bytes BIGINT; available_bytes BIGINT; path TEXT;
        nodes TEXT; config_digest TEXT; last_seen DATETIME; created_at DATETIME notnull; updated_at DATETIME notnull""",
    "tasks": """upid TEXT pk notnull; node_id TEXT notnull fk=nodes.id; type TEXT notnull; status TEXT notnull;
        resource_type TEXT; resource_id TEXT; user TEXT; start_time DATETIME; end_time DATETIME; exit_status TEXT;
        log_entries TEXT; created_at DATETIME notnull; updated_at DATETIME notnull""",
    "state_snapshots": """id INTEGER pk autoincrement notnull; snapshot_time DATETIME notnull;
        resource_type TEXT notnull; resource_id TEXT notnull; resource_data TEXT notnull; change_type TEXT notnull;
        created_at DATETIME notnull""",
}


def _parse_column(spec: str) -> ContractColumn:
    name, type_, *flags = spec.split()
    opts = dict(flag.partition("=")[::2] for flag in flags)
    fk = ForeignKeyRef(*opts["fk"].split(".")) if "fk" in opts else None
    pk, notnull, auto = ("pk" in opts), ("notnull" in opts), ("autoincrement" in opts)
    return ContractColumn(name, type_, pk, notnull, opts.get("default"), fk, auto)


CONTRACT_TABLES: Mapping[str, tuple[ContractColumn, ...]] = types.MappingProxyType(
    {table: tuple(_parse_column(c) for c in spec.split(";")) for table, spec in _CONTRACT_SPEC.items()}
)
"""The contract: table name -> its columns in order (declared type, pk, notnull, default, fk)."""


def _norm_default(value: str | None) -> str | None:
    if value is None:
        return None
    bare = value.strip().strip("()").strip("'\"").lower()
    return {"false": "0", "true": "1"}.get(bare, bare)


def schema_differences(engine: Engine) -> list[str]:
    """Differences between the database's schema and ``CONTRACT_TABLES``, one line each naming table/column.

    Compared: tables, columns, declared types, NOT NULL, PK, AUTOINCREMENT, the defaults the contract declares
    (``false``/``true`` count as 0/1) and foreign keys with their actions. Column order is not compared.
    """
    out: list[str] = []
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all()
        sql_of = {str(name): str(sql or "") for name, sql in rows}
        for table, columns in CONTRACT_TABLES.items():
            if table not in sql_of:
                out.append(f"{table}: table missing")
                continue
            info = {r[1]: r for r in conn.exec_driver_sql(f'PRAGMA table_info("{table}")')}
            fks = {r[3]: r for r in conn.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")')}
            for col in columns:
                where = f"{table}.{col.name}"
                if col.name not in info:
                    out.append(f"{where}: column missing (contract: {col.type})")
                    continue
                _, _, declared, notnull, default, pk = info[col.name]
                if str(declared).upper() != col.type:
                    out.append(f"{where}: declared type {declared or '(none)'}, contract {col.type}")
                if bool(notnull) != col.notnull:
                    out.append(f"{where}: {'NOT NULL' if notnull else 'nullable'}, contract the opposite")
                if bool(pk) != col.pk:
                    out.append(f"{where}: {'part of' if pk else 'not'} the primary key, contract the opposite")
                if col.default is not None and _norm_default(default) != col.default:
                    out.append(f"{where}: default {default}, contract {col.default}")
                fk = fks.pop(col.name, None)
                got = None if fk is None else ForeignKeyRef(fk[2], fk[4] or "", fk[6], fk[5])
                if got != col.fk:
                    out.append(f"{where}: foreign key {_fk_text(got)}, contract {_fk_text(col.fk)}")
            known = {c.name for c in columns}
            out += [f"{table}.{name}: column not in the contract" for name in info if name not in known]
            has_auto = re.search(r"\bAUTOINCREMENT\b", sql_of[table], re.IGNORECASE) is not None
            if has_auto != any(c.autoincrement for c in columns):
                out.append(f"{table}: AUTOINCREMENT {'present' if has_auto else 'missing'}, contract the opposite")
        out += [f"{name}: table not in the contract" for name in sql_of
                if name not in CONTRACT_TABLES and not name.startswith(("sqlite_", "_prisma_"))]
    return out


def _fk_text(fk: ForeignKeyRef | None) -> str:
    return "none" if fk is None else f"-> {fk.table}.{fk.column} ON DELETE {fk.on_delete} ON UPDATE {fk.on_update}"


# Columns a comparison of two syncs leaves out: the sync's own bookkeeping, and usage that moves on a live cluster.
BOOKKEEPING = frozenset({"last_seen", "created_at", "updated_at"})
VOLATILE: Mapping[str, frozenset[str]] = {  # per table: usage whose change alone is no change of the resource
    "nodes": frozenset({"cpu_usage", "memory_usage", "uptime"}),
    "vms": frozenset({"cpu_usage", "memory_usage", "disk_usage", "network_in", "network_out", "uptime", "pid"}),
    "containers": frozenset({"cpu_usage", "memory_usage", "disk_usage", "network_in", "network_out", "uptime",
                             "swap_usage"}),
    "storage": frozenset({"total_bytes", "used_bytes", "available_bytes"}),
}
