"""The Proxmox-MPC workspace under test: built by the reference builder, copied from the user, or made by
running the user's command (e.g. the Node.js Proxmox-MPC) in a fresh directory.

Whatever made it, the suite only ever works on its own directory: a user's workspace is copied first and
never changed. The layout and ``.proxmox/config.yml`` follow ``proxmox-mpc-workspace.md``. Nothing here
imports pytest.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..cluster.inventory import read_inventory

if TYPE_CHECKING:
    from .sync import SyncResult

MPC_VERSION = "1.0.0"  # the Proxmox-MPC package version whose workspace format the contract describes
STATE_DB = Path(".proxmox", "state.db")  # the contract's layout, relative to the workspace
CONFIG_FILE = Path(".proxmox", "config.yml")
OUTPUT_LIMIT = 20_000  # characters of a command's output kept for the report (its tail)


@dataclass(frozen=True)
class CommandRun:
    """What running the user's command gave: exit status, output (secrets masked, its tail), duration."""

    command: str
    exit_status: int
    output: str
    duration_s: float

    def to_dict(self) -> dict[str, Any]:
        return {"command": self.command, "exit_status": self.exit_status, "duration_s": round(self.duration_s, 3),
                "output_tail": self.output[-2000:]}


@dataclass(frozen=True)
class Workspace:
    """A workspace directory and how it came to be (``reference``, ``copy`` or ``command``)."""

    path: Path
    source: str
    sync: SyncResult | None = None
    command: CommandRun | None = None
    copied_from: Path | None = None

    @property
    def state_db(self) -> Path:
        return self.path / STATE_DB

    @property
    def terraform_dir(self) -> Path:
        return self.path / "terraform"

    @property
    def ansible_dir(self) -> Path:
        return self.path / "ansible"

    def config(self) -> dict[str, Any]:
        """``.proxmox/config.yml`` as a dict (empty if the file is missing)."""
        path = self.path / CONFIG_FILE
        if not path.exists():
            return {}
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}

    def to_dict(self) -> dict[str, Any]:
        """For the run report."""
        return {"path": str(self.path), "source": self.source,
                "copied_from": str(self.copied_from) if self.copied_from else None,
                "sync": self.sync.summary() if self.sync else None,
                "command": self.command.to_dict() if self.command else None}


@dataclass(frozen=True)
class Connection:
    """What the workspace's tool is told about the cluster (the token secret only through the environment)."""

    host: str
    port: int
    username: str
    node: str
    verify: bool
    token_id: str | None = None

    def config(self, name: str) -> dict[str, Any]:
        """The flat keys of ``.proxmox/config.yml``; ``tokenSecret`` stays empty (it comes from the environment)."""
        return {"host": self.host, "port": self.port, "username": self.username, "tokenId": self.token_id or "",
                "tokenSecret": "", "node": self.node, "rejectUnauthorized": self.verify, "name": name,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "version": MPC_VERSION,
                "protocol": "https"}

    def environment(self, token_secret: str | None) -> dict[str, str]:
        """The ``PROXMOX_*`` variables of the tool's non-interactive CLI."""
        env = {"PROXMOX_HOST": self.host, "PROXMOX_PORT": str(self.port), "PROXMOX_USERNAME": self.username,
               "PROXMOX_NODE": self.node}
        if self.token_id:
            env["PROXMOX_TOKEN_ID"] = self.token_id
        if token_secret:
            env["PROXMOX_TOKEN_SECRET"] = token_secret
        return env


def write_config(directory: Path, connection: Connection) -> Path:
    """Create ``directory/.proxmox/config.yml`` (and the directory) for ``connection``."""
    path = directory / CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(connection.config(directory.name), sort_keys=False), encoding="utf-8")
    return path


def build_reference(api: Any, directory: Path, connection: Connection, provider: str = "bpg") -> Workspace:
    """The reference builder: config, ``state.db`` synced through ``api`` (read-only), Terraform and Ansible."""
    write_config(directory, connection)
    from .export.iac import export_iac  # SQLAlchemy and the exporters: only where a workspace is built
    from .sync import sync_inventory

    inventory = read_inventory(api, networks=False)  # one read for both jobs
    result = sync_inventory(inventory, directory / STATE_DB)
    export_iac(inventory, directory, provider=provider)
    return Workspace(directory, "reference", sync=result)


def copy_workspace(source: Path, directory: Path) -> Workspace:
    """A copy of the user's workspace in ``directory`` (which must not exist): validated as it is."""
    shutil.copytree(source, directory, symlinks=True, copy_function=_copy_entry)
    return Workspace(directory, "copy", copied_from=source)


def _copy_entry(source: str, target: str) -> str:
    """A file of the workspace copied; a FIFO made anew (a check names it as no regular file: reading it would
    hang), a socket or device left out (no check reads one)."""
    mode = os.lstat(source).st_mode
    if stat.S_ISFIFO(mode):
        os.mkfifo(target)
    elif stat.S_ISREG(mode):
        shutil.copy2(source, target)
    return target


def run_command(command: str, directory: Path, connection: Connection, *, token_secret: str | None,
                timeout: float, extra_env: Mapping[str, str] | None = None) -> Workspace:
    """Run ``command`` in the fresh workspace ``directory`` (config written first, ``PROXMOX_*`` set).

    The token secret is masked in the output kept for the report; a command that cannot start or times
    out is a run with exit status 127 or 124 (the shell's conventions) and the reason as its output.
    """
    write_config(directory, connection)
    env = {**os.environ, **(extra_env or {}), **connection.environment(token_secret)}
    start = time.perf_counter()
    try:
        done = subprocess.run(shlex.split(command), cwd=directory, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        status, output = done.returncode, done.stdout + done.stderr
    except FileNotFoundError as exc:
        status, output = 127, f"cannot run {command!r}: {exc.strerror}: {exc.filename}"
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        status, output = 124, f"{partial}\n{command!r} did not finish within {timeout:g} s"
    if token_secret:
        output = output.replace(token_secret, "***")
    run = CommandRun(command, status, output[-OUTPUT_LIMIT:], time.perf_counter() - start)
    return Workspace(directory, "command", command=run)
