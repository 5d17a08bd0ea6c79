"""Validation at scale (issue 36): the whole phase-1 and phase-2 validation of the reference builder's workspace
against the work that cannot be avoided, measured in the same run.

Run: python benchmarks/scale.py [GUESTS ...] [--runs N]      (default 100 1000 2000 10000 guests, 3 runs each)

For each size a fakepve process serves a synthetic cluster (``export.synthetic_inventory`` on 4 nodes: 70% VMs,
templates, unnamed guests, name collisions) and the reference builder writes its workspace once (not timed).
Then, ``--runs`` times, each in a fresh process:

- the floor: the cluster read (``/cluster/resources`` and every guest config, in parallel, through the plugin's
  read-only client), every ``.tf`` file parsed once with python-hcl2 on one core, ``ansible/inventory.yml``
  loaded once with PyYAML's C loader, the garbage collector paused for both loads; the sum of the three
  (imports not counted);
- the validation: what the suite's phase-1 and phase-2 workspace tests run, the cluster read once
  (``pve_inventory``), ``check_discovery`` and every check of ``WORKSPACE_CHECKS`` on the workspace
  (``check_workspace``) with a cold ansible-lint cache; its wall time from start to exit (imports included), and
  the peak of the resident memory summed over it and every process it starts (ansible-lint, ansible-playbook,
  parsers), sampled every 50 ms from /proc (``_proctree``: shared pages counted once per process).

Runs alternate which of the two goes first (the machine's load drifts). Each size prints the floor and its parts,
the validation and the CPU it used in all its processes, their ratio (each run against its own floor), the peak
memory of all processes together and of the largest one (median, range, each run), and the findings (none
expected: the reference builder's workspace is right). Goals (issue 36): 2,000 guests at most 2x the floor;
10,000 guests at most 1.5x and 1 GB.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _proctree import TreeMemory
from _stats import REPETITIONS, spread, verdict

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"
GOALS = {2_000: (2.0, None), 10_000: (1.5, 1024.0)}  # guests -> (ratio to the floor, peak MB of all processes)


def scenario(guests: int, path: Path) -> None:
    """fakepve's guests file for ``synthetic_inventory(guests)`` (an unnamed VM gets fakepve's required name)."""
    from export import synthetic_inventory

    rows = [{"vmid": g.vmid, "type": g.kind, "name": g.name or (f"vm-{g.vmid}" if g.kind == "qemu" else None),
             "node": g.node, "status": g.status, "config": dict(g.config or {}), "template": g.template}
            for g in synthetic_inventory(guests, nodes=4).guests.values()]
    path.write_text(json.dumps({"guests": rows}), encoding="utf-8")


def client(address: str, cafile: str, audit: Path) -> tuple[Any, str]:
    """The plugin's read-only client (guard and audit trail), as ``pve_readonly``."""
    from pytest_proxmox_mpc.cluster.client import connect_checked
    from pytest_proxmox_mpc.cluster.guard import Guard
    from pytest_proxmox_mpc.model.endpoint import Endpoint
    from pytest_proxmox_mpc.model.secret import Secret
    from pytest_proxmox_mpc.safety.policy import ReadOnlyPolicy
    from pytest_proxmox_mpc.safety.trail import AuditTrail

    host, port = address.rsplit(":", 1)
    endpoint = Endpoint(host=host, port=int(port), user="root@pam", password=Secret(PASSWORD), verify=cafile,
                        timeout=120)
    return connect_checked(endpoint, Guard(ReadOnlyPolicy(), AuditTrail(audit, "bench")))


