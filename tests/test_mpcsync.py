"""The reference sync (cluster -> .proxmox/state.db) against the session's simulated homelab cluster.

The simulated cluster is shared by the whole session: every test that changes it puts it back exactly
(guests removed or re-inserted, configs restored, injected faults cleared) in a finally block.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_proxmox_mpc.cluster.inventory import read_inventory
from pytest_proxmox_mpc.errors import SyncError
from pytest_proxmox_mpc.model.inventory import Inventory
from pytest_proxmox_mpc.workspace.statedb.models import integrity_problems, open_readonly, schema_differences
from pytest_proxmox_mpc.workspace.sync import sync_database, sync_inventory

T1 = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
T2 = datetime(2025, 1, 3, 3, 4, 5, tzinfo=timezone.utc)


def rows(db: Path, table: str) -> dict[Any, dict[str, Any]]:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        key = "upid" if table == "tasks" else "id"
        return {row[key]: dict(row) for row in conn.execute(f'SELECT * FROM "{table}"')}
    finally:
        conn.close()


def snapshots(db: Path, after: int = 0) -> list[tuple[str, str, str]]:
    return [(r["resource_type"], r["resource_id"], r["change_type"])
            for _, r in sorted(rows(db, "state_snapshots").items()) if r["id"] > after]


def last_snapshot_id(db: Path) -> int:
    return max(rows(db, "state_snapshots"), default=0)


def assert_consistent(db: Path) -> None:
    assert integrity_problems(db) == []  # quick_check and PRAGMA foreign_key_check
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()
    engine = open_readonly(db)
    try:
        assert schema_differences(engine) == []
    finally:
        engine.dispose()


def assert_mirrors(db: Path, inv: Inventory) -> None:
    """The rows hold exactly the inventory's nodes, guests and storages, with the contract's meaning."""
    nodes, vms, cts, stores = (rows(db, t) for t in ("nodes", "vms", "containers", "storage"))
    assert set(nodes) == set(inv.nodes)
    for name, node in inv.nodes.items():
        row = nodes[name]
        assert (row["status"], row["cpu_max"], row["memory_max"], row["pve_version"]) == (
            node.status, node.maxcpu, node.maxmem, inv.version)
    assert set(vms) == {g.vmid for g in inv.vms} and set(cts) == {g.vmid for g in inv.containers}
    for guest in inv.guests.values():
        row = (vms if guest.kind == "qemu" else cts)[guest.vmid]
        assert (row["node_id"], row["name"], row["status"], bool(row["template"]), row["cpu_cores"],
                row["memory_bytes"], row["disk_size"], bool(row["ha_managed"]), row["lock_status"],
                row["config_digest"]) == (
            guest.node, guest.name, guest.status, guest.template, guest.vcpus, guest.maxmem, guest.maxdisk,
            guest.ha_managed, guest.lock, guest.digest), guest.vmid
        if guest.kind == "lxc":
            assert guest.config is not None
            assert row["hostname"] == guest.config["hostname"]
            assert row["swap_bytes"] == int(guest.config["swap"]) * 1024 * 1024
    assert set(stores) == set(inv.storages)
    for sid, store in inv.storages.items():
        row = stores[sid]
        assert (row["type"], json.loads(row["content_types"]), bool(row["enabled"]), bool(row["shared"]),
                row["path"], row["config_digest"]) == (
            store.type, list(store.content), store.enabled, store.shared, store.path, store.digest)
        assert row["nodes"] is None if store.nodes is None else json.loads(row["nodes"]) == list(store.nodes)
        usage = list(store.usage.values())[:1] if store.shared else list(store.usage.values())
        assert row["total_bytes"] == sum(u.total for u in usage)
        assert row["used_bytes"] == sum(u.used for u in usage)


@contextmanager
def changed_cluster(pve_sim: Any) -> Iterator[None]:
    """VM 4711 added on pve2, VM 105 removed, VM 106 resized (8 cores, 16 GiB); all undone on the way out."""
    removed = pve_sim.vm(105)
    index = pve_sim.vms.index(removed)
    resized = pve_sim.vm(106)
    saved = dict(resized.config)
    added = None
    try:
        added = pve_sim.add_vm(4711, "sync-added", node="pve2", status="stopped",
                               config={"cores": 1, "memory": 512, "scsi0": "local-lvm:vm-4711-disk-0,size=4G"})
        pve_sim.vms.remove(removed)
        resized.config.update(cores=8, memory=16384)
        yield
    finally:
        resized.config.clear()
        resized.config.update(saved)
        if removed not in pve_sim.vms:
            pve_sim.vms.insert(index, removed)
        if added is not None and added in pve_sim.vms:
            pve_sim.vms.remove(added)


@contextmanager
def injected(pve_sim: Any, method: str, suffix: str, status: int, message: str) -> Iterator[None]:
    pve_sim.fail(method, suffix, status, message, times=1)
    try:
        yield
    finally:
        pve_sim.failures.pop((method, suffix), None)


def test_first_sync_writes_exactly_the_cluster_and_discovers_every_resource(pve_readonly, tmp_path):
    db = tmp_path / "ws" / ".proxmox" / "state.db"
    result = sync_database(pve_readonly, db, now=T1)
    inv = read_inventory(pve_readonly, networks=False)
    assert (len(inv.nodes), len(inv.guests), len(inv.storages)) == (3, 12, 4)
    assert_mirrors(db, inv)
    assert_consistent(db)
    expected = {("node", n) for n in inv.nodes} | {("storage", s) for s in inv.storages} | {
        ("vm" if g.kind == "qemu" else "container", str(g.vmid)) for g in inv.guests.values()}
    found = snapshots(db)
    assert len(found) == 19 and {(kind, rid) for kind, rid, _ in found} == expected
    assert {change for _, _, change in found} == {"discovered"}
    assert result.created_db and result.discovered == 19 and result.totals == {
        "discovered": 19, "created": 0, "updated": 0, "deleted": 0}
    assert result.counts == {"node": {"discovered": 3}, "vm": {"discovered": 8}, "container": {"discovered": 4},
                             "storage": {"discovered": 4}}
    # The sync reads no /cluster/status and no /pools (the database holds neither): list data in nodes + 3.
    assert result.requests == 3 + 3 + 12 and inv.requests == 5 + 3 + 12
    # Times are epoch milliseconds; resource_data is the row as JSON.
    vm103 = rows(db, "vms")[103]
    assert vm103["ha_managed"] == 1 and vm103["cpu_cores"] == 8 and vm103["memory_bytes"] == 16384 * 1024 ** 2
    assert vm103["created_at"] == vm103["updated_at"] == vm103["last_seen"] == 1735787045678
    data = json.loads(next(r for r in rows(db, "state_snapshots").values() if r["resource_id"] == "103")
                      ["resource_data"])
    assert data["id"] == 103 and data["config_digest"] == inv.guests[103].digest
    assert data["ha_managed"] is True and data["created_at"] == "2025-01-02T03:04:05.678Z"
    store = json.loads(next(r for r in rows(db, "state_snapshots").values() if r["resource_id"] == "local")
                       ["resource_data"])
    assert store["content_types"] == ["backup", "iso", "snippets", "vztmpl"]


def test_changes_are_created_deleted_updated_and_an_unchanged_cluster_writes_nothing(pve_readonly, pve_sim,
                                                                                     tmp_path):
    db = tmp_path / "state.db"
    sync_database(pve_readonly, db, now=T1)
    original_106 = rows(db, "vms")[106]
    mark = last_snapshot_id(db)
    with changed_cluster(pve_sim):
        result = sync_database(pve_readonly, db, now=T2)
        assert (result.created, result.deleted, result.updated, result.discovered) == (1, 1, 1, 0)
        assert not result.created_db and result.wrote
        assert snapshots(db, mark) == [("vm", "4711", "created"), ("vm", "106", "updated"), ("vm", "105", "deleted")]
        inv = read_inventory(pve_readonly, networks=False)
        assert_mirrors(db, inv)
        assert_consistent(db)
        vms = rows(db, "vms")
        assert 105 not in vms and vms[4711]["node_id"] == "pve2" and vms[4711]["name"] == "sync-added"
        assert vms[106]["cpu_cores"] == 8 and vms[106]["memory_bytes"] == 16 * 1024 ** 3
        assert vms[106]["config_digest"] == pve_sim.vm(106).digest() != original_106["config_digest"]
        assert vms[106]["created_at"] == original_106["created_at"] < vms[106]["updated_at"]
        assert rows(db, "vms")[101]["updated_at"] == 1735787045678  # untouched rows stay as they were
        deleted = json.loads(next(r for r in rows(db, "state_snapshots").values() if r["change_type"] == "deleted")
                             ["resource_data"])
        assert deleted["id"] == 105 and deleted["name"] == "dev-sandbox"

        before = db.read_bytes()
        again = sync_database(pve_readonly, db)
        assert db.read_bytes() == before  # byte for byte: nothing written, not even last_seen
        assert not again.wrote and again.totals == dict.fromkeys(again.totals, 0) and again.requests == 18
        assert sorted(p.name for p in db.parent.iterdir()) == ["state.db"]  # no journal left behind
    mark = last_snapshot_id(db)
    result = sync_database(pve_readonly, db, now=T2)  # the cluster put back: the reverse changes
    assert snapshots(db, mark) == [("vm", "105", "created"), ("vm", "106", "updated"), ("vm", "4711", "deleted")]
    assert rows(db, "vms")[106]["config_digest"] == original_106["config_digest"]
    assert_consistent(db)


def test_an_api_failure_halfway_leaves_the_database_byte_for_byte_unchanged(pve_readonly, pve_sim, tmp_path):
    db = tmp_path / "state.db"
    sync_database(pve_readonly, db, now=T1)
    before = db.read_bytes()
    with changed_cluster(pve_sim), injected(pve_sim, "GET", "/nodes/pve2/qemu/102/config", 500, "boom"):
        with pytest.raises(SyncError, match=r"cannot read the cluster, nothing written: .*500.*boom") as caught:
            sync_database(pve_readonly, db, now=T2)
        assert str(caught.value).startswith(f"sync of {db}:")
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.db"]


def test_a_failed_first_sync_leaves_no_database(pve_readonly, pve_sim, tmp_path):
    db = tmp_path / "ws" / ".proxmox" / "state.db"
    with injected(pve_sim, "GET", "/nodes/pve2/qemu/102/config", 500, "boom"), pytest.raises(SyncError, match="boom"):
        sync_database(pve_readonly, db)
    assert not db.exists() and not (tmp_path / "ws").exists()


def test_a_dropped_connection_leaves_no_database(pve_readonly, pve_sim, tmp_path):
    db = tmp_path / "state.db"
    saved = dict(pve_sim.network)
    pve_sim.flaky_network(drop_rate=1.0)
    try:
        with pytest.raises(SyncError, match="cannot read the cluster"):
            sync_database(pve_readonly, db)
    finally:
        pve_sim.network.clear()
        pve_sim.network.update(saved)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_write_rolls_back_everything(pve_readonly, pve_sim, tmp_path):
    db = tmp_path / "state.db"
    sync_database(pve_readonly, db, now=T1)
    conn = sqlite3.connect(db)  # the snapshots are written last: the rows updated before them must roll back
    conn.execute("CREATE TRIGGER refuse BEFORE INSERT ON state_snapshots BEGIN SELECT RAISE(ABORT, 'refused'); END")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    with changed_cluster(pve_sim), pytest.raises(SyncError, match=r"writing the database failed, rolled back.*refused"):
        sync_database(pve_readonly, db, now=T2)
    assert db.read_bytes() == before


def test_a_vanished_node_goes_with_its_guests_and_tasks(pve_readonly, tmp_path):
    db = tmp_path / "state.db"
    inv = read_inventory(pve_readonly, networks=False)
    sync_inventory(inv, db, now=T1)
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO tasks (upid, node_id, type, status, created_at, updated_at) "
                 "VALUES ('UPID:pve3:1', 'pve3', 'qmstart', 'stopped', 1, 1)")
    conn.commit()
    conn.close()
    on_pve3 = {vmid for vmid, g in inv.guests.items() if g.node == "pve3"}
    gone = replace(inv, nodes={k: v for k, v in inv.nodes.items() if k != "pve3"},
                   guests={k: v for k, v in inv.guests.items() if k not in on_pve3})
    mark = last_snapshot_id(db)
    result = sync_inventory(gone, db, now=T2)
    assert result.deleted == 1 + len(on_pve3) == 5 and result.tasks_deleted == 1 and result.requests == inv.requests
    assert ("node", "pve3", "deleted") in snapshots(db, mark)
    assert set(rows(db, "nodes")) == {"pve1", "pve2"} and rows(db, "tasks") == {}
    assert_mirrors(db, gone)
    assert_consistent(db)


def test_a_guest_whose_config_was_not_read_keeps_its_digest_and_usage_alone_is_no_change(pve_readonly, tmp_path):
    db = tmp_path / "state.db"
    inv = read_inventory(pve_readonly, networks=False)
    sync_inventory(inv, db, now=T1)
    before = db.read_bytes()
    unread = {vmid: replace(g, config=None, digest=None, cpu=0.9, mem=12345, uptime=99999, netin=1, netout=2)
              for vmid, g in inv.guests.items()}
    nodes = {name: replace(n, cpu=0.5, mem=1, uptime=1) for name, n in inv.nodes.items()}
    result = sync_inventory(replace(inv, guests=unread, nodes=nodes), db, now=T2)
    assert not result.wrote and db.read_bytes() == before


def test_a_file_that_is_not_a_state_database_is_refused_before_any_request(pve_sim, tmp_path):
    db = tmp_path / "state.db"
    db.write_bytes(b"not a database at all, " * 100)
    requests = len(pve_sim.requests)
    with pytest.raises(SyncError, match="cannot open as SQLite"):
        sync_database(object(), db)  # never used: the file is checked first
    assert db.read_bytes() == b"not a database at all, " * 100 and len(pve_sim.requests) == requests
    with pytest.raises(SyncError, match="naive datetime"):
        sync_database(object(), tmp_path / "new.db", now=datetime(2025, 1, 1))
