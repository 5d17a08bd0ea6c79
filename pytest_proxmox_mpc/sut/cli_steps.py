"""A CLI step of the system under test: one process in the workspace, its connection in ``PROXMOX_*``.

Exit status 127 (cannot start) and 124 (timed out) follow the shell's conventions, as ``run_command`` does for
``--mpc-command``. Nothing here imports pytest.
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path


def run_cli(argv: list[str], cwd: Path, env: Mapping[str, str], timeout: float) -> tuple[int, str]:
    """(exit status, stdout and stderr) of ``argv``."""
    try:
        done = subprocess.run(argv, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout,
                              check=False, stdin=subprocess.DEVNULL, errors="replace")
    except OSError as exc:  # not found, not executable, a directory: the shell's 127
        return 127, f"cannot run {shlex.join(argv)!r}: {exc.strerror}: {exc.filename}"
    except subprocess.TimeoutExpired as exc:
        partial = exc.stdout if isinstance(exc.stdout, str) else (exc.stdout or b"").decode(errors="replace")
        return 124, f"{partial}\n{shlex.join(argv)!r} did not finish within {timeout:g} s"
    return done.returncode, done.stdout + done.stderr


def console_dir(console: str | None) -> Path | None:
    """The directory of the console's program: the last word of its command that names an existing file
    (``bin/proxmox-mpc``, or the script after an interpreter)."""
    files = [Path(word) for word in shlex.split(console or "") if Path(word).is_file()]
    return files[-1].resolve().parent if files else None


def cli_argv(cli: str | None, console: str | None, fallback: bool, arguments: str) -> list[str] | None:
    """The command line of a CLI step: ``--mpc-cli``'s command, else (when the profile says so) the console's,
    followed by the step's arguments; None when there is neither."""
    base = cli if cli is not None else (console if fallback else None)
    return None if base is None else shlex.split(base) + shlex.split(arguments)
