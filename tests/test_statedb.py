"""The SQLAlchemy model of Proxmox-MPC's state.db against the contract and a Prisma-style database."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlalchemy.orm import Session

from pytest_proxmox_mpc.errors import StateDbError
from pytest_proxmox_mpc.workspace.statedb.models import (
    CONTRACT_TABLES,
    Container,
    Node,
    StateSnapshot,
    Storage,
    Task,
    Vm,
    create_database,
    integrity_problems,
    open_readonly,
    open_readwrite,
    schema_differences,
)

# The schema written out as Prisma writes it for SQLite (booleans default to false/true, created_at to now).
PRISMA_DDL = """
CREATE TABLE "nodes" ("id" TEXT NOT NULL PRIMARY KEY, "status" TEXT NOT NULL, "type" TEXT, "cpu_usage" REAL,
 "cpu_max" INTEGER, "memory_usage" BIGINT, "memory_max" BIGINT, "uptime" INTEGER, "pve_version" TEXT,
 "last_seen" DATETIME, "created_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" DATETIME NOT NULL);
CREATE TABLE "vms" ("id" INTEGER NOT NULL PRIMARY KEY, "node_id" TEXT NOT NULL, "name" TEXT, "status" TEXT NOT NULL,
 "template" BOOLEAN NOT NULL DEFAULT false, "cpu_cores" INTEGER, "cpu_usage" REAL, "memory_bytes" BIGINT,
 "memory_usage" BIGINT, "disk_size" BIGINT, "disk_usage" BIGINT, "network_in" BIGINT, "network_out" BIGINT,
 "uptime" INTEGER, "pid" INTEGER, "ha_managed" BOOLEAN NOT NULL DEFAULT false, "lock_status" TEXT,
 "config_digest" TEXT, "last_seen" DATETIME, "created_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
 "updated_at" DATETIME NOT NULL,
 CONSTRAINT "vms_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes" ("id") ON DELETE RESTRICT ON UPDATE CASCADE);
CREATE TABLE "containers" ("id" INTEGER NOT NULL PRIMARY KEY, "node_id" TEXT NOT NULL, "name" TEXT,
 "status" TEXT NOT NULL, "template" BOOLEAN NOT NULL DEFAULT false, "cpu_cores" INTEGER, "cpu_usage" REAL,
 "memory_bytes" BIGINT, "memory_usage" BIGINT, "disk_size" BIGINT, "disk_usage" BIGINT, "network_in" BIGINT,
 "network_out" BIGINT, "uptime" INTEGER, "ha_managed" BOOLEAN NOT NULL DEFAULT false, "lock_status" TEXT,
 "config_digest" TEXT, "hostname" TEXT, "swap_bytes" BIGINT, "swap_usage" BIGINT, "os_template" TEXT,
 "last_seen" DATETIME, "created_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" DATETIME NOT NULL,
 CONSTRAINT "containers_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes" ("id")
 ON DELETE RESTRICT ON UPDATE CASCADE);
CREATE TABLE "storage" ("id" TEXT NOT NULL PRIMARY KEY, "type" TEXT NOT NULL, "content_types" TEXT,
 "enabled" BOOLEAN NOT NULL DEFAULT true, "shared" BOOLEAN NOT NULL DEFAULT false, "total_bytes" BIGINT,
 "used_bytes" BIGINT, "available_bytes" BIGINT, "path" TEXT, "nodes" TEXT, "config_digest" TEXT,
 "last_seen" DATETIME, "created_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" DATETIME NOT NULL);
CREATE TABLE "tasks" ("upid" TEXT NOT NULL PRIMARY KEY, "node_id" TEXT NOT NULL, "type" TEXT NOT NULL,
 "status" TEXT NOT NULL, "resource_type" TEXT, "resource_id" TEXT, "user" TEXT, "start_time" DATETIME,
 "end_time" DATETIME, "exit_status" TEXT, "log_entries" TEXT,
 "created_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, "updated_at" DATETIME NOT NULL,
 CONSTRAINT "tasks_node_id_fkey" FOREIGN KEY ("node_id") REFERENCES "nodes" ("id")
 ON DELETE RESTRICT ON UPDATE CASCADE);
CREATE TABLE "state_snapshots" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "snapshot_time" DATETIME NOT NULL,
 "resource_type" TEXT NOT NULL, "resource_id" TEXT NOT NULL, "resource_data" TEXT NOT NULL,
 "change_type" TEXT NOT NULL, "created_at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP);
