"""What the safety proxy adds per request, and whether it holds up under concurrent clients.

Run: python benchmarks/proxy.py [ROUNDS] [CLIENTS] [TOTAL] [--baseline=TREE]   (row P4 of issue 20; default 500
     rounds, 8 clients, 2,000 requests; TREE: another source tree, e.g. the main branch's, whose proxy the same
     clients drive in the same run: P4 is printed for both, before and after)

fakepve runs as a process of its own (``python -m fakepve``, homelab scenario, time scale 0), and so does the
proxy (``pytest-proxmox-mpc proxy --phase 1`` with the cluster as a live target, its audit trail written as
in a real run), so neither competes with the measuring client for the GIL. In one run:

- latency: ROUNDS GETs of ``/nodes/pve1/qemu/101/status/current`` straight to fakepve (a ticket login, one
  keep-alive session) and ROUNDS through the proxy (its API token, one keep-alive session), and with
  ``--baseline`` ROUNDS through the baseline tree's proxy, interleaved; compared as medians (the machine is
  shared and noisy, so a median of a difference means more than a mean);
- concurrency: CLIENTS threads, each with its own keep-alive ``http.client`` connection, share TOTAL GETs
  through the proxy (and, with ``--baseline``, through the baseline tree's proxy too); every answer must be a
  200 with the right guest, and the audit must hold one line per request.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import requests
from _stats import REPETITIONS, spread, verdict

from pytest_proxmox_mpc.sim.process import FakePveProcess
from pytest_proxmox_mpc.sim.process import fakepve_process as start_fakepve
from pytest_proxmox_mpc.sim.scenario import resolve_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = resolve_scenario("homelab", ROOT)
PASSWORD = "bench-password"
PATH = "/api2/json/nodes/pve1/qemu/101/status/current"


@contextmanager
def proxy_process(server: FakePveProcess, workdir: Path, source: Path = ROOT) -> Iterator[dict[str, Any]]:
    """``pytest-proxmox-mpc proxy`` (the package in the tree ``source``) in front of ``server``; yields its
    credentials file's content."""
    workdir.mkdir(parents=True, exist_ok=True)
    creds = workdir / "proxy.json"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PVE_")}, "PVE_PASSWORD": server.password,
           "PYTHONPATH": str(source)}
    process = subprocess.Popen([sys.executable, "-m", "pytest_proxmox_mpc.cli", "proxy", "--phase", "1",
                                "--pve-host", server.address, "--pve-ca-bundle", server.cafile,
                                "--credentials-file", str(creds), "--rootdir", str(workdir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               cwd=workdir)  # ``-m`` puts the working directory first: it must not hold a tree
    try:
        assert process.stdout is not None
        for _ in range(4):
            line = process.stdout.readline()
            if not line:
                raise RuntimeError("the proxy did not start: " + (process.stderr.read() if process.stderr else ""))
        yield {**json.loads(creds.read_text()), "pid": process.pid}
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


def latency(server: FakePveProcess, proxies: list[dict[str, Any]], rounds: int,
            ) -> tuple[list[float], list[list[float]]]:
    """(seconds of each direct GET, seconds of each GET through each of ``proxies``): ``rounds`` rounds, each a
    direct GET and then one through each proxy in turn."""
    direct, direct_url = direct_session(server), server.url + PATH
    proxied = [(proxied_session(creds), creds["url"] + PATH) for creds in proxies]
    for _ in range(20):  # warm every connection up
        timed(direct, direct_url)
        for client, url in proxied:
            timed(client, url)
    direct_s: list[float] = []
    proxied_s: list[list[float]] = [[] for _ in proxies]
    for _ in range(rounds):
        direct_s.append(timed(direct, direct_url))
        for samples, (client, url) in zip(proxied_s, proxied, strict=True):
            samples.append(timed(client, url))
    return direct_s, proxied_s


def added_by(direct_s: list[float], proxied_s: list[float]) -> tuple[float, float]:
    """(median of the per-round differences, that median / the median direct GET)."""
    diffs = [p - d for d, p in zip(direct_s, proxied_s, strict=True)]
    return statistics.median(diffs), statistics.median(diffs) / statistics.median(direct_s)


def concurrency(creds: dict[str, Any], clients: int, total: int) -> tuple[float, list[str]]:
    """(seconds, errors) for ``total`` GETs shared by ``clients`` threads through the proxy, each thread on a
    keep-alive ``http.client`` connection of its own: light clients (a third of a ``requests`` GET's CPU), so
    that the proxy, not the measuring process, is what is measured."""
    errors: list[str] = []
    share = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    address = creds["url"].partition("://")[2].rstrip("/")
    context = ssl.create_default_context(cafile=creds["cafile"])

    def client(count: int) -> None:
        conn = http.client.HTTPSConnection(address, context=context, timeout=60)
        try:
            for _ in range(count):
                try:
                    conn.request("GET", PATH, headers={"Authorization": creds["authorization"]})
                    answer = conn.getresponse()
                    body = answer.read()
                    if answer.status != 200 or json.loads(body)["data"]["vmid"] != 101:
                        errors.append(f"HTTP {answer.status}")
                except (OSError, http.client.HTTPException) as exc:
                    errors.append(type(exc).__name__)
                    conn.close()
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(count,)) for count in share]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, errors


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def driven(creds: dict[str, Any], clients: int, total: int, upstream: int) -> tuple[float, float, float, list[str]]:
    """(requests/s, proxy CPU ms per request, fakepve's (process ``upstream``) CPU ms per request, errors) of
    one ``concurrency`` run."""
    before, upstream_before = cpu_seconds(creds["pid"]), cpu_seconds(upstream)
    wall, errors = concurrency(creds, clients, total)
    return (total / wall, (cpu_seconds(creds["pid"]) - before) / total * 1000,
            (cpu_seconds(upstream) - upstream_before) / total * 1000, errors)


