"""SQLAlchemy 2 model of Proxmox-MPC's ``.proxmox/state.db``, the SQLite database the tool creates with Prisma.

Encoding (the contract): DATETIME columns hold INTEGER milliseconds since the epoch, BOOLEAN columns 0/1,
JSON arrays TEXT; every foreign key is ON DELETE RESTRICT ON UPDATE CASCADE. ``CONTRACT_TABLES`` describes
the contract as data; the models below must create exactly that schema (the tests hold them to it).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import REAL, BigInteger, Dialect, Engine, ForeignKey, Integer, Text, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator, UserDefinedType

StrPath = str | os.PathLike[str]
_T = TypeVar("_T")


class StateDbError(ValueError):
    """The state database cannot be used (missing, unreadable, not SQLite, bad value); one line, naming the file."""


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

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


class _Declared(UserDefinedType[Any]):
    """Renders as the given SQLite type name and passes values through unchanged."""

    cache_ok = True

    def __init__(self, name: str) -> None:
        self.name = name

    def get_col_spec(self, **kw: Any) -> str:
        return self.name


class _Codec(TypeDecorator[_T]):
    """Base of the type decorators: the DDL shows ``declared``, the codec converts Python <-> SQLite values."""

    impl = _Declared
    cache_ok = True
    declared = ""

    def __init__(self) -> None:
        super().__init__(self.declared)


class EpochMillis(_Codec[datetime]):
    """An aware datetime stored as INTEGER milliseconds since the epoch, declared ``DATETIME``.

    Naive datetimes are refused; sub-millisecond precision is truncated (floor). Values read back are UTC.
    """

    declared = "DATETIME"
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise StateDbError(f"naive datetime {value.isoformat()} for a DATETIME column: give a timezone")
        return (value - _EPOCH) // _MS

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise StateDbError(f"DATETIME value {value!r} is not an integer of epoch milliseconds")
        return _EPOCH + value * _MS


class IntBool(_Codec[bool]):
    """A bool stored as 0/1, declared ``BOOLEAN``."""

    declared = "BOOLEAN"
    cache_ok = True

    def process_bind_param(self, value: bool | None, dialect: Dialect) -> int | None:
        return None if value is None else int(bool(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> bool | None:
        if value is None:
            return None
        if value not in (0, 1) or not isinstance(value, int):
            raise StateDbError(f"BOOLEAN value {value!r} is not 0 or 1")
        return bool(value)


class JsonList(_Codec[list[str]]):
    """A list of strings stored as compact JSON array text, declared ``TEXT``. In-place changes are not tracked."""

    declared = "TEXT"
    cache_ok = True

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(list(value), separators=(",", ":"))

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        if value is None:
            return None
        try:
            data = json.loads(value)
        except (TypeError, ValueError):
            data = None
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            raise StateDbError(f"JSON array value {str(value)[:80]!r} is not a JSON array of strings")
        return data


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _created() -> Mapped[datetime]:
    return mapped_column(default=_now)


def _updated() -> Mapped[datetime]:
    return mapped_column(default=_now, onupdate=_now)


def _node_fk(table: str) -> Mapped[str]:
    return mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT", onupdate="CASCADE", name=f"{table}_node_id_fkey"))


def _flag(default: bool) -> Mapped[bool]:
    return mapped_column(default=default, server_default=text(str(int(default))))


class Base(DeclarativeBase):
    """Declarative base of the state database; Python types map to the contract's declared SQLite types."""

    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        int: Integer(), float: REAL(), str: Text(), bool: IntBool(), datetime: EpochMillis(), list[str]: JsonList()
    }


