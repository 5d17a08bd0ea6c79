"""What the safety layer costs per request: the guard's own work (policy decision + audit line) against
one plain proxmoxer GET.

Run: python benchmarks/policy_overhead.py [ROUNDS]

Everything is measured in one run against fakepve on loopback, started as a process of its own like a
real cluster (in-process, the fake server would compete with the client for the GIL and its work would
be counted as the client's), rounds interleaved, and compared as ratios of medians: the machine is
shared and noisy, so absolute times mean little.

- "guard work" is exactly what ``PolicedAdapter.send`` adds around the transport: describing the
  request, ``Guard.admit`` (the policy) and ``Guard.settle`` (the audit line, appended under flock).
- "end to end" compares a policed, audited client's GET with a plain client's GET; it includes the
  guard work and is noisier, since it is a difference of two network round trips.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from proxmoxer import ProxmoxAPI

from pytest_proxmox_mpc.cluster.apischema import load_schema
from pytest_proxmox_mpc.cluster.client import connect
from pytest_proxmox_mpc.cluster.endpoint import Endpoint
from pytest_proxmox_mpc.config.secret import Secret
from pytest_proxmox_mpc.safety.exclusions import ExclusionList
from pytest_proxmox_mpc.safety.guard import Guard
from pytest_proxmox_mpc.safety.policy import ApiRequest, PhasePolicy
from pytest_proxmox_mpc.safety.trail import AuditTrail
from pytest_proxmox_mpc.sim.process import fakepve_process as start_fakepve

SCENARIO = Path(__file__).resolve().parent.parent / "pytest_proxmox_mpc" / "sim" / "scenarios" / "homelab.json"
EXCLUSIONS = 'protect:\n  vmids: [100, "200-299"]\n  names: ["prod-*"]\n  nodes: [pve-prod-1]\n'


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


@contextmanager
def fakepve_process(workdir: Path) -> Iterator[Endpoint]:
    """``python -m fakepve`` on 127.0.0.1 with its own certificate; yields the endpoint."""
    with start_fakepve(SCENARIO, workdir, password="bench-password") as server:
        yield Endpoint(host=server.host, port=server.port, user="root@pam", password=Secret(server.password),
                       token_name=None, token_value=None, verify=server.cafile, timeout=30.0)


def measure(endpoint: Endpoint, workdir: Path, rounds: int) -> tuple[list[float], ...]:
    """Seconds per round: plain GET, policed GET, the guard's work for a GET, a policy decision for a write."""
    assert endpoint.password is not None
    plain = ProxmoxAPI(endpoint.netloc, user=endpoint.user, password=endpoint.password.reveal(),
                       verify_ssl=endpoint.verify)
    policy = PhasePolicy(phase=3, schema=load_schema(), exclusions=ExclusionList.parse(EXCLUSIONS))
    trail = AuditTrail(workdir / "audit.jsonl", "bench")
    guard = Guard(policy, trail)
    policed = connect(endpoint, guard)
    url = f"{endpoint.base_url}/nodes/pve1/qemu/101/status/current"
    gets, policed_gets, guard_work = [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        plain.nodes("pve1").qemu(101).status.current.get()
        gets.append(time.perf_counter() - start)

        start = time.perf_counter()
        policed.nodes("pve1").qemu(101).status.current.get()
        policed_gets.append(time.perf_counter() - start)

        start = time.perf_counter()
        request = ApiRequest.from_http("GET", url, None)
        decision = guard.admit(request)
        guard.settle(request, decision, 200, 1.0, None)
        guard_work.append(time.perf_counter() - start)
    write = ApiRequest.from_http("POST", f"{endpoint.base_url}/nodes/pve1/qemu/101/status/stop", b"")
    writes = []
    for _ in range(rounds):
        start = time.perf_counter()
        policy.decide(write)
        writes.append(time.perf_counter() - start)
    trail.close()
    return gets, policed_gets, guard_work, writes


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, fakepve_process(Path(tmp)) as endpoint:
        samples = measure(endpoint, Path(tmp), rounds)
    get_us, policed_us, work_us, write_us = map(median_us, samples)
    print(f"rounds: {rounds}")
    print(f"plain proxmoxer GET (median):                  {get_us:8.1f} us")
    print(f"policed + audited GET (median):                {policed_us:8.1f} us")
    print(f"guard work per request (median):               {work_us:8.1f} us")
    print(f"policy decision for a write (median):          {write_us:8.1f} us")
    print(f"guard work / plain GET:                        {work_us / get_us:8.2%} (target: under 5%)")
    print(f"end to end (policed GET / plain GET - 1):      {policed_us / get_us - 1:8.2%}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
