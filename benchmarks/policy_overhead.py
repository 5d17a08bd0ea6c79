"""What the safety layer costs: one policy decision plus one audit line, against one plain GET.

Run: python benchmarks/policy_overhead.py [ROUNDS]

Both are measured in the same run, against fakepve on loopback (the sim target), and compared as a
ratio: the machine is shared and noisy, so absolute times mean little. Prints medians and the ratio.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from proxmoxer import ProxmoxAPI

from pytest_proxmox_mpc.apischema import load_schema
from pytest_proxmox_mpc.audit import AuditLog, AuditRecord, now_iso
from pytest_proxmox_mpc.exclusions import ExclusionList
from pytest_proxmox_mpc.policy import ApiRequest, PhasePolicy
from pytest_proxmox_mpc.redact import redact_params
from pytest_proxmox_mpc.sim import SimCluster

SCENARIO = Path(__file__).resolve().parent.parent / "pytest_proxmox_mpc" / "scenarios" / "homelab.json"
URL = "https://127.0.0.1:8006/api2/json/nodes/pve1/qemu/101/status/current"


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sim = SimCluster(SCENARIO, Path(tmp))
        try:
            endpoint = sim.endpoint
            assert endpoint.password is not None
            api = ProxmoxAPI(endpoint.netloc, user=endpoint.user, password=endpoint.password.reveal(),
                             verify_ssl=endpoint.verify)
            policy = PhasePolicy(phase=3, schema=load_schema(), exclusions=ExclusionList.parse(
                'protect:\n  vmids: [100, "200-299"]\n  names: ["prod-*"]\n  nodes: [pve-prod-1]\n'))
            audit = AuditLog(Path(tmp) / "audit.jsonl")
            gets, checks = [], []
            for _ in range(rounds):
                start = time.perf_counter()
                api.nodes("pve1").qemu(101).status.current.get()
                gets.append(time.perf_counter() - start)

                start = time.perf_counter()
                request = ApiRequest.from_http("GET", URL, None)
                decision = policy.decide(request)
                audit.write(AuditRecord(time=now_iso(), run_id="bench", worker="main", test=None, phase=3,
                                        method=request.method, path=request.shown_path,
                                        params=redact_params(request.params), decision="allowed",
                                        rule=decision.rule, status=200, duration_ms=1.0, upid=None))
                checks.append(time.perf_counter() - start)
            write = ApiRequest.from_http("POST", "https://h:8006/api2/json/nodes/pve1/qemu/101/status/stop", b"")
            writes = []
            for _ in range(rounds):
                start = time.perf_counter()
                policy.decide(write)
                writes.append(time.perf_counter() - start)
            audit.close()
        finally:
            sim.stop()
    get_us, check_us, write_us = median_us(gets), median_us(checks), median_us(writes)
    print(f"rounds: {rounds}")
    print(f"plain proxmoxer GET (median): {get_us:8.1f} us")
    print(f"policy decision + audit line (median): {check_us:8.1f} us")
    print(f"policy decision for a write, schema-matched (median): {write_us:8.1f} us")
    print(f"overhead ratio (policy+audit / GET): {check_us / get_us:.2%} (target: under 5%)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