class Node(Base):
    """A cluster node (``nodes``); ``id`` is the node name."""

    __tablename__ = "nodes"
    id: Mapped[str] = mapped_column(primary_key=True)
    status: Mapped[str]
    type: Mapped[str | None]
    cpu_usage: Mapped[float | None]
    cpu_max: Mapped[int | None]
    memory_usage: Mapped[int | None] = mapped_column(BigInteger)
    memory_max: Mapped[int | None] = mapped_column(BigInteger)
    uptime: Mapped[int | None]
    pve_version: Mapped[str | None]
    last_seen: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Vm(Base):
    """A QEMU guest (``vms``); ``id`` is the vmid."""

    __tablename__ = "vms"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    node_id: Mapped[str] = _node_fk("vms")
    name: Mapped[str | None]
    status: Mapped[str]
    template: Mapped[bool] = _flag(False)
    cpu_cores: Mapped[int | None]
    cpu_usage: Mapped[float | None]
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    memory_usage: Mapped[int | None] = mapped_column(BigInteger)
    disk_size: Mapped[int | None] = mapped_column(BigInteger)
    disk_usage: Mapped[int | None] = mapped_column(BigInteger)
    network_in: Mapped[int | None] = mapped_column(BigInteger)
    network_out: Mapped[int | None] = mapped_column(BigInteger)
    uptime: Mapped[int | None]
    pid: Mapped[int | None]
    ha_managed: Mapped[bool] = _flag(False)
    lock_status: Mapped[str | None]
    config_digest: Mapped[str | None]
    last_seen: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Container(Base):
    """An LXC guest (``containers``); ``id`` is the vmid."""

    __tablename__ = "containers"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    node_id: Mapped[str] = _node_fk("containers")
    name: Mapped[str | None]
    status: Mapped[str]
    template: Mapped[bool] = _flag(False)
    cpu_cores: Mapped[int | None]
    cpu_usage: Mapped[float | None]
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    memory_usage: Mapped[int | None] = mapped_column(BigInteger)
    disk_size: Mapped[int | None] = mapped_column(BigInteger)
    disk_usage: Mapped[int | None] = mapped_column(BigInteger)
    network_in: Mapped[int | None] = mapped_column(BigInteger)
    network_out: Mapped[int | None] = mapped_column(BigInteger)
    uptime: Mapped[int | None]
    ha_managed: Mapped[bool] = _flag(False)
    lock_status: Mapped[str | None]
    config_digest: Mapped[str | None]
    hostname: Mapped[str | None]
    swap_bytes: Mapped[int | None] = mapped_column(BigInteger)
    swap_usage: Mapped[int | None] = mapped_column(BigInteger)
    os_template: Mapped[str | None]
    last_seen: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Storage(Base):
    """A storage (``storage``); ``id`` is the storage id, ``nodes`` the nodes it is restricted to."""

    __tablename__ = "storage"
    id: Mapped[str] = mapped_column(primary_key=True)
    type: Mapped[str]
    content_types: Mapped[list[str] | None]
    enabled: Mapped[bool] = _flag(True)
    shared: Mapped[bool] = _flag(False)
    total_bytes: Mapped[int | None] = mapped_column(BigInteger)
    used_bytes: Mapped[int | None] = mapped_column(BigInteger)
    available_bytes: Mapped[int | None] = mapped_column(BigInteger)
    path: Mapped[str | None]
    nodes: Mapped[list[str] | None]
    config_digest: Mapped[str | None]
    last_seen: Mapped[datetime | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class Task(Base):
    """A PVE task (``tasks``), keyed by its UPID."""

    __tablename__ = "tasks"
    upid: Mapped[str] = mapped_column(primary_key=True)
    node_id: Mapped[str] = _node_fk("tasks")
    type: Mapped[str]
    status: Mapped[str]
    resource_type: Mapped[str | None]
    resource_id: Mapped[str | None]
    user: Mapped[str | None]
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]
    exit_status: Mapped[str | None]
    log_entries: Mapped[list[str] | None]
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()


class StateSnapshot(Base):
    """A change record (``state_snapshots``); ``resource_data`` is the resource as JSON text."""

    __tablename__ = "state_snapshots"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    snapshot_time: Mapped[datetime]
    resource_type: Mapped[str]
    resource_id: Mapped[str]
    resource_data: Mapped[str]
    change_type: Mapped[str]
    created_at: Mapped[datetime] = _created()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "orig", None) or exc).split())


def _connector(path: Path, mode: str) -> Callable[[], sqlite3.Connection]:
    uri = f"{path.resolve().as_uri()}?mode={mode}"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True)
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    return connect


def _open(path: StrPath, mode: str) -> Engine:
    target = Path(path)
    if not target.is_file():
        raise StateDbError(f"state database {target}: {'no such file' if not target.exists() else 'not a file'}")
    engine = create_engine("sqlite+pysqlite://", creator=_connector(target, mode), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
    except SQLAlchemyError as exc:
        raise StateDbError(f"state database {target}: cannot open as SQLite ({_one_line(exc)})") from None
    return engine


def readonly_connection(path: StrPath) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection to ``path`` opened with ``mode=ro`` (values as stored, no ORM types)."""
    return _connector(Path(path), "ro")()


def open_readonly(path: StrPath) -> Engine:
    """An engine on an existing database opened with ``mode=ro``: any write fails. Raises ``StateDbError``."""
    return _open(path, "ro")


def open_readwrite(path: StrPath) -> Engine:
    """An engine on an existing database, writable (the reference sync). Raises ``StateDbError``."""
    return _open(path, "rw")


def create_database(path: StrPath) -> Engine:
    """Create a new database file with the contract schema; refuses (``StateDbError``) if the file exists."""
    target = Path(path)
    try:
        with target.open("xb"):
            pass
    except FileExistsError:
        raise StateDbError(f"state database {target}: already exists, refusing to overwrite it") from None
    except OSError as exc:
        raise StateDbError(f"state database {target}: cannot create ({_one_line(exc)})") from None
    try:
        engine = _open(target, "rw")
        Base.metadata.create_all(engine)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return engine


def integrity_problems(path: StrPath) -> list[str]:
    """Problems found by ``PRAGMA quick_check`` and ``PRAGMA foreign_key_check`` (read-only); empty when fine."""
    target = Path(path)
    if not target.is_file():
        return [f"state database {target}: no such file"]
    problems: list[str] = []
    try:
        conn = readonly_connection(target)
        try:
            for (line,) in conn.execute("PRAGMA quick_check"):
                if line != "ok":
                    problems.append(f"state database {target}: quick_check: {' '.join(str(line).split())}")
            fk_rows = [] if problems else conn.execute("PRAGMA foreign_key_check").fetchall()  # unreliable if corrupt
            for table, rowid, parent, fkid in fk_rows:
                fks = {row[0]: row for row in conn.execute(f'PRAGMA foreign_key_list("{table}")')}
                column, ref = fks[fkid][3], fks[fkid][4]
                problems.append(f"{table} rowid {rowid}: {column} has no matching {parent}.{ref}")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        problems.append(f"state database {target}: {_one_line(exc)}")
    return problems


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
