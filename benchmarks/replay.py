"""How fast replay is: the committed validation suite replayed, and a 10,000-guest /cluster/resources.

Run: python benchmarks/replay.py [--lint]     (--lint: row P3 of issue 20 only)

1. ``pytest validation --pve-target replay --pve-max-phase 4`` on the committed cassettes, against the
   same suite on the sim target (wall time of each, as pytest subprocesses, in one run).
2. A cassette holding the login and one ``GET /cluster/resources`` of a simulated cluster with 10,000
   guests is recorded, then played back through the guarded client; prints the median time of loading
   the cassette and replaying the login and the request, against the request sent to the simulated cluster.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _stats import REPETITIONS, spread, verdict

from pytest_proxmox_mpc.cluster.client import connect
from pytest_proxmox_mpc.cluster.guard import Guard
from pytest_proxmox_mpc.cluster.inventory import read_inventory
from pytest_proxmox_mpc.config.target import replay_endpoint
from pytest_proxmox_mpc.model.endpoint import Endpoint
from pytest_proxmox_mpc.model.secret import Secret
from pytest_proxmox_mpc.recording.recorder import Recorder
from pytest_proxmox_mpc.safety.policy import ReadOnlyPolicy
from pytest_proxmox_mpc.sim.cluster import SimCluster
from pytest_proxmox_mpc.sim.scenario import resolve_scenario
from pytest_proxmox_mpc.validators.ansible_lint import run_ansible_lint
from pytest_proxmox_mpc.workspace.export.ansible import export_ansible

ROOT = Path(__file__).resolve().parent.parent
SIM_SCENARIO = resolve_scenario("homelab", ROOT)
GUESTS = 10_000


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def big_cluster(workdir: Path) -> Path:
    nodes = [f"pve{i}" for i in range(1, 11)]
    guests = [{"vmid": 1000 + i, "name": f"vm-{i}", "node": nodes[i % len(nodes)], "status": "running"}
              for i in range(GUESTS)]
    scenario = workdir / "big.json"
    scenario.write_text(json.dumps({"nodes": [{"name": n} for n in nodes], "guests": guests}))
    return scenario


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def resources(workdir: Path, rounds: int) -> tuple[float, float]:
    sim = SimCluster(big_cluster(workdir), workdir)
    try:
        recorder = Recorder(workdir / "cassettes", "once")
        recorder.push("big", "benchmark")
        api = connect(sim.endpoint, Guard(ReadOnlyPolicy(), recorder=recorder))
        assert len(api.cluster.resources.get(type="vm")) == GUESTS
        recorder.save()
        live = []
        plain = connect(sim.endpoint, ReadOnlyPolicy())
        for _ in range(rounds):
            start = time.perf_counter()
            plain.cluster.resources.get(type="vm")
            live.append(time.perf_counter() - start)
    finally:
        sim.stop()
    replayed = []
    endpoint = replay_endpoint_for(workdir)
    for _ in range(rounds):  # each round loads the cassette afresh: load, login and GET are all counted
        start = time.perf_counter()
        player = Recorder(workdir / "cassettes", "none")
        player.push("big", "benchmark")
        api = connect(endpoint, Guard(ReadOnlyPolicy(), recorder=player))
        assert len(api.cluster.resources.get(type="vm")) == GUESTS
        replayed.append(time.perf_counter() - start)
    return median_ms(live), median_ms(replayed)


def replay_endpoint_for(workdir: Path) -> Endpoint:
    from pytest_proxmox_mpc.config.settings import resolve
    from pytest_proxmox_mpc.config.sources import RawSources

    settings = resolve(RawSources(options={"pve_target": "replay", "pve_cassette_dir": str(workdir / "cassettes")},
                                  ini={}, environ={}, rootdir=workdir))
    endpoint = replay_endpoint(settings)
    assert endpoint.password == Secret("replayed")
    return endpoint


def one_lint(workdir: Path) -> float:
    """Seconds of one ``ansible-lint --offline`` run of the reference workspace's ``ansible/`` (the homelab
    scenario exported, as the replayed suite builds it), with the options the suite's check uses."""
    (workdir / "sim").mkdir()
    sim = SimCluster(SIM_SCENARIO, workdir / "sim")
    try:
        inventory = read_inventory(connect(sim.endpoint, ReadOnlyPolicy()), networks=False)
    finally:
        sim.stop()
    export_ansible(inventory, workdir / "ws")
    start = time.perf_counter()
    done = run_ansible_lint(workdir / "ws" / "ansible", workdir / "lint-home", "-f", "pep8")
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError("the reference workspace does not pass ansible-lint: " + done.stdout[-2000:])
    return seconds


def lint_rows() -> None:
    """Row P3: the replayed suite, cold (an empty lint cache) and warm (the same cache again), against one
    ansible-lint run; three repetitions, each measured in one go."""
    suite = ["validation", "--pve-target", "replay", "--pve-max-phase", "4"]
    lint_s, cold_s, warm_s = [], [], []
    for _ in range(REPETITIONS):
        with tempfile.TemporaryDirectory() as tmp:
            lint_s.append(one_lint(Path(tmp)))
            cache = f"--pve-lint-cache={Path(tmp) / 'lint-cache'}"
            cold_s.append(wall([*suite, cache]))
            warm_s.append(wall([*suite, cache]))
    print(f"P3: pytest {' '.join(suite)} -p no:cacheprovider, {REPETITIONS} repetitions (the machine is shared)")
    print(f"  one ansible-lint --offline run of the reference workspace: {spread(lint_s)} s")
    print(f"  suite, cold lint cache:  {spread(cold_s)} s")
    print(f"  suite, warm lint cache:  {spread(warm_s)} s")
    cold = [c / one for c, one in zip(cold_s, lint_s, strict=True)]
    warm = [w / one for w, one in zip(warm_s, lint_s, strict=True)]
    print(f"  cold / one lint: {spread(cold)} (goal <= 3: {verdict(statistics.median(cold), 3)})")
    print(f"  warm / one lint: {spread(warm)} (goal <= 1.5: {verdict(statistics.median(warm), 1.5)})")


def main() -> None:
    if "--lint" in sys.argv:
        lint_rows()
        return
    replay_s = wall(["validation", "--pve-target", "replay", "--pve-max-phase", "4"])
    sim_s = wall(["validation", "--pve-max-phase", "4"])
    print(f"validation suite, replayed from cassettes: {replay_s:6.2f} s")
    print(f"validation suite, on the sim target:       {sim_s:6.2f} s  (replay / sim: {replay_s / sim_s:.2f})")
    with tempfile.TemporaryDirectory() as tmp:
        live_ms, replay_ms = resources(Path(tmp), rounds=5)
    print(f"GET /cluster/resources, {GUESTS} guests, sim (median):      {live_ms:8.1f} ms")
    print(f"same, replayed: cassette load + login + GET (median):   {replay_ms:8.1f} ms "
          f"(replay / sim: {replay_ms / live_ms:.2f})")


if __name__ == "__main__":
    main()
