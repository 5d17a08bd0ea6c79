"""A run's heartbeat: a file per process that a thread touches while the run goes on, so the sweeper can tell a
run that is still running (never touched, whatever its age) from one that died (its guests may go). Nothing here
imports pytest."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

BEAT_S = 10.0  # how often a running process touches its file
STALE_S = 60.0  # older than this, the process is taken for dead: six beats missed
SUFFIX = ".alive"


class Heartbeat:
    """Touches ``path`` every ``BEAT_S`` seconds from ``start()`` to ``stop()`` (a daemon thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
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


def last_beats(directory: Path, now: float | None = None) -> dict[str, float]:
    """By run id: seconds since any process of the run last touched its heartbeat file in ``directory``."""
    now = time.time() if now is None else now
    beats: dict[str, float] = {}
    for path in directory.glob(f"*{SUFFIX}"):
        run_id = path.name[: -len(SUFFIX)].split(".", 1)[0]
        try:
            age = max(0.0, now - path.stat().st_mtime)
        except OSError:
            continue
        beats[run_id] = min(age, beats.get(run_id, age))
    return beats
