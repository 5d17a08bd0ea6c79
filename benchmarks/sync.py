"""What the reference sync and a phase-1 run cost on a big cluster at network latency (rows P2, P2' of issue 20).

Run: python benchmarks/sync.py [GUESTS] [--growth] [--baseline=TREE]   (default 10,000 guests on 4 nodes, 80% VMs,
     20% containers; TREE: another source tree, e.g. the main branch's, whose sync runs in the same repetitions,
     in a process of its own with TREE first on its path: P2 is printed for both, before and after)

fakepve runs as a process of its own (``python -m fakepve --latency 0.005``: every answer 5 ms late, as over a
LAN) so that its work does not compete with the client's for the GIL. The client is the plugin's, as
``pve_readonly`` (read-only guard, audit trail). In one run, three repetitions of:

- P2, ours: ``sync_database`` into a new database (``/cluster/resources`` and the storage lists, then the
  guests' configs read in parallel, then one transaction), against a naive sync: ``/nodes``, per node its qemu
  and lxc lists and storages, then one config GET per guest, one request at a time, written with the same
  writer into another database; both databases must hold the same rows (bookkeeping and usage aside);
- P2', the two full snapshots a phase-1 run's watch takes (before and after, every config), against one sync
  (taken right after that sync, so that the two compared runs are as close in time as the shared machine
  allows; the naive sync comes last);

then once ``pytest validation --pve-max-phase 1`` against the cluster as a live target (wall time and peak
RSS). ``--growth`` repeats the sync and the phase-1 run at 100 and 1,000 guests.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _stats import REPETITIONS, growth, peak_rss_mb, spread, verdict
from proxmoxer import ProxmoxAPI

from pytest_proxmox_mpc.cluster.client import connect_checked
from pytest_proxmox_mpc.cluster.guard import Guard
from pytest_proxmox_mpc.cluster.inventory import read_inventory
from pytest_proxmox_mpc.model.endpoint import Endpoint
from pytest_proxmox_mpc.model.inventory import GuestInfo, Inventory, NodeInfo, StorageInfo, StorageUsage, split_list
from pytest_proxmox_mpc.model.secret import Secret
from pytest_proxmox_mpc.safety.policy import ReadOnlyPolicy
from pytest_proxmox_mpc.safety.trail import AuditTrail
from pytest_proxmox_mpc.sim.process import fakepve_process as start_fakepve
from pytest_proxmox_mpc.workspace.statedb.contract import BOOKKEEPING, VOLATILE
from pytest_proxmox_mpc.workspace.sync import sync_database, sync_inventory

NODES = ("pve1", "pve2", "pve3", "pve4")
PASSWORD = "bench-password"
LATENCY = 0.005  # seconds added to every answer: a LAN's round trip
ROOT = Path(__file__).resolve().parent.parent


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
def fakepve_process(workdir: Path, guests: int) -> Iterator[tuple[Any, Any]]:
    """``python -m fakepve --latency LATENCY`` on 127.0.0.1 serving the scenario; yields it and a plain client."""
    scenario(workdir / "big.json", guests)
    with start_fakepve(workdir / "big.json", workdir, password=PASSWORD, startup=120, latency=LATENCY) as server:
        yield server, ProxmoxAPI(server.address, user="root@pam", password=PASSWORD, verify_ssl=server.cafile,
                                 timeout=60)


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(float(value))


def naive_inventory(api: Any) -> Inventory:
    """The cluster read the naive way, one request at a time: ``/nodes``, per node its qemu and lxc lists
    (which carry each guest's status and sizes) and storages, then one config GET per guest."""
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
                config = dict(get(f"nodes/{node}/{kind}/{vmid}/config"))
                digest = config.pop("digest", None)
                guests[vmid] = GuestInfo(
                    vmid=vmid, kind=kind, node=node, name=listed.get("name"), status=listed["status"],
                    template=bool(listed.get("template")), lock=listed.get("lock") or None, hastate=None,
                    vcpus=_int(listed.get("cpus")), maxmem=_int(listed.get("maxmem")),
                    maxdisk=_int(listed.get("maxdisk")), cpu=listed.get("cpu"), mem=_int(listed.get("mem")),
                    disk=_int(listed.get("disk")), netin=_int(listed.get("netin")),
                    netout=_int(listed.get("netout")), uptime=_int(listed.get("uptime")), digest=digest,
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


def phase1_run(server: Any, workdir: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of ``pytest validation --pve-max-phase 1`` against ``server`` as a live target:
    the watch's two full snapshots and the phase-1 tests."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PVE_")}, "PVE_PASSWORD": PASSWORD}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "validation", "--pve-max-phase", "1", "-q",
                           "-p", "no:cacheprovider", "--pve-host", server.address, f"--pve-ca-bundle={server.cafile}",
                           f"--pve-audit-log={workdir / 'phase1-audit.jsonl'}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError("the phase-1 run failed:\n" + done.stdout[-3000:] + done.stderr[-2000:])
    return wall, peak_rss_mb(children=True)


BASELINE_SYNC = """
import json, sys, time
from pathlib import Path
import pytest_proxmox_mpc
from pytest_proxmox_mpc.cluster.client import connect_checked
from pytest_proxmox_mpc.cluster.endpoint import Endpoint
from pytest_proxmox_mpc.config.secret import Secret
from pytest_proxmox_mpc.safety.guard import Guard
from pytest_proxmox_mpc.safety.policy import ReadOnlyPolicy
from pytest_proxmox_mpc.safety.trail import AuditTrail
from pytest_proxmox_mpc.workspace.sync import sync_database
host, port, cafile, password, workdir = sys.argv[1:6]
trail = AuditTrail(Path(workdir) / "audit.jsonl", "bench")
endpoint = Endpoint(host=host, port=int(port), user="root@pam", password=Secret(password), verify=cafile, timeout=60)
api, _ = connect_checked(endpoint, Guard(ReadOnlyPolicy(), trail))
db = Path(workdir) / "state.db"
db.unlink(missing_ok=True)
result = sync_database(api, db)
trail.close()
print(json.dumps({"duration": result.duration, "read_seconds": result.read_seconds, "requests": result.requests,
                  "package": pytest_proxmox_mpc.__file__}))
"""


def baseline_sync(tree: Path, server: Any, workdir: Path) -> dict[str, Any]:
    """The sync of the package in ``tree`` (first on the path of a process of its own, as ``pve_readonly``)
    against ``server``: its duration, read_seconds and requests."""
    workdir.mkdir(parents=True, exist_ok=True)  # also the working directory: it must not hold a tree
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PVE_")}, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", BASELINE_SYNC, server.host, str(server.port), server.cafile, PASSWORD,
                           str(workdir)], cwd=workdir, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError("the baseline sync failed:\n" + done.stderr[-3000:])
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    if not Path(found["package"]).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"the baseline sync ran {found['package']}, not the package in {tree}")
    return found


def ours(api: Any, db: Path) -> Any:
    db.unlink(missing_ok=True)
    return sync_database(api, db)


def measure(guests: int, full: bool, baseline: Path | None = None) -> dict[str, Any]:
    """One cluster of ``guests`` at LATENCY: our sync (and, when ``full``, every row of the table, and the
    ``baseline`` tree's sync when given) in one run."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, fakepve_process(Path(tmp), guests) as (server, _):
        trail = AuditTrail(Path(tmp) / "audit.jsonl", "bench")
        endpoint = Endpoint(host=server.host, port=server.port, user="root@pam", password=Secret(PASSWORD),
                            verify=server.cafile, timeout=60)
        api, version = connect_checked(endpoint, Guard(ReadOnlyPolicy(), trail))  # as pve_readonly
        ours_db, naive_db = Path(tmp) / "ours" / "state.db", Path(tmp) / "naive" / "state.db"
        syncs, naives, snapshots, cpu, base_syncs = [], [], [], [], []
        for _ in range(REPETITIONS if full else 1):
            started = time.process_time()  # this process only: the client's share, fakepve runs apart
            result = ours(api, ours_db)
            cpu.append(time.process_time() - started)
            syncs.append(result)
            if full:  # the snapshots right after the sync they are compared with, then the naive sync
                start = time.perf_counter()
                with trail.acting_as("watch"):  # the watch's before and after snapshots, as a phase-1 run takes them
                    read_inventory(api, version=version)
                    read_inventory(api, version=version)
                snapshots.append(time.perf_counter() - start)
                if baseline is not None:  # after the snapshots, which are compared with the sync just before them
                    base_syncs.append(baseline_sync(baseline, server, Path(tmp) / "baseline"))
                start = time.perf_counter()
                naive_inv = naive_inventory(api)
                naive_db.unlink(missing_ok=True)
                sync_inventory(naive_inv, naive_db)
                naives.append((time.perf_counter() - start, naive_inv.requests))
        out["syncs"], out["cpu"] = syncs, cpu
        if full:
            before = ours_db.read_bytes()
            out["unchanged"] = not sync_database(api, ours_db).wrote and ours_db.read_bytes() == before
            out["same"] = compared_rows(ours_db) == compared_rows(naive_db)
            out["naives"], out["snapshots"], out["baseline"] = naives, snapshots, base_syncs
        trail.close()
        out["phase1"] = phase1_run(server, Path(tmp))
    return out


def main(guests: int, sizes: tuple[int, ...], baseline: Path | None) -> None:
    largest = measure(guests, full=True, baseline=baseline)
    syncs, naives, snaps = largest["syncs"], largest["naives"], largest["snapshots"]
    sync_s = [r.duration for r in syncs]
    lists = syncs[0].requests - guests
    print(f"cluster: {guests} guests on {len(NODES)} nodes; fakepve process, every answer {LATENCY * 1000:g} ms late "
          f"(--latency {LATENCY}); {REPETITIONS} repetitions; the machine is shared: read the ratios")
    reads = spread([r.read_seconds for r in syncs])
    print(f"P2  ours (parallel config reads): {spread(sync_s)} s (reading {reads} s), {syncs[0].requests} requests "
          f"(list data in {lists}, goal <= nodes+3 = {len(NODES) + 3}: {verdict(lists, len(NODES) + 3)})")
    print(f"    naive (one config GET per guest, sequential): {spread([n for n, _ in naives])} s, "
          f"{naives[0][1]} requests")
    ratios = [n / s for (n, _), s in zip(naives, sync_s, strict=True)]
    print(f"    naive / ours: {spread(ratios)} (goal >= 6: {verdict(statistics.median(ratios), 6, at_most=False)}); "
          f"same rows: {largest['same']}; a second sync left the file byte for byte: {largest['unchanged']}")
    if largest["baseline"]:
        base = largest["baseline"]
        base_s = [b["duration"] for b in base]
        base_ratios = [n / b for (n, _), b in zip(naives, base_s, strict=True)]
        print(f"    baseline ({baseline}), in the same repetitions: {spread(base_s)} s (reading "
              f"{spread([b['read_seconds'] for b in base])} s), {base[0]['requests']} requests; naive / baseline: "
              f"{spread(base_ratios)} (goal >= 6: {verdict(statistics.median(base_ratios), 6, at_most=False)}); "
              f"ours / baseline: {spread([o / b for o, b in zip(sync_s, base_s, strict=True)])}")
    snap_ratios = [t / s for t, s in zip(snaps, sync_s, strict=True)]
    print(f"P2' the two full snapshots of a phase-1 run: {spread(snaps)} s; / one parallel sync: "
          f"{spread(snap_ratios)} (goal <= 2: {verdict(statistics.median(snap_ratios), 2)})")
    wall, rss = largest["phase1"]
    print(f"    pytest validation --pve-max-phase 1 on this cluster: {wall:.1f} s, peak RSS {rss:.0f} MB "
          f"(goal <= 250 MB: {verdict(rss, 250)})")
    if sizes:
        runs = {size: measure(size, full=False) for size in sizes if size != guests}
        runs[guests] = largest
        order = sorted(runs)
        print("growth (ours; should stay linear or better):")
        print("  sync:    " + growth(order, [statistics.median([r.duration for r in runs[n]["syncs"]]) for n in order]))
        print("    its client CPU (fakepve's work aside): "
              + growth(order, [statistics.median(runs[n]["cpu"]) for n in order]))
        print("  phase 1: " + growth(order, [runs[n]["phase1"][0] for n in order]) + " (pytest start-up included)")


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10_000
    given = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--baseline=")), None)
    main(count, (100, 1_000, count) if "--growth" in sys.argv else (), Path(given) if given else None)
