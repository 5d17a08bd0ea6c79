"""What the safety proxy adds per request, and whether it holds up under concurrent clients.

Run: python benchmarks/proxy.py [ROUNDS] [CLIENTS] [TOTAL]      (default 500 rounds, 8 clients, 2,000 requests)

fakepve runs as a process of its own (``python -m fakepve``, homelab scenario, time scale 0), and so does the
proxy (``pytest-proxmox-mpc proxy --phase 1`` with the cluster as a live target, its audit trail written as
in a real run), so neither competes with the measuring client for the GIL. In one run:

- latency: ROUNDS GETs of ``/nodes/pve1/qemu/101/status/current`` straight to fakepve (a ticket login, one
  keep-alive session) and ROUNDS through the proxy (its API token, one keep-alive session), interleaved;
  compared as medians (the machine is shared and noisy, so a median of a difference means more than a mean);
- concurrency: CLIENTS threads, each with its own keep-alive session, share TOTAL GETs through the proxy;
  every answer must be a 200 with the right guest, and the audit must hold one line per request.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from pytest_proxmox_mpc.sim.process import FakePveProcess
from pytest_proxmox_mpc.sim.process import fakepve_process as start_fakepve

SCENARIO = Path(__file__).resolve().parent.parent / "pytest_proxmox_mpc" / "sim" / "scenarios" / "homelab.json"
PASSWORD = "bench-password"
PATH = "/api2/json/nodes/pve1/qemu/101/status/current"


@contextmanager
def proxy_process(server: FakePveProcess, workdir: Path) -> Iterator[dict[str, Any]]:
    """``pytest-proxmox-mpc proxy`` in front of ``server``; yields its credentials file's content."""
    creds = workdir / "proxy.json"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PVE_")}, "PVE_PASSWORD": server.password}
    process = subprocess.Popen([sys.executable, "-m", "pytest_proxmox_mpc.cli", "proxy", "--phase", "1",
                                "--pve-host", server.address, "--pve-ca-bundle", server.cafile,
                                "--credentials-file", str(creds), "--rootdir", str(workdir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        for _ in range(4):
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the proxy did not start: " + (process.stderr.read() if process.stderr else ""))
        yield json.loads(creds.read_text())
    finally:
        process.terminate()
        process.wait(30)


def session(verify: str) -> requests.Session:
    made = requests.Session()
    made.verify, made.trust_env = verify, False  # REQUESTS_CA_BUNDLE in the environment would win otherwise
    return made


def direct_session(server: FakePveProcess) -> requests.Session:
    """A keep-alive session logged in to fakepve itself (a ticket, as a plain client would)."""
    direct = session(server.cafile)
    answer = direct.post(f"{server.url}/api2/json/access/ticket", data={"username": "root@pam",
                                                                        "password": server.password})
    answer.raise_for_status()
    direct.cookies.set("PVEAuthCookie", answer.json()["data"]["ticket"])
    return direct


def proxied_session(creds: dict[str, Any]) -> requests.Session:
    proxied = session(creds["cafile"])
    proxied.headers["Authorization"] = creds["authorization"]
    return proxied


def timed(client: requests.Session, url: str) -> float:
    start = time.perf_counter()
    answer = client.get(url)
    elapsed = time.perf_counter() - start
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: HTTP {answer.status_code}")
    return elapsed


def latency(server: FakePveProcess, creds: dict[str, Any], rounds: int) -> tuple[list[float], list[float]]:
    direct, proxied = direct_session(server), proxied_session(creds)
    direct_url, proxied_url = server.url + PATH, creds["url"] + PATH
    for _ in range(20):  # warm both connections up
        timed(direct, direct_url)
        timed(proxied, proxied_url)
    direct_s, proxied_s = [], []
    for _ in range(rounds):
        direct_s.append(timed(direct, direct_url))
        proxied_s.append(timed(proxied, proxied_url))
    return direct_s, proxied_s


def concurrency(creds: dict[str, Any], clients: int, total: int) -> tuple[float, list[str]]:
    """(seconds, errors) for ``total`` GETs shared by ``clients`` threads through the proxy."""
    errors: list[str] = []
    share = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]

    def client(count: int) -> None:
        with proxied_session(creds) as proxied:
            for _ in range(count):
                try:
                    answer = proxied.get(creds["url"] + PATH)
                    if answer.status_code != 200 or answer.json()["data"]["vmid"] != 101:
                        errors.append(f"HTTP {answer.status_code}")
                except requests.RequestException as exc:
                    errors.append(type(exc).__name__)

    threads = [threading.Thread(target=client, args=(count,)) for count in share]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, errors


def audit_lines(workdir: Path) -> int:
    return sum(1 for path in (workdir / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl")
               for line in path.read_text().splitlines() if '"source":"proxy"' in line)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def main(rounds: int, clients: int, total: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with start_fakepve(SCENARIO, workdir, password=PASSWORD) as server, proxy_process(server, workdir) as creds:
            direct_s, proxied_s = latency(server, creds, rounds)
            wall, errors = concurrency(creds, clients, total)
        audited = audit_lines(workdir)
    added = [p - d for d, p in zip(direct_s, proxied_s, strict=True)]
    print(f"GET {PATH}, fakepve and the proxy as processes of their own")
    print(f"latency, {rounds} rounds interleaved:     median            p95")
    print(f"  direct to fakepve                  {ms(statistics.median(direct_s))}     {ms(p95(direct_s))}")
    print(f"  through the proxy                  {ms(statistics.median(proxied_s))}     {ms(p95(proxied_s))}")
    print(f"  added by the proxy                 {ms(statistics.median(added))}     (median of the per-round "
          f"differences; difference of the medians: {ms(statistics.median(proxied_s) - statistics.median(direct_s))})")
    print(f"concurrency: {clients} clients, {total} GETs through the proxy in {wall:.2f} s "
          f"({total / wall:.0f} requests/s), {len(errors)} errors"
          + (f" ({', '.join(sorted(set(errors)))})" if errors else ""))
    expected = rounds + 20 + total
    print(f"audit lines of proxied requests: {audited} (expected {expected})")
    return 1 if errors or audited != expected else 0


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:4]]
    sys.exit(main(*(args + [500, 8, 2000][len(args):])))
