"""Fixtures for the plugin's own tests: a fakepve started as a separate process, targeted as ``live``."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Inner pytester runs forget the modules they imported; cryptography's compiled core cannot be
# imported twice in one process, so the simulator's modules are imported once, here, for all runs.
import fakepve.certs
import fakepve.server  # noqa: F401
import pytest
from cryptography import x509  # noqa: F401
from cryptography.hazmat.primitives import hashes, serialization  # noqa: F401
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: F401

SCENARIO = Path(__file__).resolve().parent.parent / "pytest_proxmox_mpc" / "scenarios" / "homelab.json"
PASSWORD = "fakepve-process-password"


@dataclass(frozen=True)
class FakePveProcess:
    """A fakepve command-line server: where it listens, its CA file and the root@pam password."""

    host: str
    port: int
    cafile: str
    password: str
    process: subprocess.Popen[bytes]

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.address}"


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def fakepve_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakePveProcess]:
    """``fakepve homelab.json --time-scale 0`` in its own process, as a user would start it."""
    from fakepve.certs import make_cert

    host = "127.0.0.3"
    port = free_port(host)
    certfile, keyfile, _ = make_cert(str(tmp_path_factory.mktemp("fakepve-process")), hosts=(host,))
    log = tmp_path_factory.mktemp("fakepve-log") / "fakepve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "fakepve", str(SCENARIO), "--time-scale", "0", "--host", host,
             "--port", str(port), "--password", PASSWORD, "--cert", certfile, "--key", keyfile],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while b"listening" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("fakepve did not start: " + log.read_text(errors="replace"))
            time.sleep(0.05)
        yield FakePveProcess(host, port, certfile, PASSWORD, process)
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(autouse=True)
def _no_outer_pve_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner pytest runs share os.environ: the developer's own PVE_* settings must not leak into them."""
    import os

    for name in list(os.environ):
        if name.startswith("PVE_"):
            monkeypatch.delenv(name)
