"""ansible-lint as a process with a budget that grows with the project, stopped whole when it runs over.

A fixed timeout (300 s) failed a project on its size alone: ansible-lint's time grows with the YAML it reads (a
10,000-host inventory is 3.75 MB). The budget is ``BASE_SECONDS`` and ``SECONDS_A_MB`` for each MB of the
project's files. ansible-lint starts ``ansible-playbook`` processes of its own, so it runs in a session of its own
and the whole session is stopped when the budget is spent (and when this process exits while it runs).
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

BASE_SECONDS = 300.0
SECONDS_A_MB = 60.0  # ansible-lint reads about a MB of YAML in 25 s of one core here (the inventory alone)
OVER_BUDGET = 124  # the return code a run stopped on its budget is given (timeout(1)'s)

_running: set[subprocess.Popen[str]] = set()
_guard = threading.Lock()


def project_megabytes(project: Path) -> float:
    """The size of the project's files in MB (what ansible-lint may read)."""
    total = 0
    for folder, _, files in os.walk(project):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total / 1e6


def budget_seconds(project: Path) -> float:
    """How long ansible-lint may take on ``project``: ``BASE_SECONDS`` + ``SECONDS_A_MB`` a MB of its files."""
    return BASE_SECONDS + SECONDS_A_MB * project_megabytes(project)


def describe_budget(seconds: float, project: Path) -> str:
    return (f"its budget of {seconds:.0f} s ({BASE_SECONDS:.0f} s and {SECONDS_A_MB:.0f} s a MB of the "
            f"{project_megabytes(project):.2f} MB project)")


def run(command: Sequence[str], cwd: Path, env: Mapping[str, str], seconds: float) -> subprocess.CompletedProcess[str]:
    """``command`` in a session of its own; after ``seconds`` the session is stopped and the result has
    ``OVER_BUDGET`` as its return code (and what it wrote so far)."""
    process = subprocess.Popen(list(command), cwd=cwd, env=dict(env), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    with _guard:
        _running.add(process)
    try:
        try:
            out, err = process.communicate(timeout=seconds)
            return subprocess.CompletedProcess(process.args, process.returncode, out, err)
        except subprocess.TimeoutExpired:
            _stop(process)
            out, err = process.communicate()
            return subprocess.CompletedProcess(process.args, OVER_BUDGET, out or "", err or "")
    finally:
        with _guard:
            _running.discard(process)


def _stop(process: subprocess.Popen[str]) -> None:
    """Stop ``process`` and every process of its session (ansible-playbook checks it started)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


@atexit.register
def _stop_all() -> None:  # a run that ends (or is interrupted) leaves no ansible-lint behind
    with _guard:
        for process in list(_running):
            if process.poll() is None:
                _stop(process)
