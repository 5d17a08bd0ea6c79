"""What the reference sync costs on a big cluster: ours against a naive one-request-per-guest sync.

Run: python benchmarks/sync.py [GUESTS]      (default 10,000 guests on 4 nodes, 80% VMs, 20% containers)

fakepve runs as a process of its own (``python -m fakepve``, time scale 0) so that its work does not compete
with the client's for the GIL. Measured in one run, against the same cluster:

- ours, first sync into a new database: ``/cluster/resources`` and friends, then one config per guest read
  8 at a time (``read_inventory``), then one transaction;
- ours, second sync with nothing changed (writes nothing; the file is checked byte for byte);
- naive: ``/nodes``, per node its qemu and lxc lists and storages, then per guest ``status/current`` and
  ``config``, one request at a time, written with the same writer into another database. Both databases
  are then compared: the same rows (bookkeeping and usage columns aside).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from proxmoxer import ProxmoxAPI

from pytest_proxmox_mpc.cluster.inventory import GuestInfo, Inventory, NodeInfo, StorageInfo, StorageUsage, split_list
from pytest_proxmox_mpc.sim.process import fakepve_process as start_fakepve
from pytest_proxmox_mpc.workspace.sync import BOOKKEEPING, VOLATILE, sync_database, sync_inventory

NODES = ("pve1", "pve2", "pve3", "pve4")
PASSWORD = "bench-password"


def scenario(path: Path, guests: int) -> None:
    rows = []
    for i in range(guests):
        vmid, node = 1000 + i, NODES[i % len(NODES)]
        status = "running" if i % 3 else "stopped"
        if i % 5 == 4:
            rows.append({"vmid": vmid, "type": "lxc", "name": f"ct-{i}", "node": node, "status": status,
                         "config": {"hostname": f"ct-{i}", "cores": 1 + i % 2, "memory": 512, "swap": 256}})
        else:
            rows.append({"vmid": vmid, "name": f"vm-{i}", "node": node, "status": status,
                         "config": {"cores": 1 + i % 4, "sockets": 1, "memory": 1024 * (1 + i % 8),
                                    "scsi0": f"local-lvm:vm-{vmid}-disk-0,size={8 + i % 56}G",
                                    "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0"}})
    path.write_text(json.dumps({"guests": rows}))


@contextmanager
def fakepve_process(workdir: Path, guests: int) -> Iterator[Any]:
    """``python -m fakepve`` on 127.0.0.1 serving the scenario; yields a plain proxmoxer client."""
    scenario(workdir / "big.json", guests)
    with start_fakepve(workdir / "big.json", workdir, password=PASSWORD, startup=120) as server:
        yield ProxmoxAPI(server.address, user="root@pam", password=PASSWORD, verify_ssl=server.cafile, timeout=60)


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(float(value))


def naive_inventory(api: Any) -> Inventory:
    """The cluster read the naive way: lists per node, then status/current and config per guest, sequentially."""
    count = 0

    def get(path: str) -> Any:
        nonlocal count
        count += 1
        return api(path).get()

    version = get("version")["version"]
    nodes = {row["node"]: NodeInfo(name=row["node"], status=row["status"], cpu=row.get("cpu"),
                                   maxcpu=_int(row.get("maxcpu")), mem=_int(row.get("mem")),
                                   maxmem=_int(row.get("maxmem")), uptime=_int(row.get("uptime")))
             for row in get("nodes")}
    guests: dict[int, GuestInfo] = {}
    usage: dict[str, dict[str, StorageUsage]] = {}
    for node in sorted(nodes):
        for kind in ("qemu", "lxc"):
            for listed in get(f"nodes/{node}/{kind}"):
                vmid = int(listed["vmid"])
                status = get(f"nodes/{node}/{kind}/{vmid}/status/current")
                config = dict(get(f"nodes/{node}/{kind}/{vmid}/config"))
                digest = config.pop("digest", None)
                ha = status.get("ha") or {}
                guests[vmid] = GuestInfo(
                    vmid=vmid, kind=kind, node=node, name=status.get("name"), status=status["status"],
                    template=bool(status.get("template")), lock=status.get("lock") or None,
                    hastate=ha.get("state") if ha.get("managed") else None, vcpus=_int(status.get("cpus")),
                    maxmem=_int(status.get("maxmem")), maxdisk=_int(status.get("maxdisk")), cpu=status.get("cpu"),
                    mem=_int(status.get("mem")), disk=_int(status.get("disk")), netin=_int(status.get("netin")),
                    netout=_int(status.get("netout")), uptime=_int(status.get("uptime")), digest=digest,
                    config=config)
        for row in get(f"nodes/{node}/storage"):
            usage.setdefault(row["storage"], {})[node] = StorageUsage(
                total=int(row.get("total") or 0), used=int(row.get("used") or 0), avail=int(row.get("avail") or 0),
                active=bool(row.get("active")))
    storages = {row["storage"]: StorageInfo(
        storage=row["storage"], type=row["type"], content=split_list(row.get("content")),
        shared=bool(int(row.get("shared") or 0)), enabled=not int(row.get("disable") or 0),
        nodes=split_list(row.get("nodes")) or None, path=row.get("path") or None, digest=row.get("digest"),
        usage=dict(sorted(usage.get(row["storage"], {}).items()))) for row in get("storage")}
    return Inventory(version=version, cluster_name=None, quorate=True, nodes=nodes, guests=dict(sorted(guests.items())),
                     storages=dict(sorted(storages.items())), pools={}, networks={}, taken_at=time.time(),
                     requests=count)


def compared_rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(db)
    try:
        out = {}
        for table in ("nodes", "vms", "containers", "storage"):
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")
                       if r[1] not in BOOKKEEPING | VOLATILE[table]]
            out[table] = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id").fetchall()
        return out
    finally:
        conn.close()


def main(guests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, fakepve_process(Path(tmp), guests) as api:
        ours_db, naive_db = Path(tmp) / "ours" / "state.db", Path(tmp) / "naive" / "state.db"
        first = sync_database(api, ours_db)
        before = ours_db.read_bytes()
        second = sync_database(api, ours_db)
        unchanged = ours_db.read_bytes() == before
        start = time.perf_counter()
        naive_inv = naive_inventory(api)
        naive_read = time.perf_counter() - start
        naive = sync_inventory(naive_inv, naive_db)
        naive_total = time.perf_counter() - start
        same = compared_rows(ours_db) == compared_rows(naive_db)
        resources = []
        for _ in range(3):  # the one answer that carries every guest: the floor of any sync of this cluster
            start = time.perf_counter()
            api.cluster.resources.get()
            resources.append(time.perf_counter() - start)
    print(f"cluster: {guests} guests on {len(NODES)} nodes (fakepve process, time scale 0)")
    print(f"one GET /cluster/resources ({guests + len(NODES)}+ rows): {statistics.median(resources):.2f} s "
          "(median of 3)")
    print(f"{'sync':<32}{'requests':>10}{'read s':>10}{'total s':>10}{'rows/snapshots':>18}")
    print(f"{'ours, first (new database)':<32}{first.requests:>10}{first.read_seconds:>10.2f}"
          f"{first.duration:>10.2f}{first.discovered:>18}")
    print(f"{'ours, second (no change)':<32}{second.requests:>10}{second.read_seconds:>10.2f}"
          f"{second.duration:>10.2f}{sum(second.totals.values()):>18}")
    print(f"{'naive, one request per guest':<32}{naive_inv.requests:>10}{naive_read:>10.2f}"
          f"{naive_total:>10.2f}{naive.discovered:>18}")
    print(f"requests naive / ours: {naive_inv.requests / first.requests:.2f}; "
          f"time naive / ours: {naive_total / first.duration:.2f}")
    print(f"second sync left the file byte-for-byte unchanged: {unchanged}; "
          f"ours and naive wrote the same rows: {same}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
