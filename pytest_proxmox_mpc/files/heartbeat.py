"""A run's heartbeat on its own machine: a file per process, naming the host and process id, that a thread
touches while the run goes on. A sweeper on the same host asks the operating system whether any of the run's
processes still exists (a run stopped with Ctrl-Z does; a killed one does not), whatever the file's age; a
sweeper elsewhere that shares the folder only has the file's age. Nothing here imports pytest."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BEAT_S = 10.0  # how often a running process touches its file
STALE_S = 60.0  # a file of another host older than this tells nothing more: six beats missed
SUFFIX = ".alive"


class Heartbeat:
    """Writes ``path`` (this host and process id) and touches it every ``BEAT_S`` seconds from ``start()`` to
    ``stop()`` (a daemon thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(this_process()), encoding="utf-8")
        self._thread = threading.Thread(target=self._beat, name="pytest-proxmox-mpc-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(BEAT_S):
            try:
                os.utime(self.path)
            except OSError:  # the state directory went away: nothing to keep alive
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass(frozen=True)
class Life:
    """What a run's heartbeat files tell: seconds since any of its processes touched one (``age``) and, when all
    of them were written on this host, whether one of those processes still exists (``alive``; None: unknown)."""

    age: float
    alive: bool | None

    def verdict(self) -> str | None:
        """Why the run's guests stay (a line), ``"dead"``, or None when the files cannot tell."""
        if self.alive:
            return f"left alone: a process of the run is still there (heartbeat {self.age:.0f}s ago)"
        if self.alive is False:
            return "dead"
        if self.age < STALE_S:
            return f"left alone: the run is still running (heartbeat {self.age:.0f}s ago)"
        return None


def process_exists(pid: int) -> bool:
    """True while a process ``pid`` exists on this host (stopped or running; one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def this_process() -> dict[str, object]:
    """This process as a file names it: its host and process id."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def still_there(host: str, pid: int) -> bool | None:
    """Whether the process ``pid`` of ``host`` still exists: None when it ran on another host (cannot be asked)."""
    return process_exists(pid) if host == socket.gethostname() else None


def _owner(path: Path) -> tuple[str, int] | None:
    """The host and process id a heartbeat file names, or None (an older file, or one cut short)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return str(data["host"]), int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def liveness(directory: Path, now: float | None = None) -> dict[str, Life]:
    """By run id: what the heartbeat files in ``directory`` say of each run."""
    now = time.time() if now is None else now
    ages: dict[str, float] = {}
    states: dict[str, list[bool | None]] = {}
    for path in directory.glob(f"*{SUFFIX}"):
        run_id = path.name[: -len(SUFFIX)].split(".", 1)[0]
        try:
            age = max(0.0, now - path.stat().st_mtime)
        except OSError:
            continue
        ages[run_id] = min(age, ages.get(run_id, age))
        owner = _owner(path)
        states.setdefault(run_id, []).append(None if owner is None else still_there(*owner))
    # One process there: alive. All of them gone: dead. Any that cannot be asked (and none there): unknown.
    return {run_id: Life(age, True if True in states[run_id] else False if None not in states[run_id] else None)
            for run_id, age in ages.items()}