"""

T0 = 1_700_000_000_123  # 2023-11-14T22:13:20.123Z
T0_DT = datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=timezone.utc)

PRISMA_ROWS = """
INSERT INTO nodes (id, status, type, cpu_usage, cpu_max, memory_usage, memory_max, uptime, pve_version, last_seen,
 created_at, updated_at) VALUES ('pve1', 'online', 'node', 0.25, 16, 8589934592, 68719476736, 3600, '8.2.4',
 1700000000123, 1700000000123, 1700000060000);
INSERT INTO vms (id, node_id, name, status, template, cpu_cores, memory_bytes, pid, ha_managed, lock_status,
 config_digest, last_seen, created_at, updated_at)
 VALUES (100, 'pve1', 'web', 'running', 0, 4, 8589934592, 4242, 1, NULL, 'abc', NULL, 1700000000123, 1700000000123);
INSERT INTO vms (id, node_id, name, status, template, created_at, updated_at)
 VALUES (9000, 'pve1', 'tpl', 'stopped', 1, 1700000000123, 1700000000123);
INSERT INTO containers (id, node_id, name, status, hostname, swap_bytes, os_template, created_at, updated_at)
 VALUES (200, 'pve1', 'dns', 'running', 'dns.lan', 536870912, 'debian-12', 1700000000123, 1700000000123);
INSERT INTO storage (id, type, content_types, enabled, shared, nodes, created_at, updated_at)
 VALUES ('local-lvm', 'lvmthin', '["images","rootdir"]', 1, 0, '["pve1"]', 1700000000123, 1700000000123);
INSERT INTO tasks (upid, node_id, type, status, user, start_time, end_time, log_entries, created_at, updated_at)
 VALUES ('UPID:pve1:1', 'pve1', 'qmstart', 'stopped', 'root@pam', 1700000000123, NULL, '["starting","OK"]',
 1700000000123, 1700000000123);
INSERT INTO state_snapshots (snapshot_time, resource_type, resource_id, resource_data, change_type, created_at)
 VALUES (1700000000123, 'vm', '100', '{"vmid":100}', 'discovered', 1700000000123);