def audit_lines(workdir: Path) -> int:
    return sum(1 for path in (workdir / ".pytest_proxmox_mpc" / "audit").glob("*.jsonl")
               for line in path.read_text().splitlines() if '"source":"proxy"' in line)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f} ms"


def main(rounds: int, clients: int, total: int, baseline: Path | None) -> int:
    added, ratio, rates, base_rates, cpus, base_cpus, upstream_cpus = [], [], [], [], [], [], []
    base_added: list[float] = []
    base_ratio: list[float] = []
    failures: list[str] = []
    base_failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        with start_fakepve(SCENARIO, workdir, password=PASSWORD) as server, \
                proxy_process(server, workdir / "ours") as creds, \
                (proxy_process(server, workdir / "baseline", baseline) if baseline else nullcontext()) as base:
            for _ in range(REPETITIONS):
                direct_s, (proxied_s, *base_s) = latency(server, [creds, *([base] if base else [])], rounds)
                for samples, into_added, into_ratio in ((proxied_s, added, ratio),
                                                        *((b, base_added, base_ratio) for b in base_s)):
                    seconds, share = added_by(direct_s, samples)
                    into_added.append(seconds)
                    into_ratio.append(share)
                rate, cpu, upstream_cpu, errors = driven(creds, clients, total, server.process.pid)
                rates.append(rate)
                cpus.append(cpu)
                upstream_cpus.append(upstream_cpu)
                failures.extend(errors)
                if base is not None:  # the same clients against the baseline tree's proxy, in the same run
                    rate, cpu, _, errors = driven(base, clients, total, server.process.pid)
                    base_rates.append(rate)
                    base_cpus.append(cpu)
                    base_failures.extend(errors)
        audited = audit_lines(workdir / "ours")
    print(f"P4: GET {PATH}; fakepve and the proxy as processes of their own; {REPETITIONS} repetitions of "
          f"{rounds} interleaved latency rounds and {clients} clients x {total} requests (the machine is shared)")
    print(f"  added by the proxy (median of per-round differences): {spread([a * 1000 for a in added])} ms")
    print(f"  added / direct GET: {spread(ratio)} (goal <= 0.5: {verdict(statistics.median(ratio), 0.5)})")
    print(f"  {clients} clients x {total} requests: {spread(rates, '{:.0f}')} requests/s, {len(failures)} errors"
          + (f" ({', '.join(sorted(set(failures)))})" if failures else "")
          + f"; the proxy's CPU per request {spread(cpus)} ms")
    ceiling = [1000 / u for u in upstream_cpus]
    print(f"  fakepve's own CPU per request {spread(upstream_cpus)} ms: one process, so no proxy gets past "
          f"{spread(ceiling, '{:.0f}')} requests/s here (with 2 cores, clients and proxy share the other)")
    if base_rates:
        print(f"  baseline proxy ({baseline}), in the same rounds: added {spread([a * 1000 for a in base_added])} ms; "
              f"added / direct GET: {spread(base_ratio)} (goal <= 0.5: {verdict(statistics.median(base_ratio), 0.5)})")
        print(f"  baseline, {clients} clients x {total} requests: {spread(base_rates, '{:.0f}')} requests/s, "
              f"{len(base_failures)} errors; its CPU per request {spread(base_cpus)} ms")
        gains = [ours / theirs for ours, theirs in zip(rates, base_rates, strict=True)]
        capacity = [b / o for o, b in zip(cpus, base_cpus, strict=True)]
        print(f"  ours / baseline: requests/s {spread(gains)}; requests per CPU second of the proxy {spread(capacity)} "
              "(what each could serve with a core of its own and an upstream that keeps up)")
    expected = REPETITIONS * (rounds + 20 + total)
    print(f"  audit lines of proxied requests: {audited} (expected {expected})")
    return 1 if failures or audited != expected else 0


if __name__ == "__main__":
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    given = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--baseline=")), None)
    sys.exit(main(*(numbers + [500, 8, 2000][len(numbers):3]), Path(given) if given else None))
