"""fakepve's command-line server in a process of its own, as a user would start it: for the plugin's tests
that target it as ``live`` and for the benchmarks. fakepve (the ``sim`` extra) is imported only when called.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REQUEST_LOG = "requests.jsonl"


@dataclass(frozen=True)
class FakePveProcess:
    """A fakepve command-line server: where it listens, its CA file and the root@pam password."""

    host: str
    port: int
    cafile: str
    password: str
    process: subprocess.Popen[bytes]
    request_log: Path | None = None  # sim_process's: one JSON line [method, path] per request that arrived

    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request that reached the cluster so far, in order (``sim_process`` only)."""
        if self.request_log is None or not self.request_log.exists():
            return []
        return [tuple(json.loads(line)) for line in self.request_log.read_text().splitlines()]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.address}"


def free_port(host: str) -> int:
    """A port nothing listens on at ``host`` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def fakepve_process(scenario: Path, workdir: Path, *, password: str, host: str = "127.0.0.1",
                    startup: float = 30.0, latency: float = 0.0) -> Iterator[FakePveProcess]:
    """``python -m fakepve SCENARIO --time-scale 0`` on ``host`` with a certificate made in ``workdir``;
    ``RuntimeError`` with its log if it does not listen within ``startup`` seconds. Stopped on exit. With
    ``latency`` (seconds), every answer waits that long, as over a network (fakepve then runs at time scale 1,
    since it scales its latency too: its tasks then take their simulated time)."""
    from fakepve.certs import make_cert

    port = free_port(host)
    certfile, keyfile, _ = make_cert(str(workdir), hosts=(host,))
    log = workdir / "fakepve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fakepve", str(scenario), "--time-scale", "1" if latency else "0",
             *(["--latency", str(latency)] if latency else []), "--host", host,
             "--port", str(port), "--password", password, "--cert", certfile, "--key", keyfile],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for(process, log, "fakepve listening", startup, "fakepve")
        yield FakePveProcess(host, port, certfile, password, process)
    finally:
        process.terminate()
        process.wait(10)


def _wait_for(process: subprocess.Popen[bytes], log: Path, start: str, startup: float, what: str) -> str:
    """The line of ``log`` that starts with ``start`` (the server says it listens), once there is one;
    ``RuntimeError`` with the log if the process ends or ``startup`` seconds pass first."""
    deadline = time.monotonic() + startup
    while True:
        text = log.read_text(errors="replace")
        line = next((line for line in text.splitlines() if line.startswith(start)), None)
        if line is not None:
            return line
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start: {text}")
        time.sleep(0.05)


@contextmanager
def sim_process(scenario: Path, workdir: Path, *, token_name: str | None = None, token_value: str | None = None,
                password: str | None = None, host: str = "127.0.0.1", startup: float = 30.0,
                ) -> Iterator[FakePveProcess]:
    """The plugin's simulated cluster (fakepve with the whole ``scenario``, serving the API viewer's schema as a
    node does) in a process of its own on ``host``, logged in to with the API token ``root@pam!token_name`` or
    ``root@pam`` and ``password`` (fakepve's command line has no API tokens, and loads only a scenario's guests).
    Secrets go to the process on its standard input, never on its command line. Every request that reaches it is
    logged (method and path: ``requests()``). Stopped on exit."""
    log = workdir / "sim.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "pytest_proxmox_mpc.sim.process", str(scenario),
                                    str(workdir), token_name or "-", host], stdin=subprocess.PIPE, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        assert process.stdin is not None
        process.stdin.write(json.dumps({"token_value": token_value, "password": password}).encode() + b"\n")
        process.stdin.close()
        _, host, port, cafile = _wait_for(process, log, "listening ", startup, "the simulated cluster").split()[:4]
        yield FakePveProcess(host, int(port), cafile, password or "", process, workdir / REQUEST_LOG)
    finally:
        process.terminate()
        process.wait(10)


class _Logged(list):  # type: ignore[type-arg]
    """fakepve's request log that also appends each request's method and path to a file, as it arrives."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.file = path.open("a", encoding="utf-8", buffering=1)

    def append(self, item: Any) -> None:
        super().append(item)
        self.file.write(json.dumps([item[0], item[1]]) + "\n")


def _serve(argv: list[str]) -> None:
    """``python -m pytest_proxmox_mpc.sim.process SCENARIO WORKDIR TOKEN_NAME|- HOST`` (secrets as JSON on stdin)."""
    import signal

    from ..model.secret import Secret
    from .cluster import SimCluster

    scenario, workdir, token_name, host = argv
    secrets = json.loads(sys.stdin.readline())
    given = {key: Secret(value) for key, value in secrets.items() if value}
    sim = SimCluster(Path(scenario), Path(workdir), token_name=None if token_name == "-" else token_name,
                     token_value=given.get("token_value"), password=given.get("password"), host=host)
    sim.pve.requests = _Logged(Path(workdir) / REQUEST_LOG)
    endpoint = sim.endpoint
    print(f"listening {endpoint.host} {endpoint.port} {endpoint.verify}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    finally:
        sim.stop()


if __name__ == "__main__":
    _serve(sys.argv[1:])