"""


def _raw(path: Path, script: str, foreign_keys: bool = True) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        conn.executescript(script)
        conn.commit()
    finally:
        conn.close()


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
def prisma_db(tmp_path: Path) -> Path:
    path = tmp_path / "prisma.db"
    _raw(path, PRISMA_DDL + PRISMA_ROWS)
    return path


@pytest.fixture
def model_db(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    create_database(path).dispose()
    return path


def test_contract_description_is_the_documented_one() -> None:
    assert list(CONTRACT_TABLES) == ["nodes", "vms", "containers", "storage", "tasks", "state_snapshots"]
    vms = {c.name: c for c in CONTRACT_TABLES["vms"]}
    assert [c.name for c in CONTRACT_TABLES["vms"]][:4] == ["id", "node_id", "name", "status"]
    assert vms["template"].type == "BOOLEAN" and vms["template"].notnull and vms["template"].default == "0"
    assert vms["node_id"].fk is not None and (vms["node_id"].fk.table, vms["node_id"].fk.column) == ("nodes", "id")
    containers = [c.name for c in CONTRACT_TABLES["containers"]]
    assert "pid" not in containers and {"hostname", "swap_bytes", "swap_usage", "os_template"} <= set(containers)
    assert [c.name for c in CONTRACT_TABLES["state_snapshots"] if c.autoincrement] == ["id"]


@pytest.mark.parametrize("table", list(CONTRACT_TABLES))
def test_created_schema_matches_contract(model_db: Path, table: str) -> None:
    columns = CONTRACT_TABLES[table]
    info = _query(model_db, f'PRAGMA table_info("{table}")')
    assert [row[1] for row in info] == [c.name for c in columns]
    for (_, name, declared, notnull, default, pk), col in zip(info, columns, strict=True):
        assert (declared, bool(notnull), bool(pk)) == (col.type, col.notnull, col.pk), name
        assert default == col.default, name
    fks = {row[3]: (row[2], row[4], row[5], row[6]) for row in _query(model_db, f'PRAGMA foreign_key_list("{table}")')}
    expected = {c.name: (c.fk.table, c.fk.column, "CASCADE", "RESTRICT") for c in columns if c.fk}
    assert fks == expected
    assert all(fk[2:] == ("CASCADE", "RESTRICT") for fk in fks.values())
    ((sql,),) = _query(model_db, f"SELECT sql FROM sqlite_master WHERE type='table' AND name='{table}'")
    assert isinstance(sql, str)
    assert ("AUTOINCREMENT" in sql) == (table == "state_snapshots")
    for col in columns:  # the declared type is written as such in the DDL
        assert re.search(rf'\b"?{col.name}"?\s+{col.type}\b', sql), (table, col.name)


def test_created_and_prisma_schemas_agree(model_db: Path, prisma_db: Path) -> None:
    tables = "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    assert _query(model_db, tables) == _query(prisma_db, tables)
    for table in CONTRACT_TABLES:
        for pragma in ("table_info", "foreign_key_list"):
            ours = _query(model_db, f'PRAGMA {pragma}("{table}")')
            theirs = _query(prisma_db, f'PRAGMA {pragma}("{table}")')
            if pragma == "table_info":  # Prisma writes DEFAULT false/CURRENT_TIMESTAMP; compare all but defaults
                ours, theirs = [r[:4] + r[5:] for r in ours], [r[:4] + r[5:] for r in theirs]
            assert ours == theirs, (table, pragma)
    for path in (model_db, prisma_db):
        engine = open_readonly(path)
        assert schema_differences(engine) == []
        engine.dispose()


def test_models_read_prisma_encoded_values(prisma_db: Path) -> None:
    engine = open_readonly(prisma_db)
    with Session(engine) as session:
        node = session.get(Node, "pve1")
        assert node is not None
        assert node.last_seen == T0_DT and node.last_seen.tzinfo is not None
        assert node.last_seen.utcoffset() == timedelta(0)
        assert node.updated_at == datetime(2023, 11, 14, 22, 14, 20, tzinfo=timezone.utc)
        assert (node.cpu_usage, node.memory_max) == (0.25, 68719476736)
        web, tpl = session.get(Vm, 100), session.get(Vm, 9000)
        assert web is not None and tpl is not None
        assert web.template is False and web.ha_managed is True and web.pid == 4242 and web.last_seen is None
        assert tpl.template is True and tpl.ha_managed is False
        ct = session.get(Container, 200)
        assert ct is not None and (ct.hostname, ct.swap_bytes, ct.template) == ("dns.lan", 536870912, False)
        storage = session.get(Storage, "local-lvm")
        assert storage is not None
        assert storage.content_types == ["images", "rootdir"] and storage.nodes == ["pve1"]
        assert storage.enabled is True and storage.shared is False
        task = session.get(Task, "UPID:pve1:1")
        assert task is not None and task.log_entries == ["starting", "OK"] and task.end_time is None
        assert task.start_time == T0_DT
        snap = session.scalars(select(StateSnapshot)).one()
        assert snap.snapshot_time == T0_DT and json.loads(snap.resource_data) == {"vmid": 100}
        assert session.scalars(select(Vm.id).where(Vm.template.is_(True))).all() == [9000]
        assert session.scalars(select(Vm.id).where(Vm.template == True)).all() == [9000]  # noqa: E712
    engine.dispose()


def test_models_write_the_contract_encoding(model_db: Path) -> None:
    engine = open_readwrite(model_db)
    cest = timezone(timedelta(hours=2))
    with Session(engine) as session:
        session.add(Node(id="pve1", status="online", last_seen=datetime(2023, 11, 15, 0, 13, 20, 123999, tzinfo=cest)))
        session.flush()
        session.add(Vm(id=100, node_id="pve1", status="running", template=True, memory_bytes=2**40))
        session.add(Storage(id="local", type="dir", content_types=["iso", "vztmpl"], nodes=["pve1", "pve2"]))
        session.add(Task(upid="UPID:x", node_id="pve1", type="qmstart", status="OK", start_time=T0_DT))
        session.add(StateSnapshot(snapshot_time=T0_DT, resource_type="vm", resource_id="100", resource_data="{}",
                                  change_type="created"))
        session.commit()
    engine.dispose()
    row = _query(model_db, "SELECT last_seen, typeof(last_seen), typeof(created_at), created_at FROM nodes")[0]
    assert row[:3] == (T0, "integer", "integer")  # +02:00 converted to UTC ms; sub-millisecond part floored
    assert isinstance(row[3], int) and abs(row[3] - datetime.now(timezone.utc).timestamp() * 1000) < 60_000
    assert _query(model_db, "SELECT template, typeof(template), ha_managed, memory_bytes FROM vms") == [
        (1, "integer", 0, 2**40)
    ]
    assert _query(model_db, "SELECT content_types, typeof(content_types), nodes, enabled, shared FROM storage") == [
        ('["iso","vztmpl"]', "text", '["pve1","pve2"]', 1, 0)
    ]
    assert _query(model_db, "SELECT start_time, end_time, log_entries FROM tasks") == [(T0, None, None)]
    assert _query(model_db, "SELECT id, snapshot_time FROM state_snapshots") == [(1, T0)]


def test_naive_datetime_is_refused(model_db: Path) -> None:
    engine = open_readwrite(model_db)
    with Session(engine) as session, pytest.raises(StatementError, match="naive datetime"):
        session.add(Node(id="pve1", status="online", last_seen=datetime(2024, 1, 1)))
        session.commit()
    engine.dispose()


def test_bad_stored_values_raise(prisma_db: Path) -> None:
    _raw(prisma_db, "UPDATE nodes SET last_seen = '2024-01-01 00:00:00'; UPDATE storage SET nodes = '{\"a\":1}';")
    engine = open_readonly(prisma_db)
    with Session(engine) as session:
        with pytest.raises(StateDbError, match="not an integer of epoch milliseconds"):
            session.get(Node, "pve1")
        with pytest.raises(StateDbError, match="not a JSON array"):
            session.get(Storage, "local-lvm")
    engine.dispose()


def test_readonly_engine_cannot_write(prisma_db: Path) -> None:
    before = prisma_db.read_bytes()
    engine = open_readonly(prisma_db)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        with pytest.raises(OperationalError, match="readonly"):
            conn.exec_driver_sql("INSERT INTO nodes (id, status, created_at, updated_at) VALUES ('x', 'y', 1, 1)")
    with Session(engine) as session:
        session.add(Node(id="pve9", status="online"))
        with pytest.raises(OperationalError, match="readonly"):
            session.commit()
    with engine.connect() as conn, pytest.raises(OperationalError, match="readonly"):
        conn.exec_driver_sql("CREATE TABLE x (a)")
    engine.dispose()
    assert prisma_db.read_bytes() == before


@pytest.mark.parametrize("opener", [open_readonly, open_readwrite])
def test_open_errors_are_one_line_naming_the_file(tmp_path: Path, opener: object) -> None:
    assert callable(opener)
    missing = tmp_path / "nope" / "state.db"
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an SQLite database\n" * 200)
    for path in (missing, garbage, tmp_path):
        with pytest.raises(StateDbError) as info:
            opener(path)
        message = str(info.value)
        assert str(path) in message and "\n" not in message, message
        assert isinstance(info.value, ValueError)
    assert not missing.exists()


def test_create_refuses_to_overwrite(model_db: Path, tmp_path: Path) -> None:
    before = model_db.read_bytes()
    with pytest.raises(StateDbError, match="already exists") as info:
        create_database(model_db)
    assert str(model_db) in str(info.value)
    assert model_db.read_bytes() == before
    other = tmp_path / "other.txt"
    other.write_text("keep me")
    with pytest.raises(StateDbError):
        create_database(other)
    assert other.read_text() == "keep me"


def test_foreign_keys_are_enforced(model_db: Path) -> None:
    engine = open_readwrite(model_db)
    with Session(engine) as session:
        session.add(Vm(id=101, node_id="ghost", status="stopped"))
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            session.commit()
    with Session(engine) as session:
        session.add(Node(id="pve1", status="online"))
        session.flush()
        session.add(Vm(id=100, node_id="pve1", status="running"))
        session.add(Container(id=200, node_id="pve1", status="running"))
        session.commit()
    with Session(engine) as session:
        node = session.get(Node, "pve1")
        assert node is not None
        session.delete(node)
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            session.commit()
    with engine.begin() as conn:  # ON UPDATE CASCADE
        conn.exec_driver_sql("UPDATE nodes SET id = 'pve-renamed' WHERE id = 'pve1'")
    engine.dispose()
    assert _query(model_db, "SELECT node_id FROM vms UNION ALL SELECT node_id FROM containers") == [
        ("pve-renamed",),
        ("pve-renamed",),
    ]


def test_integrity_problems_clean_database(prisma_db: Path, model_db: Path) -> None:
    assert integrity_problems(prisma_db) == []
    assert integrity_problems(model_db) == []


def test_integrity_problems_finds_foreign_key_violation(prisma_db: Path) -> None:
    _raw(prisma_db, "INSERT INTO vms (id, node_id, status, created_at, updated_at) VALUES (7, 'ghost', 'x', 1, 1);",
         foreign_keys=False)
    problems = integrity_problems(prisma_db)
    assert len(problems) == 1
    assert "vms" in problems[0] and "node_id" in problems[0] and "nodes.id" in problems[0]
    assert "rowid 7" in problems[0] and "\n" not in problems[0]


@pytest.mark.parametrize("where", ["root page of vms", "end of the last data page"])
def test_integrity_problems_finds_corrupted_page(model_db: Path, where: str) -> None:
    engine = open_readwrite(model_db)
    with Session(engine) as session:
        session.add(Node(id="pve1", status="online"))
        session.flush()
        session.add_all(Vm(id=100 + i, node_id="pve1", name=f"guest-{i}" * 10, status="running") for i in range(300))
        session.commit()
    engine.dispose()
    assert integrity_problems(model_db) == []
    ((page_size,),) = _query(model_db, "PRAGMA page_size")
    ((page_count,),) = _query(model_db, "PRAGMA page_count")
    ((root,),) = _query(model_db, "SELECT rootpage FROM sqlite_master WHERE name = 'vms'")
    assert isinstance(page_size, int) and isinstance(page_count, int) and isinstance(root, int)
    data = bytearray(model_db.read_bytes())
    if where == "root page of vms":  # garbage over a whole b-tree page: SQLite reports the file malformed
        start, length = (root - 1) * page_size, page_size
    else:  # garbage over the cells at the end of a leaf page: quick_check itself reports the page
        start, length = page_count * page_size - 200, 200
    data[start : start + length] = bytes((i * 37 + 11) % 256 for i in range(length))
    model_db.write_bytes(bytes(data))
    problems = integrity_problems(model_db)
    assert problems, "corruption not detected"
    assert all("\n" not in p and str(model_db) in p for p in problems)
    if where == "root page of vms":
        assert any("malformed" in p for p in problems), problems
    else:
        assert any("quick_check" in p and re.search(r"page \d+", p) for p in problems), problems


def test_integrity_problems_reports_unreadable_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00garbage" * 1000)
    for path in (garbage, tmp_path / "missing.db"):
        problems = integrity_problems(path)
        assert len(problems) == 1 and str(path) in problems[0] and "\n" not in problems[0]
    assert not (tmp_path / "missing.db").exists()


def test_schema_differences_reports_each_difference(tmp_path: Path) -> None:
    path = tmp_path / "drifted.db"
    ddl = (
        PRISMA_DDL.replace('"pid" INTEGER, "ha_managed" BOOLEAN NOT NULL DEFAULT false,', '"pid" INTEGER,')
        .replace('"memory_max" BIGINT', '"memory_max" INTEGER')
        .replace('"enabled" BOOLEAN NOT NULL DEFAULT true', '"enabled" BOOLEAN NOT NULL DEFAULT false')
        .replace(' ON DELETE RESTRICT ON UPDATE CASCADE);\nCREATE TABLE "state_snapshots"',
                 ' ON DELETE CASCADE ON UPDATE CASCADE);\nCREATE TABLE "state_snapshots"')
        .replace('"status" TEXT NOT NULL, "resource_type" TEXT', '"status" TEXT, "resource_type" TEXT, "extra" TEXT')
        .replace("PRIMARY KEY AUTOINCREMENT", "PRIMARY KEY")
    )
    assert ddl.count("CREATE TABLE") == 6
    _raw(path, ddl)
    engine = open_readonly(path)
    differences = schema_differences(engine)
    engine.dispose()
    assert len(differences) == 7, differences
    expected = ["vms.ha_managed", "nodes.memory_max", "storage.enabled", "tasks.node_id", "tasks.status",
                "tasks.extra", "state_snapshots:"]
    for name in expected:
        assert sum(name in line for line in differences) == 1, (name, differences)
    assert any("memory_max" in d and "INTEGER" in d and "BIGINT" in d for d in differences)
    assert any("ON DELETE CASCADE" in d and "RESTRICT" in d for d in differences)
    assert all("\n" not in d for d in differences)


def test_schema_differences_reports_missing_and_stray_tables(tmp_path: Path) -> None:
    path = tmp_path / "partial.db"
    _raw(path, PRISMA_DDL.split('CREATE TABLE "tasks"')[0] + "CREATE TABLE stray (a TEXT);")
    engine = open_readonly(path)
    differences = schema_differences(engine)
    engine.dispose()
    assert sorted(differences) == ["state_snapshots: table missing", "stray: table not in the contract",
                                   "tasks: table missing"]
