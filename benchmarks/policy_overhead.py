"""What the safety layer costs per request: the guard's own work (policy decision + audit line) against
one plain proxmoxer GET.

Run: python benchmarks/policy_overhead.py [ROUNDS]      (row P1 of issue 20; default 1,000 rounds, 3 repetitions)

Everything is measured in one run against fakepve on loopback, started as a process of its own like a
real cluster (in-process, the fake server would compete with the client for the GIL and its work would
be counted as the client's), rounds interleaved, and compared as ratios of medians: the machine is
shared and noisy, so absolute times mean little.

- "guard work" is exactly what ``PolicedAdapter.send`` adds around the transport: describing the
  request, ``Guard.admit`` (the policy) and ``Guard.settle`` (the audit line, appended under flock).
- the ratios compare a policed, audited client's GET (as ``pve_client`` in phase 3, and as ``pve_readonly``)
  with a plain proxmoxer GET: proxmoxer's own session (which scans the environment for proxies on every
  request), and one whose environment was settled once as the plugin's clients do (the guard and audit
  alone); they include the guard work and are noisier, being ratios of network round trips.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _stats import REPETITIONS, spread, verdict
from proxmoxer import ProxmoxAPI

from pytest_proxmox_mpc.cluster.client import connect, pin_environment
from pytest_proxmox_mpc.cluster.guard import Guard
from pytest_proxmox_mpc.model.apischema import load_schema
from pytest_proxmox_mpc.model.endpoint import Endpoint
from pytest_proxmox_mpc.model.secret import Secret
from pytest_proxmox_mpc.safety.exclusions import ExclusionList
from pytest_proxmox_mpc.safety.policy import ApiRequest, PhasePolicy, ReadOnlyPolicy
from pytest_proxmox_mpc.safety.trail import AuditTrail
from pytest_proxmox_mpc.sim.process import fakepve_process as start_fakepve
from pytest_proxmox_mpc.sim.scenario import resolve_scenario

SCENARIO = resolve_scenario("homelab", Path.cwd())  # a packaged name: the directory is not used
EXCLUSIONS = 'protect:\n  vmids: [100, "200-299"]\n  names: ["prod-*"]\n  nodes: [pve-prod-1]\n'


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


@contextmanager
def fakepve_process(workdir: Path) -> Iterator[Endpoint]:
    """``python -m fakepve`` on 127.0.0.1 with its own certificate; yields the endpoint."""
    with start_fakepve(SCENARIO, workdir, password="bench-password") as server:
        yield Endpoint(host=server.host, port=server.port, user="root@pam", password=Secret(server.password),
                       token_name=None, token_value=None, verify=server.cafile, timeout=30.0)


def plain_client(endpoint: Endpoint, *, pinned: bool) -> Any:
    """proxmoxer as a user makes it; ``pinned``: its session told the proxies and CA once, as the plugin's are."""
    assert endpoint.password is not None
    plain = ProxmoxAPI(endpoint.netloc, user=endpoint.user, password=endpoint.password.reveal(),
                       verify_ssl=endpoint.verify)
    if pinned:
        pin_environment(plain._store["session"], endpoint)
    return plain


def measure(endpoint: Endpoint, workdir: Path, rounds: int) -> dict[str, list[float]]:
    """Seconds per request, interleaved round by round: plain GETs (proxmoxer's own session, and one with the
    environment settled), policed and audited GETs (phase 3 with exclusions; read-only as ``pve_readonly``),
    the guard's work for a GET alone, and a policy decision for a write."""
    policy = PhasePolicy(phase=3, schema=load_schema(), exclusions=ExclusionList.parse(EXCLUSIONS))
    trail = AuditTrail(workdir / "audit.jsonl", "bench")
    guard = Guard(policy, trail)
    clients = {"plain": plain_client(endpoint, pinned=False), "plain, environment settled":
               plain_client(endpoint, pinned=True), "policed phase 3 + audit": connect(endpoint, guard),
               "pve_readonly (read-only + audit)": connect(endpoint, Guard(ReadOnlyPolicy(), trail))}
    url = f"{endpoint.base_url}/nodes/pve1/qemu/101/status/current"
    samples: dict[str, list[float]] = {name: [] for name in [*clients, "guard work", "write decision"]}
    for client in clients.values():  # warm every connection up
        for _ in range(20):
            client.nodes("pve1").qemu(101).status.current.get()
    order = list(clients.items())
    for index in range(rounds):
        for name, client in order[index % len(order):] + order[:index % len(order)]:  # no client always first
            start = time.perf_counter()
            client.nodes("pve1").qemu(101).status.current.get()
            samples[name].append(time.perf_counter() - start)
        start = time.perf_counter()
        request = ApiRequest.from_http("GET", url, None)
        decision = guard.admit(request)
        guard.settle(request, decision, 200, 1.0, None)
        samples["guard work"].append(time.perf_counter() - start)
    write = ApiRequest.from_http("POST", f"{endpoint.base_url}/nodes/pve1/qemu/101/status/stop", b"")
    for _ in range(rounds):
        start = time.perf_counter()
        policy.decide(write)
        samples["write decision"].append(time.perf_counter() - start)
    trail.close()
    return samples


def main(rounds: int) -> None:
    reps: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp, fakepve_process(Path(tmp)) as endpoint:
        for _ in range(REPETITIONS):
            reps.append({name: median_us(values) for name, values in measure(endpoint, Path(tmp), rounds).items()})
    print(f"P1: {REPETITIONS} repetitions of {rounds} interleaved rounds, GET /nodes/pve1/qemu/101/status/current "
          "on a fakepve process (medians in us; median (range; each repetition))")
    for name in reps[0]:
        print(f"  {name:<36}{spread([r[name] for r in reps], '{:.1f}')}")
    print("  ratios (goal <= 1.03 each):")
    for policed in ("policed phase 3 + audit", "pve_readonly (read-only + audit)"):
        for plain in ("plain", "plain, environment settled"):
            ratios = [r[policed] / r[plain] for r in reps]
            print(f"    {policed} / {plain}: {spread(ratios, '{:.3f}')} "
                  f"{verdict(statistics.median(ratios), 1.03)}")
    work = [r["guard work"] / r["plain, environment settled"] for r in reps]
    print(f"  guard work / plain GET (environment settled): {spread(work, '{:.1%}')}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