def floor(address: str, cafile: str, workspace: Path, scratch: Path) -> dict[str, float]:
    """The work a validation cannot avoid, each part timed on its own (run in a process of its own)."""
    import hcl2
    import yaml
    from hcl2.utils import SerializationOptions

    from pytest_proxmox_mpc.cluster.inventory import read_inventory

    api, version = client(address, cafile, scratch / "floor-audit.jsonl")
    start = time.perf_counter()
    read_inventory(api, version=version)
    reading = time.perf_counter() - start
    options = SerializationOptions(strip_string_quotes=True, with_comments=False, explicit_blocks=True)
    gc.disable()
    start = time.perf_counter()
    parsed = [hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=options)
              for path in sorted((workspace / "terraform").rglob("*.tf"))]
    parsing = time.perf_counter() - start
    start = time.perf_counter()
    yaml.load((workspace / "ansible" / "inventory.yml").read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    loading = time.perf_counter() - start
    gc.enable()
    return {"reading": reading, "parsing": parsing, "loading": loading, "files": len(parsed)}


def validate(address: str, cafile: str, workspace: Path, scratch: Path) -> dict[str, Any]:
    """The suite's phase-1 and phase-2 validation of ``workspace`` (run in a process of its own)."""
    from pytest_proxmox_mpc.cluster.inventory import read_inventory
    from pytest_proxmox_mpc.validators import CheckContext, check_discovery, check_workspace

    api, version = client(address, cafile, scratch / "audit.jsonl")
    inventory = read_inventory(api, version=version)
    findings = check_discovery(api, inventory)
    context = CheckContext(scratch=scratch, secrets=(PASSWORD,), lint_cache=scratch / "lint-cache")
    findings += check_workspace(workspace, inventory, context)
    return {"findings": [str(finding) for finding in findings]}


@dataclass
class Child:
    """A job run by this file in a fresh process: its answer, wall and CPU seconds (of it and every process it
    waited for) and the memory of its process tree."""

    answer: dict[str, Any]
    wall: float
    cpu: float
    memory: TreeMemory


def child(job: str, *args: str) -> Child:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, __file__, f"--{job}", *args], cwd=ROOT / "benchmarks",
                               stdout=subprocess.PIPE, text=True)
    memory = TreeMemory(process.pid).start()
    out, _ = process.communicate()
    wall = time.perf_counter() - start
    memory.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise RuntimeError(f"{job} failed ({process.returncode}): {out[-2000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return Child(json.loads(out.strip().splitlines()[-1]), wall, cpu, memory)


def measure(guests: int, runs: int) -> None:
    from pytest_proxmox_mpc.sim.process import fakepve_process
    from pytest_proxmox_mpc.workspace.builder import Connection, build_reference

    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        work = Path(tmp)
        scenario(guests, work / "cluster.json")
        with fakepve_process(work / "cluster.json", work, password=PASSWORD, startup=300) as server:
            api, _ = client(server.address, server.cafile, work / "build-audit.jsonl")
            workspace = work / "workspace"
            start = time.perf_counter()
            build_reference(api, workspace, Connection(server.host, server.port, "root@pam", "pve01", True))
            built = time.perf_counter() - start
            inventory_mb = (workspace / "ansible" / "inventory.yml").stat().st_size / 1e6
            print(f"{guests} guests: workspace built in {built:.1f} s ({len(list(workspace.rglob('*.tf')))} .tf "
                  f"files, inventory.yml {inventory_mb:.2f} MB); {runs} runs of the floor and the validation, in turn",
                  flush=True)
            floors: list[Child] = []
            validations: list[Child] = []
            for run in range(runs):
                scratch = work / f"run-{run}"
                scratch.mkdir()
                args = (server.address, server.cafile, str(workspace), str(scratch))
                for job in ("floor", "validate") if run % 2 == 0 else ("validate", "floor"):  # load drifts: both ways
                    (floors if job == "floor" else validations).append(child(job, *args))
                floor, done = floors[-1], validations[-1]
                peak = done.memory.peak_total / 2**20
                print(f"  run {run + 1}: floor {seconds(floor):.1f} s, validation {done.wall:.1f} s "
                      f"({done.wall / seconds(floor):.2f}x; CPU {done.cpu:.0f} s), peak {peak:.0f} MB over "
                      f"{done.memory.most_processes} processes, {len(done.answer['findings'])} findings", flush=True)
    report(guests, floors, validations)


def seconds(floor: Child) -> float:
    """The floor: the sum of its three parts."""
    return float(floor.answer["reading"] + floor.answer["parsing"] + floor.answer["loading"])


def report(guests: int, floor_runs: list[Child], validations: list[Child]) -> None:
    floors, walls = [seconds(f) for f in floor_runs], [v.wall for v in validations]
    totals = [v.memory.peak_total / 2**20 for v in validations]
    singles = [v.memory.peak_single / 2**20 for v in validations]
    ratios = [wall / floor for wall, floor in zip(walls, floors, strict=True)]
    parts = [f.answer for f in floor_runs]
    findings = validations[-1].answer["findings"]
    print(f"  floor: {spread(floors)} s (reading {spread([p['reading'] for p in parts])}, parsing "
          f"{spread([p['parsing'] for p in parts])}, loading the inventory {spread([p['loading'] for p in parts])})")
    print(f"  validation: {spread(walls)} s; its CPU (all its processes) {spread([v.cpu for v in validations])} s")
    goal_ratio, goal_mb = GOALS.get(guests, (None, None))
    shown = f" (goal <= {goal_ratio}: {verdict(statistics.median(ratios), goal_ratio)})" if goal_ratio else ""
    print(f"  validation / floor: {spread(ratios)}{shown}")
    shown = f" (goal <= {goal_mb:.0f}: {verdict(statistics.median(totals), goal_mb)})" if goal_mb else ""
    print(f"  peak memory of all processes: {spread(totals, '{:.0f}')} MB{shown}; largest process "
          f"{spread(singles, '{:.0f}')} MB")
    print(f"  findings on the reference workspace: {len(findings)}" + "".join(f"\n    {f}" for f in findings[:10]))


def main(argv: list[str]) -> None:
    if argv[1:2] and argv[1] in ("--floor", "--validate"):
        address, cafile, workspace, scratch = argv[2:6]
        job = floor if argv[1] == "--floor" else validate
        print(json.dumps(job(address, cafile, Path(workspace), Path(scratch))), flush=True)
        return
    runs = REPETITIONS
    if "--runs" in argv:
        runs = int(argv[argv.index("--runs") + 1])
        argv = argv[:argv.index("--runs")] + argv[argv.index("--runs") + 2:]
    sizes = [int(arg) for arg in argv[1:] if arg.isdigit()] or [100, 1_000, 2_000, 10_000]
    print(f"validation at scale; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start; "
          "the machine is shared: read the ratios", flush=True)
    for guests in sizes:
        measure(guests, runs)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main(sys.argv)
