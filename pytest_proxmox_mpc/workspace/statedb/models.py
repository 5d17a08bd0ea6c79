"""SQLAlchemy 2 model of Proxmox-MPC's ``.proxmox/state.db``, the SQLite database the tool creates with Prisma,
and opening it (read-only, read-write, or new with the contract's schema).

The contract's tables are data in ``contract.py`` and its encodings (epoch milliseconds, 0/1, JSON
arrays) type decorators in ``types.py``; the models below must create exactly that schema (the tests
hold them to it). The names of both modules that users need are exported from here too, and the plain
``sqlite3`` readers of ``sqlitefile.py``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import REAL, BigInteger, Engine, ForeignKey, Integer, Text, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.pool import NullPool

from ...errors import StateDbError, flat_text
from .contract import CONTRACT_TABLES, ContractColumn, ForeignKeyRef, schema_differences
from .sqlitefile import StrPath, connector, integrity_problems, readonly_connection
from .types import EpochMillis, IntBool, JsonList

__all__ = [
    "CONTRACT_TABLES", "Base", "Container", "ContractColumn", "EpochMillis", "ForeignKeyRef", "IntBool", "JsonList",
    "Node", "StateDbError", "StateSnapshot", "Storage", "Task", "Vm", "create_database", "integrity_problems",
    "open_readonly", "open_readwrite", "readonly_connection", "schema_differences",
]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _created() -> Mapped[datetime]:
    return mapped_column(default=_now)


def _updated() -> Mapped[datetime]:
    return mapped_column(default=_now, onupdate=_now)


def _node_fk(table: str, **column: Any) -> Mapped[str]:
    return mapped_column(ForeignKey("nodes.id", ondelete="RESTRICT", onupdate="CASCADE", name=f"{table}_node_id_fkey"),
                         **column)


def _flag(default: bool, **column: Any) -> Mapped[bool]:
    return mapped_column(default=default, server_default=text(str(int(default))), **column)


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


class _Guest:
    """The columns QEMU and LXC guests share. ``sort_order`` keeps the contract's column order: a mixin's
    columns would otherwise come after the class's own (10-190 here, the classes' own between them)."""

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False, sort_order=10)
    name: Mapped[str | None] = mapped_column(sort_order=30)
    status: Mapped[str] = mapped_column(sort_order=40)
    template: Mapped[bool] = _flag(False, sort_order=50)
    cpu_cores: Mapped[int | None] = mapped_column(sort_order=60)
    cpu_usage: Mapped[float | None] = mapped_column(sort_order=70)
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger, sort_order=80)
    memory_usage: Mapped[int | None] = mapped_column(BigInteger, sort_order=90)
    disk_size: Mapped[int | None] = mapped_column(BigInteger, sort_order=100)
    disk_usage: Mapped[int | None] = mapped_column(BigInteger, sort_order=110)
    network_in: Mapped[int | None] = mapped_column(BigInteger, sort_order=120)
    network_out: Mapped[int | None] = mapped_column(BigInteger, sort_order=130)
    uptime: Mapped[int | None] = mapped_column(sort_order=140)
    ha_managed: Mapped[bool] = _flag(False, sort_order=160)
    lock_status: Mapped[str | None] = mapped_column(sort_order=170)
    config_digest: Mapped[str | None] = mapped_column(sort_order=180)
    last_seen: Mapped[datetime | None] = mapped_column(sort_order=200)
    created_at: Mapped[datetime] = mapped_column(default=_now, sort_order=210)
    updated_at: Mapped[datetime] = mapped_column(default=_now, onupdate=_now, sort_order=220)

    @declared_attr
    def node_id(cls) -> Mapped[str]:
        return _node_fk(cls.__tablename__, sort_order=20)  # type: ignore[attr-defined]


class Vm(_Guest, Base):
    """A QEMU guest (``vms``); ``id`` is the vmid."""

    __tablename__ = "vms"
    pid: Mapped[int | None] = mapped_column(sort_order=150)


class Container(_Guest, Base):
    """An LXC guest (``containers``); ``id`` is the vmid."""

    __tablename__ = "containers"
    hostname: Mapped[str | None] = mapped_column(sort_order=190)
    swap_bytes: Mapped[int | None] = mapped_column(BigInteger, sort_order=191)
    swap_usage: Mapped[int | None] = mapped_column(BigInteger, sort_order=192)
    os_template: Mapped[str | None] = mapped_column(sort_order=193)


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


def _open(path: StrPath, mode: str) -> Engine:
    target = Path(path)
    if not target.is_file():
        raise StateDbError(f"state database {target}: {'no such file' if not target.exists() else 'not a file'}")
    engine = create_engine("sqlite+pysqlite://", creator=connector(target, mode), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").all()
    except SQLAlchemyError as exc:
        raise StateDbError(f"state database {target}: cannot open as SQLite ({flat_text(exc)})") from None
    return engine


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
        raise StateDbError(f"state database {target}: cannot create ({flat_text(exc)})") from None
    try:
        engine = _open(target, "rw")
        Base.metadata.create_all(engine)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return engine
